/**
 * The live tail (protocol revision 4, FollowLog): one long-lived stream per follower. The
 * sequencer pushes its latest signed tree head, then each later one as the log grows (with the
 * consistency proof from the head sent before it), each followed by the entries [cursor, its
 * size) as StreamEntryBatches sends them (the same shared, framed batches). A new head costs a
 * follower two writes on an open stream instead of three calls (GetTreeHead,
 * GetConsistencyProof, StreamEntryBatches), each with its HTTP/2 stream, headers, trailers and
 * authorization.
 *
 * Invariants: a head is sent only after every entry of the head before it was sent, so entries
 * always belong to the latest head on the stream; heads on one stream only grow; flow control,
 * the per-partner stream slots, the slow-reader cut and the stop are those of every entry
 * stream (streams.ts). The follower trusts nothing of it: it checks each head, proof and entry
 * as it checks the answers of the calls it replaces.
 */
import type * as grpc from '@grpc/grpc-js';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { ExchangeRefusal, sequencerStopping } from '../protocol/errors.ts';
import type { FollowRequest__Output } from '../protocol/gen/threatmesh/exchange/v1/FollowRequest.ts';
import type { LogTail } from '../protocol/gen/threatmesh/exchange/v1/LogTail.ts';
import { headToWire } from '../protocol/wire.ts';
import { frameBuffer, FramedMessage } from '../protocol/framing.ts';
import { requestBatchBounds, type BatchBounds, type EncodedBatch } from './batches.ts';
import { send, type StreamServing } from './streams.ts';

/** The core calls a tail needs (the sequencer, or a hostile one in tests). */
export interface TailCore {
  waitForSize(minSize: number, waitMs: number, signal?: AbortSignal): Promise<void>;
  treeHead(): Promise<SignedTreeHead>;
  consistencyProof(oldSize: number, newSize: number): string[];
}

/** What every FollowLog call of one endpoint shares. */
export interface TailServing {
  readonly serving: StreamServing;
  readonly core: TailCore;
  /** The endpoint's batch bounds. */
  readonly batch: Required<BatchBounds>;
  /** The batches of [from, to) in the tree of `size` leaves: what StreamEntryBatches would send. */
  readonly batches: (from: number, to: number, size: number, bounds: Required<BatchBounds>) => AsyncIterable<EncodedBatch>;
  /** The head the tails push, shared. */
  readonly heads: SharedHead;
  /** What the tails do, counted for /metrics. */
  readonly counts: TailCounts;
}

/** What the live tails of one endpoint did since it started (read by /metrics). */
export interface TailCounts {
  /** FollowLog calls being served now. */
  open: number;
  /** Tree heads pushed, over every tail. */
  heads: number;
  /** Tails ended OK after the per-stream bound of entries (the follower takes the rest by StreamEntryBatches and follows again). */
  cut: number;
}

/** {@link TailCounts} as read, and the head messages built (each with its consistency proof, shared by the tails that sent the same head before). */
export interface TailStats extends Readonly<TailCounts> {
  readonly headMessages: number;
}

// How long one wait for a larger log lasts before it is renewed (the core caps it at 30 s).
const TAIL_WAIT_MS = 30_000;

/**
 * Serves one FollowLog call until the caller cancels it, the endpoint stops, or one head's
 * range is longer than the per-stream bound (the stream then ends OK after the part sent).
 * `reader` authorizes the caller to read and names it.
 */
export async function followLog(ctx: TailServing, call: grpc.ServerWritableStream<FollowRequest__Output, unknown>, reader: () => string): Promise<void> {
  const who = reader();
  const { fromIndex, treeSize } = call.request;
  if (!Number.isSafeInteger(fromIndex) || !Number.isSafeInteger(treeSize) || fromIndex < 0 || treeSize < 0) {
    throw new ExchangeRefusal('out-of-range', 'out-of-range', `asked to follow from entry ${fromIndex} with a head of size ${treeSize}; both must be whole numbers of at least 0`);
  }
  const bounds = requestBatchBounds(call.request, ctx.batch);
  ctx.serving.slots.take(who);
  ctx.counts.open += 1;
  // A cancelled call ends its wait at once, as the stop does: a closed stream keeps no waiter.
  const ended = new AbortController();
  const end = (): void => ended.abort();
  call.once('cancelled', end);
  ctx.serving.stopping.addEventListener('abort', end, { once: true });
  try {
    await pushHeads(ctx, call, who, { cursor: fromIndex, sent: treeSize, stamp: '', bounds, ended: ended.signal });
  } finally {
    call.off('cancelled', end);
    ctx.serving.stopping.removeEventListener('abort', end);
    ctx.counts.open -= 1;
    ctx.serving.slots.release(who);
  }
}

interface TailState {
  cursor: number;
  // The size of the head sent last (the request's for the first proof).
  sent: number;
  // The timestamp of the head sent last.
  stamp: string;
  readonly bounds: Required<BatchBounds>;
  readonly ended: AbortSignal;
}

async function pushHeads(ctx: TailServing, call: grpc.ServerWritableStream<FollowRequest__Output, unknown>, who: string, st: TailState): Promise<void> {
  let first = true;
  for (;;) {
    if (ctx.serving.stopping.aborted) throw sequencerStopping();
    if (call.cancelled) return;
    const head = await ctx.heads.latest();
    // The first head always goes out (the follower waits for one); later ones when larger, or
    // signed again for the same size (the heartbeat that keeps the follower's head fresh).
    if (first || head.treeSize > st.sent || (head.treeSize === st.sent && head.timestamp !== st.stamp)) {
      if (!(await send(ctx.serving, call, who, ctx.heads.message(head, st.sent)))) return;
      ctx.counts.heads += 1;
      st.sent = head.treeSize;
      st.stamp = head.timestamp;
      first = false;
      const done = await pushEntries(ctx, call, who, st, head.treeSize);
      if (done === 'ended') return;
      if (done === 'cut') {
        ctx.counts.cut += 1;
        call.end();
        return;
      }
    }
    await ctx.core.waitForSize(st.sent + 1, TAIL_WAIT_MS, st.ended);
    await ctx.heads.settle(st.sent + 1, st.ended);
  }
}

/**
 * The head every live tail of one endpoint pushes: asked of the log at most once per interval,
 * so followers get the same head (and share its batches, SharedBatches) and the log signs no
 * more heads for them than the head waits of GetTreeHead did (one per coalescing interval).
 * Its message, with the consistency proof from the head a tail sent before, is built and framed
 * once for every tail that sent that same head before (followers at the head move in step), not
 * once per follower: the proof costs O(log² n) hashes, and 100 followers at 10 heads a second
 * would compute the same 1,000 proofs a second.
 */
export class SharedHead {
  readonly #core: Pick<TailCore, 'treeHead' | 'consistencyProof'>;
  readonly #intervalMs: number;
  readonly #encode: (m: LogTail) => Buffer;
  readonly #now: () => number;
  #last: { readonly at: number; readonly head: Promise<SignedTreeHead>; size: number } | undefined;
  // The messages of the head pushed last, by the size of the head each tail sent before it.
  #messages: { readonly head: SignedTreeHead; readonly from: Map<number, FramedMessage> } | undefined;
  #built = 0;

  /**
   * `intervalMs`: the least time between two heads asked of the log (the sequencer's
   * headCoalesceMs); `encode`: serializes one LogTail message (FollowLog's response serializer).
   */
  constructor(core: Pick<TailCore, 'treeHead' | 'consistencyProof'>, intervalMs: number, encode: (m: LogTail) => Buffer, now: () => number = Date.now) {
    this.#core = core;
    this.#intervalMs = intervalMs;
    this.#encode = encode;
    this.#now = now;
  }

  /** The latest head, asked of the log when the one kept is older than the interval. */
  latest(): Promise<SignedTreeHead> {
    const last = this.#last;
    if (last !== undefined && this.#now() - last.at < this.#intervalMs) return last.head;
    const head = this.#core.treeHead();
    const kept = { at: this.#now(), head, size: -1 };
    head.then((h) => { kept.size = h.treeSize; }, () => { this.#last = undefined; });
    this.#last = kept;
    return head;
  }

  /** Resolves once {@link latest} can give a head of at least `minSize` entries: at once when the kept one has them, else when it may be renewed (or `ended` aborts). */
  settle(minSize: number, ended: AbortSignal): Promise<void> {
    const last = this.#last;
    const wait = last === undefined || last.size >= minSize ? 0 : this.#intervalMs - (this.#now() - last.at);
    return wait > 0 ? pause(wait, ended) : Promise.resolve();
  }

  /**
   * The FollowLog message pushing `head` to a tail whose head sent before is of `before` entries
   * (0: none), with the consistency proof from it when it is smaller; framed once and shared by
   * every tail asking the same. Only the messages of the latest head asked are kept (at most
   * {@link MAX_SHARED_MESSAGES}; past that, built for the one tail).
   */
  message(head: SignedTreeHead, before: number): FramedMessage {
    if (this.#messages?.head !== head) this.#messages = { head, from: new Map() };
    const from = this.#messages.from;
    const kept = from.get(before);
    if (kept !== undefined) return kept;
    const proof = before > 0 && before < head.treeSize;
    const bytes = this.#encode({ head: { head: headToWire(head), oldSize: proof ? before : 0, consistencyProof: proof ? this.#core.consistencyProof(before, head.treeSize) : [] } });
    const framed = frameBuffer(bytes.length);
    bytes.copy(framed, framed.length - bytes.length);
    const message = new FramedMessage(framed);
    this.#built += 1;
    if (from.size < MAX_SHARED_MESSAGES) from.set(before, message);
    return message;
  }

  /** Head messages built (each with its proof) since the endpoint started: per head, about one per distinct head the tails sent before, not one per tail. */
  built(): number {
    return this.#built;
  }
}

/** Most head messages {@link SharedHead} keeps for one head (tails that sent different heads before it). */
export const MAX_SHARED_MESSAGES = 64;

// Waits `ms`, or less when `ended` aborts.
function pause(ms: number, ended: AbortSignal): Promise<void> {
  if (ended.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      ended.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    ended.addEventListener('abort', done, { once: true });
  });
}

// Sends [cursor, size) of the head just sent, at most the per-stream bound of entries: 'cut' when
// the range was longer (the follower resumes with StreamEntryBatches), 'ended' when the call ended.
async function pushEntries(ctx: TailServing, call: grpc.ServerWritableStream<FollowRequest__Output, unknown>, who: string, st: TailState, size: number): Promise<'all' | 'cut' | 'ended'> {
  if (st.cursor >= size) return 'all';
  const to = Math.min(size, st.cursor + ctx.serving.maxEntriesPerStream);
  for await (const batch of ctx.batches(st.cursor, to, size, st.bounds)) {
    if (!(await send(ctx.serving, call, who, batch))) return 'ended';
  }
  st.cursor = to;
  return to < size ? 'cut' : 'all';
}

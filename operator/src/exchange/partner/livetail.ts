/**
 * A partner's side of the live tail (protocol revision 4): a {@link LogSource} that answers the
 * replica's three questions per sync (the next tree head, the consistency proof to it, its
 * entries) from one long-lived FollowLog stream, and from the ordinary calls whenever the stream
 * does not line up with the question.
 *
 * Invariants: it only relays what the sequencer sent and decides nothing. The replica checks
 * each head's signature, its consistency with the accepted head and every entry's inclusion
 * exactly as it checks the answers of GetTreeHead, GetConsistencyProof and StreamEntryBatches
 * (replica.ts, verifier.ts). The stream is used only while its position equals the replica's
 * cursor at a head boundary; anything else (a head before the previous head's entries are all
 * sent, a stream that ends, fails or sends a message of the wrong shape while a head is awaited)
 * drops it and the question goes to the calls; the next sync follows again. A sequencer before
 * revision 4 (UNIMPLEMENTED) gets the calls for `reprobeMs`.
 */
import * as grpc from '@grpc/grpc-js';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { ExchangeCallError, type TailMessage, type TailStream } from '../protocol/client.ts';
import type { WireEntryResult } from '../protocol/wire.ts';
import type { LogSource } from './replica.ts';

/** The calls the live tail stands in for, and the stream it follows (ExchangeClient implements them). */
export interface TailSource extends LogSource {
  follow(from: number, treeSize: number): TailStream;
}

/** How a {@link LiveTail} behaves. */
export interface LiveTailOptions {
  /** After an older sequencer answered UNIMPLEMENTED, the calls are used this long before the tail is tried again. @default 600_000 */
  readonly reprobeMs?: number;
  /** Aborted when the replica stops: the stream is cancelled. @default none */
  readonly signal?: AbortSignal;
  /** @default Date.now */
  readonly now?: () => number;
}

/** What the tail answered, and what went to the ordinary calls. */
export interface LiveTailStats {
  /** FollowLog streams opened. */
  readonly opened: number;
  /** Tree heads, consistency proofs and entries handed to the replica from the stream. */
  readonly heads: number;
  readonly proofs: number;
  readonly entries: number;
  /** Questions answered by the ordinary calls (no stream lined up, an older sequencer, a stream that failed). */
  readonly calls: number;
  /** A FollowLog stream is open now. */
  readonly following: boolean;
}

// One open FollowLog stream and where it stands.
interface Following {
  readonly stream: TailStream;
  // A read in flight (a wait for a head can time out before it settles; the next read takes it).
  reading: Promise<IteratorResult<TailMessage>> | undefined;
  // The latest head read from the stream, and the proof it came with.
  head: SignedTreeHead | undefined;
  proof: { readonly oldSize: number; readonly newSize: number; readonly hashes: readonly string[] } | undefined;
  // The index of the next entry the stream sends.
  cursor: number;
  received: number;
}

const DEFAULT_REPROBE_MS = 600_000;
// How long a new stream may take to send its first head before the call answers instead.
const FIRST_HEAD_MS = 10_000;

/** The replica's log source over the live tail, falling back to the ordinary calls. Call {@link close} when done. */
export class LiveTail implements LogSource {
  readonly #source: TailSource;
  readonly #o: LiveTailOptions;
  #open: Following | undefined;
  // Until when an older sequencer gets the ordinary calls.
  #olderUntil = 0;
  // The size of the last head handed out: the next stream's first proof starts there.
  #handed = 0;
  readonly #stats = { opened: 0, heads: 0, proofs: 0, entries: 0, calls: 0 };

  constructor(source: TailSource, opts: LiveTailOptions = {}) {
    this.#source = source;
    this.#o = opts;
    opts.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  /** The next head at least `minTreeSize` large from the stream, within `waitMs`; the latest one the stream sent when none is larger by then. */
  async treeHead(minTreeSize: number, waitMs: number): Promise<SignedTreeHead> {
    const s = this.#following(minTreeSize - 1);
    if (s === undefined) return this.#handedOut(await this.#call(() => this.#source.treeHead(minTreeSize, waitMs)));
    const until = this.#now() + waitMs;
    // A stream just opened gets time for its first head (sent at once) even when the replica does not long-poll.
    const first = this.#now() + Math.max(waitMs, FIRST_HEAD_MS);
    for (;;) {
      const got = await this.#read(s, Math.max(0, (s.head === undefined ? first : until) - this.#now()));
      if (got === 'timeout' && s.head !== undefined) return this.#handedOut(s.head);
      if (typeof got === 'object' && got.kind === 'head') {
        s.head = got.head;
        s.proof = { oldSize: got.oldSize, newSize: got.head.treeSize, hashes: got.proof };
        if (got.head.treeSize >= minTreeSize) {
          this.#stats.heads += 1;
          return this.#handedOut(got.head);
        }
        continue;
      }
      // No head in time, the stream ended, failed or sent entries no head asked for: the call answers.
      this.#drop();
      return this.#handedOut(await this.#call(() => this.#source.treeHead(minTreeSize, Math.max(0, until - this.#now()))));
    }
  }

  /** The proof the stream sent with its latest head when it is the one asked for; else the call. */
  consistencyProof(oldSize: number, newSize: number): Promise<string[]> {
    const p = this.#open?.proof;
    if (p !== undefined && p.oldSize > 0 && p.oldSize === oldSize && p.newSize === newSize) {
      this.#stats.proofs += 1;
      return Promise.resolve([...p.hashes]);
    }
    return this.#call(() => this.#source.consistencyProof(oldSize, newSize));
  }

  /** The entries of the stream's latest head when they are the ones asked for (the rest from the call if the stream stops short); else the call. */
  async *entries(from: number, treeSize: number): AsyncGenerator<WireEntryResult> {
    const s = this.#open;
    if (s === undefined || s.head?.treeSize !== treeSize || s.cursor !== from || from >= treeSize) {
      this.#stats.calls += 1;
      yield* this.#source.entries(from, treeSize);
      return;
    }
    while (s.cursor < treeSize) {
      const got = await this.#read(s, Infinity);
      if (typeof got !== 'object' || got.kind === 'head') break;
      if (got.kind === 'malformed') {
        this.#drop();
        // As a malformed batch on StreamEntryBatches: a result that is not ok, at the next index (the replica halts there).
        yield { ok: false, index: s.cursor, message: got.message };
        return;
      }
      for (const e of got.entries) {
        s.cursor += 1;
        this.#stats.entries += 1;
        yield e;
      }
    }
    if (s.cursor >= treeSize) return;
    // The stream stopped short (its per-stream bound, an error, a head too early): the rest by call.
    const next = s.cursor;
    this.#drop();
    this.#stats.calls += 1;
    yield* this.#source.entries(next, treeSize);
  }

  /** What the tail answered so far. */
  stats(): LiveTailStats {
    return { ...this.#stats, following: this.#open !== undefined };
  }

  /** Cancels the stream (a later question opens a new one). */
  close(): void {
    this.#drop();
  }

  // The stream, when it stands at `cursor` at a head boundary (opened if none); undefined for an older sequencer.
  #following(cursor: number): Following | undefined {
    if (this.#now() < this.#olderUntil || this.#o.signal?.aborted === true) return undefined;
    const s = this.#open;
    if (s !== undefined && s.cursor === cursor && (s.head === undefined || s.cursor >= s.head.treeSize)) return s;
    this.#drop();
    let stream: TailStream;
    try {
      stream = this.#source.follow(cursor, this.#handed);
    } catch {
      // A client that cannot follow (built without batches) keeps the calls.
      this.#olderUntil = Infinity;
      return undefined;
    }
    this.#stats.opened += 1;
    this.#open = { stream, reading: undefined, head: undefined, proof: undefined, cursor, received: 0 };
    return this.#open;
  }

  // The next message, 'timeout' after `ms`, 'end' when the stream ended or failed (an older sequencer is remembered).
  async #read(s: Following, ms: number): Promise<TailMessage | 'timeout' | 'end'> {
    s.reading ??= s.stream.messages.next();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      if (ms !== Infinity) timer = setTimeout(() => resolve('timeout'), ms);
    });
    try {
      const r = await Promise.race([s.reading, timeout]);
      if (r === 'timeout') return r;
      s.reading = undefined;
      if (r.done === true) return 'end';
      s.received += 1;
      return r.value;
    } catch (err) {
      s.reading = undefined;
      if (err instanceof ExchangeCallError && err.code === grpc.status.UNIMPLEMENTED && s.received === 0) this.#olderUntil = this.#now() + (this.#o.reprobeMs ?? DEFAULT_REPROBE_MS);
      return 'end';
    } finally {
      clearTimeout(timer);
    }
  }

  #drop(): void {
    const s = this.#open;
    this.#open = undefined;
    if (s === undefined) return;
    // A read in flight settles (cancelled) with nobody waiting: keep it from being unhandled.
    s.reading?.catch(() => undefined);
    s.stream.cancel();
  }

  #handedOut(head: SignedTreeHead): SignedTreeHead {
    this.#handed = head.treeSize;
    return head;
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    this.#stats.calls += 1;
    return fn();
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }
}

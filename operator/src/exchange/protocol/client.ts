/**
 * A partner's client of the sequencer's exchange: mutual TLS, a deadline on every call,
 * keepalives, bounded message sizes, and retries with capped exponential backoff (equal
 * jitter) when the server is UNAVAILABLE. Every unary call is idempotent on the server, so
 * retrying is safe. Refusals come back as {@link ExchangeCallError} with the server's reason.
 */
import * as grpc from '@grpc/grpc-js';
import type { Vote } from '../../domain/quorum.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { jitteredBackoff } from '../../runtime/ratelimit.ts';
import type { ExchangeClient as GeneratedClient } from './gen/threatmesh/exchange/v1/Exchange.ts';
import type { LogEntry__Output } from './gen/threatmesh/exchange/v1/LogEntry.ts';
import type { LogEntryBatch__Output } from './gen/threatmesh/exchange/v1/LogEntryBatch.ts';
import type { LogTail__Output } from './gen/threatmesh/exchange/v1/LogTail.ts';
import type { PendingProposals__Output } from './gen/threatmesh/exchange/v1/PendingProposals.ts';
import type { Proof__Output } from './gen/threatmesh/exchange/v1/Proof.ts';
import type { ProposalAck__Output } from './gen/threatmesh/exchange/v1/ProposalAck.ts';
import type { Proposal } from './gen/threatmesh/exchange/v1/Proposal.ts';
import type { ProposalBatchAck__Output } from './gen/threatmesh/exchange/v1/ProposalBatchAck.ts';
import type { Refusal__Output } from './gen/threatmesh/exchange/v1/Refusal.ts';
import type { VoteBatchAck__Output } from './gen/threatmesh/exchange/v1/VoteBatchAck.ts';
import type { SignedTreeHead__Output } from './gen/threatmesh/exchange/v1/SignedTreeHead.ts';
import type { VoteAck__Output } from './gen/threatmesh/exchange/v1/VoteAck.ts';
import { loadExchangePackage } from './proto.ts';
import type { PendingRound, ProposalInput, ProposalResult, VoteResult } from './messages.ts';
import { REASON_TRAILER } from './grpcserver.ts';
import { channelCredentials, type TlsMaterial } from './tls.ts';
import { entryFromWire, headFromWire, kindFromWire, kindToWire, voteToWire, windowFromWire, type WireEntryResult } from './wire.ts';
import { parseIndicatorJson, parseMetaJson } from '../../domain/entry.ts';

/** Retry policy for UNAVAILABLE. */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 5 */
  readonly attempts?: number;
  /** @default 100 */
  readonly baseMs?: number;
  /** @default 5_000 */
  readonly capMs?: number;
}

/** How to reach and call the sequencer. */
export interface ExchangeClientOptions {
  /** host:port of the sequencer. */
  readonly address: string;
  readonly tls: TlsMaterial;
  /** Deadline of each unary call (a tree-head wait is added to it). @default 10_000 */
  readonly deadlineMs?: number;
  /** Deadline of one entry stream. @default 300_000 */
  readonly streamDeadlineMs?: number;
  readonly retry?: RetryPolicy;
  /** Largest message sent or received. @default 4 MiB */
  readonly maxMessageBytes?: number;
  /** Keepalive ping interval. @default 30_000 */
  readonly keepaliveMs?: number;
  /**
   * Entries asked per stream message (protocol revision 3, StreamEntryBatches); `false` asks for
   * single entries only (StreamEntries). A sequencer that does not serve batches is asked for
   * single entries while the connection that told it lasts, and at most
   * `streamBatchReprobeMs`: after a failover to a newer replica batches are asked again.
   * @default StreamBatchOptions defaults
   */
  readonly streamBatch?: StreamBatchOptions | false;
  /**
   * After an older sequencer answered UNIMPLEMENTED, single entries are asked for this long at
   * most (and only while that connection lasts) before batches are tried again: one refused
   * call then, never one per stream. @default 600_000
   */
  readonly streamBatchReprobeMs?: number;
  /**
   * The name to check in the server certificate when it differs from the address host (for
   * example `localhost` when dialing 127.0.0.1: TLS SNI cannot carry an IP address).
   */
  readonly serverName?: string;
  /** Injected for tests of the retry loop; default setTimeout / Math.random. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/** The bounds a partner asks for each batch of entries. */
export interface StreamBatchOptions {
  /** Most entries per message, 1..1,000. @default 256 */
  readonly maxEntries?: number;
  /** Most bytes per message; at most maxMessageBytes less 64 KiB. @default 1 MiB */
  readonly maxBytes?: number;
}

/** A failed call: the gRPC status, its details, and the server's refusal reason when it sent one. */
export class ExchangeCallError extends Error {
  /** gRPC status code. */
  readonly code: grpc.status;
  /** The `threatmesh-reason` trailer (a RefusalReason), if any. */
  readonly reason: string | undefined;
  constructor(code: grpc.status, message: string, reason: string | undefined) {
    super(message);
    this.name = 'ExchangeCallError';
    this.code = code;
    this.reason = reason;
  }
}

/** One refused item of a batch call: the reason and message a single call would have failed with. */
export interface ItemRefusal {
  readonly status: 'refused';
  readonly reason: string;
  readonly message: string;
}

const DEFAULTS = { batchReprobeMs: 600_000, deadlineMs: 10_000, streamDeadlineMs: 300_000, attempts: 5, baseMs: 100, capMs: 5_000, maxMessageBytes: 4 * 1024 * 1024, keepaliveMs: 30_000, batchEntries: 256, batchBytes: 1024 * 1024 };
// Room left in one received message past the batch bound asked: one entry larger than the
// bound travels alone, and entries are bounded well below this.
const BATCH_SLACK_BYTES = 64 * 1024;
const MAX_BATCH_ENTRIES = 1_000;

function batchBounds(opts: ExchangeClientOptions): Required<StreamBatchOptions> | undefined {
  if (opts.streamBatch === false) return undefined;
  const max = opts.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
  const maxEntries = opts.streamBatch?.maxEntries ?? DEFAULTS.batchEntries;
  const maxBytes = opts.streamBatch?.maxBytes ?? Math.min(DEFAULTS.batchBytes, max - BATCH_SLACK_BYTES);
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_BATCH_ENTRIES) throw new Error(`streamBatch.maxEntries is ${maxEntries}; it must be a whole number from 1 to ${MAX_BATCH_ENTRIES}`);
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1 || maxBytes > max - BATCH_SLACK_BYTES) throw new Error(`streamBatch.maxBytes is ${maxBytes}; it must be from 1 to ${max - BATCH_SLACK_BYTES} (maxMessageBytes less 64 KiB), or raise maxMessageBytes`);
  return { maxEntries, maxBytes };
}

/** The exchange client. Call {@link close} when done. */
export class ExchangeClient {
  readonly #client: GeneratedClient;
  readonly #opts: ExchangeClientOptions;
  // Undefined: single entries only (asked so).
  readonly #batch: Required<StreamBatchOptions> | undefined;
  // Set while the sequencer is known not to serve batches (see streamBatchReprobeMs).
  #single: { readonly until: number; over: boolean } | undefined;

  constructor(opts: ExchangeClientOptions) {
    this.#opts = opts;
    this.#batch = batchBounds(opts);
    const max = opts.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
    const Client = loadExchangePackage().Exchange;
    this.#client = new Client(opts.address, channelCredentials(opts.tls), {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      'grpc.keepalive_time_ms': opts.keepaliveMs ?? DEFAULTS.keepaliveMs,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      // Our own retry loop decides; grpc-js's transparent retries would double it.
      'grpc.enable_retries': 0,
      ...(opts.serverName !== undefined ? { 'grpc.ssl_target_name_override': opts.serverName, 'grpc.default_authority': opts.serverName } : {}),
    });
  }

  /** Submits a proposal. */
  async propose(p: ProposalInput): Promise<ProposalResult> {
    return proposalResult(await this.#unary<ProposalAck__Output>('Propose', (cb, o) => this.#client.Propose(proposalToWire(p), o, cb)));
  }

  /** Submits this partner's vote. */
  async vote(v: Vote): Promise<VoteResult> {
    return voteResult(await this.#unary<VoteAck__Output>('Vote', (cb, o) => this.#client.Vote(voteToWire(v), o, cb)));
  }

  /** Submits up to 1,000 proposals in one call; each gets its result or its refusal, in order. */
  async proposeBatch(ps: readonly ProposalInput[]): Promise<Array<ProposalResult | ItemRefusal>> {
    const res = await this.#unary<ProposalBatchAck__Output>('ProposeBatch', (cb, o) => this.#client.ProposeBatch({ proposals: ps.map(proposalToWire) }, o, cb));
    return res.outcomes.map((x) => (x.ack ? proposalResult(x.ack) : refused(x.refusal)));
  }

  /** Submits up to 1,000 of this partner's votes in one call; each gets its result or its refusal, in order. */
  async voteBatch(vs: readonly Vote[]): Promise<Array<VoteResult | ItemRefusal>> {
    const res = await this.#unary<VoteBatchAck__Output>('VoteBatch', (cb, o) => this.#client.VoteBatch({ votes: vs.map(voteToWire) }, o, cb));
    return res.outcomes.map((x) => (x.ack ? voteResult(x.ack) : refused(x.refusal)));
  }

  /** The rounds waiting for votes, every page of them, with their signed metadata; rounds whose indicator or metadata does not parse are left out. */
  async listPending(): Promise<PendingRound[]> {
    const rounds: PendingRound[] = [];
    for (let offset = 0; ; ) {
      const res = await this.#unary<PendingProposals__Output>('ListPending', (cb, o) => this.#client.ListPending({ offset, limit: 0 }, o, cb));
      for (const p of res.proposals) {
        const parsed = parseIndicatorJson(p.indicatorJson);
        const meta = parseMetaJson(p.metaJson);
        const kind = kindFromWire(p.kind);
        if (!parsed.ok || !meta.ok || kind === undefined) continue;
        rounds.push({ kind, indicator: parsed.indicator, indicatorJson: p.indicatorJson, ...(meta.meta !== undefined ? { meta: meta.meta } : {}), digest: p.digest, subject: p.subject, proposerId: p.proposerId, signature: p.signature, ...(p.batchProof !== '' ? { batch: p.batchProof } : {}), window: windowFromWire(p.window), tally: { approvals: p.approvals, rejections: p.rejections, required: p.required } });
      }
      offset += res.proposals.length;
      if (res.proposals.length === 0 || offset >= res.total) return rounds;
    }
  }

  /** The latest signed tree head, waiting up to `waitMs` for the log to reach `minTreeSize`. Unverified: check it with checkTreeHead. */
  async treeHead(minTreeSize = 0, waitMs = 0): Promise<SignedTreeHead> {
    const head = await this.#unary<SignedTreeHead__Output>('GetTreeHead', (cb, o) => this.#client.GetTreeHead({ minTreeSize, waitMs }, o, cb), waitMs);
    return headFromWire(head);
  }

  /** Consistency proof between two tree sizes. */
  async consistencyProof(oldSize: number, newSize: number): Promise<string[]> {
    return (await this.#unary<Proof__Output>('GetConsistencyProof', (cb, o) => this.#client.GetConsistencyProof({ oldSize, newSize }, o, cb))).hashes;
  }

  /** Inclusion proof of a leaf. */
  async inclusionProof(index: number, treeSize: number): Promise<string[]> {
    return (await this.#unary<Proof__Output>('GetInclusionProof', (cb, o) => this.#client.GetInclusionProof({ index, treeSize }, o, cb))).hashes;
  }

  /**
   * Streams entries [from, treeSize) with proofs in that tree; decoded, unverified, one result
   * per entry whether they came in batches or alone (the caller checks each in order). A batch
   * that breaks its bounds (empty, more entries than asked) ends the stream with a result that
   * is not ok. Not retried: the caller resumes from its cursor.
   */
  async *entries(from: number, treeSize: number): AsyncGenerator<WireEntryResult> {
    const bounds = this.#batchBounds();
    if (bounds !== undefined) {
      let received = 0;
      try {
        for await (const r of this.#batches(from, treeSize, bounds)) {
          received += 1;
          yield r;
        }
        return;
      } catch (err) {
        if (!(err instanceof ExchangeCallError && err.code === grpc.status.UNIMPLEMENTED && received === 0)) throw err;
        this.#olderSequencer();
      }
    }
    yield* this.#singles(from, treeSize);
  }

  // The batch bounds to ask, or undefined for single entries (asked so, or an older sequencer still).
  #batchBounds(): Required<StreamBatchOptions> | undefined {
    const single = this.#single;
    if (single !== undefined && (single.over || Date.now() >= single.until)) this.#single = undefined;
    return this.#single === undefined ? this.#batch : undefined;
  }

  // A sequencer before revision 3 answered: single entries until the connection that answered
  // changes (a failover reconnects, maybe to a newer replica) or the reprobe time is up.
  #olderSequencer(): void {
    const single = { until: Date.now() + (this.#opts.streamBatchReprobeMs ?? DEFAULTS.batchReprobeMs), over: false };
    this.#single = single;
    const channel = this.#client.getChannel();
    const state = channel.getConnectivityState(false);
    if (state === grpc.connectivityState.SHUTDOWN) return;
    // One-shot and timer-free (Infinity): it keeps nothing alive, and fires at close too.
    channel.watchConnectivityState(state, Infinity, () => {
      single.over = true;
    });
  }

  async *#batches(from: number, treeSize: number, bounds: Required<StreamBatchOptions>): AsyncGenerator<WireEntryResult> {
    const stream = this.#client.StreamEntryBatches({ fromIndex: from, treeSize, ...bounds }, { deadline: Date.now() + (this.#opts.streamDeadlineMs ?? DEFAULTS.streamDeadlineMs) });
    let next = from;
    try {
      for await (const batch of stream as AsyncIterable<LogEntryBatch__Output>) {
        const n = batch.entries.length;
        if (n === 0 || n > bounds.maxEntries) {
          yield { ok: false, index: next, message: `the sequencer sent a batch of ${n} entries at entry ${next}; a batch holds 1 to ${bounds.maxEntries} (the bound this partner asked)` };
          return;
        }
        for (const m of batch.entries) {
          next += 1;
          yield entryFromWire(m);
        }
      }
    } catch (err) {
      throw batchCallError(err, bounds);
    } finally {
      stream.cancel();
    }
  }

  async *#singles(from: number, treeSize: number): AsyncGenerator<WireEntryResult> {
    const stream = this.#client.StreamEntries({ fromIndex: from, treeSize }, { deadline: Date.now() + (this.#opts.streamDeadlineMs ?? DEFAULTS.streamDeadlineMs) });
    try {
      for await (const msg of stream as AsyncIterable<LogEntry__Output>) yield entryFromWire(msg);
    } catch (err) {
      throw toCallError('StreamEntries', err);
    } finally {
      stream.cancel();
    }
  }

  /**
   * Follows the log on one stream (protocol revision 4, FollowLog) from entry `from`, `treeSize`
   * being the size of the head this partner accepted (the first head then carries the
   * consistency proof from it): decoded, unverified heads and entries in the order sent. A
   * message that is neither a head nor entries, or entries out of the asked bounds, comes as
   * `malformed` and ends it. A sequencer before revision 4 fails it with UNIMPLEMENTED before
   * any message. Lasts at most `streamDeadlineMs`; `cancel` ends it at once, a read in flight
   * included (it fails CANCELLED).
   */
  follow(from: number, treeSize: number): TailStream {
    const bounds = this.#batch;
    if (bounds === undefined) throw new Error('the live tail sends entries in batches; this client was built with streamBatch: false');
    const stream = this.#client.FollowLog({ fromIndex: from, treeSize, ...bounds }, { deadline: Date.now() + (this.#opts.streamDeadlineMs ?? DEFAULTS.streamDeadlineMs) });
    return { messages: tailMessages(stream, bounds), cancel: () => stream.cancel() };
  }

  /** Closes the channel. */
  close(): void {
    this.#client.close();
  }

  async #unary<T>(method: string, call: (cb: (err: grpc.ServiceError | null, res?: T) => void, opts: grpc.CallOptions) => void, extraMs = 0): Promise<T> {
    const attempts = this.#opts.retry?.attempts ?? DEFAULTS.attempts;
    for (let attempt = 1; ; attempt++) {
      try {
        return await new Promise<T>((resolve, reject) => {
          call((err, res) => (err === null && res !== undefined ? resolve(res) : reject(err ?? new Error('empty response'))), { deadline: Date.now() + (this.#opts.deadlineMs ?? DEFAULTS.deadlineMs) + extraMs });
        });
      } catch (err) {
        const failure = toCallError(method, err);
        if (failure.code !== grpc.status.UNAVAILABLE || attempt >= attempts) throw failure;
        await this.#sleep(jitteredBackoff(attempt, this.#opts.retry?.baseMs ?? DEFAULTS.baseMs, this.#opts.retry?.capMs ?? DEFAULTS.capMs, this.#opts.random ?? Math.random));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return this.#opts.sleep !== undefined ? this.#opts.sleep(ms) : new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/** One message of the live tail, decoded and unverified (see {@link ExchangeClient.follow}). */
export type TailMessage =
  | { readonly kind: 'head'; readonly head: SignedTreeHead; readonly oldSize: number; readonly proof: readonly string[] }
  | { readonly kind: 'entries'; readonly entries: readonly WireEntryResult[] }
  | { readonly kind: 'malformed'; readonly message: string };

/** An open live tail: its messages, read in order, and a cancel that ends it at once. */
export interface TailStream {
  readonly messages: AsyncIterator<TailMessage>;
  cancel(): void;
}

async function* tailMessages(stream: grpc.ClientReadableStream<LogTail__Output>, bounds: Required<StreamBatchOptions>): AsyncGenerator<TailMessage> {
  try {
    for await (const m of stream as AsyncIterable<LogTail__Output>) {
      const item = tailFromWire(m, bounds.maxEntries);
      yield item;
      if (item.kind === 'malformed') return;
    }
  } catch (err) {
    throw batchCallError(err, bounds, 'FollowLog');
  } finally {
    stream.cancel();
  }
}

function tailFromWire(m: LogTail__Output, maxEntries: number): TailMessage {
  const n = m.entries.length;
  if (m.head !== null && n === 0 && m.head.head !== null) return { kind: 'head', head: headFromWire(m.head.head), oldSize: m.head.oldSize, proof: m.head.consistencyProof };
  if (m.head === null && n > 0 && n <= maxEntries) return { kind: 'entries', entries: m.entries.map(entryFromWire) };
  return { kind: 'malformed', message: `the sequencer sent a live-tail message with ${m.head === null ? 'no' : 'a'} head and ${n} entries; each holds a signed head alone or 1 to ${maxEntries} entries (the bound this partner asked)` };
}

function proposalToWire(p: ProposalInput): Proposal {
  return { kind: kindToWire(p.kind), indicatorJson: p.indicatorJson, metaJson: p.metaJson ?? '', proposerId: p.proposerId, signature: p.signature, batchProof: p.batch ?? '' };
}

function proposalResult(ack: ProposalAck__Output): ProposalResult {
  const status = ack.status === 'OPENED' ? 'opened' : ack.status === 'ALREADY_PENDING' ? 'already-pending' : 'already-admitted';
  return { status, digest: ack.digest, subject: ack.subject, ...(status === 'already-admitted' ? { logIndex: ack.logIndex } : { window: windowFromWire(ack.window) }) };
}

function voteResult(ack: VoteAck__Output): VoteResult {
  const status = ack.status === 'APPROVED' ? 'approved' : ack.status === 'REJECTED' ? 'rejected' : ack.status === 'DUPLICATE' ? 'duplicate' : 'counted';
  return { status, approvals: ack.approvals, rejections: ack.rejections, required: ack.required, ...(status === 'approved' ? { logIndex: ack.logIndex } : {}) };
}

function refused(r: Refusal__Output | null | undefined): ItemRefusal {
  return { status: 'refused', reason: r?.reason ?? 'unknown', message: r?.message ?? 'refused without a reason' };
}

// A batch over this partner's receive limit: the sequencer ignored max_bytes (or the limit is below what the log's entries need).
function batchCallError(err: unknown, bounds: Required<StreamBatchOptions>, method = 'StreamEntryBatches'): ExchangeCallError {
  const failure = toCallError(method, err);
  if (failure.code !== grpc.status.RESOURCE_EXHAUSTED || failure.reason !== undefined) return failure;
  return new ExchangeCallError(failure.code, `${failure.message}: a batch of entries exceeded this partner's message limit although it asked for at most ${bounds.maxBytes} bytes; the sequencer broke the bound (or one entry is larger than maxMessageBytes: raise it)`, 'batch-too-large');
}

function toCallError(method: string, err: unknown): ExchangeCallError {
  if (err instanceof ExchangeCallError) return err;
  const e = err as Partial<grpc.ServiceError>;
  const code = typeof e?.code === 'number' ? e.code : grpc.status.UNKNOWN;
  const reason = e?.metadata?.get(REASON_TRAILER)[0];
  const details = typeof e?.details === 'string' ? e.details : err instanceof Error ? err.message : String(err);
  return new ExchangeCallError(code, `${method}: ${grpc.status[code] ?? code}: ${details}`, typeof reason === 'string' ? reason : undefined);
}

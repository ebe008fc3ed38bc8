/**
 * The sequencer's gRPC endpoint: mutual TLS, the caller identified by its client certificate,
 * each call authorized by role, requests translated to the {@link Sequencer} and refusals to
 * gRPC statuses (the refusal reason travels in the `threatmesh-reason` trailer).
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from '../../log.ts';
import { ExchangeRefusal, isSequencerStopping, sequencerStopping } from '../protocol/errors.ts';
import { bindServer, stopServer, toServiceError, unary } from '../protocol/grpcserver.ts';
import { MAX_BATCH_ITEMS } from '../protocol/messages.ts';
import type { LogEntry } from '../protocol/gen/threatmesh/exchange/v1/LogEntry.ts';
import { EncodedEntry, EntryFanout, type FanoutLimits } from './fanout.ts';
import { batched, EncodedBatch, endpointBatchBounds, requestBatchBounds, SharedBatches, type BatchBounds, type SharedBatchLimits } from './batches.ts';
import { ConnectionIdentities, type PeerIdentityStats } from '../protocol/peers.ts';
import { FramedMessage, FramedSends, type FramedSendStats } from '../protocol/framing.ts';
import type { ExchangeHandlers } from '../protocol/gen/threatmesh/exchange/v1/Exchange.ts';
import type { Proposal__Output } from '../protocol/gen/threatmesh/exchange/v1/Proposal.ts';
import type { ProposalAck } from '../protocol/gen/threatmesh/exchange/v1/ProposalAck.ts';
import type { SignedVote__Output } from '../protocol/gen/threatmesh/exchange/v1/SignedVote.ts';
import type { VoteAck } from '../protocol/gen/threatmesh/exchange/v1/VoteAck.ts';
import { settleWithin } from '../../runtime/clock.ts';
import { loadExchangePackage } from '../protocol/proto.ts';
import { StopCuts } from './stopcuts.ts';
import { StreamSlots, streamEntries, type StreamServing } from './streams.ts';
import { followLog, SharedHead, type TailCounts, type TailStats } from './tail.ts';
import { SEQUENCER_DEFAULTS } from './defaults.ts';
import type { LogTail } from '../protocol/gen/threatmesh/exchange/v1/LogTail.ts';
import type { Sequencer } from './sequencer.ts';
import { authorize, type ExchangeAction, type PartnerEntry, type TlsMaterial } from '../protocol/tls.ts';
import { metaJson } from '../../domain/entry.ts';
import { headToWire, kindFromWire, kindToWire, voteFromWire, voteWireProblem } from '../protocol/wire.ts';

/** Limits applied to every connection. */
export interface ServerLimits {
  /** Largest request or response message. @default 4 MiB */
  readonly maxMessageBytes?: number;
  /** Server keepalive ping interval. @default 30_000 */
  readonly keepaliveMs?: number;
  /** StreamEntries calls one partner may have open at once; more are refused (RESOURCE_EXHAUSTED, too-many-streams). @default 4 */
  readonly maxStreamsPerPartner?: number;
  /**
   * Entries one StreamEntries call sends at most; the stream then ends and the partner asks again
   * from its cursor. Bounds what a client that does not read can make the server buffer. @default 10_000
   */
  readonly maxEntriesPerStream?: number;
  /**
   * A stream whose client has read nothing for this long (flow control full) is ended with
   * RESOURCE_EXHAUSTED, reason slow-stream; the partner resumes from its cursor. A stalled reader
   * keeps no slot and no memory past it, and never slows the other streams. @default 60_000
   */
  readonly drainTimeoutMs?: number;
  /** Sharing of encoded entries across streams. @default FanoutLimits defaults */
  readonly fanout?: FanoutLimits;
  /**
   * Bounds of one StreamEntryBatches message (protocol revision 3); `false` serves no batches
   * (the endpoint answers UNIMPLEMENTED, as a sequencer before revision 3 does). A bound that
   * cannot fit `maxMessageBytes` fails the start. @default BatchBounds defaults
   */
  readonly batch?: BatchBounds | false;
  /** Batches packed once for every stream asking the same range (batches.ts SharedBatches). @default SharedBatchLimits defaults */
  readonly sharedBatches?: SharedBatchLimits;
  /**
   * `false` serves no live tail (protocol revision 4, FollowLog): the endpoint answers
   * UNIMPLEMENTED, as a sequencer before revision 4 does. Served only with batches. @default true
   */
  readonly tail?: boolean;
}

/**
 * The calls the endpoint serves: a {@link Sequencer} (tests put a hostile one behind the real
 * endpoint). `cachedEntry`, offered by the honest sequencer only, lets streams share encoded bytes
 * (fanout.ts); a core without it is encoded per stream. `stop`, when offered, is called first
 * when the endpoint stops, so appends waiting for the log are refused at once.
 */
export type SequencerCore = Pick<Sequencer, 'propose' | 'vote' | 'pending' | 'waitForSize' | 'treeHead' | 'inclusionProof' | 'consistencyProof' | 'entries'> & Partial<Pick<Sequencer, 'cachedEntry' | 'stop'>>;

/** What the endpoint is built from. */
export interface ExchangeServerOptions {
  readonly sequencer: SequencerCore;
  readonly directory: ReadonlyMap<string, PartnerEntry>;
  readonly tls: TlsMaterial;
  /** host:port; port 0 picks a free one. Listen on 127.0.0.1 in tests. */
  readonly address: string;
  readonly log: Logger;
  readonly limits?: ServerLimits;
}

/** A running endpoint. */
export interface ExchangeServer {
  readonly port: number;
  /** StreamEntries calls being served now (each ends when its client cancels, disconnects or is done). */
  openStreams(): number;
  /** Entry messages encoded for streams to share, and handed out again from those bytes (fanout.ts). */
  sharedEntries(): { readonly encoded: number; readonly shared: number };
  /** Streams ended because their client read nothing for the drain timeout (reason slow-stream). */
  slowStreamDrops(): number;
  /** StreamEntryBatches messages sent, and the entries they held. */
  batchesSent(): { readonly batches: number; readonly entries: number };
  /** Entry ranges packed into batches once for every stream, and streams that were handed such batches packed for another. */
  sharedBatches(): { readonly built: number; readonly reused: number };
  /** Caller identities read from a client certificate, and calls that reused their connection's (protocol/peers.ts). */
  peerIdentities(): PeerIdentityStats;
  /** Batch streams that send each batch's framed bytes as built (no copy per stream), and the batches so sent (protocol/framing.ts). */
  framedSends(): FramedSendStats;
  /** What the live tails (protocol revision 4, FollowLog, tail.ts) did since the endpoint started. */
  tails(): TailStats;
  /**
   * Stops within a few seconds however partners behave: tree-head waits and entry streams end
   * at once (UNAVAILABLE, reason sequencer-stopping: ask again, resume from the cursor), new
   * calls are refused, connections still open after a short grace are cut, and calls already
   * running (a proposal being written) get a bounded time to finish, so none outlives stop.
   * Appends waiting for the log are refused at once, and every call the stop cuts short (a
   * write failing as the database closes included) is answered UNAVAILABLE sequencer-stopping
   * and counted in one summary line, not logged one by one.
   */
  stop(): Promise<void>;
}

/** The part of a server call authorization needs. */
interface AuthenticatedCall {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

const DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024;
// Signature, digest, subject, ids, window and tally of one pending round, generously.
const ROUND_OVERHEAD_BYTES = 1024;
const DEFAULT_KEEPALIVE_MS = 30_000;
const DEFAULT_MAX_STREAMS_PER_PARTNER = 4;
const DEFAULT_MAX_ENTRIES_PER_STREAM = 10_000;
const DEFAULT_DRAIN_TIMEOUT_MS = 60_000;
// How long stop waits for calls already running (their database work) once streams and waits were ended.
const STOP_CALLS_MS = 3_000;

/** Starts the endpoint on `address` with mutual TLS. */
export async function startExchangeServer(opts: ExchangeServerOptions): Promise<ExchangeServer> {
  const max = opts.limits?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': max,
    'grpc.max_send_message_length': max,
    'grpc.keepalive_time_ms': opts.limits?.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  });
  const slots = new StreamSlots(opts.limits?.maxStreamsPerPartner ?? DEFAULT_MAX_STREAMS_PER_PARTNER);
  const service = loadExchangePackage().Exchange.service;
  const streamDef = service.StreamEntries;
  const fanout = new EntryFanout((m) => streamDef.responseSerialize(m), opts.limits?.fanout);
  const batch = opts.limits?.batch === false ? undefined : endpointBatchBounds(opts.limits?.batch, max);
  // Shared messages arrive encoded: their bytes go out as they are.
  const passThrough = { ...streamDef, responseSerialize: (m: LogEntry | EncodedEntry) => (m instanceof EncodedEntry ? m.bytes : streamDef.responseSerialize(m)) };
  // Batches are always encoded by batches.ts.
  const batchDef = { ...service.StreamEntryBatches, responseSerialize: (m: EncodedBatch) => m.bytes };
  // A live tail sends heads (encoded here) and the very batches StreamEntryBatches sends.
  const tailDef = { ...service.FollowLog, responseSerialize: (m: LogTail | FramedMessage) => (m instanceof FramedMessage ? m.bytes : service.FollowLog.responseSerialize(m)) };
  const drops = { slow: 0, batches: 0, batchedEntries: 0 };
  const tailCounts: TailCounts = { open: 0, heads: 0, cut: 0 };
  const stopping = new AbortController();
  const running = new Set<Promise<unknown>>();
  const cuts = new StopCuts(stopping.signal);
  const shared = new SharedBatches(opts.limits?.sharedBatches);
  const peers = new ConnectionIdentities();
  const framed = new FramedSends();
  const serving: StreamServing = { slots, drops, stopping: stopping.signal, ...streamLimits(opts.limits) };
  const heads = new SharedHead(opts.sequencer, SEQUENCER_DEFAULTS.headCoalesceMs, (m) => service.FollowLog.responseSerialize(m));
  const all = handlers({ opts, serving, fanout, shared, peers, framed, heads, tailCounts, drops, batch, serialize: (m) => streamDef.responseSerialize(m), stopping: stopping.signal, running, cuts });
  const tail = batch !== undefined && opts.limits?.tail !== false;
  const served = servedRevisions({ ...service, StreamEntries: passThrough, StreamEntryBatches: batchDef, FollowLog: tailDef }, all, batch !== undefined, tail);
  server.addService(served.definition, served.handlers);
  const port = await bindServer(server, opts.address, opts.tls);
  opts.log.info('exchange server listening', { address: opts.address, port });
  return {
    port,
    openStreams: () => slots.total(),
    sharedEntries: () => {
      const { encoded, shared } = fanout.stats();
      return { encoded, shared };
    },
    slowStreamDrops: () => drops.slow,
    batchesSent: () => ({ batches: drops.batches, entries: drops.batchedEntries }),
    sharedBatches: () => {
      const { built, reused } = shared.stats();
      return { built, reused };
    },
    peerIdentities: () => peers.stats(),
    framedSends: () => framed.stats(),
    tails: () => ({ ...tailCounts, headMessages: heads.built() }),
    stop: async () => {
      opts.sequencer.stop?.();
      stopping.abort();
      await stopServer(server);
      await settleWithin(Promise.allSettled([...running]), STOP_CALLS_MS, undefined);
      cuts.report(opts.log, running.size);
    },
  };
}

function streamLimits(limits: ServerLimits | undefined): Pick<StreamServing, 'maxEntriesPerStream' | 'drainTimeoutMs'> {
  return { maxEntriesPerStream: limits?.maxEntriesPerStream ?? DEFAULT_MAX_ENTRIES_PER_STREAM, drainTimeoutMs: limits?.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS };
}

function handlers(ctx: StreamContext): ExchangeHandlers {
  const { opts } = ctx;
  // Every call is tracked until it settles, so stop can wait (bounded) for the ones running.
  // A call the stop cuts short gets one clear answer (StopCuts), not the database's error.
  const tracked = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => (...a: A): Promise<R> => {
    const p = fn(...a).catch((err: unknown) => {
      throw ctx.cuts.answer(err);
    });
    ctx.running.add(p);
    const done = (): void => {
      ctx.running.delete(p);
    };
    p.then(done, done);
    return p;
  };
  const seq = opts.sequencer;
  const max = opts.limits?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
  const caller = (call: AuthenticatedCall, action: ExchangeAction): string => authorize(opts.directory, ctx.peers.of(call), action).partnerId;
  return {
    Propose: unary(opts.log, tracked((call) => proposeOne(seq, caller(call, 'propose'), call.request))),
    Vote: unary(opts.log, tracked((call) => voteOne(seq, caller(call, 'vote'), call.request))),
    ProposeBatch: unary(opts.log, tracked(async (call) => {
      const who = caller(call, 'propose');
      checkBatch(call.request.proposals.length);
      return { outcomes: await Promise.all(call.request.proposals.map((p) => outcome(proposeOne(seq, who, p)))) };
    })),
    VoteBatch: unary(opts.log, tracked(async (call) => {
      const who = caller(call, 'vote');
      checkBatch(call.request.votes.length);
      // Concurrently, so approvals in one batch share a group commit of the log.
      return { outcomes: await Promise.all(call.request.votes.map((v) => outcome(voteOne(seq, who, v)))) };
    })),
    ListPending: unary(opts.log, (call) => {
      caller(call, 'vote');
      const all = seq.pending();
      const limit = call.request.limit === 0 || call.request.limit > MAX_BATCH_ITEMS ? MAX_BATCH_ITEMS : call.request.limit;
      const page = all.slice(call.request.offset, call.request.offset + limit).map((p) => ({ kind: kindToWire(p.kind), indicatorJson: p.indicatorJson, metaJson: metaJson(p.meta), proposerId: p.proposerId, signature: p.signature, batchProof: p.batch ?? '', digest: p.digest, subject: p.subject, window: p.window, ...p.tally }));
      return Promise.resolve({ proposals: withinBytes(page, max / 2), total: all.length });
    }),
    GetTreeHead: unary(opts.log, tracked(async (call) => {
      caller(call, 'read');
      await seq.waitForSize(call.request.minTreeSize, call.request.waitMs, ctx.stopping);
      if (ctx.stopping.aborted) throw sequencerStopping();
      return headToWire(await seq.treeHead());
    })),
    GetInclusionProof: unary(opts.log, (call) => {
      caller(call, 'read');
      return Promise.resolve({ hashes: seq.inclusionProof(call.request.index, call.request.treeSize) });
    }),
    GetConsistencyProof: unary(opts.log, (call) => {
      caller(call, 'read');
      return Promise.resolve({ hashes: seq.consistencyProof(call.request.oldSize, call.request.newSize) });
    }),
    StreamEntries: (call) => {
      // An 'error' event on a server stream ends it with that status (grpc-js semantics).
      tracked(streamEntries)(ctx.serving, call, () => caller(call, 'read'), (from, to, size) => ctx.fanout.stream(opts.sequencer, from, to, size)).catch((err: unknown) => call.emit('error', toServiceError(opts.log, err)));
    },
    StreamEntryBatches: (call) => {
      // Batches are framed when packed: the same bytes go out on every stream, without grpc-js's copy.
      ctx.framed.install(call);
      // Checked before any entry is read; the handler is registered only with bounds.
      const produce = (from: number, to: number, size: number): AsyncIterable<EncodedBatch> => batchesOf(ctx, from, to, size, requestBatchBounds(call.request, ctx.batch!));
      tracked(streamEntries)(ctx.serving, call, () => caller(call, 'read'), produce).catch((err: unknown) => call.emit('error', toServiceError(opts.log, err)));
    },
    FollowLog: (call) => {
      ctx.framed.install(call);
      const tail = { serving: ctx.serving, core: opts.sequencer, batch: ctx.batch!, batches: (from: number, to: number, size: number, bounds: Required<BatchBounds>) => batchesOf(ctx, from, to, size, bounds), heads: ctx.heads, counts: ctx.tailCounts };
      tracked(followLog)(tail, call, () => caller(call, 'read')).catch((err: unknown) => call.emit('error', toServiceError(opts.log, err)));
    },
  };
}

// Leaves out the methods of revisions this endpoint does not serve (3: StreamEntryBatches, 4:
// FollowLog): grpc-js then answers UNIMPLEMENTED, what a sequencer before that revision says.
function servedRevisions(definition: grpc.ServiceDefinition, handlers: grpc.UntypedServiceImplementation, batches: boolean, tail: boolean): { definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation } {
  const left = new Set([...(batches ? [] : ['StreamEntryBatches']), ...(tail ? [] : ['FollowLog'])]);
  const keep = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([name]) => !left.has(name))) as T;
  return { definition: keep(definition), handlers: keep(handlers) };
}

// The batches of [from, to) in the tree of `size` leaves; at the head, the ones every other stream at the same cursor gets too.
function batchesOf(ctx: StreamContext, from: number, to: number, size: number, bounds: Required<BatchBounds>): AsyncIterable<EncodedBatch> {
  const shared = ctx.shared.get({ from, to, size }, bounds, () => ctx.fanout.sharedRange(ctx.opts.sequencer, from, to, size));
  return counted(shared ?? batched(ctx.fanout.stream(ctx.opts.sequencer, from, to, size), ctx.serialize, bounds), ctx.drops);
}

async function* counted(batches: AsyncIterable<EncodedBatch> | Iterable<EncodedBatch>, into: { batches: number; batchedEntries: number }): AsyncGenerator<EncodedBatch> {
  for await (const b of batches) {
    into.batches += 1;
    into.batchedEntries += b.entries;
    yield b;
  }
}

async function proposeOne(seq: SequencerCore, who: string, req: Proposal__Output): Promise<ProposalAck> {
  const kind = kindFromWire(req.kind);
  if (kind === undefined) throw new ExchangeRefusal('invalid-argument', 'invalid-kind', 'proposal kind must be ADD or REVOKE');
  const r = await seq.propose(who, { kind, indicatorJson: req.indicatorJson, metaJson: req.metaJson, proposerId: req.proposerId, signature: req.signature, ...(req.batchProof !== '' ? { batch: req.batchProof } : {}) });
  const status = r.status === 'opened' ? 'OPENED' : r.status === 'already-pending' ? 'ALREADY_PENDING' : 'ALREADY_ADMITTED';
  return { status, digest: r.digest, subject: r.subject, logIndex: r.logIndex ?? 0, window: r.window ?? null };
}

async function voteOne(seq: SequencerCore, who: string, req: SignedVote__Output): Promise<VoteAck> {
  const malformed = voteWireProblem(req);
  if (malformed !== undefined) throw new ExchangeRefusal('invalid-argument', 'invalid-vote', malformed);
  const r = await seq.vote(who, voteFromWire(req));
  return { status: r.status.toUpperCase() as 'COUNTED', logIndex: r.logIndex ?? 0, approvals: r.approvals, rejections: r.rejections, required: r.required };
}

// A refusal answers its item; anything else fails the whole call. So does a stop: the partner
// then sends every item of the call again (an item refusal would end its vote for good).
async function outcome<T>(p: Promise<T>): Promise<{ ack: T } | { refusal: { reason: string; message: string } }> {
  try {
    return { ack: await p };
  } catch (err) {
    if (err instanceof ExchangeRefusal && !isSequencerStopping(err)) return { refusal: { reason: err.reason, message: err.message } };
    throw err;
  }
}

// Rounds with long values and metadata could overflow one response: a shorter page (at least
// one round) is still a valid page, the client pages on by offset until `total`.
function withinBytes<T extends { readonly indicatorJson: string; readonly metaJson: string }>(page: readonly T[], budget: number): T[] {
  let used = 0;
  const out: T[] = [];
  for (const p of page) {
    used += Buffer.byteLength(p.indicatorJson) + Buffer.byteLength(p.metaJson) + ROUND_OVERHEAD_BYTES;
    if (out.length > 0 && used > budget) break;
    out.push(p);
  }
  return out;
}

function checkBatch(n: number): void {
  if (n > MAX_BATCH_ITEMS) throw new ExchangeRefusal('invalid-argument', 'batch-too-large', `a batch holds at most ${MAX_BATCH_ITEMS} items, got ${n}; split it`);
}

/** What a StreamEntries handler shares with the others. */
interface StreamContext {
  readonly opts: ExchangeServerOptions;
  /** The slots, limits and stop every stream shares. */
  readonly serving: StreamServing;
  readonly fanout: EntryFanout;
  /** Batches packed once for the streams asking the same range. */
  readonly shared: SharedBatches;
  /** Caller identities, read once per connection. */
  readonly peers: ConnectionIdentities;
  /** Makes batch streams send framed batches without a copy. */
  readonly framed: FramedSends;
  /** The head every live tail pushes, asked of the log at most once per coalescing interval. */
  readonly heads: SharedHead;
  /** What the live tails did (counted for /metrics). */
  readonly tailCounts: TailCounts;
  /** Streams ended for reading nothing (counted for /metrics), and batches sent. */
  readonly drops: { slow: number; batches: number; batchedEntries: number };
  /** The endpoint's batch bounds; undefined when it serves no batches. */
  readonly batch: Required<BatchBounds> | undefined;
  /** Encodes one LogEntry message (a batch's entries not shared by the fan-out). */
  readonly serialize: (m: LogEntry) => Buffer;
  /** Aborted when the endpoint stops: waits and streams end at once. */
  readonly stopping: AbortSignal;
  /** Answers and counts the calls the stop cuts short. */
  readonly cuts: StopCuts;
  /** Calls running now (stop waits for them, bounded). */
  readonly running: Set<Promise<unknown>>;
}

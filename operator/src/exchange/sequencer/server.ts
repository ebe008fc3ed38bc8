/**
 * The sequencer's gRPC endpoint: mutual TLS, the caller identified by its client certificate,
 * each call authorized by role, requests translated to the {@link Sequencer} and refusals to
 * gRPC statuses (the refusal reason travels in the `threatmesh-reason` trailer).
 */
import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { Logger } from '../../log.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import { bindServer, stopServer, toServiceError, unary } from '../protocol/grpcserver.ts';
import { MAX_BATCH_ITEMS, type ProvenEntry } from '../protocol/messages.ts';
import type { ExchangeHandlers } from '../protocol/gen/threatmesh/exchange/v1/Exchange.ts';
import type { Proposal__Output } from '../protocol/gen/threatmesh/exchange/v1/Proposal.ts';
import type { ProposalAck } from '../protocol/gen/threatmesh/exchange/v1/ProposalAck.ts';
import type { SignedVote__Output } from '../protocol/gen/threatmesh/exchange/v1/SignedVote.ts';
import type { VoteAck } from '../protocol/gen/threatmesh/exchange/v1/VoteAck.ts';
import { loadExchangePackage } from '../protocol/proto.ts';
import type { Sequencer } from './sequencer.ts';
import { authorize, peerIdentity, type ExchangeAction, type PartnerEntry, type TlsMaterial } from '../protocol/tls.ts';
import { metaJson } from '../../domain/entry.ts';
import { entryToWire, headToWire, kindFromWire, kindToWire, voteFromWire, voteWireProblem } from '../protocol/wire.ts';

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
}

/** The calls the endpoint serves: a {@link Sequencer} (tests put a hostile one behind the real endpoint). */
export type SequencerCore = Pick<Sequencer, 'propose' | 'vote' | 'pending' | 'waitForSize' | 'treeHead' | 'inclusionProof' | 'consistencyProof' | 'entries'>;

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
  /** Stops accepting calls and ends open streams. */
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

/** Open StreamEntries calls per partner, bounded. */
class StreamSlots {
  readonly #open = new Map<string, number>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** Takes a slot for `partnerId`, or refuses when it has all of them. */
  take(partnerId: string): void {
    const n = this.#open.get(partnerId) ?? 0;
    if (n >= this.#max) throw new ExchangeRefusal('resource-exhausted', 'too-many-streams', `partner ${partnerId} already has ${n} entry streams open, the most one partner may; finish or cancel one first`);
    this.#open.set(partnerId, n + 1);
  }

  release(partnerId: string): void {
    const n = (this.#open.get(partnerId) ?? 1) - 1;
    if (n <= 0) this.#open.delete(partnerId);
    else this.#open.set(partnerId, n);
  }

  total(): number {
    let sum = 0;
    for (const n of this.#open.values()) sum += n;
    return sum;
  }
}

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
  server.addService(loadExchangePackage().Exchange.service, handlers(opts, slots));
  const port = await bindServer(server, opts.address, opts.tls);
  opts.log.info('exchange server listening', { address: opts.address, port });
  return {
    port,
    openStreams: () => slots.total(),
    stop: () => stopServer(server),
  };
}

function handlers(opts: ExchangeServerOptions, slots: StreamSlots): ExchangeHandlers {
  const seq = opts.sequencer;
  const max = opts.limits?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
  const caller = (call: AuthenticatedCall, action: ExchangeAction): string => authorize(opts.directory, peerIdentity(call.getAuthContext()), action).partnerId;
  return {
    Propose: unary(opts.log, (call) => proposeOne(seq, caller(call, 'propose'), call.request)),
    Vote: unary(opts.log, (call) => voteOne(seq, caller(call, 'vote'), call.request)),
    ProposeBatch: unary(opts.log, async (call) => {
      const who = caller(call, 'propose');
      checkBatch(call.request.proposals.length);
      return { outcomes: await Promise.all(call.request.proposals.map((p) => outcome(proposeOne(seq, who, p)))) };
    }),
    VoteBatch: unary(opts.log, async (call) => {
      const who = caller(call, 'vote');
      checkBatch(call.request.votes.length);
      // Concurrently, so approvals in one batch share a group commit of the log.
      return { outcomes: await Promise.all(call.request.votes.map((v) => outcome(voteOne(seq, who, v)))) };
    }),
    ListPending: unary(opts.log, (call) => {
      caller(call, 'vote');
      const all = seq.pending();
      const limit = call.request.limit === 0 || call.request.limit > MAX_BATCH_ITEMS ? MAX_BATCH_ITEMS : call.request.limit;
      const page = all.slice(call.request.offset, call.request.offset + limit).map((p) => ({ kind: kindToWire(p.kind), indicatorJson: p.indicatorJson, metaJson: metaJson(p.meta), proposerId: p.proposerId, signature: p.signature, batchProof: p.batch ?? '', digest: p.digest, subject: p.subject, window: p.window, ...p.tally }));
      return Promise.resolve({ proposals: withinBytes(page, max / 2), total: all.length });
    }),
    GetTreeHead: unary(opts.log, async (call) => {
      caller(call, 'read');
      await seq.waitForSize(call.request.minTreeSize, call.request.waitMs);
      return headToWire(await seq.treeHead());
    }),
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
      streamEntries(opts, call, caller, slots).catch((err: unknown) => call.emit('error', toServiceError(opts.log, err)));
    },
  };
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

// A refusal answers its item; anything else fails the whole call.
async function outcome<T>(p: Promise<T>): Promise<{ ack: T } | { refusal: { reason: string; message: string } }> {
  try {
    return { ack: await p };
  } catch (err) {
    if (err instanceof ExchangeRefusal) return { refusal: { reason: err.reason, message: err.message } };
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

async function streamEntries(
  opts: ExchangeServerOptions,
  call: grpc.ServerWritableStream<{ fromIndex: number; treeSize: number }, unknown>,
  caller: (call: AuthenticatedCall, action: ExchangeAction) => string,
  slots: StreamSlots,
): Promise<void> {
  const who = caller(call, 'read');
  slots.take(who);
  try {
    // Leaving the loop (return) closes the log reader: a cancelled or dropped call holds nothing.
    const to = Math.min(call.request.treeSize, call.request.fromIndex + (opts.limits?.maxEntriesPerStream ?? DEFAULT_MAX_ENTRIES_PER_STREAM));
    // Proofs stay in the tree the partner asked for; only the range is cut.
    for await (const { entry, proof } of entriesIn(opts.sequencer, call.request.fromIndex, to, call.request.treeSize)) {
      if (call.cancelled) return;
      // Respect flow control: wait for the client to drain, or for the call to end, before producing more.
      if (!call.write(entryToWire(entry, proof)) && !(await drainedOrEnded(call))) return;
    }
    call.end();
  } finally {
    slots.release(who);
  }
}

// The entries [from, to) with inclusion proofs in the tree of `size` leaves.
async function* entriesIn(seq: SequencerCore, from: number, to: number, size: number): AsyncGenerator<ProvenEntry> {
  for await (const p of seq.entries(from, size)) {
    if (p.entry.index >= to) return;
    yield p;
  }
}

/** Resolves true once the client drained the stream, false once the call was cancelled or closed first. */
function drainedOrEnded(call: grpc.ServerWritableStream<unknown, unknown>): Promise<boolean> {
  if (call.cancelled) return Promise.resolve(false);
  return new Promise((resolve) => {
    const settle = (drained: boolean) => (): void => {
      call.off('drain', onDrain);
      call.off('cancelled', onEnd);
      call.off('close', onEnd);
      call.off('error', onEnd);
      resolve(drained && !call.cancelled);
    };
    const onDrain = settle(true);
    const onEnd = settle(false);
    call.once('drain', onDrain);
    call.once('cancelled', onEnd);
    call.once('close', onEnd);
    call.once('error', onEnd);
  });
}


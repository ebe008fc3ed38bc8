/**
 * One configuration of a partner's exchange: the sequencer client, the replica (running
 * PartnerReplica.run in the background), the automatic voter and the peers' gossip clients,
 * all built for one {@link PartnerNetwork}. When the PartnerNodes change the partner stops the
 * session and builds a new one with the new trust anchors.
 */
import type { PartnerNode } from '../../api/types.ts';
import type { Vote } from '../../domain/quorum.ts';
import type { EntryHistory, LeafStore } from '../../domain/stores.ts';
import type { SigningKey } from '../../domain/signature.ts';
import type { Logger } from '../../log.ts';
import type { ExchangeClientOptions, ItemRefusal } from '../protocol/client.ts';
import type { PartnerNetwork, SequencerRef } from './network.ts';
import type { ProposalSink } from './forwarder.ts';
import { serverNameFor, type GossipClientOptions, type PeerHead } from './gossip.ts';
import { PartnerReplica, ReplicationHalted, type LogSource } from './replica.ts';
import { BadPeerHead, type PeerOutcome } from './peers.ts';
import { type CursorStore, type EntrySink } from '../../domain/stores.ts';
import type { TlsMaterial } from '../protocol/tls.ts';
import { AutoVoter, type VoteBatching, type VoterClient, type VotingPolicy as RoundJudge } from './voter.ts';
import type { PendingRound, VoteResult } from '../protocol/messages.ts';
import type { MisbehaviourReport } from './rounds.ts';
import { PARTNER_DEFAULTS } from './defaults.ts';
import { LiveTail, type LiveTailStats, type TailSource } from './livetail.ts';

/** the sequencer calls the partner makes (ExchangeClient implements them). */
export interface SequencerClient extends LogSource, VoterClient, ProposalSink {
  voteBatch(vs: readonly Vote[]): Promise<ReadonlyArray<VoteResult | ItemRefusal>>;
  /** The live tail (protocol revision 4); without it the replica makes the calls per head. */
  follow?: TailSource['follow'];
  close(): void;
}

/** Reads one peer's accepted head (GossipClient implements it). */
export interface PeerClient {
  acceptedHead(): Promise<PeerHead>;
  /** The peer's consistency proof from its verified leaves. */
  consistencyProof(oldSize: number, newSize: number): Promise<string[]>;
  close(): void;
}

/** What comparing with a peer's head found: nothing wrong, a suspicion, or a head the sequencer did not sign (a halt is raised through onHalt instead). */
export type PeerCheck = PeerOutcome | { readonly status: 'bad-head'; readonly message: string };

/** Builds the sequencer client (ExchangeClient in production). */
export type SequencerClientFactory = (opts: ExchangeClientOptions) => SequencerClient;
/** Builds a peer's gossip client (GossipClient in production). */
export type PeerClientFactory = (opts: GossipClientOptions) => PeerClient;

/** What a session is built from. */
export interface SessionOptions {
  readonly network: PartnerNetwork & { readonly sequencer: SequencerRef };
  readonly partnerId: string;
  readonly key: SigningKey;
  readonly tls: TlsMaterial;
  readonly cursors: CursorStore;
  readonly sink: EntrySink;
  readonly judge: RoundJudge;
  readonly quorum?: number;
  /** The network's voting window (the operator's --voting-window): no certificate's window may be longer. @default DEFAULT_VOTING_WINDOW_MS */
  readonly votingWindowMs?: number;
  /** What this partner already applied, per indicator: every entry is checked against it. */
  readonly history?: EntryHistory;
  /** The leaf hashes of every verified entry (settles head comparisons when the sequencer refuses a proof). */
  readonly leaves?: LeafStore;
  readonly now: () => Date;
  readonly log: Logger;
  readonly sequencerClient: SequencerClientFactory;
  readonly peerClient: PeerClientFactory;
  /** Called once when replication halts (from the log or from a peer's head). */
  readonly onHalt: (err: ReplicationHalted, peer: PartnerNode | undefined) => void;
  /** Called for each automatic vote sent. */
  readonly onVote?: (v: Vote) => void;
  /** Told of each automatic vote the sequencer answered, with its checked round (decisions.ts). */
  readonly onVoted?: (round: PendingRound, vote: Vote, result: VoteResult) => void;
  /** Sign this partner's automatic votes as protocol v2 batches (voter.ts VoteBatching). @default none (protocol v1: a signature per vote) */
  readonly batching?: VoteBatching;
  /** Told when a pending round proves the sequencer lied. */
  readonly onMisbehaviour?: MisbehaviourReport;
  /** Long-poll of each sync. @default PARTNER_DEFAULTS.waitMs */
  readonly waitMs?: number;
  /** Told about each failed sync (retried with backoff) and about the first success after failures. @default none */
  readonly onSyncFailure?: (err: unknown) => void;
  readonly onSyncRecovered?: () => void;
}

/**
 * The source with its long poll ended by `signal`: closing a gRPC channel lets calls in flight
 * finish, so without this a stop would wait out the whole tree-head wait.
 */
function abortableSource(source: LogSource, signal: AbortSignal): LogSource {
  const aborted = new Promise<never>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(new Error('partner session stopped')), { once: true });
  });
  // Nobody may be waiting when the session stops; an unhandled rejection would crash the process.
  aborted.catch(() => undefined);
  return {
    treeHead: (min, waitMs) => Promise.race([source.treeHead(min, waitMs), aborted]),
    consistencyProof: (a, b) => source.consistencyProof(a, b),
    entries: (from, size) => source.entries(from, size),
  };
}

// The replica follows the live tail when the client offers one (it falls back to the calls by itself).
function followed(client: SequencerClient, signal: AbortSignal): LiveTail | undefined {
  const follow = client.follow?.bind(client);
  if (follow === undefined) return undefined;
  return new LiveTail({ treeHead: (m, w) => client.treeHead(m, w), consistencyProof: (a, b) => client.consistencyProof(a, b), entries: (f, s) => client.entries(f, s), follow }, { signal });
}

/** A running partner session. */
export class PartnerSession {
  readonly client: SequencerClient;
  readonly replica: PartnerReplica;
  readonly voter: AutoVoter;
  readonly #o: SessionOptions;
  // The live tail the replica reads, when the client offers one.
  readonly #tail: LiveTail | undefined;
  readonly #abort = new AbortController();
  readonly #peers = new Map<string, PeerClient>();
  #running: Promise<void> = Promise.resolve();
  #halted: ReplicationHalted | undefined;

  constructor(opts: SessionOptions) {
    this.#o = opts;
    const seq = opts.network.sequencer;
    this.client = opts.sequencerClient({ address: seq.endpoint, tls: opts.tls, serverName: serverNameFor(seq.endpoint) });
    this.#tail = followed(this.client, this.#abort.signal);
    this.replica = new PartnerReplica({
      sourceId: `sequencer:${seq.partnerId}`, source: abortableSource(this.#tail ?? this.client, this.#abort.signal), sink: opts.sink, cursors: opts.cursors,
      anchors: { sequencerKey: seq.key, sequencerRetiredKeys: seq.retiredKeys, partners: opts.network.partners, ...(opts.quorum !== undefined ? { quorum: opts.quorum } : {}), ...(opts.votingWindowMs !== undefined ? { votingWindowMs: opts.votingWindowMs } : {}) },
      ...(opts.history !== undefined ? { history: opts.history } : {}),
      ...(opts.leaves !== undefined ? { leaves: opts.leaves } : {}),
      now: opts.now, log: opts.log,
    });
    const client = this.client;
    const counting: VoterClient = {
      listPending: () => client.listPending(),
      vote: async (v) => {
        const r = await client.vote(v);
        opts.onVote?.(v);
        return r;
      },
      voteBatch: async (vs) => {
        const rs = await client.voteBatch(vs);
        rs.forEach((r, i) => {
          const v = vs[i];
          if (r.status !== 'refused' && v !== undefined) opts.onVote?.(v);
        });
        return rs;
      },
    };
    this.voter = new AutoVoter({ partnerId: opts.partnerId, key: opts.key, client: counting, policy: opts.judge, partners: opts.network.partners, now: opts.now, log: opts.log, ...(opts.onMisbehaviour ? { onMisbehaviour: opts.onMisbehaviour } : {}), ...(opts.onVoted ? { onVoted: opts.onVoted } : {}), ...(opts.batching ? { batching: opts.batching } : {}) });
  }

  /** The sequencer's PartnerNode. */
  get sequencerNode(): PartnerNode {
    return this.#o.network.sequencer.node;
  }

  /** What the replica took from the live tail and what went to the calls; undefined when the client offers no tail. */
  tailStats(): LiveTailStats | undefined {
    return this.#tail?.stats();
  }

  /** Why replication halted, once it has. */
  get halted(): ReplicationHalted | undefined {
    return this.#halted;
  }

  /** Starts replicating in the background. */
  start(): void {
    const hooks = { ...(this.#o.onSyncFailure ? { onFailure: this.#o.onSyncFailure } : {}), ...(this.#o.onSyncRecovered ? { onRecovered: this.#o.onSyncRecovered } : {}) };
    this.#running = this.replica.run({ signal: this.#abort.signal, waitMs: this.#o.waitMs ?? PARTNER_DEFAULTS.waitMs, ...hooks }).catch((err: unknown) => {
      if (err instanceof ReplicationHalted) this.halt(err, undefined);
      else this.#o.log.error('replication loop failed', { err });
    });
  }

  /** Records a halt (once), stops applying and tells the partner exchange. */
  halt(err: ReplicationHalted, peer: PartnerNode | undefined): void {
    if (this.#halted !== undefined) return;
    this.#halted = err;
    this.#abort.abort();
    this.#o.onHalt(err, peer);
  }

  /**
   * Asks `peer` for its accepted head and compares it with ours (peers.ts): halts on a fork;
   * a head the sequencer did not sign or an unsettled comparison is returned for the caller to
   * report. Rejects on transport errors.
   */
  async gossip(peer: PartnerNode): Promise<{ readonly head: PeerHead; readonly check?: PeerCheck }> {
    const client = this.#peer(peer);
    const got = await client.acceptedHead();
    if (got.partnerId !== peer.spec.partnerId) throw new Error(`gossip endpoint ${peer.spec.endpoint} answered as ${JSON.stringify(got.partnerId)}, not ${peer.spec.partnerId}`);
    if (got.head === undefined || this.#halted !== undefined) return { head: got };
    // A halt persisted before this session (a restart) belongs to the sequencer, not to this peer.
    const persisted = (await this.replica.cursor()).halted;
    if (persisted !== undefined) {
      this.halt(new ReplicationHalted(persisted), undefined);
      return { head: got };
    }
    try {
      return { head: got, check: await this.replica.compareWithPeer(got.head, (a, b) => client.consistencyProof(a, b)) };
    } catch (err) {
      if (err instanceof BadPeerHead) return { head: got, check: { status: 'bad-head', message: err.message } };
      if (!(err instanceof ReplicationHalted)) throw err;
      this.halt(err, peer);
      return { head: got };
    }
  }

  /** Stops replication and closes every channel. */
  async stop(): Promise<void> {
    this.#abort.abort();
    // Closing the channel ends an in-flight long poll, so run() sees the abort promptly.
    this.client.close();
    await this.#running;
    for (const p of this.#peers.values()) p.close();
    this.#peers.clear();
  }

  #peer(pn: PartnerNode): PeerClient {
    const id = `${pn.spec.partnerId}@${pn.spec.endpoint}`;
    let c = this.#peers.get(id);
    if (c === undefined) {
      c = this.#o.peerClient({ address: pn.spec.endpoint, tls: this.#o.tls, serverName: serverNameFor(pn.spec.endpoint) });
      this.#peers.set(id, c);
    }
    return c;
  }
}

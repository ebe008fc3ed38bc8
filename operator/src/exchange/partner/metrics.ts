/** Prometheus metrics of a partner's partner exchange, registered on the operator's registry. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { VoteDecision } from '../../domain/quorum.ts';
import { HALT_REASONS } from '../../domain/verify.ts';
import { MISSING_EVIDENCE } from './decisions.ts';
import { FAILURE_CAUSES } from './failures.ts';
import type { PeerIdentityStats } from '../protocol/peers.ts';
import type { LiveTailStats } from './livetail.ts';

/** Reasons of threatmesh_exchange_sequencer_misbehaviour_total, reported at 0 from the start: a round shown under another subject, a head dated ahead. */
export const MISBEHAVIOUR_REASONS = ['subject-mismatch', 'future-head'] as const;

/** The `decision` values of threatmesh_exchange_votes_total, reported at 0 from the start. */
const DECISIONS: Readonly<Record<VoteDecision, true>> = { approve: true, reject: true };

/** The partner exchange's metrics. */
export class PartnerMetrics {
  /** Verified log entries applied to MongoDB and the cluster. */
  readonly applied: Counter;
  /** Size of the accepted (verified) tree head. */
  readonly treeSize: Gauge;
  /** Sequencer tree size minus entries applied. */
  readonly lagEntries: Gauge;
  /** Local proposals forwarded to the sequencer. */
  readonly forwarded: Counter;
  /** Automatic votes sent, by decision. */
  readonly votes: Counter<'decision'>;
  /** 1 for the reason replication halted (fork, bad-tree-head…), 0 for every other reason of HALT_REASONS. */
  readonly halted: Gauge<'reason'>;
  /** 1 while the comparison of this partner's head with a peer's could not be settled (the sequencer refused the proof), by peer. */
  readonly equivocationSuspected: Gauge<'peer'>;
  /** Tree heads a peer gossiped that the sequencer did not sign, by peer. */
  readonly badPeerHeads: Counter<'peer'>;
  /** Verified entries the cluster's API server refused to store (skipped, kept in MongoDB). */
  readonly unmaterialized: Counter;
  /** Age of the newest signed tree head verified from the sequencer (its heartbeat), in seconds. */
  readonly headAge: Gauge;
  /** The sequencer caught misbehaving outside the log (asking for votes on another subject than it shows…), by reason. */
  readonly misbehaviour: Counter<'reason'>;
  /** ADD rounds this partner voted on whose decision a signed head past the deadline lacks (decisions.ts), by evidence. */
  readonly missingDecisions: Counter<'evidence'>;
  /** Failures of the exchange's loops (replication, forwarding, voting…), by loop and cause (failures.ts). */
  readonly failures: Counter<'loop' | 'cause'>;
  /** 1 while replication fails for that cause (full or unreachable database, API server errors, expired certificate…). */
  readonly failing: Gauge<'cause'>;
  // The gossip endpoint serving now (set by the exchange when it starts serving).
  #gossip: (() => PeerIdentityStats) | undefined;
  // The live tail of the session replicating now (undefined: none, or a client without a tail).
  #tail: (() => LiveTailStats | undefined) | undefined;

  /** @param registry the operator's registry (never prom-client's global one). */
  constructor(registry: Registry) {
    const registers = [registry];
    this.applied = new Counter({ name: 'threatmesh_exchange_applied_total', help: 'Verified log entries applied to the partner database and cluster', registers });
    this.treeSize = new Gauge({ name: 'threatmesh_exchange_tree_size', help: 'Size of the tree head this partner accepted from the sequencer', registers });
    this.lagEntries = new Gauge({ name: 'threatmesh_exchange_lag_entries', help: 'Entries in the sequencer log not yet applied here', registers });
    this.forwarded = new Counter({ name: 'threatmesh_exchange_proposals_forwarded_total', help: 'Local proposals forwarded to the sequencer', registers });
    this.votes = new Counter({ name: 'threatmesh_exchange_votes_total', help: 'Automatic votes sent to the sequencer, by decision', labelNames: ['decision'], registers });
    this.halted = new Gauge({ name: 'threatmesh_exchange_halted', help: 'Replication halted from the sequencer, by reason (1 = halted)', labelNames: ['reason'], registers });
    this.equivocationSuspected = new Gauge({ name: 'threatmesh_exchange_equivocation_suspected', help: '1 while this partner\'s head and a peer\'s could not be shown consistent because the sequencer refused the proof and nothing else settled it, by peer', labelNames: ['peer'], registers });
    this.badPeerHeads = new Counter({ name: 'threatmesh_exchange_bad_peer_heads_total', help: 'Tree heads a peer gossiped that the sequencer did not sign (the peer misbehaves; replication goes on), by peer', labelNames: ['peer'], registers });
    this.unmaterialized = new Counter({ name: 'threatmesh_exchange_unmaterialized_total', help: 'Verified log entries the cluster\'s API server refused to store as ThreatIndicators (skipped, kept in the partner database)', registers });
    this.headAge = new Gauge({ name: 'threatmesh_exchange_sequencer_head_age_seconds', help: 'Age of the newest signed tree head verified from the sequencer; an honest sequencer signs one at least every minute, so a growing age means it stopped signing or cannot be reached', registers });
    this.misbehaviour = new Counter({ name: 'threatmesh_exchange_sequencer_misbehaviour_total', help: 'Times the sequencer was caught misbehaving outside the log (for example asking for votes on a subject that is not the round\'s indicator), by reason', labelNames: ['reason'], registers });
    this.missingDecisions = new Counter({ name: 'threatmesh_exchange_missing_decisions_total', help: 'ADD rounds this partner voted on whose decision (ADD or REJECT entry) is missing from a tree head the sequencer signed after the deadline; evidence "acknowledged": the sequencer answered the vote with the decision, so it withholds it (censorship); "unacknowledged": the round expired or the decision was withheld', labelNames: ['evidence'], registers });
    this.failures = new Counter({ name: 'threatmesh_exchange_failures_total', help: 'Failures of the partner exchange\'s loops, by loop (replication, proposal forwarding, voting…) and cause (database-full, database-unavailable, cluster-api, certificate-expired…); each loop retries with backoff', labelNames: ['loop', 'cause'], registers });
    this.failing = new Gauge({ name: 'threatmesh_exchange_replication_failing', help: 'Replication from the sequencer failing for this cause (1) or not (0); the sequencer PartnerNode shows Replicating=False with the cause', labelNames: ['cause'], registers });
    for (const cause of FAILURE_CAUSES) this.failing.set({ cause }, 0);
    const identities: Counter<'result'> = new Counter({
      name: 'threatmesh_exchange_gossip_peer_identities_total', labelNames: ['result'], registers,
      help: 'Gossip calls since the endpoint began serving, by how the caller was identified: read (its client certificate read, once per connection) or reused (the identity read earlier on the same connection); a new endpoint starts again at 0',
      collect: () => {
        const p = this.#gossip?.() ?? { read: 0, reused: 0 };
        identities.reset();
        identities.inc({ result: 'read' }, p.read);
        identities.inc({ result: 'reused' }, p.reused);
      },
    });
    this.#tailMetrics(registers);
    // Every series from the start (prom-client shows a labelled one only once set), so dashboards and alerts see them.
    for (const decision of Object.keys(DECISIONS)) this.votes.inc({ decision }, 0);
    for (const reason of HALT_REASONS) this.halted.set({ reason }, 0);
    for (const reason of MISBEHAVIOUR_REASONS) this.misbehaviour.inc({ reason }, 0);
    for (const evidence of MISSING_EVIDENCE) this.missingDecisions.inc({ evidence }, 0);
  }

  /**
   * Reads the threatmesh_exchange_tail_* metrics from `stats` (the live tail of the session
   * replicating now) at each scrape; undefined, or a session without a tail: 0. A new session
   * counts again from 0, which Prometheus' rate() takes as a reset.
   */
  liveTail(stats: (() => LiveTailStats | undefined) | undefined): void {
    this.#tail = stats;
  }

  #tailMetrics(registers: Registry[]): void {
    const read = (): LiveTailStats => this.#tail?.() ?? { opened: 0, heads: 0, proofs: 0, entries: 0, calls: 0, following: false };
    const following: Gauge = new Gauge({ name: 'threatmesh_exchange_tail_following', help: '1 while the replica follows the sequencer\'s live tail (a FollowLog stream is open), else 0', registers, collect: () => following.set(read().following ? 1 : 0) });
    const opened: Counter = new Counter({ name: 'threatmesh_exchange_tail_streams_opened_total', help: 'FollowLog streams (live tails) the replica opened in this session; each one after the first followed a stream that ended, failed or stood elsewhere', registers, collect: () => { opened.reset(); opened.inc(read().opened); } });
    const received: Counter<'kind'> = new Counter({
      name: 'threatmesh_exchange_tail_received_total', help: 'What the replica took from the live tail in this session, by kind (head, proof, entry); each was checked as the answers of the calls are', labelNames: ['kind'], registers,
      collect: () => {
        const t = read();
        received.reset();
        for (const [kind, n] of [['head', t.heads], ['proof', t.proofs], ['entry', t.entries]] as const) received.inc({ kind }, n);
      },
    });
    const fallbacks: Counter = new Counter({ name: 'threatmesh_exchange_tail_fallback_calls_total', help: 'Questions of the replica (a head, a proof, entries) answered by the calls instead of the live tail in this session: no stream lined up, a stream that ended or failed, or a sequencer before protocol revision 4 (UNIMPLEMENTED)', registers, collect: () => { fallbacks.reset(); fallbacks.inc(read().calls); } });
  }

  /** Reads threatmesh_exchange_gossip_peer_identities_total from `stats` (the gossip endpoint serving now) at each scrape; undefined: 0. */
  gossipEndpoint(stats: (() => PeerIdentityStats) | undefined): void {
    this.#gossip = stats;
  }
}

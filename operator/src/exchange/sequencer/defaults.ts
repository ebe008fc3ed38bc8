/**
 * Every default of the sequencer process in one place: the `threatmesh sequencer` flag table
 * and the sequencer library read these, so they cannot disagree.
 */
import { DEFAULT_VOTING_WINDOW_MS, ROUND_SKEW_MS } from '../../domain/entry.ts';
import { HEAD_HEARTBEAT_MS } from '../../domain/verify.ts';

/** Defaults of `threatmesh sequencer` and of the Sequencer, SequencerLog and service it runs. */
export const SEQUENCER_DEFAULTS = {
  /** Namespace of the PartnerNodes that form the partner directory. */
  namespace: 'threatmesh',
  /** gRPC listen address. */
  listen: '0.0.0.0:8443',
  /** /metrics, /healthz and /readyz. */
  metricsBind: '127.0.0.1:8081',
  /** Database of the log, tree heads and open rounds. */
  database: 'threatmesh_sequencer',
  /** How long a round accepts votes: the network's voting window. */
  votingWindowMs: DEFAULT_VOTING_WINDOW_MS,
  /** How far before the proposal a vote's signedAt may be (voters' clock skew). */
  skewMs: ROUND_SKEW_MS,
  /** Most rounds one proposer may have open at once (a contributor cannot flood the sequencer or the partners' clusters). */
  maxOpenRoundsPerProposer: 50_000,
  /** Recent entries kept in memory to serve partners without a database read. */
  entryCacheSize: 50_000,
  /** Most entries written in one group commit. */
  appendBatch: 512,
  /** A head older than this is signed again for the same size: the heartbeat partners check (domain/verify.ts headFreshness). */
  headHeartbeatMs: HEAD_HEARTBEAT_MS,
  /**
   * Partners waiting for the log to grow are woken at most this often: appends in between are
   * told together, so 100 followers cost one round of calls per interval, not one per append.
   */
  headCoalesceMs: 100,
  /** Longest wait of one GetTreeHead call for the log to grow. */
  maxHeadWaitMs: 30_000,
  /** How often rounds whose window closed are dropped. */
  expireEveryMs: 30_000,
  /** How long to wait for the first list of PartnerNodes. */
  syncTimeoutMs: 30_000,
} as const;

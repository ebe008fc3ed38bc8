/** Prometheus metrics of the sequencer service. */
import { Counter, Gauge } from 'prom-client';
import { RuntimeMetrics } from '../../runtime/metrics.ts';
import type { RoundOutcome, Sequencer, SequencerObserver } from './sequencer.ts';

/** Every `status` of threatmesh_sequencer_proposals_total (a Record so the compiler checks it lists all). */
const PROPOSAL_STATUSES: Readonly<Record<Parameters<SequencerObserver['proposal']>[0], true>> = { 'opened': true, 'already-pending': true, 'already-admitted': true, 'refused': true, 'error': true };
/** Every `status` of threatmesh_sequencer_votes_total. */
const VOTE_STATUSES: Readonly<Record<Parameters<SequencerObserver['vote']>[0], true>> = { counted: true, approved: true, rejected: true, duplicate: true, refused: true, error: true };
/** Every `kind` and `outcome` of threatmesh_sequencer_rounds_closed_total. */
const ROUND_KINDS = ['add', 'revoke'] as const;
const ROUND_OUTCOMES: readonly RoundOutcome[] = ['admitted', 'rejected', 'expired'];

/** The service's metrics, on the registry of a {@link RuntimeMetrics} (which also carries leader_election_master_status). */
export class SequencerMetrics {
  readonly runtime = new RuntimeMetrics();
  readonly serving: Gauge;
  readonly proposals: Counter<'status'>;
  readonly votes: Counter<'status'>;
  readonly rounds: Counter<'kind' | 'outcome'>;

  constructor(current: () => Sequencer | undefined, openStreams: () => number = () => 0) {
    const registers = [this.runtime.registry];
    const treeSize: Gauge = new Gauge({ name: 'threatmesh_sequencer_tree_size', help: 'Entries in the sequencer log (0 while not serving)', registers, collect: () => treeSize.set(current()?.size ?? 0) });
    const pending: Gauge = new Gauge({ name: 'threatmesh_sequencer_pending_rounds', help: 'Voting rounds waiting for votes (0 while not serving)', registers, collect: () => pending.set(current()?.pendingCount ?? 0) });
    const streams: Gauge = new Gauge({ name: 'threatmesh_sequencer_open_streams', help: 'StreamEntries calls being served (bounded per partner; a cancelled call frees its slot)', registers, collect: () => streams.set(openStreams()) });
    this.serving = new Gauge({ name: 'threatmesh_sequencer_serving', help: '1 while this replica serves the exchange (it holds the Lease), else 0', registers });
    this.proposals = new Counter({ name: 'threatmesh_sequencer_proposals_total', help: 'Proposals answered, by status (opened, already-pending, already-admitted, refused, error)', labelNames: ['status'], registers });
    this.votes = new Counter({ name: 'threatmesh_sequencer_votes_total', help: 'Votes answered, by status (counted, approved, rejected, duplicate, refused, error)', labelNames: ['status'], registers });
    this.rounds = new Counter({ name: 'threatmesh_sequencer_rounds_closed_total', help: 'Voting rounds closed, by kind (add, revoke) and outcome (admitted, rejected by votes, expired with the window): the network\'s rejection rate, which the log does not record', labelNames: ['kind', 'outcome'], registers });
    this.serving.set(0);
    // Every status from the start (prom-client shows a labelled series only once it has a value).
    for (const status of Object.keys(PROPOSAL_STATUSES)) this.proposals.inc({ status }, 0);
    for (const status of Object.keys(VOTE_STATUSES)) this.votes.inc({ status }, 0);
    for (const kind of ROUND_KINDS) for (const outcome of ROUND_OUTCOMES) this.rounds.inc({ kind, outcome }, 0);
  }

  observer(): SequencerObserver {
    return { proposal: (status) => this.proposals.inc({ status }), vote: (status) => this.votes.inc({ status }), roundClosed: (kind, outcome) => this.rounds.inc({ kind, outcome }) };
  }
}


/** Prometheus metrics of the sequencer service. */
import { Counter, Gauge } from 'prom-client';
import { RuntimeMetrics } from '../../runtime/metrics.ts';
import type { RoundOutcome, Sequencer, SequencerObserver } from './sequencer.ts';
import type { ExchangeServer } from './server.ts';

/** What the metrics read of the endpoint serving now. */
export type StreamCounters = Pick<ExchangeServer, 'openStreams' | 'sharedEntries' | 'slowStreamDrops' | 'batchesSent' | 'sharedBatches' | 'peerIdentities' | 'framedSends' | 'tails'>;

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
  readonly dbConnectFailures: Counter;

  constructor(current: () => Sequencer | undefined, server: () => StreamCounters | undefined = () => undefined) {
    const registers = [this.runtime.registry];
    servedCounters(registers, current, server);
    const treeSize: Gauge = new Gauge({ name: 'threatmesh_sequencer_tree_size', help: 'Entries in the sequencer log (0 while not serving)', registers, collect: () => treeSize.set(current()?.size ?? 0) });
    const pending: Gauge = new Gauge({ name: 'threatmesh_sequencer_pending_rounds', help: 'Voting rounds waiting for votes (0 while not serving)', registers, collect: () => pending.set(current()?.pendingCount ?? 0) });
    const streams: Gauge = new Gauge({ name: 'threatmesh_sequencer_open_streams', help: 'StreamEntries calls being served (bounded per partner; a cancelled call frees its slot)', registers, collect: () => streams.set(server()?.openStreams() ?? 0) });
    const tails: Gauge = new Gauge({ name: 'threatmesh_sequencer_tail_streams', help: 'FollowLog calls (live tails, protocol revision 4) being served; each also holds one of its partner\'s stream slots, counted in threatmesh_sequencer_open_streams', registers, collect: () => tails.set(server()?.tails().open ?? 0) });
    this.serving = new Gauge({ name: 'threatmesh_sequencer_serving', help: '1 while this replica serves the exchange (it holds the Lease), else 0', registers });
    this.proposals = new Counter({ name: 'threatmesh_sequencer_proposals_total', help: 'Proposals answered, by status (opened, already-pending, already-admitted, refused, error)', labelNames: ['status'], registers });
    this.votes = new Counter({ name: 'threatmesh_sequencer_votes_total', help: 'Votes answered, by status (counted, approved, rejected, duplicate, refused, error)', labelNames: ['status'], registers });
    this.rounds = new Counter({ name: 'threatmesh_sequencer_rounds_closed_total', help: 'Voting rounds closed, by kind (add, revoke) and outcome (admitted, rejected by votes, expired with the window): the network\'s rejection rate, which the log does not record', labelNames: ['kind', 'outcome'], registers });
    this.dbConnectFailures = new Counter({ name: 'threatmesh_sequencer_database_connect_failures_total', help: 'Failed attempts to connect the sequencer\'s database at start, or to open its log after winning the Lease (it waits with backoff; /readyz says database-unavailable meanwhile)', registers });
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


type Registers = ConstructorParameters<typeof Counter>[0]['registers'];

// A counter read from the serving sequencer and endpoint at each scrape. They count since this
// replica started serving: a new term starts again at 0, which Prometheus' rate() takes as a reset.
function readCounter<L extends string>(registers: Registers, name: string, help: string, label: L | undefined, read: () => ReadonlyArray<readonly [string, number]>): void {
  const c: Counter<L> = new Counter({
    name, help, labelNames: label === undefined ? [] : [label], registers,
    collect: () => {
      c.reset();
      for (const [value, n] of read()) {
        if (label === undefined) c.inc(n);
        else c.inc({ [label]: value } as Partial<Record<L, string>>, n);
      }
    },
  });
}

function servedCounters(registers: Registers, current: () => Sequencer | undefined, server: () => StreamCounters | undefined): void {
  readCounter(registers, 'threatmesh_sequencer_fanout_messages_total', 'StreamEntries messages of recent entries since serving began, by result: hit (bytes another stream had encoded were sent again), miss (encoded, then shared)', 'result', () => {
    const s = server()?.sharedEntries() ?? { encoded: 0, shared: 0 };
    return [['hit', s.shared], ['miss', s.encoded]];
  });
  readCounter(registers, 'threatmesh_sequencer_store_pages_total', 'Store pages asked for by entry streams behind the in-memory entry cache since serving began, by result: read (one database query) or shared (answered by a read another stream started, or a kept page)', 'result', () => {
    const p = current()?.storePages() ?? { reads: 0, shared: 0 };
    return [['read', p.reads], ['shared', p.shared]];
  });
  readCounter(registers, 'threatmesh_sequencer_head_wakes_total', 'Times partners waiting for a larger tree head were woken since serving began (at most once per coalescing interval)', undefined, () => [['', current()?.wakeups().wakes ?? 0]]);
  readCounter(registers, 'threatmesh_sequencer_head_wakes_coalesced_total', 'Appends since serving began whose wake-up was folded into one already scheduled (told together with later appends)', undefined, () => [['', current()?.wakeups().coalesced ?? 0]]);
  readCounter(registers, 'threatmesh_sequencer_slow_stream_drops_total', 'Entry streams ended since serving began because the partner read nothing for the drain timeout (RESOURCE_EXHAUSTED slow-stream)', undefined, () => [['', server()?.slowStreamDrops() ?? 0]]);
  readCounter(registers, 'threatmesh_sequencer_entry_batches_total', 'StreamEntryBatches messages sent since serving began (protocol revision 3: several log entries per stream message)', undefined, () => [['', server()?.batchesSent().batches ?? 0]]);
  readCounter(registers, 'threatmesh_sequencer_shared_batch_ranges_total', 'Entry ranges packed into StreamEntryBatches messages since serving began, by result: hit (batches packed for another stream at the same cursor were sent again), miss (packed once, then kept for the others)', 'result', () => {
    const b = server()?.sharedBatches() ?? { built: 0, reused: 0 };
    return [['hit', b.reused], ['miss', b.built]];
  });
  readCounter(registers, 'threatmesh_sequencer_peer_identities_total', 'Calls since serving began by how the caller was identified: read (its client certificate read, once per connection) or reused (the identity read earlier on the same connection)', 'result', () => {
    const p = server()?.peerIdentities() ?? { read: 0, reused: 0 };
    return [['read', p.read], ['reused', p.reused]];
  });
  readCounter(registers, 'threatmesh_sequencer_batch_stream_framing_total', 'StreamEntryBatches calls since serving began by how their batches are sent: framed (the bytes framed once when packed, sent as they are on every stream) or copied (grpc-js copies each batch to frame it: its internals moved, e.g. after an upgrade)', 'result', () => {
    const f = server()?.framedSends() ?? { calls: 0, unpatched: 0 };
    return [['framed', f.calls], ['copied', f.unpatched]];
  });
  readCounter(registers, 'threatmesh_sequencer_tail_heads_total', 'Signed tree heads pushed on FollowLog streams (live tails) since serving began, over every tail', undefined, () => [['', server()?.tails().heads ?? 0]]);
  readCounter(registers, 'threatmesh_sequencer_tail_head_messages_total', 'FollowLog head messages built since serving began, each with its consistency proof; shared by the tails that sent the same head before, so far fewer than threatmesh_sequencer_tail_heads_total while followers keep up', undefined, () => [['', server()?.tails().headMessages ?? 0]]);
  readCounter(registers, 'threatmesh_sequencer_tail_cuts_total', 'FollowLog streams ended after the per-stream bound of entries since serving began (the partner takes the rest with StreamEntryBatches, then follows again): many mean partners far behind', undefined, () => [['', server()?.tails().cut ?? 0]]);
  readCounter(registers, 'threatmesh_sequencer_batched_entries_total', 'Log entries sent in StreamEntryBatches messages since serving began (divided by threatmesh_sequencer_entry_batches_total: entries per message)', undefined, () => [['', server()?.batchesSent().entries ?? 0]]);
}

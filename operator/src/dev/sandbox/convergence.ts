/**
 * What `threatmesh sandbox` shows and when it stops: the sequencer's log, each partner's
 * replica (tree size, root, lag as its operator reports on the sequencer PartnerNode) and
 * ThreatIndicators, and whether the network has converged. Pure: no I/O, no clock.
 */
import type { LogEntryKind } from '../../domain/entry.ts';

/** The sequencer as seen over the exchange. */
export interface SequencerView {
  readonly treeSize: number;
  readonly rootHash: string;
  /** Rounds still open (proposals waiting for votes). */
  readonly pending: number;
  /**
   * Indicators the log leaves active (admitted and not revoked since; a REJECT admits nothing):
   * the Approved ThreatIndicators every partner should show. Undefined until the whole log was counted.
   */
  readonly activeEntries?: number;
}

/**
 * The indicators a log leaves active, counted entry by entry as the log is read: each digest's
 * latest entry decides (ADD: active; REVOKE or REJECT: not).
 */
export class LogTally {
  readonly #latest = new Map<string, LogEntryKind>();
  #active = 0;
  #size = 0;

  /** Entries counted so far: the next entry to add has this index. */
  get size(): number {
    return this.#size;
  }

  /** Indicators active after the entries counted. */
  get active(): number {
    return this.#active;
  }

  /** Counts the entry at `index` (must be {@link size}: entries come in log order, once). */
  add(index: number, digest: string, kind: LogEntryKind): void {
    if (index !== this.#size) throw new Error(`LogTally: entry ${index} out of order (expected ${this.#size})`);
    const was = this.#latest.get(digest) === 'add';
    this.#latest.set(digest, kind);
    this.#active += (kind === 'add' ? 1 : 0) - (was ? 1 : 0);
    this.#size += 1;
  }
}

/** One partner cluster. */
export interface PartnerView {
  readonly name: string;
  /** Whether its cluster could be read at all. */
  readonly readable: boolean;
  /** Whether its operator process runs. */
  readonly running: boolean;
  /** From the sequencer PartnerNode's status in this partner's cluster (written by its operator). */
  readonly treeSize?: number;
  readonly rootHash?: string;
  readonly lagEntries?: number;
  readonly lagSeconds?: number;
  /** Replicating condition: "True" or "False <reason>"; undefined before the operator wrote it. */
  readonly replicating?: string;
  /** ThreatIndicators by phase. */
  readonly phases: Readonly<Record<string, number>>;
}

/** The whole network at one moment. */
export interface NetworkView {
  readonly sequencer: SequencerView | undefined;
  readonly partners: readonly PartnerView[];
  /** True once the ingested feed's first run has completed at the first partner. */
  readonly feedDone: boolean;
  /** The feed run's summary line, when there is one. */
  readonly feedSummary?: string;
}

/** The line `--json --until-converged` prints last. */
export interface ConvergedSummary {
  readonly partners: ReadonlyArray<{ readonly name: string; readonly treeSize: number; readonly rootHash: string; readonly indicators: number }>;
  readonly sequencer: { readonly treeSize: number; readonly rootHash: string };
}

const approvedOf = (p: PartnerView): number => p.phases['Approved'] ?? 0;

/**
 * Why the network has not converged yet, one reason per line; empty when it has: the feed run
 * finished, no round is open, the log is not empty, and every partner holds exactly the
 * sequencer's tree (size and root, every entry applied) with one Approved ThreatIndicator per
 * indicator the log leaves active (`activeEntries`, else the sequencer's count, else one per entry).
 */
export function notConverged(v: NetworkView, activeEntries?: number): string[] {
  const why: string[] = [];
  if (!v.feedDone) why.push('the feed\'s first ingestion run');
  const seq = v.sequencer;
  if (seq === undefined) return [...why, 'the sequencer to answer'];
  if (seq.pending > 0) why.push(`${seq.pending} open voting rounds at the sequencer`);
  if (seq.treeSize === 0) why.push('the first admitted indicator');
  const expected = activeEntries ?? seq.activeEntries ?? seq.treeSize;
  for (const p of v.partners) why.push(...partnerGaps(p, seq, expected));
  return why;
}

function partnerGaps(p: PartnerView, seq: SequencerView, expected: number): string[] {
  const why: string[] = [];
  if (!p.running) why.push(`${p.name}: its operator is stopped`);
  if (!p.readable) return [...why, `${p.name}: its cluster does not answer`];
  if (p.replicating !== undefined && p.replicating !== 'True') why.push(`${p.name}: replication halted (${p.replicating})`);
  if (p.treeSize !== seq.treeSize) why.push(`${p.name}: tree size ${p.treeSize ?? 'unknown'} of ${seq.treeSize}`);
  else if (p.rootHash !== seq.rootHash) why.push(`${p.name}: root ${short(p.rootHash)} differs from the sequencer's ${short(seq.rootHash)}`);
  else if ((p.lagEntries ?? 0) > 0) why.push(`${p.name}: ${p.lagEntries ?? 0} entries of its verified tree not yet applied`);
  if (approvedOf(p) !== expected) why.push(`${p.name}: ${approvedOf(p)} of ${expected} ThreatIndicators Approved`);
  // A feed run ends before its operator has forwarded every proposal: between two forwarded
  // batches no round is open and every count matches, yet the log is not complete.
  const proposed = p.phases['Proposed'] ?? 0;
  if (proposed > 0) why.push(`${p.name}: ${proposed} ThreatIndicators still Proposed (not yet forwarded or decided)`);
  return why;
}

/** The final summary, or undefined when the sequencer is unknown. */
export function convergedSummary(v: NetworkView): ConvergedSummary | undefined {
  if (v.sequencer === undefined) return undefined;
  return {
    partners: v.partners.map((p) => ({ name: p.name, treeSize: p.treeSize ?? 0, rootHash: p.rootHash ?? '', indicators: approvedOf(p) })),
    sequencer: { treeSize: v.sequencer.treeSize, rootHash: v.sequencer.rootHash },
  };
}

function short(hash: string | undefined): string {
  return hash === undefined || hash === '' ? '-' : hash.slice(0, 12);
}

function phasesText(phases: Readonly<Record<string, number>>): string {
  const parts = Object.entries(phases).filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b)).map(([ph, n]) => `${n} ${ph}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** The network as an aligned text table: the sequencer first, then one row per partner. */
export function renderNetwork(v: NetworkView): string {
  const header = ['CLUSTER', 'OPERATOR', 'TREE SIZE', 'ROOT', 'LAG', 'REPLICATING', 'THREATINDICATORS'];
  const seq = v.sequencer;
  const rows = [
    ['sequencer', seq ? 'serving' : 'not answering', seq ? String(seq.treeSize) : '-', short(seq?.rootHash), '-', '-', seq ? `${seq.pending} rounds open` : '-'],
    ...v.partners.map((p) => [
      p.name, p.running ? 'running' : 'stopped', p.treeSize === undefined ? '-' : String(p.treeSize), short(p.rootHash),
      p.lagEntries === undefined ? '-' : `${p.lagEntries} (${p.lagSeconds ?? 0}s)`, p.replicating ?? '-', p.readable ? phasesText(p.phases) : 'cluster not answering',
    ]),
  ];
  const cells = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  return cells.map((c) => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
}

/**
 * What `threatmesh status` shows, built from the objects and records it read: the feeds and
 * their last runs, the open rounds, replication (tree size, lag, halts) and what is enforced,
 * plus a short list of what needs attention. Pure: the command reads, this module shapes and
 * renders, so the view is tested without a cluster.
 */
import type { EnforcementPolicy, Feed, FeedRunStatus, PartnerNode, RunCounts, ThreatIndicator } from '../api/types.ts';
import type { ReplicaStatus } from './replica.ts';

/** One Feed and its last run. */
export interface FeedLine {
  readonly name: string;
  readonly outcome: string;
  readonly finished: string | null;
  readonly fetched: number | null;
  readonly new: number | null;
  readonly rejected: number | null;
  readonly running: boolean;
  readonly consecutiveFailures: number;
  readonly nextRun: string | null;
  readonly message: string | null;
}

/** One proposal waiting for votes. */
export interface RoundLine {
  readonly name: string;
  readonly type: string;
  readonly value: string;
  readonly approvals: number;
  readonly rejections: number;
  readonly required: number | null;
  readonly proposedAt: string | null;
}

/** One peer partner as the operator last saw it (PartnerNode status). */
export interface PeerLine {
  readonly name: string;
  readonly partnerId: string;
  readonly reachable: boolean | null;
  readonly logSize: number | null;
  readonly lagEntries: number | null;
  readonly lagSeconds: number | null;
  readonly lastSeen: string | null;
}

/** One EnforcementPolicy and what it enforces. */
export interface PolicyLine {
  readonly name: string;
  readonly mode: string;
  readonly selected: number | null;
  readonly cidrs: number | null;
  readonly domains: number | null;
  readonly leftOut: number | null;
  readonly lastSync: string | null;
}

/** The whole screen, as `-o json` prints it. */
export interface PartnerStatusView {
  readonly cluster: string;
  readonly namespace: string | null;
  readonly feeds: readonly FeedLine[];
  readonly rounds: { readonly open: number; readonly oldest: readonly RoundLine[] };
  readonly replication: {
    /** The partner database's cursors and counts; null when no database was given. */
    readonly replica: ReplicaStatus | null;
    readonly peers: readonly PeerLine[];
  };
  readonly enforcement: readonly PolicyLine[];
  /** What needs attention, each with what to do; empty when all is well. */
  readonly attention: readonly string[];
}

/** What the command read. */
export interface StatusInputs {
  readonly cluster: string;
  readonly namespace: string | undefined;
  readonly feeds: readonly Feed[];
  readonly indicators: readonly ThreatIndicator[];
  readonly peers: readonly PartnerNode[];
  readonly policies: readonly EnforcementPolicy[];
  readonly replica: ReplicaStatus | null;
}

/** How many open rounds the view lists (oldest first); the count covers them all. @default 10 */
export const ROUNDS_SHOWN = 10;

const qualified = (o: { metadata: { name?: string; namespace?: string } }, all: boolean): string => (all ? `${o.metadata.namespace ?? ''}/` : '') + (o.metadata.name ?? '');

function runLine(last: FeedRunStatus | undefined): Pick<FeedLine, 'outcome' | 'finished' | 'fetched' | 'new' | 'rejected' | 'message'> {
  if (last === undefined) return { outcome: 'never run', finished: null, fetched: null, new: null, rejected: null, message: null };
  const c: Partial<RunCounts> = last.counts ?? {};
  return {
    outcome: last.outcome ?? 'unknown', finished: last.completionTime ?? null, fetched: c.fetched ?? null, new: c.new ?? null,
    rejected: c.rejected ?? null, message: last.outcome === 'Failed' ? (last.message ?? null) : null,
  };
}

function feedLine(f: Feed, all: boolean): FeedLine {
  const s = f.status ?? {};
  return { name: qualified(f, all), ...runLine(s.lastRun), running: s.activeRun !== undefined, consecutiveFailures: s.consecutiveFailures ?? 0, nextRun: s.nextRun ?? null };
}

function roundLine(ti: ThreatIndicator, all: boolean): RoundLine {
  const q = ti.status?.quorum;
  return {
    name: qualified(ti, all), type: ti.spec.type, value: ti.spec.value, approvals: q?.approvals ?? 0, rejections: q?.rejections ?? 0,
    required: q?.required ?? null, proposedAt: ti.metadata.creationTimestamp ?? null,
  };
}

function peerLine(p: PartnerNode, all: boolean): PeerLine {
  const s = p.status;
  return {
    name: qualified(p, all), partnerId: p.spec.partnerId, reachable: s?.reachable ?? null, logSize: s?.logSize ?? null,
    lagEntries: s?.lagEntries ?? null, lagSeconds: s?.lagSeconds ?? null, lastSeen: s?.lastSeen ?? null,
  };
}

function policyLine(p: EnforcementPolicy, all: boolean): PolicyLine {
  const s = p.status;
  return {
    name: qualified(p, all), mode: s?.mode ?? p.spec?.mode ?? 'LogOnly', selected: s?.selected ?? null, cidrs: s?.cidrs ?? null,
    domains: s?.domains ?? null, leftOut: s?.leftOut ?? null, lastSync: s?.lastSyncTime ?? null,
  };
}

function attention(v: Omit<PartnerStatusView, 'attention'>): string[] {
  const out: string[] = [];
  for (const s of v.replication.replica?.sources ?? []) {
    if (s.halted) out.push(`replica ${s.source} HALTED (${s.halted.reason}): investigate (docs/trust-model.md), then threatmesh replica clear-halt --source ${s.source}, or rebuild`);
  }
  for (const f of v.feeds) if (f.consecutiveFailures > 0) out.push(`feed ${f.name} failed ${f.consecutiveFailures} time(s) in a row${f.message ? `: ${f.message}` : ''}; kubectl describe feed shows the conditions`);
  for (const p of v.replication.peers) if (p.reachable === false) out.push(`peer ${p.partnerId} (${p.name}) is unreachable; check its endpoint and TLS in the PartnerNode`);
  for (const p of v.enforcement) if ((p.leftOut ?? 0) > 0) out.push(`policy ${p.name} left out ${p.leftOut} selected entries at a limit; raise the limits in spec.targets`);
  return out;
}

/** The view of `inputs`: rows sorted by name, open rounds oldest first. */
export function statusView(inputs: StatusInputs): PartnerStatusView {
  const all = inputs.namespace === undefined;
  const byName = <T extends { name: string }>(xs: T[]): T[] => xs.sort((a, b) => a.name.localeCompare(b.name));
  const open = inputs.indicators.filter((ti) => (ti.status?.phase ?? 'Proposed') === 'Proposed').map((ti) => roundLine(ti, all))
    .sort((a, b) => (a.proposedAt ?? '').localeCompare(b.proposedAt ?? '') || a.name.localeCompare(b.name));
  const base = {
    cluster: inputs.cluster, namespace: inputs.namespace ?? null,
    feeds: byName(inputs.feeds.map((f) => feedLine(f, all))),
    rounds: { open: open.length, oldest: open.slice(0, ROUNDS_SHOWN) },
    replication: { replica: inputs.replica, peers: byName(inputs.peers.map((p) => peerLine(p, all))) },
    enforcement: byName(inputs.policies.map((p) => policyLine(p, all))),
  };
  return { ...base, attention: attention(base) };
}

/** Columns padded to their widest cell, two spaces apart (the last column is not padded). */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

const n = (x: number | null): string => (x === null ? '-' : String(x));
const t = (x: string | null): string => x ?? '-';

function feedsText(feeds: readonly FeedLine[]): string {
  if (feeds.length === 0) return 'FEEDS: none (kubectl apply -f a Feed; docs/feeds.md)\n';
  return table([['FEED', 'LAST RUN', 'FINISHED', 'FETCHED', 'NEW', 'REJECTED', 'FAILURES', 'NEXT RUN'],
    ...feeds.map((f) => [f.name, f.running ? `${f.outcome} (running)` : f.outcome, t(f.finished), n(f.fetched), n(f.new), n(f.rejected), String(f.consecutiveFailures), t(f.nextRun)])]);
}

function roundsText(r: PartnerStatusView['rounds']): string {
  if (r.open === 0) return 'OPEN ROUNDS: none\n';
  const head = `OPEN ROUNDS: ${r.open} proposal(s) waiting for votes${r.open > r.oldest.length ? `, the ${r.oldest.length} oldest:` : ':'}\n`;
  return head + table([['INDICATOR', 'TYPE', 'VALUE', 'VOTES', 'PROPOSED'],
    ...r.oldest.map((x) => [x.name, x.type, x.value, `${x.approvals}/${x.required ?? '?'} approve, ${x.rejections} reject`, t(x.proposedAt)])]);
}

function replicationText(rep: PartnerStatusView['replication']): string {
  const lines: string[] = [];
  if (rep.replica === null) lines.push('REPLICATION: no partner database given (--mongodb-uri or MONGODB_URI) for tree size and halts');
  else {
    lines.push(`REPLICATION: ${rep.replica.indicators.active} active, ${rep.replica.indicators.revoked} revoked indicators, ${rep.replica.rejections} rejections replicated`);
    if (rep.replica.sources.length === 0) lines.push('  no replication cursor yet: the operator has not replicated from a sequencer with this database');
    for (const s of rep.replica.sources) {
      lines.push(`  ${s.source}: tree size ${n(s.treeSize ?? null)}, applied ${s.nextIndex}, head ${t(s.headTimestamp ?? null)}${s.halted ? `; HALTED (${s.halted.reason}${s.halted.index !== undefined ? ` at entry ${s.halted.index}` : ''}): ${s.halted.message}` : ''}`);
    }
  }
  const peers = rep.peers.length === 0 ? 'PEERS: none (PartnerNode objects)\n'
    : table([['PEER', 'PARTNER', 'REACHABLE', 'LOG SIZE', 'LAG ENTRIES', 'LAG SECONDS', 'LAST SEEN'],
      ...rep.peers.map((p) => [p.name, p.partnerId, p.reachable === null ? '-' : p.reachable ? 'yes' : 'NO', n(p.logSize), n(p.lagEntries), n(p.lagSeconds), t(p.lastSeen)])]);
  return `${lines.join('\n')}\n${peers}`;
}

function enforcementText(policies: readonly PolicyLine[]): string {
  if (policies.length === 0) return 'ENFORCED: nothing (no EnforcementPolicy; docs/enforcement.md)\n';
  return table([['POLICY', 'MODE', 'SELECTED', 'CIDRS', 'DOMAINS', 'LEFT OUT', 'LAST SYNC'],
    ...policies.map((p) => [p.name, p.mode, n(p.selected), n(p.cidrs), n(p.domains), n(p.leftOut), t(p.lastSync)])]);
}

/** The human screen. */
export function renderStatusView(v: PartnerStatusView): string {
  const title = `ThreatMesh partner status: ${v.cluster}, ${v.namespace === null ? 'all namespaces' : `namespace ${v.namespace}`}\n`;
  const attn = v.attention.length === 0 ? 'ATTENTION: nothing\n' : `ATTENTION:\n${v.attention.map((a) => `  - ${a}`).join('\n')}\n`;
  return [title, feedsText(v.feeds), roundsText(v.rounds), replicationText(v.replication), enforcementText(v.enforcement), attn].join('\n');
}

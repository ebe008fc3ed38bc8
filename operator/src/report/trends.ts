/**
 * Historic trends of a partner's replicated data, pure: assembles the figures the store computes
 * (counts by type, feed, proposer and week; approval delays; labels; sightings by partner and
 * week; per-feed outcomes) with the network's rejections (the replicated REJECT entries) into the object that
 * `threatmesh report trends --json`, the HTTP API and the gauges show. No I/O.
 *
 * Time to quorum is measured per admitted indicator as the last approval's signing time minus
 * the moment the sequencer opened the round (`window.opensAt` plus the clock-skew allowance the
 * sequencer subtracts when it opens a window), never below zero.
 */
import { ROUND_SKEW_MS } from '../domain/entry.ts';
import { inWindow, weeksOf, type WeekBucket, type Window } from './period.ts';

/** Labels that name a malware family: `malware:<family>`, `malware-family:<family>` or `family:<family>`. */
export const MALWARE_LABEL = /^(malware|malware-family|family):(.+)$/i;

/** Where the rejection figures come from: the replicated REJECT entries of the log (`network`), or nowhere. */
export type RejectionCoverage = 'network' | 'unavailable';

/** One rejected proposal as its REJECT entry records it. */
export interface RejectedProposal {
  readonly at: Date;
  readonly type: string;
  readonly feed?: string | undefined;
  readonly proposerId?: string | undefined;
}

/** Counts of one week as the store computes them (rejections are added here). */
export interface StoreWeek extends WeekBucket {
  readonly admitted: number;
  readonly revoked: number;
  readonly sightings: number;
}

/** Per-feed outcomes as the store computes them. */
export interface StoreFeed {
  readonly feed: string;
  readonly proposed: number;
  readonly revoked: number;
  readonly neverSighted: number;
}

/** What the store computes for a window (see report/store.ts). */
export interface StoreFigures {
  readonly byType: Readonly<Record<string, number>>;
  readonly byFeed: Readonly<Record<string, number>>;
  readonly byPartner: Readonly<Record<string, number>>;
  readonly weeks: readonly StoreWeek[];
  /** Time to quorum of each admission of the window, in milliseconds. */
  readonly timeToQuorumMs: readonly number[];
  readonly labels: Readonly<Record<string, number>>;
  readonly heatmap: ReadonlyArray<{ readonly partner: string; readonly week: string; readonly count: number }>;
  readonly feeds: readonly StoreFeed[];
  /** Records without a voting window (stored before windows were kept): counted nowhere by time. */
  readonly undated: number;
}

/** One week of the trends. `rejected` is null when rejections are unavailable. */
export interface TrendWeek {
  readonly week: string;
  readonly admitted: number;
  readonly rejected: number | null;
  readonly revoked: number;
  readonly sightings: number;
}

/** One feed's quality: the share of its proposals later rejected, revoked or never sighted. */
export interface FeedQuality {
  readonly feed: string;
  readonly proposed: number;
  readonly rejected: number | null;
  readonly revoked: number;
  readonly neverSighted: number;
  readonly rejectedShare: number | null;
  readonly revokedShare: number;
  readonly neverSightedShare: number;
}

/** One proposing partner's record: its admissions and rejections in the window, and the share rejected. */
export interface ProposerQuality {
  readonly proposer: string;
  /** admitted + rejected (rejected counted as 0 when unknown). */
  readonly proposed: number;
  readonly admitted: number;
  readonly rejected: number | null;
  readonly rejectedShare: number | null;
}

/** The trends of one window, as printed by `threatmesh report trends --json`. */
export interface Trends {
  readonly since: string;
  readonly until: string;
  /** The most restrictive TLP counted; indicators above it are left out of every figure. */
  readonly maxTlp: string;
  readonly byType: Record<string, number>;
  readonly byFeed: Record<string, number>;
  readonly byPartner: Record<string, number>;
  readonly byWeek: TrendWeek[];
  readonly timeToQuorum: { readonly count: number; readonly p50Ms: number | null; readonly p95Ms: number | null; readonly maxMs: number | null };
  readonly totals: { readonly admitted: number; readonly rejected: number | null; readonly revoked: number; readonly sightings: number; readonly undated: number };
  /** rejected / (admitted + rejected) and revoked / admitted over the window; null when unknown or nothing was admitted. */
  readonly rates: { readonly rejection: number | null; readonly revocation: number | null };
  readonly topLabels: Array<{ readonly label: string; readonly count: number }>;
  readonly topMalware: Array<{ readonly family: string; readonly count: number }>;
  readonly sightingsHeatmap: Array<{ readonly partner: string; readonly week: string; readonly count: number }>;
  readonly feedQuality: FeedQuality[];
  /** Per proposing partner, sorted by id. */
  readonly proposerQuality: ProposerQuality[];
  readonly rejections: { readonly coverage: RejectionCoverage; readonly note: string };
}

/** How many labels and families {@link assembleTrends} lists. @default 10 */
export const TOP_N = 10;

/**
 * Time to quorum of one stored record: last approval's signedAt minus (window.opensAt +
 * ROUND_SKEW_MS), at least 0; undefined when the record has no window or no dated approval.
 */
export function timeToQuorumMs(rec: { readonly window?: { readonly opensAt: string } | undefined; readonly votes?: ReadonlyArray<Record<string, string>> | undefined }): number | undefined {
  const opened = Date.parse(rec.window?.opensAt ?? '');
  if (!Number.isFinite(opened)) return undefined;
  const approvals = (rec.votes ?? []).filter((v) => v['decision'] === 'approve').map((v) => Date.parse(v['signedAt'] ?? '')).filter(Number.isFinite);
  if (approvals.length === 0) return undefined;
  return Math.max(0, Math.max(...approvals) - (opened + ROUND_SKEW_MS));
}

/** The p-th percentile (0..100) of `values` by nearest rank; null when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

function ratio(n: number, d: number): number | null {
  return d > 0 ? Math.round((n / d) * 10_000) / 10_000 : null;
}

function top<K extends string>(counts: Readonly<Record<string, number>>, key: K, n: number): Array<Record<K, string> & { count: number }> {
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .slice(0, n)
    .map(([k, count]) => ({ [key]: k, count }) as Record<K, string> & { count: number });
}

function malwareFamilies(labels: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [label, n] of Object.entries(labels)) {
    const family = MALWARE_LABEL.exec(label)?.[2]?.trim().toLowerCase();
    if (family) out[family] = (out[family] ?? 0) + n;
  }
  return out;
}

function rejectionsByWeek(weeks: readonly WeekBucket[], rejected: readonly RejectedProposal[] | undefined): Map<string, number> | undefined {
  if (rejected === undefined) return undefined;
  const out = new Map<string, number>(weeks.map((w) => [w.week, 0]));
  for (const r of rejected) {
    const w = weeks.find((b) => inWindow({ since: b.start, until: b.end }, r.at.getTime()));
    if (w) out.set(w.week, (out.get(w.week) ?? 0) + 1);
  }
  return out;
}

function feedQuality(feeds: readonly StoreFeed[], rejected: readonly RejectedProposal[] | undefined): FeedQuality[] {
  const rejectedBy = new Map<string, number>();
  for (const r of rejected ?? []) rejectedBy.set(r.feed ?? '', (rejectedBy.get(r.feed ?? '') ?? 0) + 1);
  const names = new Set([...feeds.map((f) => f.feed), ...[...rejectedBy.keys()].filter((k) => k !== '')]);
  return [...names].sort().map((feed) => {
    const f = feeds.find((x) => x.feed === feed) ?? { feed, proposed: 0, revoked: 0, neverSighted: 0 };
    const rej = rejected === undefined ? null : (rejectedBy.get(feed) ?? 0);
    const proposed = f.proposed + (rej ?? 0);
    return {
      feed, proposed, rejected: rej, revoked: f.revoked, neverSighted: f.neverSighted,
      rejectedShare: rej === null ? null : (ratio(rej, proposed) ?? 0),
      revokedShare: ratio(f.revoked, proposed) ?? 0,
      neverSightedShare: ratio(f.neverSighted, proposed) ?? 0,
    };
  });
}

function proposerQuality(byPartner: Readonly<Record<string, number>>, rejected: readonly RejectedProposal[] | undefined): ProposerQuality[] {
  const rejectedBy = new Map<string, number>();
  for (const r of rejected ?? []) if (r.proposerId !== undefined) rejectedBy.set(r.proposerId, (rejectedBy.get(r.proposerId) ?? 0) + 1);
  const names = new Set([...Object.keys(byPartner), ...rejectedBy.keys()]);
  return [...names].sort().map((proposer) => {
    const admitted = byPartner[proposer] ?? 0;
    const rej = rejected === undefined ? null : (rejectedBy.get(proposer) ?? 0);
    const proposed = admitted + (rej ?? 0);
    return { proposer, proposed, admitted, rejected: rej, rejectedShare: rej === null ? null : (ratio(rej, proposed) ?? 0) };
  });
}

const COVERAGE_NOTE: Readonly<Record<RejectionCoverage, string>> = {
  network: 'rejections are the REJECT entries of the replicated log: every ADD round the network rejected by votes, verified by this partner (reject votes of enough voters that quorum was out of reach, on the subject it derived itself), the same at every partner; rounds that expired without quorum, rejected revocations, and rounds rejected before the sequencer logged REJECT entries are not counted',
  unavailable: 'no rejection source was read; rejections are unknown rather than zero',
};

/** Assembles the trends of `window` from the store's figures and the replicated rejections (undefined: unavailable). */
export function assembleTrends(window: Window, maxTlp: string, fig: StoreFigures, rejected: readonly RejectedProposal[] | undefined): Trends {
  const inRange = rejected?.filter((r) => inWindow(window, r.at.getTime()));
  const weeks = weeksOf(window);
  const rejWeeks = rejectionsByWeek(weeks, inRange);
  const byWeek = weeks.map((b) => {
    const w = fig.weeks.find((x) => x.week === b.week);
    return { week: b.week, admitted: w?.admitted ?? 0, rejected: rejWeeks?.get(b.week) ?? null, revoked: w?.revoked ?? 0, sightings: w?.sightings ?? 0 };
  });
  const sum = (k: 'admitted' | 'revoked' | 'sightings'): number => byWeek.reduce((a, w) => a + w[k], 0);
  const admitted = sum('admitted');
  const rejectedTotal = inRange === undefined ? null : inRange.length;
  const revoked = sum('revoked');
  return {
    since: window.since.toISOString(), until: window.until.toISOString(), maxTlp,
    byType: { ...fig.byType }, byFeed: { ...fig.byFeed }, byPartner: { ...fig.byPartner }, byWeek,
    timeToQuorum: { count: fig.timeToQuorumMs.length, p50Ms: percentile(fig.timeToQuorumMs, 50), p95Ms: percentile(fig.timeToQuorumMs, 95), maxMs: percentile(fig.timeToQuorumMs, 100) },
    totals: { admitted, rejected: rejectedTotal, revoked, sightings: sum('sightings'), undated: fig.undated },
    rates: { rejection: rejectedTotal === null ? null : ratio(rejectedTotal, admitted + rejectedTotal), revocation: ratio(revoked, admitted) },
    topLabels: top(fig.labels, 'label', TOP_N),
    topMalware: top(malwareFamilies(fig.labels), 'family', TOP_N),
    sightingsHeatmap: [...fig.heatmap].sort((a, b) => a.partner.localeCompare(b.partner) || a.week.localeCompare(b.week)),
    feedQuality: feedQuality(fig.feeds, inRange),
    proposerQuality: proposerQuality(fig.byPartner, inRange),
    rejections: { coverage: rejected === undefined ? 'unavailable' : 'network', note: COVERAGE_NOTE[rejected === undefined ? 'unavailable' : 'network'] },
  };
}

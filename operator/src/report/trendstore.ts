/**
 * The store's side of the trends: the figures of one window over the partner's `indicators`
 * and `sightings`, in as few collection scans as FerretDB allows. FerretDB 1.24 evaluates every
 * filter but top-level equality, and every $group, by reading the whole collection (one $sum per
 * $group, no date operators, a wrong $unwind of nested arrays): a scan of 10,000 records costs
 * 2.7-6 s on a loaded 2-core machine whatever the filter or projection, and 41 queries took 170 s.
 * So the figures take exactly two scans, run at the same time:
 * - one of the indicators: the window's admissions and revocations (counts by type, feed,
 *   proposer and week, time to quorum, labels, feed outcomes), the undated records, and every
 *   record marked above the ceiling (so sightings of indicators admitted before the window are
 *   cut by TLP too);
 * - one of the sightings since the window's first hour: sums by partner and week, and the sighted
 *   digests for "never sighted" (an indicator admitted in the window cannot be sighted before it).
 * The two scans are kept as a {@link WindowRead}: figures at any ceiling at or above the one
 * read for, the window's candidates and its sightings per digest come from it, so a summary
 * (candidates, trends at the audience's and the model's ceiling, grounding facts) reads the
 * window once too.
 * On MongoDB each branch of the indicator filter is an index range (`window.opensAt`,
 * `revocation.window.opensAt`, `meta.tlp`) and the sightings filter one on `bucketStart`.
 * docs/reports.md shows the same figures as aggregation pipelines on a sharded MongoDB cluster.
 */
import type { Filter } from 'mongodb';
import type { IndicatorRecord } from '../store/indicators.ts';
import { readRecord, type StoredIndicatorRecord } from '../store/certificate.ts';
import { isoRange, type ReportCollections, type SightingDoc } from './mongo.ts';
import { inWindow, weeksOf, type WeekBucket, type Window } from './period.ts';
import { TLP_ORDER, indicatorTlp, tlpAllows, type Tlp } from './tlp.ts';
import { timeToQuorumMs, type StoreFeed, type StoreFigures, type StoreWeek } from './trends.ts';

/** The fields of a record the figures and the candidates need. */
export type WindowRecord = Pick<IndicatorRecord, '_id' | 'digest' | 'type' | 'value' | 'state' | 'logIndex' | 'proposerId' | 'window' | 'votes' | 'meta' | 'revocation'>;

const RECORD_FIELDS = { _id: 1, digest: 1, type: 1, value: 1, state: 1, logIndex: 1, proposerId: 1, window: 1, votes: 1, cert: 1, meta: 1, 'revocation.window': 1 } as const;

interface Tally {
  readonly byType: Record<string, number>;
  readonly byFeed: Record<string, number>;
  readonly byPartner: Record<string, number>;
  readonly admitted: Map<string, number>;
  readonly revoked: Map<string, number>;
  readonly timeToQuorumMs: number[];
  readonly labels: Record<string, number>;
  readonly feeds: Map<string, { proposed: number; revoked: number; digests: string[] }>;
  /** Digests of the window's records: allowed (at or below the ceiling) or not. */
  readonly tlpOk: Map<string, boolean>;
}

const inc = (o: Record<string, number>, k: string, n = 1): void => { o[k] = (o[k] ?? 0) + n; };
const incMap = (m: Map<string, number>, k: string, n = 1): void => { m.set(k, (m.get(k) ?? 0) + n); };

function weekOf(weeks: readonly WeekBucket[], iso: string | undefined): string | undefined {
  const t = Date.parse(iso ?? '');
  return weeks.find((b) => t >= b.start.getTime() && t < b.end.getTime())?.week;
}

function tallyAdmission(t: Tally, r: WindowRecord, week: string): void {
  incMap(t.admitted, week);
  inc(t.byType, r.type);
  inc(t.byFeed, r.meta?.source ?? '(none)');
  inc(t.byPartner, r.proposerId);
  const ttq = timeToQuorumMs(r);
  if (ttq !== undefined) t.timeToQuorumMs.push(ttq);
  for (const l of r.meta?.labels ?? []) inc(t.labels, l);
  const f = t.feeds.get(r.meta?.source ?? '(none)') ?? { proposed: 0, revoked: 0, digests: [] };
  f.proposed++;
  if (r.state === 'revoked') f.revoked++;
  f.digests.push(String(r._id));
  t.feeds.set(r.meta?.source ?? '(none)', f);
}

/** One sightings bucket of the window, by week. */
export interface SightingRow {
  readonly digest: string;
  readonly partner: string;
  readonly week: string;
  readonly count: number;
}

/**
 * One read of a window: the records admitted or revoked in it, the undated ones and those
 * marked above the lowest ceiling asked for; the window's sightings buckets; and every digest
 * sighted since the window began. Figures at any ceiling at or above that lowest one, and the
 * window's candidates, are computed from it without reading again.
 */
export interface WindowRead {
  readonly window: Window;
  readonly weeks: readonly WeekBucket[];
  /** The ceiling the read was made for: figures at a lower one would miss records. */
  readonly lowest: Tlp;
  readonly records: readonly WindowRecord[];
  readonly rows: readonly SightingRow[];
  readonly sighted: ReadonlySet<string>;
}

const HOUR = 3_600_000;

/** Computes {@link StoreFigures} over one partner database. */
export class MongoTrendStore {
  readonly #c: ReportCollections;

  constructor(collections: ReportCollections) {
    this.#c = collections;
  }

  /** The figures of `w`, counting only indicators at or below `ceiling`. */
  async figures(w: Window, ceiling: Tlp): Promise<StoreFigures> {
    return figuresOf(await this.read(w, ceiling), ceiling);
  }

  /** Reads `w` for figures at `lowest` or above: one scan of each collection, both at once. */
  async read(w: Window, lowest: Tlp): Promise<WindowRead> {
    const weeks = weeksOf(w);
    const [records, s] = await Promise.all([this.#indicators(w, lowest), this.#sightings(w, weeks)]);
    return { window: w, weeks, lowest, records, rows: s.rows, sighted: s.sighted };
  }

  /** One pass over the records admitted or revoked in the window, the undated ones and those marked above `lowest`. */
  async #indicators(w: Window, lowest: Tlp): Promise<WindowRecord[]> {
    const above = TLP_ORDER.filter((x) => !tlpAllows(lowest, x));
    const branches: Array<Filter<StoredIndicatorRecord>> = [isoRange('window.opensAt', w), isoRange('revocation.window.opensAt', w), { 'window.opensAt': null }];
    if (above.length > 0) branches.push({ 'meta.tlp': { $in: above } });
    return await this.#c.indicators.find({ $or: branches } as Filter<StoredIndicatorRecord>, { projection: RECORD_FIELDS }).map(readRecord).toArray();
  }

  /** One pass over the sightings from the window's first hour on (an admission's sightings fall into buckets from the hour of its round on). */
  async #sightings(w: Window, weeks: readonly WeekBucket[]): Promise<{ rows: SightingRow[]; sighted: Set<string> }> {
    const rows: SightingRow[] = [];
    const sighted = new Set<string>();
    const from = new Date(Math.floor(w.since.getTime() / HOUR) * HOUR);
    const cursor = this.#c.sightings.find({ bucketStart: { $gte: from } } as Filter<SightingDoc>, { projection: { _id: 0, digest: 1, partnerId: 1, bucketStart: 1, count: 1 } });
    for await (const s of cursor) {
      sighted.add(s.digest);
      const week = weekOf(weeks, new Date(s.bucketStart).toISOString());
      if (week !== undefined) rows.push({ digest: s.digest, partner: s.partnerId, week, count: Number(s.count) || 0 });
    }
    return { rows, sighted };
  }
}

/** The figures of a read at `ceiling` (at or above the read's lowest ceiling). */
export function figuresOf(read: WindowRead, ceiling: Tlp): StoreFigures {
  if (!tlpAllows(ceiling, read.lowest)) throw new Error(`figures at ${ceiling} need a read made for ${ceiling} or lower, not ${read.lowest}`);
  const t: Tally = { byType: {}, byFeed: {}, byPartner: {}, admitted: new Map(), revoked: new Map(), timeToQuorumMs: [], labels: {}, feeds: new Map(), tlpOk: new Map() };
  let undated = 0;
  for (const r of read.records) {
    if (r.window?.opensAt === undefined) undated++;
    const ok = tlpAllows(ceiling, indicatorTlp(r.meta));
    t.tlpOk.set(String(r._id), ok);
    if (!ok) continue;
    const admittedWeek = weekOf(read.weeks, r.window?.opensAt);
    if (admittedWeek !== undefined) tallyAdmission(t, r, admittedWeek);
    const revokedWeek = weekOf(read.weeks, r.revocation?.window.opensAt);
    if (revokedWeek !== undefined) incMap(t.revoked, revokedWeek);
  }
  const { byWeek, heatmap } = sumSightings(read.rows, t.tlpOk);
  const weeks: StoreWeek[] = read.weeks.map((b) => ({ ...b, admitted: t.admitted.get(b.week) ?? 0, revoked: t.revoked.get(b.week) ?? 0, sightings: byWeek.get(b.week) ?? 0 }));
  const feeds: StoreFeed[] = [...t.feeds].map(([feed, f]) => ({ feed, proposed: f.proposed, revoked: f.revoked, neverSighted: f.digests.filter((d) => !read.sighted.has(d)).length }));
  return { byType: t.byType, byFeed: t.byFeed, byPartner: t.byPartner, weeks, heatmap, timeToQuorumMs: t.timeToQuorumMs, labels: t.labels, feeds, undated };
}

/** Sightings per digest inside the read's window (every partner). */
export function sightingsPerDigest(read: WindowRead): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of read.rows) incMap(out, r.digest, r.count);
  return out;
}

/** The read's records admitted or revoked inside its window. */
export function admittedOrRevokedIn(read: WindowRead): WindowRecord[] {
  const inW = (iso: string | undefined): boolean => iso !== undefined && inWindow(read.window, Date.parse(iso));
  return read.records.filter((r) => inW(r.window?.opensAt) || inW(r.revocation?.window.opensAt));
}

/** Sums of the window's sightings by week and by partner and week, leaving out digests marked above the ceiling. */
function sumSightings(rows: readonly SightingRow[], tlpOk: ReadonlyMap<string, boolean>): { byWeek: Map<string, number>; heatmap: Array<{ partner: string; week: string; count: number }> } {
  const byWeek = new Map<string, number>();
  const cells = new Map<string, number>();
  for (const r of rows) {
    // A sighting of a digest the store does not hold (yet) carries no TLP: it counts as clear.
    if (tlpOk.get(r.digest) === false) continue;
    incMap(byWeek, r.week, r.count);
    incMap(cells, `${r.partner}\u0000${r.week}`, r.count);
  }
  const heatmap = [...cells].map(([k, count]) => ({ partner: k.split('\u0000')[0] ?? '', week: k.split('\u0000')[1] ?? '', count }));
  return { byWeek, heatmap };
}

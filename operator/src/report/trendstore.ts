/**
 * The store's side of the trends: the figures of one window over the partner's `indicators`
 * and `sightings`, in as few collection scans as FerretDB allows. FerretDB 1.24 evaluates most
 * filters and every $group by scanning the collection (one $sum per $group, no date operators,
 * a wrong $unwind of nested arrays), so a query per figure and per week costs one scan each:
 * 41 scans took 170 s for 10,000 records on a loaded machine. Here: one streamed projection of
 * the window's indicators (counts by type, feed, proposer and week, time to quorum, labels, feed
 * outcomes), one of the window's sightings (sums by partner and week), one of the digests marked
 * above the ceiling (for sightings of indicators admitted before the window), one `distinct` of
 * sighted digests (never sighted) and one count of undated records. docs/reports.md shows the same figures as aggregation pipelines on a sharded
 * MongoDB cluster.
 */
import type { Filter } from 'mongodb';
import type { IndicatorRecord } from '../store/indicators.ts';
import { isoRange, type ReportCollections, type SightingDoc } from './mongo.ts';
import { weeksOf, type WeekBucket, type Window } from './period.ts';
import { TLP_ORDER, indicatorTlp, tlpAllows, type Tlp } from './tlp.ts';
import { timeToQuorumMs, type StoreFeed, type StoreFigures, type StoreWeek } from './trends.ts';

type Projected = Pick<IndicatorRecord, '_id' | 'type' | 'state' | 'proposerId' | 'window' | 'votes' | 'meta' | 'revocation'>;

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

function tallyAdmission(t: Tally, r: Projected, week: string): void {
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

/** Computes {@link StoreFigures} over one partner database. */
export class MongoTrendStore {
  readonly #c: ReportCollections;

  constructor(collections: ReportCollections) {
    this.#c = collections;
  }

  /** The figures of `w`, counting only indicators at or below `ceiling`. */
  async figures(w: Window, ceiling: Tlp): Promise<StoreFigures> {
    const weeks = weeksOf(w);
    const t = await this.#indicators(w, weeks, ceiling);
    const { byWeek, heatmap, sighted } = await this.#sightings(w, weeks, ceiling, t.tlpOk);
    const storeWeeks: StoreWeek[] = weeks.map((b) => ({ ...b, admitted: t.admitted.get(b.week) ?? 0, revoked: t.revoked.get(b.week) ?? 0, sightings: byWeek.get(b.week) ?? 0 }));
    const feeds: StoreFeed[] = [...t.feeds].map(([feed, f]) => ({ feed, proposed: f.proposed, revoked: f.revoked, neverSighted: f.digests.filter((d) => !sighted.has(d)).length }));
    const undated = await this.#c.indicators.countDocuments({ window: { $exists: false } });
    return { byType: t.byType, byFeed: t.byFeed, byPartner: t.byPartner, weeks: storeWeeks, heatmap, timeToQuorumMs: t.timeToQuorumMs, labels: t.labels, feeds, undated };
  }

  /** One pass over the records admitted or revoked in the window. */
  async #indicators(w: Window, weeks: readonly WeekBucket[], ceiling: Tlp): Promise<Tally> {
    const t: Tally = { byType: {}, byFeed: {}, byPartner: {}, admitted: new Map(), revoked: new Map(), timeToQuorumMs: [], labels: {}, feeds: new Map(), tlpOk: new Map() };
    const filter = { $or: [isoRange('window.opensAt', w), isoRange('revocation.window.opensAt', w)] } as Filter<IndicatorRecord>;
    const cursor = this.#c.indicators.find(filter, { projection: { _id: 1, type: 1, state: 1, proposerId: 1, window: 1, votes: 1, meta: 1, 'revocation.window': 1 } });
    for await (const r of cursor as AsyncIterable<Projected>) {
      const ok = tlpAllows(ceiling, indicatorTlp(r.meta));
      t.tlpOk.set(String(r._id), ok);
      if (!ok) continue;
      const admittedWeek = weekOf(weeks, r.window?.opensAt);
      if (admittedWeek !== undefined) tallyAdmission(t, r, admittedWeek);
      const revokedWeek = weekOf(weeks, r.revocation?.window.opensAt);
      if (revokedWeek !== undefined) incMap(t.revoked, revokedWeek);
    }
    return t;
  }

  /** One pass over the window's sightings; the TLP of digests admitted before the window comes from one more scan. */
  async #sightings(w: Window, weeks: readonly WeekBucket[], ceiling: Tlp, tlpOk: ReadonlyMap<string, boolean>): Promise<{ byWeek: Map<string, number>; heatmap: Array<{ partner: string; week: string; count: number }>; sighted: Set<string> }> {
    const rows: Array<{ digest: string; partner: string; week: string; count: number }> = [];
    const cursor = this.#c.sightings.find({ bucketStart: { $gte: w.since, $lt: w.until } } as Filter<SightingDoc>, { projection: { _id: 0, digest: 1, partnerId: 1, bucketStart: 1, count: 1 } });
    for await (const s of cursor) {
      const week = weekOf(weeks, new Date(s.bucketStart).toISOString());
      if (week !== undefined) rows.push({ digest: s.digest, partner: s.partnerId, week, count: Number(s.count) || 0 });
    }
    const allowed = new Map(tlpOk);
    if (rows.some((r) => !allowed.has(r.digest))) {
      // One scan for every digest marked above the ceiling beats lookups by _id in batches (each a scan on FerretDB).
      const above = TLP_ORDER.filter((x) => !tlpAllows(ceiling, x));
      const marked = above.length === 0 ? [] : await this.#c.indicators.find({ 'meta.tlp': { $in: above } } as Filter<IndicatorRecord>, { projection: { _id: 1 } }).toArray();
      for (const r of marked) if (!allowed.has(String(r._id))) allowed.set(String(r._id), false);
    }
    const byWeek = new Map<string, number>();
    const cells = new Map<string, number>();
    for (const r of rows) {
      // A sighting of a digest the store does not hold (yet) carries no TLP: it counts as clear.
      if (allowed.get(r.digest) === false) continue;
      incMap(byWeek, r.week, r.count);
      incMap(cells, `${r.partner}\u0000${r.week}`, r.count);
    }
    const heatmap = [...cells].map(([k, count]) => ({ partner: k.split('\u0000')[0] ?? '', week: k.split('\u0000')[1] ?? '', count }));
    const sighted = new Set((await this.#c.sightings.distinct('digest')).map(String));
    return { byWeek, heatmap, sighted };
  }
}

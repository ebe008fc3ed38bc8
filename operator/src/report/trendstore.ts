/**
 * The store's side of the trends: the figures of one window over the partner's `indicators`
 * and `sightings`. Counts by type, feed and proposer are MongoDB aggregations ($group with one
 * $sum); weeks are one count per week (FerretDB has no date operators, and ISO strings compare
 * as times); time to quorum, labels and per-feed outcomes come from one streamed projection of
 * the window's admissions ($unwind of a nested array is wrong on FerretDB 1.24), with sightings
 * looked up by digest in batches. docs/reports.md shows the same figures on a sharded cluster.
 */
import type { Filter } from 'mongodb';
import type { IndicatorRecord } from '../store/indicators.ts';
import { and, digestsAbove, isoRange, sightingsFilter, sumBy, tlpFilter, type ReportCollections, type SightingDoc } from './mongo.ts';
import { weeksOf, type Window } from './period.ts';
import type { Tlp } from './tlp.ts';
import { timeToQuorumMs, type StoreFeed, type StoreFigures, type StoreWeek } from './trends.ts';

/** Digests per $in lookup. */
const BATCH = 500;

interface FeedTally {
  proposed: number;
  revoked: number;
  digests: string[];
}

interface Streamed {
  readonly timeToQuorumMs: number[];
  readonly labels: Record<string, number>;
  readonly feeds: Map<string, FeedTally>;
}

/** Computes {@link StoreFigures} over one partner database. */
export class MongoTrendStore {
  readonly #c: ReportCollections;

  constructor(collections: ReportCollections) {
    this.#c = collections;
  }

  /** The figures of `w`, counting only indicators at or below `ceiling`. */
  async figures(w: Window, ceiling: Tlp): Promise<StoreFigures> {
    const admitted = and(tlpFilter(ceiling), isoRange('window.opensAt', w));
    const exclude = await digestsAbove(this.#c, ceiling);
    const [byType, byFeed, byPartner] = [
      await sumBy(this.#c.indicators, admitted, 'type', 1),
      await sumBy(this.#c.indicators, admitted, 'meta.source', 1),
      await sumBy(this.#c.indicators, admitted, 'proposerId', 1),
    ];
    const { weeks, heatmap } = await this.#weeks(w, ceiling, exclude);
    const streamed = await this.#stream(admitted);
    const feeds = await this.#feeds(streamed.feeds);
    const undated = await this.#c.indicators.countDocuments(and(tlpFilter(ceiling), { window: { $exists: false } }));
    return { byType, byFeed, byPartner, weeks, heatmap, timeToQuorumMs: streamed.timeToQuorumMs, labels: streamed.labels, feeds, undated };
  }

  async #weeks(w: Window, ceiling: Tlp, exclude: readonly string[]): Promise<{ weeks: StoreWeek[]; heatmap: Array<{ partner: string; week: string; count: number }> }> {
    const weeks: StoreWeek[] = [];
    const heatmap: Array<{ partner: string; week: string; count: number }> = [];
    for (const b of weeksOf(w)) {
      const range = { since: b.start, until: b.end };
      const admitted = await this.#c.indicators.countDocuments(and(tlpFilter(ceiling), isoRange('window.opensAt', range)));
      const revoked = await this.#c.indicators.countDocuments(and(tlpFilter(ceiling), isoRange('revocation.window.opensAt', range)));
      const byPartner = await sumBy(this.#c.sightings, sightingsFilter(range, exclude), 'partnerId', 'count');
      for (const [partner, count] of Object.entries(byPartner)) heatmap.push({ partner, week: b.week, count });
      weeks.push({ ...b, admitted, revoked, sightings: Object.values(byPartner).reduce((a, n) => a + n, 0) });
    }
    return { weeks, heatmap };
  }

  async #stream(admitted: Filter<IndicatorRecord>): Promise<Streamed> {
    const out: Streamed = { timeToQuorumMs: [], labels: {}, feeds: new Map() };
    const cursor = this.#c.indicators.find(admitted, { projection: { _id: 1, state: 1, window: 1, votes: 1, meta: 1 } });
    for await (const r of cursor) {
      const ttq = timeToQuorumMs(r);
      if (ttq !== undefined) out.timeToQuorumMs.push(ttq);
      for (const l of r.meta?.labels ?? []) out.labels[l] = (out.labels[l] ?? 0) + 1;
      const feed = r.meta?.source ?? '(none)';
      const t = out.feeds.get(feed) ?? { proposed: 0, revoked: 0, digests: [] };
      t.proposed++;
      if (r.state === 'revoked') t.revoked++;
      t.digests.push(String(r._id));
      out.feeds.set(feed, t);
    }
    return out;
  }

  async #feeds(tallies: ReadonlyMap<string, FeedTally>): Promise<StoreFeed[]> {
    const out: StoreFeed[] = [];
    for (const [feed, t] of tallies) {
      let sighted = 0;
      for (let i = 0; i < t.digests.length; i += BATCH) {
        sighted += (await this.#c.sightings.distinct('digest', { digest: { $in: t.digests.slice(i, i + BATCH) } } as Filter<SightingDoc>)).length;
      }
      out.push({ feed, proposed: t.proposed, revoked: t.revoked, neverSighted: t.proposed - sighted });
    }
    return out;
  }
}

/**
 * One partner's data as reports see it: the {@link SummarySource} over its MongoDB (candidates,
 * facts, trends) and, when a cluster is at hand, its rejections.
 */
import type { Db } from 'mongodb';
import type { Candidate } from './candidates.ts';
import type { StoredFact } from './grounding.ts';
import { collectionsOf } from './mongo.ts';
import type { Window } from './period.ts';
import type { RejectionSource } from './rejections.ts';
import { MongoReportStore } from './reportstore.ts';
import type { SummarySource } from './summarize.ts';
import type { Tlp } from './tlp.ts';
import { MongoTrendStore } from './trendstore.ts';
import { assembleTrends, type Trends } from './trends.ts';

/** The partner's data: MongoDB, plus the cluster's rejections when given. */
export class PartnerData implements SummarySource {
  readonly store: MongoReportStore;
  readonly #trends: MongoTrendStore;
  readonly #rejections: RejectionSource | undefined;

  constructor(db: Db, rejections?: RejectionSource) {
    this.store = new MongoReportStore(db);
    this.#trends = new MongoTrendStore(collectionsOf(db));
    this.#rejections = rejections;
  }

  /** @inheritdoc */
  candidates(w: Window, ceiling: Tlp): Promise<Candidate[]> {
    return this.store.candidates(w, ceiling);
  }

  /** @inheritdoc */
  facts(digests: readonly string[], w: Window): Promise<Map<string, StoredFact>> {
    return this.store.facts(digests, w);
  }

  /** The trends of `w` at or below `ceiling`. */
  async trends(w: Window, ceiling: Tlp): Promise<Trends> {
    const figures = await this.#trends.figures(w, ceiling);
    const rejected = this.#rejections === undefined ? undefined : await this.#rejections.rejected(ceiling);
    return assembleTrends(w, ceiling, figures, rejected);
  }
}

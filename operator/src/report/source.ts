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
import type { Overview, SummarySource } from './summarize.ts';
import type { Tlp } from './tlp.ts';
import { lowerTlp } from './tlp.ts';
import { MongoTrendStore, admittedOrRevokedIn, figuresOf, sightingsPerDigest } from './trendstore.ts';
import { assembleTrends, type RejectedProposal, type Trends } from './trends.ts';

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
    return assembleTrends(w, ceiling, figures, await this.#rejected(ceiling));
  }

  /** @inheritdoc */
  async overview(w: Window, audience: Tlp, ceilings: readonly Tlp[]): Promise<Overview> {
    // One scan of each collection serves the candidates, every ceiling and the grounding check (a summary read both collections three or four times before).
    const read = await this.#trends.read(w, ceilings.reduce(lowerTlp, audience));
    const sighted = sightingsPerDigest(read);
    const [candidates, trends] = await Promise.all([
      this.store.candidatesOf(admittedOrRevokedIn(read), sighted, audience),
      Promise.all(ceilings.map(async (c) => assembleTrends(w, c, figuresOf(read, c), await this.#rejected(c)))),
    ]);
    return { candidates, trends, facts: (digests) => this.store.facts(digests, w, sighted) };
  }

  async #rejected(ceiling: Tlp): Promise<RejectedProposal[] | undefined> {
    return this.#rejections === undefined ? undefined : await this.#rejections.rejected(ceiling);
  }
}

/**
 * One partner's data as reports see it: the {@link SummarySource} over its MongoDB (candidates,
 * facts, trends, and the network's rejections it replicated).
 */
import type { Db } from 'mongodb';
import type { Candidate } from './candidates.ts';
import type { StoredFact } from './grounding.ts';
import { collectionsOf } from './mongo.ts';
import type { Window } from './period.ts';
import { replicatedRejections, type RejectionSource } from './rejections.ts';
import { MongoReportStore } from './reportstore.ts';
import type { Overview, SummarySource } from './summarize.ts';
import type { Tlp } from './tlp.ts';
import { lowerTlp } from './tlp.ts';
import { MongoTrendStore, admittedOrRevokedIn, figuresOf, sightingsPerDigest } from './trendstore.ts';
import { assembleTrends, type Trends } from './trends.ts';

/** The partner's data: its MongoDB, rejections included. */
export class PartnerData implements SummarySource {
  readonly store: MongoReportStore;
  readonly #trends: MongoTrendStore;
  readonly #rejections: RejectionSource;

  /** `rejections`: where rejections are read. @default the replicated REJECT entries of `db` (report/rejections.ts) */
  constructor(db: Db, rejections: RejectionSource = replicatedRejections(db)) {
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
    const [figures, rejected] = await Promise.all([this.#trends.figures(w, ceiling), this.#rejections.rejected(ceiling, w)]);
    return assembleTrends(w, ceiling, figures, rejected);
  }

  /** @inheritdoc */
  async overview(w: Window, audience: Tlp, ceilings: readonly Tlp[]): Promise<Overview> {
    // One scan of each collection serves the candidates, every ceiling and the grounding check (a summary read both collections three or four times before).
    const read = await this.#trends.read(w, ceilings.reduce(lowerTlp, audience));
    const sighted = sightingsPerDigest(read);
    const [candidates, trends] = await Promise.all([
      this.store.candidatesOf(admittedOrRevokedIn(read), sighted, audience),
      Promise.all(ceilings.map(async (c) => assembleTrends(w, c, figuresOf(read, c), await this.#rejections.rejected(c, w)))),
    ]);
    return { candidates, trends, facts: (digests) => this.store.facts(digests, w, sighted) };
  }
}

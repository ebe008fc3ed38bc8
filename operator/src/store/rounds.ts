/**
 * The sequencer's open voting rounds in MongoDB (`pending_rounds`, `_id` = the round's vote
 * subject), so a restarted or newly elected sequencer continues them. Data only: the
 * sequencer re-verifies every proposal and vote it loads.
 */
import { MongoServerError, type Collection, type Db } from 'mongodb';
import type { Vote } from '../domain/quorum.ts';
import { voteRecord } from '../exchange/entry.ts';
import type { SequencerRoundStore, StoredRound } from '../exchange/sequencer.ts';
import { voteFromRecord } from './log.ts';

/** Collection name. */
export const PENDING_ROUNDS = 'pending_rounds';

const DUPLICATE_KEY = 11000;

interface RoundDoc {
  _id: string;
  kind: StoredRound['kind'];
  indicatorJson: string;
  /** The signed metadata's canonical JSON; absent when the proposal carried none. */
  metaJson?: string;
  proposerId: string;
  signature: string;
  window: { opensAt: string; closesAt: string };
  votes: Array<Record<string, string>>;
}

/** {@link SequencerRoundStore} over one database. */
export class MongoRoundStore implements SequencerRoundStore {
  readonly #col: Collection<RoundDoc>;

  constructor(db: Db) {
    this.#col = db.collection<RoundDoc>(PENDING_ROUNDS);
  }

  /** Every stored round, oldest window first. */
  async loadRounds(): Promise<StoredRound[]> {
    const docs = await this.#col.find({}).sort({ 'window.opensAt': 1 }).toArray();
    return docs.map((d) => ({
      subject: d._id, kind: d.kind, indicatorJson: String(d.indicatorJson), ...(d.metaJson !== undefined ? { metaJson: String(d.metaJson) } : {}), proposerId: String(d.proposerId), signature: String(d.signature),
      window: { opensAt: String(d.window?.opensAt), closesAt: String(d.window?.closesAt) }, votes: Array.isArray(d.votes) ? d.votes.map(voteFromRecord) : [],
    }));
  }

  /** Stores a new round; one already stored under the subject is kept. */
  async saveRound(r: StoredRound): Promise<void> {
    try {
      await this.#col.insertOne({ _id: r.subject, kind: r.kind, indicatorJson: r.indicatorJson, ...(r.metaJson ? { metaJson: r.metaJson } : {}), proposerId: r.proposerId, signature: r.signature, window: { ...r.window }, votes: r.votes.map(voteRecord) });
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
    }
  }

  /** Adds a counted vote to its round. */
  async saveVote(subject: string, vote: Vote): Promise<void> {
    await this.#col.updateOne({ _id: subject }, { $push: { votes: voteRecord(vote) } });
  }

  /** Removes a decided or expired round. */
  async deleteRound(subject: string): Promise<void> {
    await this.#col.deleteOne({ _id: subject });
  }
}

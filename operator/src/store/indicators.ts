/**
 * A partner's replicated indicators in MongoDB (`indicators`, unique on `digest`): the
 * {@link EntrySink} that applies verified log entries. ADD upserts the indicator as active
 * with its log index and quorum certificate; REVOKE marks it revoked. Both are idempotent,
 * and replaying an ADD never reactivates a revoked indicator.
 */
import type { Collection, Db } from 'mongodb';
import { voteRecord } from '../exchange/entry.ts';
import type { EntrySink, VerifiedEntry } from '../exchange/partner.ts';

/** Collection name. */
export const INDICATORS = 'indicators';

/** One replicated indicator as stored. */
export interface IndicatorRecord {
  digest: string;
  type: string;
  value: string;
  state: 'active' | 'revoked';
  logIndex: number;
  proposerId: string;
  votes: Array<Record<string, string>>;
  revokedAtIndex?: number;
}

/** The MongoDB sink of a partner's replica. */
export class MongoIndicatorSink implements EntrySink {
  readonly #col: Collection<IndicatorRecord>;

  private constructor(db: Db) {
    this.#col = db.collection<IndicatorRecord>(INDICATORS);
  }

  /** Opens the sink and creates its unique index (idempotent). */
  static async open(db: Db): Promise<MongoIndicatorSink> {
    const sink = new MongoIndicatorSink(db);
    await sink.#col.createIndex({ digest: 1 }, { unique: true, name: 'digest_unique' });
    return sink;
  }

  /** Applies one verified entry; idempotent. */
  async apply(entry: VerifiedEntry): Promise<void> {
    if (entry.kind === 'revoke') {
      await this.#col.updateOne({ digest: entry.digest }, { $set: { state: 'revoked', revokedAtIndex: entry.index } });
      return;
    }
    await this.#col.updateOne(
      { digest: entry.digest },
      {
        $set: { type: entry.indicator.type, value: entry.indicator.value, logIndex: entry.index, proposerId: entry.proposerId, votes: entry.votes.map(voteRecord) },
        $setOnInsert: { state: 'active' },
      },
      { upsert: true },
    );
  }

  /** Every stored indicator, ordered by digest, without MongoDB ids. */
  async all(): Promise<IndicatorRecord[]> {
    return this.#col.find({}, { projection: { _id: 0 } }).sort({ digest: 1 }).toArray();
  }
}

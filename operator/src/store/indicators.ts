/**
 * A partner's replicated indicators in MongoDB (`indicators`, unique on `digest`): the
 * {@link EntrySink} that applies verified log entries. ADD upserts the indicator as active
 * with its log index and quorum certificate; REVOKE marks it revoked. Both are idempotent,
 * and replaying an ADD never reactivates a revoked indicator.
 */
import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';
import { voteRecord } from '../exchange/entry.ts';
import type { EntrySink, VerifiedEntry } from '../exchange/partner.ts';

/** Collection name. */
export const INDICATORS = 'indicators';

/** One replicated indicator as stored (`_id` is the digest: FerretDB finds documents by _id without scanning). */
export interface IndicatorRecord {
  _id?: string;
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
    await this.applyMany([entry]);
  }

  /** Applies entries in log order in one ordered bulk write; idempotent. */
  async applyMany(entries: readonly VerifiedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#col.bulkWrite(entries.map(operation), { ordered: true });
  }

  /** Every stored indicator, ordered by digest, without MongoDB ids. */
  async all(): Promise<IndicatorRecord[]> {
    return this.#col.find({}, { projection: { _id: 0 } }).sort({ digest: 1 }).toArray();
  }
}

function operation(entry: VerifiedEntry): AnyBulkWriteOperation<IndicatorRecord> {
  if (entry.kind === 'revoke') {
    return { updateOne: { filter: { _id: entry.digest }, update: { $set: { state: 'revoked', revokedAtIndex: entry.index } } } };
  }
  return {
    updateOne: {
      filter: { _id: entry.digest },
      update: {
        $set: { digest: entry.digest, type: entry.indicator.type, value: entry.indicator.value, logIndex: entry.index, proposerId: entry.proposerId, votes: entry.votes.map(voteRecord) },
        $setOnInsert: { state: 'active' },
      },
      upsert: true,
    },
  };
}

/**
 * The enforcement input: the partner's replicated `indicators` collection in MongoDB
 * (store/indicators.ts), the full set every consumer reads. Changes are found by polling a
 * high-water mark: every admission (logIndex) and revocation (revokedAtIndex) carries a log
 * index above everything before it, so `logIndex > hw OR revokedAtIndex > hw` returns exactly
 * the records changed since the last poll, through two ascending indexes on MongoDB. That query
 * runs when the change signal moved: the replica's cursor documents (`replica_cursors`, a few
 * documents, read every poll for about a millisecond), which the replica saves after writing
 * the records below the cursor. Polling, not change streams: FerretDB (the local and test
 * database) has none, and a change stream needs a replica set and resume-token bookkeeping for
 * the same result; FerretDB also scans the whole collection for any query but one by _id, which
 * is why the signal comes first. Deleted records (a replica rebuild) are not log events: a cursor
 * that moves back, a drop in the document count, or the periodic full reload catches them.
 */
import { MongoServerError, type Collection, type Db, type Document } from 'mongodb';
import { REPLICA_CURSORS } from '../store/cursor.ts';
import { INDICATORS } from '../store/indicators.ts';
import { dropIndexes, ignoresSecondaryIndexes } from '../store/indexes.ts';

/** Fields enforcement reads (the certificates are not needed: the replica verified them). */
const PROJECTION = { _id: 1, digest: 1, type: 1, value: 1, state: 1, logIndex: 1, revokedAtIndex: 1, meta: 1, window: 1 } as const;
/** MongoDB codes for "an equivalent index exists under another name or options". */
const INDEX_EXISTS = new Set([85, 86]);

/** The replica's cursors: source id → next log index to apply (every entry below it is written). */
export interface ReplicaProgress {
  readonly cursors: ReadonlyMap<string, number>;
}

/** Reads the replicated set. */
export interface IndicatorSource {
  /** Streams every record in batches. */
  scan(onBatch: (docs: readonly unknown[]) => void, batchSize?: number): Promise<number>;
  /** The records whose logIndex or revokedAtIndex is above `highWater`. */
  changedSince(highWater: number): Promise<unknown[]>;
  /** The number of records (for noticing deletions). */
  count(): Promise<number>;
  /** The replica's progress (its cursors), the cheap change signal polled every interval. */
  progress(): Promise<ReplicaProgress>;
}

/** The `indicators` collection of a partner database. */
export class MongoIndicatorSource implements IndicatorSource {
  readonly #col: Collection<Document>;
  readonly #cursors: Collection<Document>;

  private constructor(db: Db) {
    this.#col = db.collection(INDICATORS);
    this.#cursors = db.collection(REPLICA_CURSORS);
  }

  /**
   * Opens the source and creates the two poll indexes (idempotent; an equivalent existing index
   * is accepted) where the database reads indexes; on FerretDB 1.x, which scans for this query
   * either way, none is created and those of earlier versions are dropped (store/indexes.ts).
   */
  static async open(db: Db): Promise<MongoIndicatorSource> {
    const src = new MongoIndicatorSource(db);
    if (await ignoresSecondaryIndexes(db)) {
      await dropIndexes(src.#col, ['logIndex_1', 'revokedAtIndex_1']);
      return src;
    }
    for (const key of ['logIndex', 'revokedAtIndex']) {
      try {
        await src.#col.createIndex({ [key]: 1 }, { name: `${key}_1` });
      } catch (err) {
        if (!(err instanceof MongoServerError && INDEX_EXISTS.has(Number(err.code)))) throw err;
      }
    }
    return src;
  }

  async scan(onBatch: (docs: readonly unknown[]) => void, batchSize = 5000): Promise<number> {
    let n = 0;
    let batch: unknown[] = [];
    for await (const doc of this.#col.find({}, { projection: PROJECTION, batchSize })) {
      batch.push(doc);
      if (batch.length >= batchSize) {
        onBatch(batch);
        n += batch.length;
        batch = [];
      }
    }
    onBatch(batch);
    return n + batch.length;
  }

  changedSince(highWater: number): Promise<unknown[]> {
    return this.#col.find({ $or: [{ logIndex: { $gt: highWater } }, { revokedAtIndex: { $gt: highWater } }] }, { projection: PROJECTION }).toArray();
  }

  count(): Promise<number> {
    return this.#col.estimatedDocumentCount();
  }

  async progress(): Promise<ReplicaProgress> {
    const docs = await this.#cursors.find({}, { projection: { nextIndex: 1 } }).toArray();
    const cursors = new Map<string, number>();
    for (const d of docs) if (typeof d['nextIndex'] === 'number') cursors.set(String(d['_id']), d['nextIndex']);
    return { cursors };
  }

}

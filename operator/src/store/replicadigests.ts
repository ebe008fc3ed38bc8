/**
 * The set of digests a partner's replica has stored (and, apart, of those it stored a rejection
 * for), so history lookups never scan for indicators the replica has not stored: their first 96
 * bits, 12 bytes each, in memory, asked about before the database. Persisted in
 * `replica_digests` as one append-only chunk per applied batch, written before the batch's
 * records, so after a crash it is a superset of the stored digests (a superset costs a lookup,
 * never a missed check); a database without it is backfilled once at open
 * (docs/adr/2026-12-06-million-indicators.md, Decision 3). Rejection digests are kept the same
 * way in chunks marked `k: "reject"`. A set loaded before another process wrote (a standby's, or
 * an earlier term's) is brought up to date by {@link ReplicaDigests.catchUp}
 * (docs/adr/2026-12-07-standby-preparation.md). Split from indicators.ts, whose sink keeps it.
 */
import { randomUUID } from 'node:crypto';
import { Binary, MongoServerError, type Collection, type Db } from 'mongodb';
import { DigestSet, addPrefixBytes, prefixBytes } from '../domain/digestset.ts';
import { chunkBucket, chunksSince, readWatermark, type ChunkWatermark } from './digestwatermark.ts';
import { ensureQueryIndexes } from './indexes.ts';

/** Collection of the persisted digest-membership chunks (append-only; a chunk is never replaced). */
export const REPLICA_DIGESTS = 'replica_digests';

/** One persisted chunk of the set. */
interface DigestChunk {
  /** Random: chunks are only ever added. */
  _id: string;
  /** First log index of the batch the chunk was written for (-1: backfill). */
  i: number;
  /** `chunkBucket(i)`, read by the catch-up one equality at a time (absent in chunks written before it was kept). */
  b?: number;
  /** 12 bytes per digest: its first 96 bits. */
  d: Binary | Uint8Array;
  /** `reject`: the digests of stored rejections; absent: of stored indicator records. */
  k?: 'reject';
}

/**
 * `_id` of the chunk (no digests) that marks the set complete: every record stored in
 * `indicators` has its digest in a chunk. Written at the first open (after the backfill of an
 * older database); removed with the chunks when a replica is rebuilt.
 */
export const COMPLETE_MARKER = 'complete';

const DUPLICATE_KEY = 11000;

/** The index the catch-up reads buckets through (on FerretDB 1.x through its GIN twin, pgequality.ts). */
const BUCKET_INDEX = ['chunk_bucket', { b: 1 }] as const;

/** The persisted digest-membership sets of one replica database (see the file header). */
export class ReplicaDigests {
  readonly #db: Db;
  readonly #chunks: Collection<DigestChunk>;
  /** Digests of stored indicator records (a superset after a crash). */
  readonly stored = new DigestSet();
  /** Digests of stored rejections (a superset after a crash). */
  readonly rejected = new DigestSet();
  // Every stored record's digest is in the set (the marker was read, or the backfill ran).
  #complete = false;
  // The cursors read before the chunks last were (store/digestwatermark.ts).
  #watermark: ChunkWatermark | undefined;

  constructor(db: Db) {
    this.#db = db;
    this.#chunks = db.collection<DigestChunk>(REPLICA_DIGESTS);
  }

  /** Creates the index of chunk buckets (idempotent; on every database: FerretDB 1.x on PostgreSQL reads it too). */
  async ensureIndex(): Promise<void> {
    await ensureQueryIndexes(this.#db, this.#chunks, [BUCKET_INDEX], false);
  }

  /** True once every stored record's digest is in the set (false after a load without backfill of an unmarked database). */
  get complete(): boolean {
    return this.#complete;
  }

  /**
   * Loads every chunk. Unless the set is marked complete, and `backfill` is set (only the one
   * writer may: the marker says no writer stores a record without its chunk), first backfills
   * it from `records` (a database stored before the set was kept: every digest once), then
   * marks it complete. `onStep` hears when the backfill begins.
   */
  async load<R extends { digest: string }>(records: Collection<R>, onStep?: (step: string) => void, backfill = true): Promise<void> {
    // Before the chunks: a chunk written meanwhile is then at or above the watermark.
    const watermark = await readWatermark(this.#db);
    let complete = false;
    for await (const c of this.#chunks.find({})) {
      if (c._id === COMPLETE_MARKER) complete = true;
      else this.#add(c);
    }
    this.#watermark = watermark;
    // The marker says every stored record's digest is in a chunk: a restart then never counts
    // the records (FerretDB answers a count by reading every document: minutes at 10^6).
    this.#complete = complete;
    if (complete || !backfill) return;
    onStep?.('stored digests backfill (counting and reading every record once)');
    if ((await records.estimatedDocumentCount()) > this.stored.size) {
      // Stored before the set was kept: record every digest once.
      const all: string[] = [];
      for await (const r of records.find({}, { projection: { digest: 1 } })) all.push(r.digest);
      await this.remember(-1, all);
    }
    await this.#chunks.insertOne({ _id: COMPLETE_MARKER, i: -2, d: new Binary(Buffer.alloc(0)) }).catch((err: unknown) => {
      if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
    });
    this.#complete = true;
  }

  /**
   * Adds what other processes wrote since the set was loaded: the chunks written since
   * (store/digestwatermark.ts), or every chunk when the cursors do not tell, backfilling from
   * `records` a set not yet complete.
   */
  async catchUp<R extends { digest: string }>(records: Collection<R>, onStep?: (step: string) => void): Promise<void> {
    const then = this.#watermark;
    if (!this.#complete || then === undefined) return this.load(records, onStep);
    const now = await readWatermark(this.#db);
    const since = chunksSince(then, now);
    if (since === undefined) return this.load(records, onStep);
    let marked = false;
    if ('buckets' in since) {
      // The marker first: without it the chunks were cleared, and everything is read again below.
      marked = (await this.#chunks.findOne({ _id: COMPLETE_MARKER }, { projection: { _id: 1 } })) !== null;
      for (const b of marked ? since.buckets : []) for await (const c of this.#chunks.find({ b })) this.#add(c);
    } else {
      for await (const c of this.#chunks.find(since.filter as never)) {
        if (c._id === COMPLETE_MARKER) marked = true;
        else this.#add(c);
      }
    }
    this.#watermark = now;
    // No marker: the chunks were cleared (a rebuild): read them all again, backfilling.
    if (!marked) await this.load(records, onStep);
  }

  #add(c: DigestChunk): void {
    addPrefixBytes(c.k === 'reject' ? this.rejected : this.stored, c.d instanceof Binary ? c.d.buffer : c.d);
  }

  /**
   * Adds `digests` (of stored records, or with `kind` 'reject' of stored rejections) from the batch
   * starting at log index `firstIndex`: one chunk of those not yet in the set. Write-ahead: call
   * it before storing the records it covers.
   */
  async remember(firstIndex: number, digests: readonly string[], kind?: 'reject'): Promise<void> {
    const set = kind === 'reject' ? this.rejected : this.stored;
    const fresh = [...new Set(digests)].filter((d) => !set.has(d));
    if (fresh.length === 0) return;
    await this.#chunks.insertOne({ _id: randomUUID(), i: firstIndex, b: chunkBucket(firstIndex), d: new Binary(prefixBytes(fresh)), ...(kind !== undefined ? { k: kind } : {}) });
    for (const d of fresh) set.add(d);
  }
}

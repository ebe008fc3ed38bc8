/**
 * The set of digests a partner's replica has stored (and, apart, of those it stored a rejection
 * for), so history lookups never scan for indicators the replica has not stored: their first 96
 * bits, 12 bytes each, in memory, asked about before the database. Persisted in
 * `replica_digests` as one append-only chunk per applied batch, written before the batch's
 * records, so after a crash it is a superset of the stored digests (a superset costs a lookup,
 * never a missed check); a database without it is backfilled once at open
 * (docs/adr/2026-12-06-million-indicators.md, Decision 3). Rejection digests are kept the same
 * way in chunks marked `k: "reject"`. Split from indicators.ts, whose sink keeps it.
 */
import { randomUUID } from 'node:crypto';
import { Binary, MongoServerError, type Collection, type Db } from 'mongodb';
import { DigestSet, addPrefixBytes, prefixBytes } from '../domain/digestset.ts';

/** Collection of the persisted digest-membership chunks (append-only; a chunk is never replaced). */
export const REPLICA_DIGESTS = 'replica_digests';

/** One persisted chunk of the set. */
interface DigestChunk {
  /** Random: chunks are only ever added. */
  _id: string;
  /** First log index of the batch the chunk was written for (-1: backfill). */
  i: number;
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

/** The persisted digest-membership sets of one replica database (see the file header). */
export class ReplicaDigests {
  readonly #chunks: Collection<DigestChunk>;
  /** Digests of stored indicator records (a superset after a crash). */
  readonly stored = new DigestSet();
  /** Digests of stored rejections (a superset after a crash). */
  readonly rejected = new DigestSet();

  constructor(db: Db) {
    this.#chunks = db.collection<DigestChunk>(REPLICA_DIGESTS);
  }

  /**
   * Loads every chunk. Unless the set is marked complete, first backfills it from `records` (a
   * database stored before the set was kept: every digest once), then marks it complete.
   * `onStep` hears when the backfill begins.
   */
  async load<R extends { digest: string }>(records: Collection<R>, onStep?: (step: string) => void): Promise<void> {
    let complete = false;
    for await (const c of this.#chunks.find({})) {
      if (c._id === COMPLETE_MARKER) complete = true;
      else addPrefixBytes(c.k === 'reject' ? this.rejected : this.stored, c.d instanceof Binary ? c.d.buffer : c.d);
    }
    // The marker says every stored record's digest is in a chunk: a restart then never counts
    // the records (FerretDB answers a count by reading every document: minutes at 10^6).
    if (complete) return;
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
    await this.#chunks.insertOne({ _id: randomUUID(), i: firstIndex, d: new Binary(prefixBytes(fresh)), ...(kind !== undefined ? { k: kind } : {}) });
    for (const d of fresh) set.add(d);
  }
}

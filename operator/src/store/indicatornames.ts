/**
 * Set-valued reads of a partner's replicated `indicators` for the replica API's
 * `labelSelector=threatmesh.io/name in (…)` (serve/replicaselector.ts): which of a set of
 * object names exist, in one query.
 *
 * Invariants:
 * - On MongoDB (and anything but FerretDB 1.x): one `find({name: {$in: names}})` per call,
 *   whatever the number of names (the caller bounds it), answered by the `object_name` index
 *   (store/indicators.ts creates it).
 * - On FerretDB 1.x with the PostgreSQL backend, which filters `$in` in its own process after
 *   reading every row: one `findOne({name})` per name, `equalityInFlight` at a time. FerretDB
 *   pushes an equality down to PostgreSQL, where the GIN twin of `object_name` answers it
 *   (dev/controlplane/pgequality.ts; docs/adr/2026-12-07-replica-name-lookups.md), so a set costs
 *   its size, not the collection's. On FerretDB's SQLite backend (no pushdown) it stays `$in`.
 * - Names are passed as strings only, so no caller text becomes a query operator.
 * - Names that are not object names (`<type>-<40 hex>`) cannot exist and are not sent.
 * - Records stored before they carried their name are found by their digest and type, in one more
 *   pass over those records for all the missing names, only while the database still holds such
 *   records (asked once: IndicatorPages.hasUnnamed).
 */
import type { AnyBulkWriteOperation, Db } from 'mongodb';
import { objectNameOfDigest } from '../domain/canonical.ts';
import { bulkWriteBounded } from './bulk.ts';
import { digestRange, EVERY_RECORD_NAMED, IndicatorPages, REPLICA_MARKERS, type IndicatorPagesOptions } from './indicatorpages.ts';
import { ignoresSecondaryIndexes } from './indexes.ts';
import { INDICATORS, type IndicatorRecord } from './indicators.ts';
import { readRecord, type StoredIndicatorRecord } from './certificate.ts';

/** Hex digits of the digest in an object name (domain/canonical.ts NAME_DIGEST_CHARS). */
const NAME_DIGEST_CHARS = 40;

/** Whether `name` has the form of a ThreatIndicator object name. */
export function isObjectName(name: string): boolean {
  const r = digestRange(name);
  return r !== undefined && name.length === r.type.length + 1 + NAME_DIGEST_CHARS;
}

/** Options of {@link NamedIndicatorPages}. */
export interface NamedIndicatorPagesOptions extends IndicatorPagesOptions {
  /** Equality queries in flight for one set on FerretDB 1.x. @default 8 */
  readonly equalityInFlight?: number;
}

/** {@link IndicatorPages} plus the set-valued read the replica API's name selector needs. */
export class NamedIndicatorPages extends IndicatorPages {
  readonly #db: Db;
  readonly #inFlight: number;
  #equalities: Promise<boolean> | undefined;

  constructor(db: Db, opts: NamedIndicatorPagesOptions) {
    super(db, opts);
    this.#db = db;
    this.#inFlight = Math.max(1, opts.equalityInFlight ?? 8);
  }

  /** The records whose object name is among `names` (each at most once, in no particular order). */
  async byNames(names: readonly string[]): Promise<IndicatorRecord[]> {
    const wanted = [...new Set(names)].filter(isObjectName);
    if (wanted.length === 0) return [];
    const col = this.#db.collection<StoredIndicatorRecord>(INDICATORS);
    // Asked once; a failed ask is asked again by the next call.
    this.#equalities ??= this.#perName().catch((err: unknown) => {
      this.#equalities = undefined;
      throw err;
    });
    const hits = await this.#equalities ? await this.#eachByName(wanted) : await col.find({ name: { $in: wanted } }).map(readRecord).toArray();
    if (hits.length === wanted.length || !(await this.hasUnnamed())) return hits;
    const found = new Set(hits.map((h) => h.name));
    const missing = new Set(wanted.filter((n) => !found.has(n)));
    // One pass over the unnamed records' digests and types for every missing name (matched here:
    // FerretDB would compare each record with each name's range), then each match by `_id`.
    const older: string[] = [];
    for await (const r of col.find({ name: { $exists: false } }, { projection: { _id: 1, type: 1 }, batchSize: 10_000 })) {
      if (missing.has(objectNameOfDigest(r.type, String(r._id)))) older.push(String(r._id));
    }
    for (const id of older) {
      const r = await col.findOne({ _id: id });
      if (r !== null) hits.push(readRecord(r));
    }
    return hits;
  }

  // Whether to ask one equality per name: FerretDB 1.x on PostgreSQL, told by its explain (a
  // PostgreSQL plan has a "Node Type"). There an equality is pushed down to SQL, indexed by the GIN
  // twin or at worst one scan in SQL, far cheaper than `$in` in Go; on SQLite it is not, and `$in`
  // (one scan) stays.
  async #perName(): Promise<boolean> {
    if (!(await ignoresSecondaryIndexes(this.#db))) return false;
    const plan = await this.#db.command({ explain: { find: INDICATORS, filter: { name: '' } } });
    return JSON.stringify(plan).includes('"Node Type"');
  }

  // One equality per name, #inFlight at a time (FerretDB 1.x: see the module doc).
  async #eachByName(names: readonly string[]): Promise<IndicatorRecord[]> {
    const col = this.#db.collection<StoredIndicatorRecord>(INDICATORS);
    const hits: IndicatorRecord[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < names.length; i = next++) {
        const hit = await col.findOne({ name: names[i]! }).catch((err: unknown) => {
          next = names.length; // the set has failed: the other workers stop asking
          throw err;
        });
        if (hit !== null) hits.push(readRecord(hit));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#inFlight, names.length) }, worker));
    return hits;
  }
}

/** Whether the marker {@link EVERY_RECORD_NAMED} is set (one read by `_id`). */
export async function everyRecordNamed(db: Db): Promise<boolean> {
  return (await db.collection<{ _id: string }>(REPLICA_MARKERS).findOne({ _id: EVERY_RECORD_NAMED })) !== null;
}

/**
 * Gives every record stored without its object name (versions before 2026-12-06) its `name`, then
 * sets {@link EVERY_RECORD_NAMED}, so readers stop asking (on FerretDB 1.x the question is a scan
 * of the collection). One pass over the unnamed records, written 25 per command; nothing once the
 * marker is set. Idempotent: a crash before the marker repeats the pass, which finds fewer records.
 * The marker is set only after every write succeeded. Returns the records named.
 */
export async function nameUnnamedRecords(db: Db): Promise<number> {
  if (await everyRecordNamed(db)) return 0;
  const col = db.collection<IndicatorRecord>(INDICATORS);
  let ops: Array<AnyBulkWriteOperation<IndicatorRecord>> = [];
  let named = 0;
  for await (const r of col.find({ name: { $exists: false } }, { projection: { _id: 1, type: 1 }, batchSize: 10_000 })) {
    const id = String(r._id);
    ops.push({ updateOne: { filter: { _id: id }, update: { $set: { name: objectNameOfDigest(r.type, id) } } } });
    if (ops.length < 1000) continue;
    named += ops.length;
    await bulkWriteBounded(col, ops);
    ops = [];
  }
  if (ops.length > 0) await bulkWriteBounded(col, ops);
  named += ops.length;
  await db.collection<{ _id: string; at: Date }>(REPLICA_MARKERS).updateOne({ _id: EVERY_RECORD_NAMED }, { $set: { at: new Date() } }, { upsert: true });
  return named;
}

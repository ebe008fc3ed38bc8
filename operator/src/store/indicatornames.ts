/**
 * Set-valued reads of a partner's replicated `indicators` for the replica API's
 * `labelSelector=threatmesh.io/name in (…)` (serve/replicaselector.ts): which of a set of
 * object names exist, in one query.
 *
 * Invariants:
 * - One `find({name: {$in: names}})` per call, whatever the number of names (the caller bounds
 *   it); on MongoDB the `object_name` index answers it (store/indicators.ts creates it). Names
 *   are passed as strings only, so no caller text becomes a query operator.
 * - Names that are not object names (`<type>-<40 hex>`) cannot exist and are not sent.
 * - Records stored before they carried their name are found by their digest ranges, in one more
 *   query for all the missing names, only while the database still holds such records (asked once).
 */
import type { Db } from 'mongodb';
import { digestRange, IndicatorPages, type IndicatorPagesOptions } from './indicatorpages.ts';
import { INDICATORS, type IndicatorRecord } from './indicators.ts';
import { readRecord, type StoredIndicatorRecord } from './certificate.ts';

/** Hex digits of the digest in an object name (domain/canonical.ts NAME_DIGEST_CHARS). */
const NAME_DIGEST_CHARS = 40;

/** Whether `name` has the form of a ThreatIndicator object name. */
export function isObjectName(name: string): boolean {
  const r = digestRange(name);
  return r !== undefined && name.length === r.type.length + 1 + NAME_DIGEST_CHARS;
}

/** {@link IndicatorPages} plus the set-valued read the replica API's name selector needs. */
export class NamedIndicatorPages extends IndicatorPages {
  readonly #db: Db;
  #unnamed: Promise<boolean> | undefined;

  constructor(db: Db, opts: IndicatorPagesOptions) {
    super(db, opts);
    this.#db = db;
  }

  /** The records whose object name is among `names` (each at most once, in no particular order). */
  async byNames(names: readonly string[]): Promise<IndicatorRecord[]> {
    const wanted = [...new Set(names)].filter(isObjectName);
    if (wanted.length === 0) return [];
    const col = this.#db.collection<StoredIndicatorRecord>(INDICATORS);
    const hits: IndicatorRecord[] = await col.find({ name: { $in: wanted } }).map(readRecord).toArray();
    if (hits.length === wanted.length || !(await this.#hasUnnamed())) return hits;
    const found = new Set(hits.map((h) => h.name));
    const missing = wanted.filter((n) => !found.has(n)).map((n) => ({ name: n, range: digestRange(n)! }));
    // One query for every missing name: the unnamed records whose digest starts with a missing name's digest part.
    const older = await col.find({ name: { $exists: false }, $or: missing.map((m) => ({ _id: { $gte: m.range.from, $lt: m.range.to } })) }).map(readRecord).toArray();
    for (const r of older) if (missing.some((m) => m.range.type === r.type && r.digest >= m.range.from && r.digest < m.range.to)) hits.push(r);
    return hits;
  }

  // Whether records stored before they carried a name exist (asked once; new records always have one).
  async #hasUnnamed(): Promise<boolean> {
    this.#unnamed ??= this.#db.collection<IndicatorRecord>(INDICATORS).findOne({ name: { $exists: false } }, { projection: { _id: 1 } }).then((d) => d !== null);
    return this.#unnamed;
  }
}

/**
 * Query building blocks over the partner's replicated data, shared by the trend and report
 * stores: collection names, the TLP filter, window filters on ISO strings, and the sightings
 * of a window. Everything stays inside what FerretDB 1.24 runs (docs/controlplane.md): plain
 * filters with $and/$or/$in/$nin/$exists, and $group with a single $sum.
 */
import type { Collection, Db, Filter } from 'mongodb';
import { INDICATORS } from '../store/indicators.ts';
import type { StoredIndicatorRecord } from '../store/certificate.ts';
import { SIGHTINGS, type SightingDoc } from '../store/sightings.ts';
import type { Window } from './period.ts';
import { tlpsUpTo, type Tlp } from './tlp.ts';

// The sightings contract is match/'s, kept by its store: one document per digest per hour bucket.
export { SIGHTINGS, type SightingDoc };

/** The partner's indicators and sightings collections. */
export interface ReportCollections {
  /** Read records through readRecord (store/certificate.ts): the certificate may be stored as text. */
  readonly indicators: Collection<StoredIndicatorRecord>;
  readonly sightings: Collection<SightingDoc>;
}

/** The collections of `db`. */
export function collectionsOf(db: Db): ReportCollections {
  return { indicators: db.collection<StoredIndicatorRecord>(INDICATORS), sightings: db.collection<SightingDoc>(SIGHTINGS) };
}

/** Records at or below `ceiling` (no TLP counts as clear); an empty filter for red. */
export function tlpFilter(ceiling: Tlp): Filter<StoredIndicatorRecord> {
  if (ceiling === 'red') return {};
  return { $or: [{ 'meta.tlp': { $in: tlpsUpTo(ceiling) } }, { 'meta.tlp': { $exists: false } }] };
}

/** A filter on an ISO 8601 string field inside `w` (the strings sort as the times do: toISOString everywhere). */
export function isoRange(field: string, w: Window): Filter<StoredIndicatorRecord> {
  return { [field]: { $gte: w.since.toISOString(), $lt: w.until.toISOString() } };
}

/** Both filters. */
export function and(...filters: ReadonlyArray<Filter<StoredIndicatorRecord>>): Filter<StoredIndicatorRecord> {
  const parts = filters.filter((f) => Object.keys(f).length > 0);
  return parts.length === 1 ? parts[0]! : ({ $and: parts });
}

/** Sightings documents inside `w`, minus the excluded digests. */
export function sightingsFilter(w: Window, exclude: readonly string[], digests?: readonly string[]): Filter<SightingDoc> {
  const digest = { ...(exclude.length > 0 ? { $nin: [...exclude] } : {}), ...(digests !== undefined ? { $in: [...digests] } : {}) };
  return { bucketStart: { $gte: w.since, $lt: w.until }, ...(Object.keys(digest).length > 0 ? { digest } : {}) };
}

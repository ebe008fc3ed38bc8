/**
 * Secondary indexes that only pay on a database that reads them (docs/adr/2026-12-07-replica-write-cost.md).
 *
 * FerretDB 1.x (the local and test database) never reads a secondary index: its PostgreSQL
 * backend pushes an equality down as `_jsonb->$1 @> $2`, with the field name as a parameter,
 * which no expression index matches, and its SQLite backend scans even for `_id` (docs/adr/
 * 2026-12-06-taxii-serving-index.md). Every query but an `_id` equality is a scan there, with or
 * without the index, while every insert still evaluates and stores each index expression: on the
 * replica's apply path that was most of the database's CPU per entry. So a store creates its
 * query indexes through {@link ensureQueryIndexes}, which skips them on FerretDB 1.x and creates
 * them (idempotently) on MongoDB and anything else, where the queries use them. Unique indexes
 * are constraints, not query aids: they are always created by the store itself.
 */
import type { Collection, Db, Document } from 'mongodb';

/** One query index: its name and keys. */
export type QueryIndex = readonly [name: string, keys: Readonly<Record<string, 1 | -1>>];

/**
 * True when `db` is served by FerretDB 1.x ({@link isFerretDb1}), which reads no secondary
 * index; false for MongoDB, FerretDB 2 and anything else.
 */
export async function ignoresSecondaryIndexes(db: Db): Promise<boolean> {
  return isFerretDb1(await db.admin().command({ buildInfo: 1 }));
}

/**
 * True when a `buildInfo` answer is FerretDB 1.x's: it has a `ferretdbVersion` (only FerretDB
 * answers one) that does not name major 2 or later. A FerretDB built from source without its
 * version file (as e2e/controlplane/build.sh builds the pinned 1.24.2) answers "unknown", so that
 * counts as 1.x: the worst case, a FerretDB 2 built that way, loses index speed, never data.
 */
export function isFerretDb1(buildInfo: Readonly<Record<string, unknown>>): boolean {
  const version = buildInfo['ferretdbVersion'];
  return typeof version === 'string' && !/^v?([2-9]|\d{2,})\./.test(version);
}

/**
 * Creates `indexes` on `col` (idempotent) unless the database ignores secondary indexes
 * ({@link ignoresSecondaryIndexes}); there it drops those of them an earlier version created, so
 * an upgraded partner stops paying for them too. Returns whether they are in place. `ignored`:
 * the answer when the caller has it already.
 */
export async function ensureQueryIndexes<T extends Document>(db: Db, col: Collection<T>, indexes: readonly QueryIndex[], ignored?: boolean): Promise<boolean> {
  if (!(ignored ?? await ignoresSecondaryIndexes(db))) {
    for (const [name, keys] of indexes) await col.createIndex({ ...keys }, { name });
    return true;
  }
  await dropIndexes(col, indexes.map(([name]) => name));
  return false;
}

/** Drops those of the indexes named `names` that exist on `col` (a missing collection has none). */
export async function dropIndexes<T extends Document>(col: Collection<T>, names: readonly string[]): Promise<void> {
  const listed: ReadonlyArray<{ name?: unknown }> = await col.listIndexes().toArray().catch(() => []);
  const existing = new Set(listed.map((i) => String(i.name)));
  for (const name of names) if (existing.has(name)) await col.dropIndex(name);
}

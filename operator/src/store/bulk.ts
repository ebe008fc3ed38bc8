/**
 * Bulk writes whose statements update or replace existing documents, sent as several commands
 * of at most {@link UPDATES_PER_COMMAND} statements each instead of one command per 500 or more.
 *
 * Why: FerretDB 1.24 (the local and test database) keeps the query of each update statement that
 * matched a document open, holding one pooled connection to its storage, until the whole
 * `update` command ends. A command with more matched statements than the pool has connections
 * (PostgreSQL backend: 50 by default; SQLite backend: 100) waits for a connection that never
 * comes, and every other client of that FerretDB waits with it
 * (docs/adr/2026-12-06-million-indicators.md Decision 2). Bounding the statements per command
 * bounds what one command holds; the local PostgreSQL also gives FerretDB a larger pool
 * (dev/controlplane/postgres.ts), so several such commands fit at once. MongoDB is not
 * affected: there the bound costs one round trip per {@link UPDATES_PER_COMMAND} statements.
 * Inserts and deletes need no bound (FerretDB closes their queries per statement).
 */
import type { AnyBulkWriteOperation, Collection, Document } from 'mongodb';

/**
 * Statements per command: half of FerretDB's default pool of 50 connections, so that two such
 * commands at once cannot exhaust even a default pool.
 */
export const UPDATES_PER_COMMAND = 25;

/** What a bounded bulk write did, summed over its commands. */
export interface BulkCounts {
  readonly matched: number;
  readonly modified: number;
  readonly upserted: number;
}

/**
 * Runs `ops` as unordered bulk writes of at most `perCommand` statements, one command after the
 * other; a failed command throws (the driver's MongoBulkWriteError) and the rest are not sent.
 */
export async function bulkWriteBounded<T extends Document>(col: Collection<T>, ops: ReadonlyArray<AnyBulkWriteOperation<T>>, perCommand = UPDATES_PER_COMMAND): Promise<BulkCounts> {
  if (!Number.isInteger(perCommand) || perCommand < 1) throw new Error(`bulkWriteBounded: perCommand must be a positive integer, got ${perCommand}`);
  let matched = 0;
  let modified = 0;
  let upserted = 0;
  for (let i = 0; i < ops.length; i += perCommand) {
    const r = await col.bulkWrite(ops.slice(i, i + perCommand), { ordered: false });
    matched += r.matchedCount;
    modified += r.modifiedCount;
    upserted += r.upsertedCount;
  }
  return { matched, modified, upserted };
}

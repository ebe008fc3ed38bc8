/**
 * How far a loaded digest-membership set (store/indicators.ts) is known to reach, so a process
 * that loaded it before it led (a standby) or in an earlier term brings it up to date by reading
 * only the chunks written since (docs/adr/2026-12-07-standby-preparation.md).
 *
 * Invariants the catch-up relies on:
 * - A chunk is written by the replica's apply for a batch of one source's log, with `i` = the
 *   batch's first index, before the batch's records and before that source's cursor moves past
 *   the batch. So once a source's cursor reads `n`, every later chunk of that source has `i ≥ n`
 *   (a replay starts at the saved cursor, and a cursor only moves forward).
 * - The cursors are read before the chunks: a chunk written meanwhile has `i` at or above the
 *   cursor read, so it is read again by the next catch-up, never missed (a chunk read twice only
 *   adds digests the set holds).
 * - Anything that breaks the first invariant shows in the cursors: a source that appeared (its
 *   log starts at 0), a cursor removed or moved back (`threatmesh replica rebuild`). Then the
 *   watermark says nothing and the caller reads every chunk.
 * - Chunks with `i < 0` (a backfill's, the completeness marker) carry no position: always read.
 */
import type { Db, Filter } from 'mongodb';
import { REPLICA_CURSORS } from './cursor.ts';

/** Each source's cursor (`nextIndex`), read before the chunks were. */
export type ChunkWatermark = ReadonlyMap<string, number>;

/** The cursors of every source in `db` (a small collection: one document per source). */
export async function readWatermark(db: Db): Promise<ChunkWatermark> {
  const docs = await db.collection<{ _id: string; nextIndex?: number }>(REPLICA_CURSORS).find({}, { projection: { _id: 1, nextIndex: 1 } }).toArray();
  return new Map(docs.map((d) => [String(d._id), typeof d.nextIndex === 'number' ? d.nextIndex : 0]));
}

/**
 * The filter of the chunks a set loaded at `then` lacks, given the cursors read `now`; undefined
 * when a source appeared or vanished or a cursor moved back since (read every chunk then).
 */
export function chunksSince(then: ChunkWatermark, now: ChunkWatermark): Filter<{ i: number }> | undefined {
  if (then.size !== now.size) return undefined;
  let floor = Number.POSITIVE_INFINITY;
  for (const [source, was] of then) {
    const is = now.get(source);
    if (is === undefined || is < was) return undefined;
    floor = Math.min(floor, was);
  }
  if (floor === Number.POSITIVE_INFINITY) floor = 0;
  return { $or: [{ i: { $gte: floor } }, { i: { $lt: 0 } }] };
}

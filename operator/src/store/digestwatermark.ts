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
 * - Chunks with `i < 0` (a backfill's, the completeness marker) carry no position: always read
 *   by the scan. A backfill chunk is written only before the marker exists, so a set loaded with
 *   the marker has them all; the bucket reads below skip them and only check the marker is there.
 *
 * Reading by bucket (docs/adr/2026-12-07-standby-preparation.md, addendum "Catch-up by bucket"):
 * FerretDB 1.x pushes no range filter down, so `i ≥ n` reads every chunk; it pushes an equality
 * down, which the local PostgreSQL answers from an index (pgequality.ts). So a chunk also carries
 * `b`, its bucket of {@link CHUNK_BUCKET} log indexes, and the catch-up reads the buckets from the
 * lowest cursor then to the highest now, one equality each. That is complete only if every chunk
 * written since carries `b`, i.e. no older version wrote one. The cursors tell: each cursor saved
 * by this version names the term that saved it (store/cursor.ts `w`), and terms do not interleave.
 * When every source's cursor names the same term now as at the load, every save between was that
 * term's, so every chunk below the cursors written since is that term's (with `b`), and a chunk of
 * a later term that saved no cursor has `i` at the cursor, in the last bucket read. Otherwise
 * (a cursor without a term, another term, too many buckets) the catch-up scans as before.
 */
import type { Db, Filter } from 'mongodb';
import { CURSOR_WRITER, REPLICA_CURSORS } from './cursor.ts';

/** One source's cursor as a watermark saw it: its position and the term that saved it (undefined: saved by an older version). */
export interface CursorMark {
  readonly next: number;
  readonly writer: string | undefined;
}

/** Each source's cursor, read before the chunks were. */
export type ChunkWatermark = ReadonlyMap<string, CursorMark>;

/** Log indexes per bucket: a chunk's `b` is `floor(i / CHUNK_BUCKET)` (-1 for `i < 0`). */
export const CHUNK_BUCKET = 1024;

/** Most buckets a catch-up reads one by one; a larger gap scans (about as cheap then, and one query). */
export const MAX_BUCKET_READS = 64;

/** The bucket of a chunk written for the batch starting at log index `i`. */
export function chunkBucket(i: number): number {
  return i < 0 ? -1 : Math.floor(i / CHUNK_BUCKET);
}

/** The cursors of every source in `db` (a small collection: one document per source). */
export async function readWatermark(db: Db): Promise<ChunkWatermark> {
  const docs = await db.collection<{ _id: string; nextIndex?: number; [CURSOR_WRITER]?: string }>(REPLICA_CURSORS).find({}, { projection: { _id: 1, nextIndex: 1, [CURSOR_WRITER]: 1 } }).toArray();
  return new Map(docs.map((d) => [String(d._id), { next: typeof d.nextIndex === 'number' ? d.nextIndex : 0, writer: typeof d[CURSOR_WRITER] === 'string' ? d[CURSOR_WRITER] : undefined }]));
}

/** How to read the chunks a set lacks: the buckets, one equality each, or a filter that scans. */
export type ChunkRead = { readonly buckets: readonly number[] } | { readonly filter: Filter<{ i: number }> };

/**
 * How to read the chunks a set loaded at `then` lacks, given the cursors read `now` (see the file
 * header); undefined when a source appeared or vanished or a cursor moved back since (read every
 * chunk then).
 */
export function chunksSince(then: ChunkWatermark, now: ChunkWatermark): ChunkRead | undefined {
  if (then.size !== now.size) return undefined;
  let floor = Number.POSITIVE_INFINITY;
  let top = 0;
  let sameTerm = true;
  for (const [source, was] of then) {
    const is = now.get(source);
    if (is === undefined || is.next < was.next) return undefined;
    floor = Math.min(floor, was.next);
    top = Math.max(top, is.next);
    sameTerm &&= was.writer !== undefined && is.writer === was.writer;
  }
  if (floor === Number.POSITIVE_INFINITY) floor = 0;
  const first = chunkBucket(floor);
  const last = chunkBucket(top);
  if (sameTerm && then.size > 0 && last - first < MAX_BUCKET_READS) return { buckets: Array.from({ length: last - first + 1 }, (_, k) => first + k) };
  return { filter: { $or: [{ i: { $gte: floor } }, { i: { $lt: 0 } }] } };
}

/**
 * Drift repair of a partner cluster's working set (materializer.ts, docs/adr/2026-12-06-million-indicators.md):
 * once the materializer is idle, ThreatIndicators below the floor are evicted (never pinned or
 * annotated ones; each deleted only as listed, so one written since is judged again, never lost),
 * and every record at or above the floor, plus the pinned ones kept below it, is compared with
 * the partner database and written where the cluster differs from the log. Split from
 * service.ts, which runs it when due.
 */
import type { Db } from 'mongodb';
import { THREAT_INDICATORS } from '../../api/schemas/index.ts';
import type { ThreatIndicator } from '../../api/types.ts';
import { indicatorDigest } from '../../domain/canonical.ts';
import type { Logger } from '../../log.ts';
import { ApiError, asRead, listFrom, type KubeClient } from '../../runtime/client.ts';
import { failureBackoffMs } from '../../runtime/ratelimit.ts';
import type { CacheReader } from '../../runtime/types.ts';
import type { MongoIndicatorSink } from '../../store/indicators.ts';
import { WriteStopped, type KubeIndicatorSink } from './kubesink.ts';
import { evictable, materializeFloor, recordPosition, type Materializer } from './materializer.ts';

/** Collection of the position the working set is written up to (one document, `_id` {@link WRITTEN_MARK_ID}). */
export const WORKING_SET_MARK = 'replica_working_set';
const WRITTEN_MARK_ID = 'written';

/** Collection of the verified entries the cluster refused to store (`_id` = log index). */
export const UNMATERIALIZED = 'replica_unmaterialized';

/** Everything {@link repairWorkingSet} works with. */
export interface WorkingSetParts {
  readonly client: KubeClient;
  /** Informer cache of ThreatIndicators. @default none (lists from the API server) */
  readonly cache?: CacheReader<ThreatIndicator>;
  readonly namespace: string;
  readonly materializer: Materializer;
  readonly kube: KubeIndicatorSink;
  readonly mongo: MongoIndicatorSink;
  readonly log: Logger;
}

/**
 * Evicts what is below the working set's floor, then judges every record against the cluster.
 * `signal` (the exchange's stop) stops it between objects, never between the delete and create
 * of one recreate: a repair left running after its process lost the Lease wrote as a non-leader
 * and was cut by the process's exit mid-recreate (chaos seed 7122026 trial 19: 31 objects
 * deleted, re-created by the next term's repair).
 */
export async function repairWorkingSet(p: WorkingSetParts, signal?: AbortSignal): Promise<void> {
  await p.materializer.idle();
  const floor = p.materializer.floor;
  const listed = await listFrom<ThreatIndicator>(p.cache, p.client, THREAT_INDICATORS, { namespace: p.namespace });
  const { gone, changed } = await evict(p, listed, floor, signal);
  // Objects written since the list (a revocation, a re-admission) are judged as they are now.
  const objects = listed.filter((o) => !gone.has(o.metadata.name)).map((o) => changed.get(o.metadata.name) ?? o);
  // Pinned and annotated objects below the floor stay; their records keep them true to the log.
  const kept = objects.filter((o) => o.status?.logIndex !== undefined && o.status.logIndex < floor).map((o) => indicatorDigest({ type: o.spec.type, value: o.spec.value }));
  // The repair judges every record against this one list (or the cache): no read per record.
  await p.kube.repair(await p.mongo.recent(floor, kept), objects, signal);
}

/** What an eviction did: the objects it deleted (or found gone), and the ones written since the list, read again and kept. */
export interface Eviction {
  readonly gone: ReadonlySet<string>;
  readonly changed: ReadonlyMap<string, Readonly<ThreatIndicator>>;
}

/**
 * Deletes the objects of `listed` that are {@link evictable} below `floor`, each only as the list
 * showed it (preconditions: its uid and resourceVersion): the list may be minutes old by the time
 * its last object is deleted, and an object written since (a REVOKE that moved it above the
 * floor, a re-admission, an analyst's pin) must be judged again, never deleted on the old
 * judgement. A 409 reads the object once and judges it again: still evictable, it is deleted as
 * read; a second 409 leaves it to the next repair. A 404 means it is gone already. Once `signal`
 * aborts it stops before the next object ({@link WriteStopped}).
 */
export async function evict(p: Pick<WorkingSetParts, 'client' | 'namespace' | 'log'>, listed: ReadonlyArray<Readonly<ThreatIndicator>>, floor: number, signal?: AbortSignal): Promise<Eviction> {
  const gone = new Set<string>();
  const changed = new Map<string, Readonly<ThreatIndicator>>();
  const candidates = new Set(evictable(listed, floor));
  for (const o of listed) {
    if (!candidates.has(o.metadata.name)) continue;
    if (signal?.aborted === true) throw new WriteStopped();
    const left = await evictOne(p, o, floor);
    if (left === undefined) gone.add(o.metadata.name);
    else changed.set(o.metadata.name, left);
  }
  if (gone.size > 0 || changed.size > 0) p.log.info('working set: evicted ThreatIndicators below the budget', { namespace: p.namespace, evicted: gone.size, floor, keptChangedSinceList: changed.size });
  return { gone, changed };
}

// Undefined when `o` is gone; else the object as it is now (written since the list, not deleted).
async function evictOne(p: Pick<WorkingSetParts, 'client' | 'namespace'>, o: Readonly<ThreatIndicator>, floor: number): Promise<Readonly<ThreatIndicator> | undefined> {
  if (await deleteAsRead(p, o)) return undefined;
  const live = await p.client.get<ThreatIndicator>(THREAT_INDICATORS, o.metadata.name, p.namespace);
  if (live === undefined) return undefined;
  if (evictable([live], floor).length === 0) return live;
  // Still below the floor as it is now: deleted as read again (a second conflict leaves it to the next repair).
  return await deleteAsRead(p, live) ? undefined : live;
}

// True when `o` was deleted as it was read (or is gone); false on 409: written or recreated since.
async function deleteAsRead(p: Pick<WorkingSetParts, 'client' | 'namespace'>, o: Readonly<ThreatIndicator>): Promise<boolean> {
  try {
    await p.client.delete(THREAT_INDICATORS, o.metadata.name, p.namespace, asRead(o));
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return true;
    if (err instanceof ApiError && err.status === 409) return false;
    throw err;
  }
}

/** Keeps a verified entry the API server refused in {@link UNMATERIALIZED}; returns how many are kept there. */
export async function recordUnmaterialized(db: Db, entry: { index: number; digest: string; indicator: { type: string } }, why: string, at: Date): Promise<number> {
  await db.collection<{ _id: number }>(UNMATERIALIZED).replaceOne({ _id: entry.index }, { digest: entry.digest, type: entry.indicator.type, why, at: at.toISOString() }, { upsert: true });
  return db.collection(UNMATERIALIZED).countDocuments();
}

/** The position the cluster's working set is written up to (Materializer `onWritten`), or undefined when none was saved. */
export async function loadWrittenMark(db: Db): Promise<number | undefined> {
  const doc = await db.collection<{ _id: string; nextIndex: number }>(WORKING_SET_MARK).findOne({ _id: WRITTEN_MARK_ID });
  return typeof doc?.nextIndex === 'number' ? doc.nextIndex : undefined;
}

/** Saves the written-up-to position; never moves it back (an overlapping older process may report a lower one). */
export async function saveWrittenMark(db: Db, nextIndex: number): Promise<void> {
  await db.collection<{ _id: string; nextIndex: number }>(WORKING_SET_MARK).updateOne({ _id: WRITTEN_MARK_ID }, { $max: { nextIndex } }, { upsert: true });
}

/**
 * After a restart: the records at or above the saved mark (applied to the partner database by an
 * earlier process whose in-memory queue died with it) are handed to the materializer before any
 * new entry, so the cluster catches up within seconds, not at the next drift repair. Without a
 * saved mark (a first start) nothing is resumed. Either way the materializer learns the
 * replicated log's size, so its floor is the earlier process's from the start: a floor of 0 until
 * the next entry arrived made the first drift repair re-create every object the earlier process
 * had evicted (2,025 in chaos trial 39, docs/adr/2026-12-07-chaos-drift-repairs.md). Returns how
 * many records were resumed.
 */
export async function resumeWorkingSet(p: Pick<WorkingSetParts, 'materializer' | 'mongo' | 'log'> & { readonly db: Db; readonly treeSize: number; readonly budget: number }): Promise<number> {
  const mark = await loadWrittenMark(p.db);
  const from = Math.max(mark ?? p.treeSize, materializeFloor(p.treeSize, p.budget));
  const records = mark === undefined ? [] : (await p.mongo.recent(from)).filter((r) => recordPosition(r) >= from);
  if (records.length > 0) p.log.info('working set: writing the records an earlier process may not have written to the cluster', { from, records: records.length });
  p.materializer.resume(records, p.treeSize);
  return records.length;
}

/**
 * How long after a drift repair the next one is due: the period, or after `failures` failed
 * repairs in a row a backoff from `retryMs` doubling up to the period (the records a failed
 * repair left stay wrong meanwhile).
 */
export function repairWaitMs(failures: number, periodMs: number, retryMs: number): number {
  return failures === 0 ? periodMs : failureBackoffMs(failures, retryMs, periodMs);
}

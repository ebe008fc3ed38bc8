/**
 * Sightings and scan checkpoints in the partner's MongoDB.
 *
 * Collections:
 * - `sightings` (the data contract read by report/): one document per indicator digest per hour
 *   bucket: `{_id: "<digest>:<bucketStart ISO>", digest, type, value, partnerId, bucketStart:
 *   Date, count, firstSeen: Date, lastSeen: Date, sources: {<sourceType>: count}, updatedAt: Date}`;
 *   `updatedAt` (when the rollup last wrote it) lets the sightings pusher (match/push.ts) send
 *   only what changed since its last push to a peer.
 * - `sighting_parts`: what one shard of one scan saw of one indicator in one hour,
 *   `_id: "<planId>:<shard>:<digest>:<bucketStart ISO>"`. Written with $set, so a shard that
 *   runs again (its worker was killed) overwrites its own parts: nothing is counted twice.
 * - `scan_shards`: the shard plan and the per-shard checkpoint (`state` pending → running →
 *   done | failed, the attempt that holds it, progress, the result counts).
 * A sighting is never incremented: it is recomputed from all parts of its (digest, hour) by
 * `rollupShard`, which one writer (the LogScan controller) calls one shard at a time, so
 * concurrent recomputes cannot lose an update.
 */
import type { Collection, Db } from 'mongodb';
import { bulkWriteBounded } from './bulk.ts';

/** Collection names. */
export const SIGHTINGS = 'sightings';
export const SIGHTING_PARTS = 'sighting_parts';
export const SCAN_SHARDS = 'scan_shards';

/** A document of the `sightings` collection (the contract). */
export interface SightingDoc {
  _id: string;
  digest: string;
  type: string;
  value: string;
  partnerId: string;
  bucketStart: Date;
  count: number;
  firstSeen: Date;
  lastSeen: Date;
  sources: Record<string, number>;
  /** When the rollup last wrote this document (absent on documents written before it existed). */
  updatedAt?: Date;
}

/** Where a push to one peer got to: the last document sent, in (updatedAt, _id) order. */
export interface PushPosition {
  readonly updatedAt: Date;
  readonly id: string;
}

/** What one shard saw of one indicator in one hour. */
export interface SightingPart {
  digest: string;
  type: string;
  value: string;
  bucketStart: Date;
  count: number;
  firstSeen: Date;
  lastSeen: Date;
  sources: Record<string, number>;
}

interface PartDoc extends SightingPart {
  _id: string;
  planId: string;
  shard: number;
}

/** Shard states. */
export type ShardState = 'pending' | 'running' | 'done' | 'failed';

/** Progress of a running shard. */
export interface ShardProgressDoc {
  inputBytes: number;
  bytes: number;
  lines: number;
  matchedRecords: number;
}

/** The result of a finished shard. */
export interface ShardResultDoc {
  lines: number;
  bytes: number;
  matchedRecords: number;
  indicators: number;
  rejected: Record<string, number>;
  outsideTimeRange: number;
}

/** One shard of a plan, as stored. */
export interface ShardDoc {
  _id: string;
  planId: string;
  index: number;
  /** Where the bytes are (no credentials). */
  input: Record<string, string>;
  range?: { start: number; end: number } | undefined;
  bytes?: number | undefined;
  state: ShardState;
  attempts: number;
  attemptId?: string;
  startedAt?: Date;
  finishedAt?: Date;
  progress?: ShardProgressDoc;
  result?: ShardResultDoc;
  error?: string;
  rolledUp?: boolean;
}

const DUPLICATE_KEY = 11000;

/** The sighting of one (digest, hour) from all its parts (at least one). */
function sum(parts: readonly PartDoc[], partnerId: string, updatedAt: Date): Omit<SightingDoc, '_id'> {
  const first = parts[0] as PartDoc;
  const sources: Record<string, number> = {};
  let count = 0;
  let firstSeen = first.firstSeen;
  let lastSeen = first.lastSeen;
  for (const p of parts) {
    count += p.count;
    if (p.firstSeen < firstSeen) firstSeen = p.firstSeen;
    if (p.lastSeen > lastSeen) lastSeen = p.lastSeen;
    for (const [k, v] of Object.entries(p.sources)) sources[k] = (sources[k] ?? 0) + v;
  }
  return { digest: first.digest, type: first.type, value: first.value, partnerId, bucketStart: first.bucketStart, count, firstSeen, lastSeen, sources, updatedAt };
}

function shardId(planId: string, index: number): string {
  return `${planId}:${index}`;
}

/** The key of a sighting: `<digest>:<bucketStart ISO>`. */
export function sightingId(digest: string, bucketStart: Date): string {
  return `${digest}:${bucketStart.toISOString()}`;
}

/** The scan store; see the module doc. */
export class MongoScanStore {
  readonly #sightings: Collection<SightingDoc>;
  readonly #parts: Collection<PartDoc>;
  readonly #shards: Collection<ShardDoc>;
  readonly #now: () => Date;

  private constructor(db: Db, now: () => Date) {
    this.#sightings = db.collection<SightingDoc>(SIGHTINGS);
    this.#parts = db.collection<PartDoc>(SIGHTING_PARTS);
    this.#shards = db.collection<ShardDoc>(SCAN_SHARDS);
    this.#now = now;
  }

  /** Opens the store and creates its indexes (idempotent); `now` stamps rolled-up sightings. */
  static async open(db: Db, now: () => Date = () => new Date()): Promise<MongoScanStore> {
    const s = new MongoScanStore(db, now);
    await s.#parts.createIndex({ planId: 1, shard: 1 }, { name: 'plan_shard' });
    await s.#parts.createIndex({ digest: 1, bucketStart: 1 }, { name: 'digest_bucket' });
    await s.#shards.createIndex({ planId: 1, index: 1 }, { name: 'plan_index' });
    await s.#sightings.createIndex({ digest: 1, bucketStart: 1 }, { name: 'digest_bucket' });
    await s.#sightings.createIndex({ updatedAt: 1, _id: 1 }, { name: 'updated' });
    return s;
  }

  /** Stores a plan; shards already stored (a plan saved twice) are kept as they are. */
  async savePlan(planId: string, shards: ReadonlyArray<Omit<ShardDoc, '_id' | 'planId' | 'state' | 'attempts'>>): Promise<void> {
    if (shards.length === 0) return;
    const docs: ShardDoc[] = shards.map((s) => ({ ...s, _id: shardId(planId, s.index), planId, state: 'pending', attempts: 0 }));
    try {
      await this.#shards.insertMany(docs, { ordered: false });
    } catch (err) {
      const e = err as { code?: number; writeErrors?: Array<{ code?: number }> | { code?: number } };
      const errors = [e.writeErrors ?? []].flat();
      if (e.code !== DUPLICATE_KEY && (errors.length === 0 || errors.some((x) => x.code !== DUPLICATE_KEY))) throw err;
    }
  }

  /** Every shard of a plan, by index. */
  async shards(planId: string): Promise<ShardDoc[]> {
    return this.#shards.find({ planId }).sort({ index: 1 }).toArray();
  }

  /** One shard, or undefined. */
  async shard(planId: string, index: number): Promise<ShardDoc | undefined> {
    return (await this.#shards.findOne({ _id: shardId(planId, index) })) ?? undefined;
  }

  /** Takes a shard for attempt `attemptId` (a new attempt replaces a dead one). Returns false when the shard is already done. */
  async startShard(planId: string, index: number, attemptId: string, now: Date): Promise<boolean> {
    const r = await this.#shards.updateOne(
      { _id: shardId(planId, index), state: { $ne: 'done' } },
      { $set: { state: 'running', attemptId, startedAt: now, progress: { inputBytes: 0, bytes: 0, lines: 0, matchedRecords: 0 } }, $inc: { attempts: 1 }, $unset: { error: '' } },
    );
    return r.matchedCount === 1;
  }

  /** Records progress of the attempt holding the shard (an outdated attempt writes nothing). */
  async progress(planId: string, index: number, attemptId: string, p: ShardProgressDoc): Promise<void> {
    await this.#shards.updateOne({ _id: shardId(planId, index), attemptId, state: 'running' }, { $set: { progress: p } });
  }

  /**
   * Finishes a shard: writes its parts (overwriting those of earlier attempts of the same shard),
   * then marks it done with its result: the checkpoint. Idempotent.
   */
  async finishShard(planId: string, index: number, attemptId: string, done: { readonly parts: readonly SightingPart[]; readonly result: ShardResultDoc }, now: Date): Promise<void> {
    const { parts, result } = done;
    const ops = parts.map((p) => {
      const _id = `${planId}:${index}:${sightingId(p.digest, p.bucketStart)}`;
      return { replaceOne: { filter: { _id }, replacement: { ...p, planId, shard: index }, upsert: true } };
    });
    // A shard that runs again replaces its parts: bounded commands (store/bulk.ts).
    await bulkWriteBounded(this.#parts, ops);
    await this.#shards.updateOne({ _id: shardId(planId, index) }, { $set: { state: 'done', attemptId, finishedAt: now, result, rolledUp: false } });
  }

  /** Marks the attempt's shard failed with `error` (the executor decides whether it runs again). */
  async failShard(planId: string, index: number, attemptId: string, error: string, now: Date): Promise<void> {
    await this.#shards.updateOne({ _id: shardId(planId, index), attemptId, state: { $ne: 'done' } }, { $set: { state: 'failed', error: error.slice(0, 2000), finishedAt: now } });
  }

  /** Puts a running shard whose worker is gone back to pending (it runs again from its start). */
  async releaseShard(planId: string, index: number): Promise<void> {
    await this.#shards.updateOne({ _id: shardId(planId, index), state: 'running' }, { $set: { state: 'pending' }, $unset: { attemptId: '' } });
  }

  /**
   * Recomputes the sightings a done shard touched from all parts of each (digest, hour), then
   * marks the shard rolled up. Call from one writer at a time (see the module doc).
   */
  async rollupShard(planId: string, index: number, partnerId: string): Promise<number> {
    const mine = await this.#parts.find({ planId, shard: index }, { projection: { digest: 1, bucketStart: 1 } }).toArray();
    const keys = new Set(mine.map((p) => sightingId(p.digest, p.bucketStart)));
    const digests = [...new Set(mine.map((p) => p.digest))];
    // Every part of the touched (digest, hour) keys, fetched by digest in a few queries and grouped here.
    const groups = new Map<string, PartDoc[]>();
    for (let i = 0; i < digests.length; i += 500) {
      for (const p of await this.#parts.find({ digest: { $in: digests.slice(i, i + 500) } }).toArray()) {
        const key = sightingId(p.digest, p.bucketStart);
        if (!keys.has(key)) continue;
        const g = groups.get(key);
        if (g === undefined) groups.set(key, [p]);
        else g.push(p);
      }
    }
    const now = this.#now();
    const ops = [...groups].map(([_id, parts]) => ({ replaceOne: { filter: { _id }, replacement: sum(parts, partnerId, now), upsert: true } }));
    // Most replace a sighting an earlier shard wrote: bounded commands (store/bulk.ts).
    await bulkWriteBounded(this.#sightings, ops);
    await this.#shards.updateOne({ _id: shardId(planId, index), state: 'done' }, { $set: { rolledUp: true } });
    return ops.length;
  }

  /** Sightings of one indicator (or all, when `digest` is undefined), by bucket. */
  async sightings(digest?: string): Promise<SightingDoc[]> {
    return this.#sightings.find(digest === undefined ? {} : { digest }).sort({ digest: 1, bucketStart: 1 }).toArray();
  }

  /**
   * Up to `limit` sightings written after `after` in (updatedAt, _id) order (from the first when
   * `after` is undefined): one page of what a peer has not been sent yet.
   */
  async changedSince(after: PushPosition | undefined, limit: number): Promise<SightingDoc[]> {
    const filter = after === undefined ? { updatedAt: { $exists: true } } : { $or: [{ updatedAt: { $gt: after.updatedAt } }, { updatedAt: after.updatedAt, _id: { $gt: after.id } }] };
    return this.#sightings.find(filter).sort({ updatedAt: 1, _id: 1 }).limit(limit).toArray();
  }

  /** Forgets a plan's shard records (its parts stay: sightings are derived from them). */
  async deletePlan(planId: string): Promise<void> {
    await this.#shards.deleteMany({ planId });
  }
}

/**
 * Runs one shard of a LogScan: takes the shard's checkpoint record (a shard already done is not
 * run again), scans its input or byte range against the current snapshot (refreshed between
 * chunks), reports progress, and finishes by writing its sighting parts and the done checkpoint
 * in one idempotent step (store/sightings.ts): a worker killed at any point leaves a shard that
 * runs again from its start without counting anything twice.
 */
import { randomUUID } from 'node:crypto';
import type { LogScanSpec } from '../api/types.ts';
import type { MongoScanStore, ShardResultDoc, SightingPart } from '../store/sightings.ts';
import { ScanError } from './errors.ts';
import type { SnapshotHolder } from './holder.ts';
import { locationOf, type SourceAccess } from './inputs.ts';
import type { PlannedInput } from './plan.ts';
import { scanInput } from './scan.ts';
import { ScanStats } from './stats.ts';
import { Tally } from './tally.ts';

/** What runShard needs. */
export interface ShardRunDeps {
  readonly store: Pick<MongoScanStore, 'shard' | 'startShard' | 'progress' | 'finishShard' | 'failShard'>;
  readonly holder: Pick<SnapshotHolder, 'current' | 'refresh'>;
  readonly access: SourceAccess;
  /** Prefix of file paths (a scan pod's volume mount). @default '' */
  readonly fileRoot?: string;
  readonly now?: () => Date;
  /** Least time between two progress writes. @default 2000 */
  readonly progressEveryMs?: number;
}

/** What a shard run ended with. */
export type ShardOutcome = { readonly status: 'done'; readonly result: ShardResultDoc } | { readonly status: 'already-done' };

/** The sighting parts of a tally. */
export function partsOf(tally: Tally): SightingPart[] {
  const out: SightingPart[] = [];
  for (const e of tally.entries()) {
    for (const [start, b] of e.buckets) out.push({ digest: e.digest, type: e.type, value: e.value, bucketStart: new Date(start), count: b.count, firstSeen: new Date(b.firstSeen), lastSeen: new Date(b.lastSeen), sources: { ...b.sources } });
  }
  return out;
}

function windowOf(spec: LogScanSpec): { start?: number; end?: number } {
  const w: { start?: number; end?: number } = {};
  if (spec.timeRange?.start !== undefined) w.start = Date.parse(spec.timeRange.start);
  if (spec.timeRange?.end !== undefined) w.end = Date.parse(spec.timeRange.end);
  return w;
}

/** Runs shard `index` of plan `planId`; see the module doc. Throws (after recording the failure) when the input cannot be read. */
export async function runShard(deps: ShardRunDeps, spec: LogScanSpec, planId: string, index: number): Promise<ShardOutcome> {
  const now = deps.now ?? (() => new Date());
  const shard = await deps.store.shard(planId, index);
  if (shard === undefined) throw new ScanError('bad-config', `plan ${planId} has no shard ${index}`);
  const attemptId = randomUUID();
  if (!(await deps.store.startShard(planId, index, attemptId, now()))) return { status: 'already-done' };
  const tally = new Tally(windowOf(spec));
  const stats = new ScanStats();
  let last = 0;
  try {
    const loc = locationOf(shard.input as unknown as PlannedInput, deps.access, deps.fileRoot ?? '');
    // A plan stored without a range reads back with null: the whole input.
    await scanInput(loc, shard.range ?? undefined, {
      format: spec.format, snapshot: () => deps.holder.current(), tally, stats,
      onProgress: async (p) => {
        const t = now().getTime();
        if (t - last < (deps.progressEveryMs ?? 2000)) return;
        last = t;
        await deps.store.progress(planId, index, attemptId, { inputBytes: p.inputBytes, bytes: p.bytes, lines: p.lines, matchedRecords: p.matchedRecords });
        await deps.holder.refresh();
      },
    });
  } catch (err) {
    await deps.store.failShard(planId, index, attemptId, err instanceof Error ? err.message : String(err), now());
    throw err;
  }
  const result: ShardResultDoc = { lines: stats.lines, bytes: stats.bytes, matchedRecords: tally.matchedRecords, indicators: tally.entries().length, rejected: { ...stats.rejected }, outsideTimeRange: tally.outsideWindow };
  await deps.store.finishShard(planId, index, attemptId, { parts: partsOf(tally), result }, now());
  return { status: 'done', result };
}

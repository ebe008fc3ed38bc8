/**
 * Pure status arithmetic of a LogScan: shard counts from the stored shard records and the
 * executor's live workers, and progress, throughput and ETA from bytes read since the start.
 */
import type { LogScanProgress, LogScanShards } from '../api/types.ts';
import type { ShardDoc } from '../store/sightings.ts';
import { SHARD_ATTEMPTS } from './logscanexec.ts';

/** What the shard records say, with the indexes ready to run. */
export interface ShardView {
  readonly counts: Required<Omit<LogScanShards, 'allotted'>>;
  /** Indexes that may run now (pending, or failed with attempts left), in order. */
  readonly ready: number[];
  /** Indexes marked running in the store whose worker is gone (to release). */
  readonly orphaned: number[];
  /** Done shards whose sightings are not rolled up yet. */
  readonly toRollUp: number[];
}

/** Classifies the shards; `live` is the executor's set of running indexes (undefined: trust the store). */
export function shardView(shards: readonly ShardDoc[], live: ReadonlySet<number> | undefined): ShardView {
  const counts = { total: shards.length, succeeded: 0, running: 0, failed: 0, pending: 0 };
  const ready: number[] = [];
  const orphaned: number[] = [];
  const toRollUp: number[] = [];
  for (const s of shards) {
    if (s.state === 'done') {
      counts.succeeded++;
      if (s.rolledUp !== true) toRollUp.push(s.index);
    } else if (live?.has(s.index) === true || (live === undefined && s.state === 'running')) {
      counts.running++;
    } else if (s.state === 'failed' && s.attempts >= SHARD_ATTEMPTS) {
      counts.failed++;
    } else {
      if (s.state === 'running') orphaned.push(s.index);
      counts.pending++;
      ready.push(s.index);
    }
  }
  return { counts, ready, orphaned, toRollUp };
}

interface Sums { bytesTotal: number; known: boolean; bytesDone: number; lines: number; matchedRecords: number; indicatorsSeen: number }

const NONE = { inputBytes: 0, bytes: 0, lines: 0, matchedRecords: 0 };
const NO_RESULT = { lines: 0, matchedRecords: 0, indicators: 0 };

function addShard(t: Sums, s: ShardDoc): void {
  const size = s.bytes ?? undefined;
  if (size === undefined) t.known = false;
  else t.bytesTotal += size;
  const progress = s.progress ?? NONE;
  if (s.state === 'done') {
    const r = s.result ?? NO_RESULT;
    t.bytesDone += size ?? progress.inputBytes;
    t.lines += r.lines;
    t.matchedRecords += r.matchedRecords;
    t.indicatorsSeen += r.indicators;
  } else if (s.state === 'running') {
    t.bytesDone += progress.inputBytes;
    t.lines += progress.lines;
    t.matchedRecords += progress.matchedRecords;
  }
}

/** Progress of the scan at `now`, given when it started. */
export function progressOf(shards: readonly ShardDoc[], started: Date | undefined, now: Date): LogScanProgress {
  const t: Sums = { bytesTotal: 0, known: true, bytesDone: 0, lines: 0, matchedRecords: 0, indicatorsSeen: 0 };
  for (const s of shards) addShard(t, s);
  const { bytesTotal, known, bytesDone } = t;
  const p: LogScanProgress = { bytesDone, lines: t.lines, matchedRecords: t.matchedRecords, indicatorsSeen: t.indicatorsSeen };
  const seconds = started === undefined ? 0 : (now.getTime() - started.getTime()) / 1000;
  if (seconds > 0) {
    p.bytesPerSecond = Math.round(bytesDone / seconds);
    p.linesPerSecond = Math.round(t.lines / seconds);
  }
  if (known && bytesTotal > 0) {
    p.bytesTotal = bytesTotal;
    p.percent = Math.min(100, Math.floor((100 * bytesDone) / bytesTotal));
    if ((p.bytesPerSecond ?? 0) > 0 && bytesDone < bytesTotal) p.eta = new Date(now.getTime() + (1000 * (bytesTotal - bytesDone)) / (p.bytesPerSecond ?? 1)).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return p;
}

/** Bad lines by reason over the finished shards (at most 32 reasons, as the schema allows). */
export function rejectedOf(shards: readonly ShardDoc[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of shards) for (const [k, v] of Object.entries(s.result?.rejected ?? {})) out[k] = (out[k] ?? 0) + v;
  return Object.fromEntries(Object.entries(out).slice(0, 32));
}

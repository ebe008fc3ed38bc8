/**
 * The soak benchmark's per-process report, pure: the result lines of one process's growth
 * (resident memory, fds and, for Node processes carrying memprobe.ts, the live data after major
 * collections and the memory outside the V8 heap), its series over time as compact rows for the
 * JSON summary, and the memory a process holds per log entry.
 */
import { round, type BenchResult } from '../lib.ts';
import { fitLine, type Growth, type Sample } from './growth.ts';

const MIB = 2 ** 20;

/** Column names of {@link seriesRows}, in order. */
export const SERIES_COLUMNS = ['t s', 'VmRSS MiB', 'RssAnon MiB', 'fds', 'V8 heap used MiB', 'V8 heap reserved MiB', 'external MiB', 'live data after the last major GC MiB'] as const;

const mib = (bytes: number | undefined): number | null => (bytes === undefined ? null : round(bytes / MIB));

/** One row per sample, columns {@link SERIES_COLUMNS}; null where a process has no such figure (no probe, no major collection yet). */
export function seriesRows(samples: readonly Sample[]): Array<Array<number | null>> {
  return samples.map((s) => [round(s.t), mib(s.rssBytes), mib(s.anonBytes), s.fds, mib(s.heap?.heapUsed), mib(s.heap?.heapTotal), mib(s.heap?.external), mib(s.heap?.liveAfterGc)]);
}

const perMin = (slope: number | undefined, r2: number | undefined): string => (slope === undefined ? 'no verdict: too few samples' : `MiB/min (r² ${round(r2 ?? 0, 2)})`);

/**
 * Result lines of one process: `g` judged on anonymous RSS, `vm` the same samples' VmRSS (reported, not judged).
 * `warmup` names the warm-up in the metric names.
 */
export function processResults(label: string, g: Growth, vm: Growth, warmup: string): BenchResult[] {
  const out: BenchResult[] = [
    { metric: `${label}: VmRSS start → end`, value: round(vm.rssEndMiB - vm.rssStartMiB), unit: `MiB (${round(vm.rssStartMiB)} → ${round(vm.rssEndMiB)})` },
    { metric: `${label}: VmRSS growth after ${warmup} (not judged)`, value: round(vm.rssMiBPerMin, 3), unit: `MiB/min (r² ${round(vm.rssR2, 2)})` },
    { metric: `${label}: anonymous RSS start → end`, value: round(g.rssEndMiB - g.rssStartMiB), unit: `MiB (${round(g.rssStartMiB)} → ${round(g.rssEndMiB)}, max ${round(g.rssMaxMiB)})` },
    { metric: `${label}: anonymous RSS growth after ${warmup} (judged)`, value: round(g.rssMiBPerMin, 3), unit: `MiB/min (r² ${round(g.rssR2, 2)})` },
    { metric: `${label}: open fds start → end`, value: g.fdsEnd - g.fdsStart, unit: `fds (${g.fdsStart} → ${g.fdsEnd}, max ${g.fdsMax})` },
    { metric: `${label}: fd growth after ${warmup} (judged)`, value: round(g.fdsPerMin, 3), unit: `fds/min (r² ${round(g.fdsR2, 2)})` },
  ];
  const h = g.heap;
  if (h === undefined) return out;
  if (h.liveStartMiB !== undefined && h.liveEndMiB !== undefined) {
    out.push({ metric: `${label}: live JavaScript data after major collections, first → last`, value: round(h.liveEndMiB - h.liveStartMiB), unit: `MiB (${round(h.liveStartMiB)} → ${round(h.liveEndMiB)}; ${h.majorGcs} major collections)` });
  }
  out.push(
    h.liveBeyondEntriesMiBPerMin === undefined
      ? { metric: `${label}: live JavaScript data growth after ${warmup} (judged)`, value: round(h.liveMiBPerMin ?? 0, 3), unit: perMin(h.liveMiBPerMin, h.liveR2) }
      : { metric: `${label}: live JavaScript data growth after ${warmup} (not judged: it grows with the log)`, value: round(h.liveMiBPerMin ?? 0, 3), unit: perMin(h.liveMiBPerMin, h.liveR2) },
    ...(h.liveBeyondEntriesMiBPerMin === undefined ? [] : [{ metric: `${label}: live JavaScript data beyond ${h.liveBytesPerEntry} bytes per log entry, growth after ${warmup} (judged)`, value: round(h.liveBeyondEntriesMiBPerMin, 3), unit: perMin(h.liveBeyondEntriesMiBPerMin, h.liveBeyondEntriesR2) }]),
    { metric: `${label}: memory outside the V8 heap (external) start → end`, value: round(h.externalEndMiB - h.externalStartMiB), unit: `MiB (${round(h.externalStartMiB)} → ${round(h.externalEndMiB)}, max ${round(h.externalMaxMiB)})` },
    { metric: `${label}: external memory growth after ${warmup} (judged)`, value: round(h.externalMiBPerMin ?? 0, 3), unit: perMin(h.externalMiBPerMin, h.externalR2) },
    { metric: `${label}: V8 heap reserved start → end`, value: round(h.reservedEndMiB - h.reservedStartMiB), unit: `MiB (${round(h.reservedStartMiB)} → ${round(h.reservedEndMiB)}, max ${round(h.reservedMaxMiB)})` },
    { metric: `${label}: anonymous RSS outside the reserved V8 heap's high-water mark, growth after ${warmup} (explains RSS growth as V8 sizing when flat)`, value: round(h.outsideReservedMiBPerMin ?? 0, 3), unit: perMin(h.outsideReservedMiBPerMin, h.outsideReservedR2) },
  );
  if (g.sizing !== undefined) out.push({ metric: `${label}: anonymous RSS growth judged V8 sizing, not a leak`, value: round(g.rssMiBPerMin, 3), unit: `MiB/min (${g.sizing})` });
  return out;
}

/** `samples` with the log's size at each (`entries`, from `tree` at the same time; none where `tree` has no size within a second). */
export function withEntries(samples: readonly Sample[], tree: ReadonlyArray<readonly [number, number]>): Sample[] {
  return samples.map((s) => {
    const size = tree.find(([t]) => Math.abs(t - s.t) < 1)?.[1];
    return size === undefined ? s : { ...s, entries: size };
  });
}

/**
 * Memory a process holds per log entry: the slope of `value` (bytes, undefined: no figure)
 * against the log's size at the samples taken at or after `from` seconds, when the log had at
 * least `minSize` entries. Undefined with fewer than two such samples at different sizes.
 */
export function bytesPerEntry(samples: readonly Sample[], tree: ReadonlyArray<readonly [number, number]>, value: (s: Sample) => number | undefined, opts: { readonly from: number; readonly minSize?: number }): { slope: number; r2: number; points: number } | undefined {
  const points: Array<[number, number]> = [];
  for (const s of samples) {
    const size = tree.find(([t]) => Math.abs(t - s.t) < 1)?.[1];
    const v = value(s);
    if (s.t >= opts.from && size !== undefined && size >= (opts.minSize ?? 0) && v !== undefined) points.push([size, v]);
  }
  if (points.length < 2 || points[0]![0] === points[points.length - 1]![0]) return undefined;
  return { ...fitLine(points), points: points.length };
}

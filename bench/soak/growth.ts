/**
 * The soak benchmark's leak check, pure: from one process's samples over time, the growth per
 * minute (least-squares slope) of each judged signal and whether it is a leak. A leak is growth
 * that is both fast (slope over the signal's threshold) and steady (the straight line explains
 * most of the variance, r² at or over `minR2`), measured after a warm-up.
 *
 * Judged signals: anonymous resident memory (what the kernel holds: heaps, stacks, malloc) and
 * open fds of every process; for Node processes that carry the probe (memprobe.ts) also the live
 * JavaScript data after major collections (retention in JS: a Map never pruned, listeners,
 * pending promises) and the memory outside the V8 heap (`external`: Buffers kept alive).
 *
 * The warm-up is the first half of the run (a minute at least). Resident memory of a Node
 * process is not a level but a high-water mark: the young generation reaches its full size in
 * seconds, the old generation's limit grows in steps as collections settle, and glibc keeps
 * freed large buffers in its heap instead of returning them (its mmap threshold rises to the
 * largest buffer freed), so resident memory follows the highest Buffer total seen so far. That
 * mark rises quickly at first and ever more slowly, so a slope over the run's early part
 * measures the filling, not a leak. A real leak grows for the whole run: its slope over the last
 * half is the same as over the whole. The live data, far less noisy than resident memory
 * (±10 MiB against ±60 in the sequencer), catches JavaScript retention that resident memory's
 * noise would hide (measured in docs/adr/2026-12-07-soak-leak-verdict.md).
 *
 * A process whose samples say how many entries its log holds (the sequencer: `entries`) keeps
 * some live data per entry by design, so its live data is judged beyond that allowance
 * (`liveBytesPerEntry` per entry): growth with the log is not growth with time. A leak per entry
 * larger than the allowance, or any growth while the log stands still, is still one.
 */

/** One sample of one process. */
export interface Sample {
  /** Seconds since the run started. */
  readonly t: number;
  /** Resident set size (VmRSS), bytes. */
  readonly rssBytes: number;
  /** Its anonymous part (RssAnon: heaps, stacks, malloc), bytes; the rest maps files (code) the kernel can drop. */
  readonly anonBytes?: number;
  /** Open file descriptors (entries of /proc/<pid>/fd). */
  readonly fds: number;
  /** CPU time used so far (user + system), seconds; not part of the leak check. */
  readonly cpuSeconds?: number;
  /** The process's own view of its memory (Node processes carrying memprobe.ts). */
  readonly heap?: HeapSample;
  /** Entries the process's log holds at this time (the sequencer's tree size): its live data is judged beyond `liveBytesPerEntry` for each. @default none (judged per minute only) */
  readonly entries?: number;
}

/** What a Node process says of its memory (memprobe.ts), bytes. */
export interface HeapSample {
  /** V8 heap in use (live and not yet collected). */
  readonly heapUsed: number;
  /** V8 heap reserved (young generation included). */
  readonly heapTotal: number;
  /** Memory outside the V8 heap held by JavaScript objects (Buffers included). */
  readonly external: number;
  /** Its part in ArrayBuffers (Buffers). */
  readonly arrayBuffers: number;
  /** Bytes in use outside the young generation right after the latest major collection: the live data. Absent before the first. */
  readonly liveAfterGc?: number;
  /** Major collections so far. */
  readonly majorGcs: number;
}

/** When growth counts as a leak. */
export interface LeakThresholds {
  /** RSS growth over this many MiB per minute (and steady) is a leak. @default 4 */
  readonly rssMiBPerMin?: number;
  /** Growth of the live JavaScript data after major collections over this many MiB per minute (and steady) is a leak. @default 1 */
  readonly liveMiBPerMin?: number;
  /**
   * Live data a process may keep per entry its log holds (samples with `entries`), by design:
   * judged is the live data less this much per entry. @default {@link SEQUENCER_LIVE_BYTES_PER_ENTRY}
   */
  readonly liveBytesPerEntry?: number;
  /** Growth of memory outside the V8 heap (`external`) over this many MiB per minute (and steady) is a leak. @default 4 */
  readonly externalMiBPerMin?: number;
  /** Fd growth over this many per minute (and steady) is a leak. @default 2 */
  readonly fdsPerMin?: number;
  /** Growth counts as steady when the fit's r² is at least this. @default 0.8 */
  readonly minR2?: number;
  /** Share of the run (by time) left out at its start. @default 0.5 */
  readonly warmupFraction?: number;
  /** Seconds left out at the start at least (the larger of the two applies). @default 60 */
  readonly warmupSeconds?: number;
  /** Fewer samples than this after the warm-up: no verdict (never a leak). @default 4 */
  readonly minSamples?: number;
}

/**
 * Live JavaScript data the sequencer keeps per log entry by design, with margin (bytes). Its log
 * (exchange/sequencer/log.ts) keeps in the V8 heap, per entry, the index of decided subjects: a
 * Map from the subject (a 64-character hex string: 80 bytes with its header) to the index (a small
 * integer, no allocation), whose hash table holds 3 pointers per entry and half a bucket, at
 * between one and two times the entries (28–56 bytes): 108–136 bytes. The Merkle tree's hashes
 * are in Buffers (`external`, not live data) and the entry cache is capped (full after the
 * warm-up at the soak's rates). Measured: 123–171 bytes per entry (16-minute soak at 300/s,
 * docs/adr/2026-12-07-soak-leak-verdict.md). 192 is the measured high rounded up to a multiple
 * of 64: at 1,000 entries/s that allows 11 MiB/min.
 */
export const SEQUENCER_LIVE_BYTES_PER_ENTRY = 192;

/** Defaults of {@link LeakThresholds}. */
export const LEAK_DEFAULTS: Required<LeakThresholds> = { rssMiBPerMin: 4, liveMiBPerMin: 1, liveBytesPerEntry: SEQUENCER_LIVE_BYTES_PER_ENTRY, externalMiBPerMin: 4, fdsPerMin: 2, minR2: 0.8, warmupFraction: 0.5, warmupSeconds: 60, minSamples: 4 };

/** A least-squares line through points: slope per x unit and r² (1 when y is constant: nothing to explain). */
export interface Fit {
  readonly slope: number;
  readonly r2: number;
}

/** Growth of one process over the run, with the verdict. */
export interface Growth {
  readonly samples: number;
  readonly rssStartMiB: number;
  readonly rssEndMiB: number;
  readonly rssMaxMiB: number;
  /** Slope after the warm-up, MiB per minute. */
  readonly rssMiBPerMin: number;
  readonly rssR2: number;
  readonly fdsStart: number;
  readonly fdsEnd: number;
  readonly fdsMax: number;
  /** Slope after the warm-up, fds per minute. */
  readonly fdsPerMin: number;
  readonly fdsR2: number;
  /** The probe's signals, when the process carries it: live data after major collections and memory outside the heap. */
  readonly heap?: HeapGrowth;
  readonly leak: boolean;
  /** Why it is a leak, or why there is no verdict; empty when flat. */
  readonly notes: readonly string[];
  /**
   * Set when resident memory grew fast and steadily but the reserved V8 heap explains it (the
   * memory outside its high-water mark did not grow over the RSS threshold) and the live data
   * stayed under its threshold: V8 sizing its heap, not a leak. Says the figures.
   */
  readonly sizing?: string;
}

/** Growth of the probe's signals of one Node process. */
export interface HeapGrowth {
  /** Live data after major collections at the first and last sample that has it, MiB; undefined before any major collection. */
  readonly liveStartMiB?: number;
  readonly liveEndMiB?: number;
  /** Slope after the warm-up, MiB per minute; undefined with too few samples (no verdict on it). */
  readonly liveMiBPerMin?: number;
  readonly liveR2?: number;
  /**
   * For a process whose samples carry `entries`: the slope after the warm-up of the live data less
   * `liveBytesPerEntry` per entry, MiB per minute, and its r² (what is judged, instead of the slope above).
   */
  readonly liveBeyondEntriesMiBPerMin?: number;
  readonly liveBeyondEntriesR2?: number;
  /** The allowance per entry those were judged with, bytes. */
  readonly liveBytesPerEntry?: number;
  readonly externalStartMiB: number;
  readonly externalEndMiB: number;
  readonly externalMaxMiB: number;
  readonly externalMiBPerMin?: number;
  readonly externalR2?: number;
  /** V8 heap reserved (heapTotal, young generation included) at the first and last sample and its maximum, MiB. */
  readonly reservedStartMiB: number;
  readonly reservedEndMiB: number;
  readonly reservedMaxMiB: number;
  /**
   * Slope after the warm-up of the resident memory outside the reserved heap's high-water mark
   * (RSS minus the largest heapTotal seen so far), MiB per minute; undefined with too few samples.
   */
  readonly outsideReservedMiBPerMin?: number;
  readonly outsideReservedR2?: number;
  readonly majorGcs: number;
}

const MIB = 1024 * 1024;

/** Fits a line y = a + slope·x; throws on fewer than two points or when every x is equal. */
export function fitLine(points: ReadonlyArray<readonly [number, number]>): Fit {
  const n = points.length;
  if (n < 2) throw new Error(`a line needs at least 2 points, got ${n}`);
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  if (sxx === 0) throw new Error('a line needs points at two different times at least');
  const slope = sxy / sxx;
  return { slope, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

type Th = Required<LeakThresholds>;

// One judged signal: its fit over the steady points (minutes, MiB or count), and a note when it is a leak.
function judge(points: ReadonlyArray<readonly [number, number]>, threshold: number, minR2: number, what: string, unit: string): { fit: Fit; note?: string } {
  const fit = fitLine(points);
  const leak = fit.slope > threshold && fit.r2 >= minR2;
  return { fit, ...(leak ? { note: `${what} steadily by ${fit.slope.toFixed(2)} ${unit}/min (r² ${fit.r2.toFixed(2)}; threshold ${threshold} ${unit}/min)` } : {}) };
}

function enough(points: ReadonlyArray<readonly [number, number]>, th: Th): boolean {
  return points.length >= th.minSamples && points[points.length - 1]![0] !== points[0]![0];
}

// The resident memory outside the reserved V8 heap's high-water mark, MiB, per probed sample
// (keyed by time). The high-water mark and not the current reservation: pages V8 gives back when
// it shrinks the young generation stayed resident in the measured runs (the proposer's heapTotal
// fell from 146 to 26 MiB at 428 s of the 13:42 run and its RssAnon did not move).
function outsideReserved(probed: readonly Sample[]): Map<number, number> {
  const out = new Map<number, number>();
  let mark = 0;
  for (const s of probed) {
    mark = Math.max(mark, s.heap!.heapTotal);
    out.set(s.t, (s.rssBytes - mark) / MIB);
  }
  return out;
}

// The live data less the allowance for the entries the log holds (minutes, MiB), or undefined
// when the samples do not say how many entries (judged per minute only). Every live sample must
// carry `entries`: a line through points with and without the allowance would be a step, not growth.
function beyondEntries(steadyProbed: readonly Sample[], th: Th): Array<readonly [number, number]> | undefined {
  const live = steadyProbed.filter((s) => s.heap!.liveAfterGc !== undefined);
  if (live.length === 0 || live.some((s) => s.entries === undefined)) return undefined;
  const points = live.map((s) => [s.t / 60, (s.heap!.liveAfterGc! - s.entries! * th.liveBytesPerEntry) / MIB] as const);
  return enough(points, th) ? points : undefined;
}

function heapGrowth(samples: readonly Sample[], steady: readonly Sample[], th: Th, notes: string[]): HeapGrowth | undefined {
  const probed = samples.filter((s) => s.heap !== undefined);
  if (probed.length === 0) return undefined;
  const live = probed.filter((s) => s.heap!.liveAfterGc !== undefined);
  const steadyProbed = steady.filter((s) => s.heap !== undefined);
  const livePoints = steadyProbed.filter((s) => s.heap!.liveAfterGc !== undefined).map((s) => [s.t / 60, s.heap!.liveAfterGc! / MIB] as const);
  const externalPoints = steadyProbed.map((s) => [s.t / 60, s.heap!.external / MIB] as const);
  const outside = outsideReserved(probed);
  const outsidePoints = steadyProbed.map((s) => [s.t / 60, outside.get(s.t)!] as const);
  const reserved = probed.map((s) => s.heap!.heapTotal / MIB);
  const out: { -readonly [K in keyof HeapGrowth]: HeapGrowth[K] } = {
    externalStartMiB: probed[0]!.heap!.external / MIB, externalEndMiB: probed[probed.length - 1]!.heap!.external / MIB,
    externalMaxMiB: Math.max(...probed.map((s) => s.heap!.external)) / MIB, majorGcs: probed[probed.length - 1]!.heap!.majorGcs,
    reservedStartMiB: reserved[0]!, reservedEndMiB: reserved[reserved.length - 1]!, reservedMaxMiB: Math.max(...reserved),
    ...(live.length > 0 ? { liveStartMiB: live[0]!.heap!.liveAfterGc! / MIB, liveEndMiB: live[live.length - 1]!.heap!.liveAfterGc! / MIB } : {}),
  };
  if (enough(livePoints, th)) {
    const j = judge(livePoints, th.liveMiBPerMin, th.minR2, 'live JavaScript data after major collections grows', 'MiB');
    out.liveMiBPerMin = j.fit.slope;
    out.liveR2 = j.fit.r2;
    const beyond = beyondEntries(steadyProbed, th);
    if (beyond === undefined) {
      if (j.note !== undefined) notes.push(j.note);
    } else {
      const b = judge(beyond, th.liveMiBPerMin, th.minR2, `live JavaScript data after major collections, beyond ${th.liveBytesPerEntry} bytes per log entry, grows`, 'MiB');
      out.liveBeyondEntriesMiBPerMin = b.fit.slope;
      out.liveBeyondEntriesR2 = b.fit.r2;
      out.liveBytesPerEntry = th.liveBytesPerEntry;
      if (b.note !== undefined) notes.push(b.note);
    }
  }
  if (enough(externalPoints, th)) {
    const j = judge(externalPoints, th.externalMiBPerMin, th.minR2, 'memory outside the V8 heap (external) grows', 'MiB');
    out.externalMiBPerMin = j.fit.slope;
    out.externalR2 = j.fit.r2;
    if (j.note !== undefined) notes.push(j.note);
  }
  if (enough(outsidePoints, th) && steadyProbed.length === steady.length) {
    const fit = fitLine(outsidePoints);
    out.outsideReservedMiBPerMin = fit.slope;
    out.outsideReservedR2 = fit.r2;
  }
  return out;
}

// RSS growth is V8 sizing, not a leak, when the reserved heap's growth explains it: the memory
// outside the reserved heap's high-water mark grew no faster than the RSS threshold, and the live
// data no faster than its own (both by slope alone, however noisy: "explained" must not lean on
// a low r²). A leak of JavaScript data grows the live data; Buffers kept alive grow `external`
// (judged on its own); native memory grows outside the reserved heap. Undefined: not explained.
function sizingOf(rss: Fit, heap: HeapGrowth | undefined, th: Th): string | undefined {
  const live = heap?.liveBeyondEntriesMiBPerMin ?? heap?.liveMiBPerMin;
  if (heap?.outsideReservedMiBPerMin === undefined || live === undefined) return undefined;
  if (heap.outsideReservedMiBPerMin > th.rssMiBPerMin || live > th.liveMiBPerMin) return undefined;
  return `RSS grows ${rss.slope.toFixed(2)} MiB/min (r² ${rss.r2.toFixed(2)}) but outside the reserved V8 heap's high-water mark ${heap.outsideReservedMiBPerMin.toFixed(2)} MiB/min`
    + ` (reserved heap ${heap.reservedStartMiB.toFixed(0)} → ${heap.reservedEndMiB.toFixed(0)} MiB, max ${heap.reservedMaxMiB.toFixed(0)}) and the live data ${live.toFixed(2)} MiB/min${heap.liveBeyondEntriesMiBPerMin !== undefined ? ' beyond its log entries\' allowance' : ''}: V8 sizing its heap, not a leak`;
}

/** Growth and leak verdict of one process's samples (in time order). */
export function growthOf(samples: readonly Sample[], thresholds: LeakThresholds = {}): Growth {
  const th: Th = { ...LEAK_DEFAULTS, ...thresholds };
  if (samples.length === 0) throw new Error('no samples');
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const from = first.t + Math.max((last.t - first.t) * th.warmupFraction, th.warmupSeconds);
  const steady = samples.filter((s) => s.t >= from);
  const base = {
    samples: samples.length,
    rssStartMiB: first.rssBytes / MIB, rssEndMiB: last.rssBytes / MIB, rssMaxMiB: Math.max(...samples.map((s) => s.rssBytes)) / MIB,
    fdsStart: first.fds, fdsEnd: last.fds, fdsMax: Math.max(...samples.map((s) => s.fds)),
  };
  if (!enough(steady.map((s) => [s.t, 0] as const), th)) {
    const heap = heapGrowth(samples, [], th, []);
    return { ...base, rssMiBPerMin: 0, rssR2: 0, fdsPerMin: 0, fdsR2: 0, ...(heap !== undefined ? { heap } : {}), leak: false, notes: [`no verdict: ${steady.length} samples after the warm-up, ${th.minSamples} needed (run longer or sample more often)`] };
  }
  const rss = judge(steady.map((s) => [s.t / 60, s.rssBytes / MIB]), th.rssMiBPerMin, th.minR2, 'RSS grows', 'MiB');
  const fds = judge(steady.map((s) => [s.t / 60, s.fds]), th.fdsPerMin, th.minR2, 'open fds grow', 'fds');
  const heapNotes: string[] = [];
  const heap = heapGrowth(samples, steady, th, heapNotes);
  const sizing = rss.note === undefined ? undefined : sizingOf(rss.fit, heap, th);
  const notes = [...[sizing === undefined ? rss.note : undefined, fds.note].filter((n): n is string => n !== undefined), ...heapNotes];
  return { ...base, rssMiBPerMin: rss.fit.slope, rssR2: rss.fit.r2, fdsPerMin: fds.fit.slope, fdsR2: fds.fit.r2, ...(heap !== undefined ? { heap } : {}), leak: notes.length > 0, notes, ...(sizing !== undefined ? { sizing } : {}) };
}

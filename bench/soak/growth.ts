/**
 * The soak benchmark's leak check, pure: from one process's samples of resident memory and
 * open file descriptors over time, the growth per minute (least-squares slope) and whether it
 * is a leak. A leak is growth that is both fast (slope over the threshold) and steady (the
 * straight line explains most of the variance, r² at or over `minR2`), measured after a
 * warm-up (a share of the run, and at least a minute), so start-up allocation, the JIT and the
 * heap settling and GC saw-teeth do not count.
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
}

/** When growth counts as a leak. */
export interface LeakThresholds {
  /** RSS growth over this many MiB per minute (and steady) is a leak. @default 4 */
  readonly rssMiBPerMin?: number;
  /** Fd growth over this many per minute (and steady) is a leak. @default 2 */
  readonly fdsPerMin?: number;
  /** Growth counts as steady when the fit's r² is at least this. @default 0.8 */
  readonly minR2?: number;
  /** Share of the run (by time) left out at its start. @default 0.2 */
  readonly warmupFraction?: number;
  /** Seconds left out at the start at least (the larger of the two applies). @default 60 */
  readonly warmupSeconds?: number;
  /** Fewer samples than this after the warm-up: no verdict (never a leak). @default 4 */
  readonly minSamples?: number;
}

/** Defaults of {@link LeakThresholds}. */
export const LEAK_DEFAULTS: Required<LeakThresholds> = { rssMiBPerMin: 4, fdsPerMin: 2, minR2: 0.8, warmupFraction: 0.2, warmupSeconds: 60, minSamples: 4 };

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
  readonly leak: boolean;
  /** Why it is a leak, or why there is no verdict; empty when flat. */
  readonly notes: readonly string[];
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

/** Growth and leak verdict of one process's samples (in time order). */
export function growthOf(samples: readonly Sample[], thresholds: LeakThresholds = {}): Growth {
  const th = { ...LEAK_DEFAULTS, ...thresholds };
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
  if (steady.length < th.minSamples || steady[steady.length - 1]!.t === steady[0]!.t) {
    return { ...base, rssMiBPerMin: 0, rssR2: 0, fdsPerMin: 0, fdsR2: 0, leak: false, notes: [`no verdict: ${steady.length} samples after the warm-up, ${th.minSamples} needed (run longer or sample more often)`] };
  }
  const rss = fitLine(steady.map((s) => [s.t / 60, s.rssBytes / MIB]));
  const fds = fitLine(steady.map((s) => [s.t / 60, s.fds]));
  const notes: string[] = [];
  if (rss.slope > th.rssMiBPerMin && rss.r2 >= th.minR2) notes.push(`RSS grows steadily by ${rss.slope.toFixed(2)} MiB/min (r² ${rss.r2.toFixed(2)}; threshold ${th.rssMiBPerMin} MiB/min)`);
  if (fds.slope > th.fdsPerMin && fds.r2 >= th.minR2) notes.push(`open fds grow steadily by ${fds.slope.toFixed(2)}/min (r² ${fds.r2.toFixed(2)}; threshold ${th.fdsPerMin}/min)`);
  return { ...base, rssMiBPerMin: rss.slope, rssR2: rss.r2, fdsPerMin: fds.slope, fdsR2: fds.r2, leak: notes.length > 0, notes };
}

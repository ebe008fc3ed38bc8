/**
 * Helpers for benchmark files (`bench/*.bench.ts`). A benchmark runs as its own process,
 * logs progress to stderr and ends with {@link emit}, which writes its results as one JSON
 * line on stdout for `bench/run.ts` to collect.
 */

/** One measured figure. */
export interface BenchResult {
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
}

/** Marks the stdout line that carries the results. */
export const RESULTS_MARKER = 'THREATMESH_BENCH_RESULTS ';

/** Writes the results for the runner. Call once, at the end. */
export function emit(results: readonly BenchResult[]): void {
  process.stdout.write(RESULTS_MARKER + JSON.stringify(results) + '\n');
}

/** Marks the stdout line that carries a benchmark's summary object (bench/run.ts prints it last). */
export const SUMMARY_MARKER = 'THREATMESH_BENCH_SUMMARY ';

/** Writes a summary object for the runner, which stores it with the results and prints it as the last stdout line. Call at most once, after {@link emit}. */
export function emitSummary(summary: Readonly<Record<string, unknown>>): void {
  process.stdout.write(SUMMARY_MARKER + JSON.stringify(summary) + '\n');
}

/** Logs a progress line to stderr. */
export function progress(message: string): void {
  process.stderr.write(`  ${message}\n`);
}

/** Calls per second of wall-clock time, and per second of this process's CPU time. */
export interface Rate {
  readonly wall: number;
  readonly cpu: number;
}

/**
 * Calls `fn` in batches for about `ms` milliseconds of wall time. The CPU-time rate is the
 * per-core figure: it stays meaningful when other processes share the machine.
 */
export function rate(fn: () => void, ms: number, batch = 100): Rate {
  const start = performance.now();
  const cpuStart = cpuMillis();
  let calls = 0;
  let elapsed: number;
  do {
    for (let i = 0; i < batch; i += 1) fn();
    calls += batch;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return { wall: (calls * 1000) / elapsed, cpu: (calls * 1000) / Math.max(cpuMillis() - cpuStart, 1e-3) };
}

/** Wall-clock and CPU milliseconds spent by one run of `fn`. */
export function timed(fn: () => void): { readonly wallMs: number; readonly cpuMs: number } {
  const start = performance.now();
  const cpuStart = cpuMillis();
  fn();
  return { wallMs: performance.now() - start, cpuMs: cpuMillis() - cpuStart };
}

/** This process's user + system CPU time in milliseconds. */
export function cpuMillis(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Rounds to `digits` significant digits, for readable JSON. */
export function round(value: number, digits = 4): number {
  return Number(value.toPrecision(digits));
}

/** What a benchmark's `--help` says: what it measures, what it takes, where its results go. */
export interface BenchUsage {
  /** The benchmark's name, as `npm run bench -- NAME` takes it. */
  readonly name: string;
  /** Positional arguments of the file run alone (`node bench/NAME.bench.ts [COUNTS]`), such as `[COUNTS]`. @default '' */
  readonly args?: string;
  /** What it measures (and its targets), in a few plain sentences. */
  readonly measures: string;
  /** Its arguments and environment variables: [the knob, what it sets and its default]. @default [] */
  readonly knobs?: ReadonlyArray<readonly [string, string]>;
}

// Words of `text` in lines of at most `width` characters (a longer word stands alone).
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return line === '' ? lines : [...lines, line];
}

/** The usage text of {@link BenchUsage}, ending with where the results are written. */
export function usageText(u: BenchUsage): string {
  const knobs = u.knobs ?? [];
  const width = Math.max(0, ...knobs.map(([k]) => k.length));
  return [
    `usage: npm run bench -- ${u.name}`,
    // The runner takes names up to the first flag: positional arguments reach the file run alone.
    ...(u.args !== undefined && u.args !== '' ? [`       node bench/${u.name}.bench.ts ${u.args}`] : []),
    ...wrap(u.measures, 100),
    ...(knobs.length > 0 ? ['', ...knobs.map(([k, what]) => `  ${k.padEnd(width)}  ${what}`)] : []),
    '',
    `Results: a table on stdout and bench/results/${u.name}.json (written by npm run bench).`,
  ].join('\n') + '\n';
}

/**
 * True when `argv` asks for help (`--help` or `-h`): the usage is then printed to stdout and the
 * benchmark must start nothing else (call this before any work, the file's top level included).
 */
export function helpAsked(u: BenchUsage, argv: readonly string[] = process.argv.slice(2)): boolean {
  if (!argv.includes('--help') && !argv.includes('-h')) return false;
  process.stdout.write(usageText(u));
  return true;
}

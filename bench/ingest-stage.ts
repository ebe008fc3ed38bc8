/**
 * The ingest measurement shared by `npm run bench -- ingest` and the ingest stage of `npm run
 * bench -- scale`: generated feeds (Feodo csv, a mixed plain list) ingested by the product
 * pipeline and by a bare Node loop doing the same work (bench/scale-ingest.ts), each run in its
 * own process with the ingest Job's V8 flags, interleaved and repeated in the same run (the
 * fastest run of each counts, and the ratio is also given as the median over back-to-back
 * pairs: the machine is shared). Figures are per CPU-second.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { progress, round, type BenchResult } from './lib.ts';
import { INGEST_NODE_OPTIONS } from '../operator/src/controllers/jobexecutor.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

function publicIp(i: number): string {
  const a = 11 + (i % 89);
  return `${a === 100 ? 101 : a}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

/** The generated feeds: a header and one line per index. */
export const FEEDS = {
  csv: { header: '# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)\n# "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n', line: (i: number) => `"2026-11-2${i % 10} 07:44:46","${publicIp(i)}","${443 + (i % 1000)}","online","2026-11-25","QakBot"\n` },
  lines: { header: '# generated plain list\n', line: (i: number) => (i % 3 === 0 ? `${publicIp(i)}\n` : i % 3 === 1 ? `${publicIp(i).replace(/\.\d+$/, '.0')}/24 ; SBL${i}\n` : `host-${i.toString(36)}.Evil-${i % 97}.example-bad.net\n`) },
} as const;

/** Name of a generated feed. */
export type FeedFormat = keyof typeof FEEDS;

/** Writes `lines` lines of `format` to `path`. */
export async function writeFeed(path: string, format: FeedFormat, lines: number): Promise<void> {
  const f = FEEDS[format];
  const ws = createWriteStream(path);
  ws.write(f.header);
  let buf = '';
  for (let i = 0; i < lines; i++) {
    buf += f.line(i);
    if (buf.length > 1 << 16) {
      if (!ws.write(buf)) await new Promise<void>((r) => ws.once('drain', () => r()));
      buf = '';
    }
  }
  ws.end(buf);
  await new Promise<void>((r) => ws.once('finish', () => r()));
}

/** What bench/scale-ingest.ts prints for one run. */
export interface IngestRun { processed: number; added: number; cpuMs: number; wallMs: number; rssMb: number }

/** One tree's bench/scale-ingest.ts (this checkout, or an older one to compare with) under a label. */
export interface IngestTree { readonly label: string; readonly dir: string }

/** Runs `tree`'s scale-ingest.ts once in a child process with the ingest Job's V8 flags. */
export function ingestOnce(tree: IngestTree, mode: 'bare' | 'pipeline', format: FeedFormat, path: string): IngestRun {
  const r = spawnSync(process.execPath, [...INGEST_NODE_OPTIONS.split(' '), join(tree.dir, 'bench', 'scale-ingest.ts'), mode, format, path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${tree.label} ${mode} ${format} exited with ${String(r.status)}`);
  return JSON.parse(r.stdout.trim()) as IngestRun;
}

/** Every run of `repeats` interleaved rounds (each tree's bare loop, then its pipeline), by `label mode`. */
export function interleavedRuns(trees: readonly IngestTree[], format: FeedFormat, path: string, repeats: number): Map<string, IngestRun[]> {
  const runs = new Map<string, IngestRun[]>();
  for (let k = 0; k < repeats; k++) {
    for (const tree of trees) {
      for (const mode of ['bare', 'pipeline'] as const) {
        const key = `${tree.label} ${mode}`;
        runs.set(key, [...(runs.get(key) ?? []), ingestOnce(tree, mode, format, path)]);
      }
    }
  }
  return runs;
}

/** The run that took the least CPU. */
function fastest(runs: readonly IngestRun[]): IngestRun {
  return runs.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
}

/**
 * The median over rounds of bare CPU / pipeline CPU of the same round: the two ran back to
 * back, so a load swing on the shared machine hits both (the fastest-of comparison can pair a
 * lucky run of one with an unlucky run of the other).
 */
function pairedRatio(bare: readonly IngestRun[], pipeline: readonly IngestRun[]): number {
  const ratios = bare.map((b, k) => b.cpuMs / (pipeline[k]?.cpuMs ?? NaN)).sort((x, y) => x - y);
  const mid = ratios.length >> 1;
  return ratios.length % 2 === 1 ? (ratios[mid] ?? NaN) : ((ratios[mid - 1] ?? NaN) + (ratios[mid] ?? NaN)) / 2;
}

/** Options of {@link ingestStage}. */
export interface IngestStageOptions {
  /** Scratch directory for the generated feeds. */
  readonly dir: string;
  /** Lines per feed. */
  readonly lines: number;
  /** Runs of each mode (interleaved); the fastest counts. @default 2 */
  readonly repeats?: number;
  /** Older checkouts measured in the same run, their figures labelled (e.g. `before`). @default [] */
  readonly compare?: readonly IngestTree[];
  /** Prefix of every metric name. @default 'ingest ' */
  readonly prefix?: string;
}

/** Per CPU-second rate of a run. */
function perCpuSecond(r: IngestRun): number {
  return (r.processed * 1000) / r.cpuMs;
}

/**
 * Ingests each feed with this checkout's pipeline and bare loop (and those of `compare`):
 * results, the slower format's pipeline rate and its ratio to the bare loop (bare CPU /
 * pipeline CPU, > 1 when the pipeline is faster).
 */
export async function ingestStage(opts: IngestStageOptions): Promise<{ results: BenchResult[]; perCpuSecond: number; vsBare: number }> {
  const results: BenchResult[] = [];
  const pre = opts.prefix ?? 'ingest ';
  const self: IngestTree = { label: 'this', dir: join(here, '..') };
  let slowest = Infinity;
  let vsBare = Infinity;
  for (const format of Object.keys(FEEDS) as FeedFormat[]) {
    const path = join(opts.dir, `${format}.txt`);
    progress(`ingest: generating ${opts.lines} ${format} lines`);
    await writeFeed(path, format, opts.lines);
    const runs = interleavedRuns([self, ...(opts.compare ?? [])], format, path, opts.repeats ?? 2);
    await rm(path, { force: true });
    const p = fastest(runs.get('this pipeline')!);
    const b = fastest(runs.get('this bare')!);
    const paired = pairedRatio(runs.get('this bare')!, runs.get('this pipeline')!);
    if (p.processed !== b.processed || p.added !== b.added) throw new Error(`pipeline and bare loop disagree on ${format}: ${JSON.stringify({ p, b })}`);
    slowest = Math.min(slowest, perCpuSecond(p));
    vsBare = Math.min(vsBare, b.cpuMs / p.cpuMs);
    progress(`ingest ${format}: pipeline ${Math.round(perCpuSecond(p))}/CPU-s (${Math.round(p.rssMb)} MB), bare loop ${Math.round(perCpuSecond(b))}/CPU-s (${Math.round(b.rssMb)} MB)`);
    results.push(
      { metric: `${pre}${format}: pipeline, indicators per CPU-second`, value: round(perCpuSecond(p)), unit: 'indicators/s' },
      { metric: `${pre}${format}: bare Node loop (same work, same run), indicators per CPU-second`, value: round(perCpuSecond(b)), unit: 'indicators/s' },
      { metric: `${pre}${format}: pipeline speed relative to the bare loop (bare CPU / pipeline CPU)`, value: round(b.cpuMs / p.cpuMs, 3), unit: 'ratio' },
      { metric: `${pre}${format}: the same, median over back-to-back pairs (${runs.get('this bare')!.length} pairs)`, value: round(paired, 3), unit: 'ratio' },
      { metric: `${pre}${format}: pipeline peak RSS (${INGEST_NODE_OPTIONS}, as the ingest Job)`, value: round(p.rssMb, 3), unit: 'MB' },
      { metric: `${pre}${format}: pipeline wall-clock rate`, value: round((p.processed * 1000) / p.wallMs), unit: 'indicators/s' },
    );
    for (const tree of opts.compare ?? []) {
      const tp = fastest(runs.get(`${tree.label} pipeline`)!);
      const tb = fastest(runs.get(`${tree.label} bare`)!);
      results.push(
        { metric: `${pre}${format}: ${tree.label}: pipeline, indicators per CPU-second`, value: round(perCpuSecond(tp)), unit: 'indicators/s' },
        { metric: `${pre}${format}: ${tree.label}: its own bare loop, indicators per CPU-second`, value: round(perCpuSecond(tb)), unit: 'indicators/s' },
        { metric: `${pre}${format}: ${tree.label}: pipeline relative to this checkout's bare loop (bare CPU / pipeline CPU)`, value: round(b.cpuMs / tp.cpuMs, 3), unit: 'ratio' },
        { metric: `${pre}${format}: ${tree.label}: pipeline peak RSS`, value: round(tp.rssMb, 3), unit: 'MB' },
      );
    }
  }
  return { results, perCpuSecond: slowest, vsBare };
}

/**
 * Feed ingestion throughput: the whole run (read file → parse → detect type → normalize →
 * warning lists → digest → de-duplicate → sink) on generated 1,000,000-line feeds:
 * - csv: Feodo-Tracker layout (6 quoted columns, `#` comment header), unique public IPv4s;
 * - lines: a plain list mixing IPv4, CIDR and domains with auto-detection.
 * Each case runs in its own child process so its peak RSS is its own, once with Node's default
 * heap flags and once with `--max-semi-space-size=8` (a smaller young generation: what the
 * ingest Job should run with). Reports indicators per CPU-second (the per-core figure) and per
 * wall-second, peak RSS, and the baseline RSS of a process that only loaded the modules (Node's
 * TypeScript type stripping alone costs tens of MB).
 * Targets: >= 300,000 indicators/s per core, peak RSS < 200 MB.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMillis, emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { runIngestion } from '../operator/src/feeds/ingest.ts';
import { PRESETS } from '../operator/src/feeds/presets.ts';
import type { ParserConfig } from '../operator/src/feeds/presets.ts';
import { loadWarningLists } from '../operator/src/feeds/warninglists.ts';

/** What `npm run bench -- feeds --help` prints. */
const USAGE: BenchUsage = {
  name: 'feeds',
  measures: 'Feed ingestion throughput of a whole Feed run (read, parse, detect, normalize, warning lists, digest, de-duplicate, sink) on generated 1,000,000-line feeds (Feodo csv, a mixed plain list), each in its own child process with default heap flags and with --max-semi-space-size=8: indicators per CPU-second and per wall-second, peak RSS, baseline RSS. Targets: >= 300,000 indicators/s per core, peak RSS < 200 MB. No arguments.',
};

const LINES = 1_000_000;

function publicIp(i: number): string {
  // Spread i over 11.0.0.0-126.255.255.255, avoiding 100.64/10 and private ranges' first octets.
  const a = 11 + (i % 89);
  const first = a === 100 ? 101 : a;
  return `${first}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

async function writeLines(path: string, header: string, line: (i: number) => string): Promise<void> {
  const ws = createWriteStream(path);
  ws.write(header);
  let buf = '';
  for (let i = 0; i < LINES; i++) {
    buf += line(i);
    if (buf.length > 1 << 16) {
      if (!ws.write(buf)) await new Promise<void>((r) => ws.once('drain', () => r()));
      buf = '';
    }
  }
  ws.end(buf);
  await new Promise<void>((r) => ws.once('finish', () => r()));
}

const CASES: Record<string, { header: string; line: (i: number) => string; parser: ParserConfig }> = {
  csv: {
    header: '# abuse.ch Feodo Tracker Botnet C2 IP Blocklist (CSV)\n# "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n',
    line: (i) => `"2026-11-2${i % 10} 07:44:46","${publicIp(i)}","${443 + (i % 1000)}","online","2026-11-25","QakBot"\n`,
    parser: PRESETS['feodo']!.parser,
  },
  lines: {
    header: '# generated plain list\n',
    line: (i) => (i % 3 === 0 ? `${publicIp(i)}\n` : i % 3 === 1 ? `${publicIp(i).replace(/\.\d+$/, '.0')}/24 ; SBL${i}\n` : `host-${i.toString(36)}.Evil-${i % 97}.example-bad.net\n`),
    parser: { format: 'lines', lines: {} },
  },
};

async function child(name: string, file: string): Promise<void> {
  const warningList = await loadWarningLists();
  if (name === 'baseline') {
    process.stdout.write(JSON.stringify({ rssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
    return;
  }
  const c = CASES[name]!;
  let count = 0;
  const cpu0 = cpuMillis();
  const t0 = performance.now();
  const r = await runIngestion({ source: { kind: 'file', path: file }, parser: c.parser }, {
    warningList,
    sink: { add: () => { count++; }, commit: () => Promise.resolve(), abort: () => Promise.resolve() },
  });
  const wall = performance.now() - t0;
  const cpu = cpuMillis() - cpu0;
  if (r.report.outcome !== 'succeeded') throw new Error(`run failed: ${JSON.stringify(r.report.error)}`);
  const processed = r.report.fetched;
  process.stdout.write(JSON.stringify({ processed, new: count, rejected: r.report.rejected, wall, cpu, rssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

async function main(): Promise<void> {
  const [mode, name, file] = process.argv.slice(2);
  if (mode === '--child' && name !== undefined && file !== undefined) {
    await child(name, file);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-bench-feeds-'));
  const results: BenchResult[] = [];
  const self = fileURLToPath(import.meta.url);
  const runChild = (flags: string[], caseName: string, path: string): Record<string, number> => {
    const run = spawnSync(process.execPath, [...flags, self, '--child', caseName, path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (run.status !== 0) throw new Error(`${caseName} child failed (exit ${String(run.status)})`);
    return JSON.parse(run.stdout.trim()) as Record<string, number>;
  };
  try {
    results.push({ metric: 'baseline RSS (modules loaded, nothing ingested)', value: round(runChild([], 'baseline', '-')['rssMb'] ?? 0, 3), unit: 'MB' });
    for (const [caseName, c] of Object.entries(CASES)) {
      const path = join(dir, `${caseName}.txt`);
      progress(`generating ${LINES} ${caseName} lines`);
      await writeLines(path, c.header, c.line);
      for (const [label, flags] of [['', []], [' (--max-semi-space-size=8)', ['--max-semi-space-size=8']]] as const) {
        progress(`ingesting ${caseName}${label}`);
        const m = runChild([...flags], caseName, path) as { processed: number; new: number; wall: number; cpu: number; rssMb: number };
        progress(`${caseName}${label}: ${m.processed} entries, ${m.new} new, ${Math.round(m.wall)} ms wall, ${Math.round(m.cpu)} ms CPU, peak RSS ${Math.round(m.rssMb)} MB`);
        results.push(
          { metric: `${caseName}${label} indicators per CPU-second (per core)`, value: round((m.processed * 1000) / m.cpu), unit: 'indicators/s' },
          { metric: `${caseName}${label} indicators per wall-second`, value: round((m.processed * 1000) / m.wall), unit: 'indicators/s' },
          { metric: `${caseName}${label} peak RSS`, value: round(m.rssMb, 3), unit: 'MB' },
        );
      }
    }
    results.push({ metric: 'load average (1 min) at the end', value: round(loadavg()[0] ?? 0, 3), unit: 'runnable' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  emit(results);
}

if (!helpAsked(USAGE)) await main();

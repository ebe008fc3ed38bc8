/**
 * `npm run bench -- ingest`: issue 14's ingest goal (docs/adr/2026-12-06-million-indicators.md):
 * >= 500,000 indicators per CPU-second for 1M-line csv and plain lists, no slower than a bare
 * Node loop doing the same work in the same run, and peak RSS < 200 MB whatever the feed size.
 *
 * 1. Rate (bench/ingest-stage.ts): BENCH_INGEST_LINES-line feeds (default 1,000,000; Feodo csv,
 *    a mixed plain list of IPv4, CIDRs and mixed-case host names) through the product pipeline
 *    and the bare loop (bench/scale-ingest.ts), BENCH_INGEST_REPEATS interleaved runs each
 *    (default 2; the fastest counts), with the ingest Job's V8 flags.
 * 2. Peak RSS of the real command, `threatmesh ingest --source FILE --dry-run --output ndjson >
 *    /dev/null` with the ingest Job's V8 flags (bench/maxrss.ts), for each size of
 *    BENCH_INGEST_RSS_LINES (default 1000000,5000000), and of the pipeline alone
 *    (bench/scale-ingest.ts, only the feeds modules loaded).
 * BENCH_INGEST_BEFORE=DIR measures an older checkout too (DIR holds its bench/, operator/ and
 * node_modules), in the same runs, labelled `before`: e.g. `git archive 6d9113e bench operator
 * package.json tsconfig.json | tar -x -C DIR && ln -s $PWD/node_modules DIR/`.
 * The load average is reported at the start and the end.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, progress, round, type BenchResult } from './lib.ts';
import { FEEDS, ingestOnce, ingestStage, writeFeed, type FeedFormat, type IngestTree } from './ingest-stage.ts';
import { MAXRSS_MARKER } from './maxrss.ts';
import { INGEST_NODE_OPTIONS } from '../operator/src/controllers/jobexecutor.ts';

const LINES = Number(process.env['BENCH_INGEST_LINES'] ?? 1_000_000);
const REPEATS = Number(process.env['BENCH_INGEST_REPEATS'] ?? 2);
const RSS_LINES = (process.env['BENCH_INGEST_RSS_LINES'] ?? '1000000,5000000').split(',').filter((s) => s !== '').map(Number);
const BEFORE = process.env['BENCH_INGEST_BEFORE'];
const root = fileURLToPath(new URL('..', import.meta.url));

/** The CLI's arguments for a generated feed. */
const CLI_PARSER: Record<FeedFormat, string[]> = { csv: ['--preset', 'feodo'], lines: ['--format', 'lines'] };

/** Peak RSS (MB) of `threatmesh ingest --dry-run --output ndjson > /dev/null` in `tree`. */
function cliPeakRss(tree: IngestTree, format: FeedFormat, path: string): number {
  const devNull = openSync('/dev/null', 'w');
  try {
    const args = [...INGEST_NODE_OPTIONS.split(' '), join(root, 'bench', 'maxrss.ts'), join(tree.dir, 'bin', 'threatmesh.mjs'), 'ingest', '--source', path, ...CLI_PARSER[format], '--dry-run', '--output', 'ndjson', '--progress-every', '10000000'];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', devNull, 'pipe'], maxBuffer: 64 << 20 });
    const line = r.stderr.split('\n').findLast((l) => l.startsWith(MAXRSS_MARKER));
    if (r.status !== 0 || line === undefined) throw new Error(`${tree.label} threatmesh ingest ${format} exited with ${String(r.status)}: ${r.stderr.slice(-500)}`);
    return Number(line.slice(MAXRSS_MARKER.length));
  } finally {
    closeSync(devNull);
  }
}

async function rssStage(dir: string, trees: readonly IngestTree[]): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const lines of RSS_LINES) {
    for (const format of Object.keys(FEEDS) as FeedFormat[]) {
      const path = join(dir, `rss-${format}.txt`);
      progress(`rss: generating ${lines} ${format} lines`);
      await writeFeed(path, format, lines);
      for (const tree of trees) {
        const label = tree.label === 'this' ? '' : ` (${tree.label})`;
        progress(`rss: ${tree.label} threatmesh ingest ${format} ${lines}`);
        const cli = cliPeakRss(tree, format, path);
        const pipeline = ingestOnce(tree, 'pipeline', format, path).rssMb;
        results.push(
          { metric: `peak RSS, threatmesh ingest --dry-run --output ndjson, ${format}, ${lines} lines${label}`, value: round(cli, 3), unit: 'MB' },
          { metric: `peak RSS, pipeline alone (bench/scale-ingest.ts), ${format}, ${lines} lines${label}`, value: round(pipeline, 3), unit: 'MB' },
        );
      }
      await rm(path, { force: true });
    }
  }
  return results;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-bench-ingest-'));
  const results: BenchResult[] = [{ metric: 'machine load average (1 min) at the start', value: round(loadavg()[0] ?? 0, 3), unit: 'runnable tasks' }];
  const compare: IngestTree[] = BEFORE === undefined ? [] : [{ label: 'before', dir: BEFORE }];
  try {
    const ing = await ingestStage({ dir, lines: LINES, repeats: REPEATS, compare, prefix: '' });
    results.push(...ing.results);
    results.push(...await rssStage(dir, [{ label: 'this', dir: root }, ...compare]));
    results.push({ metric: 'machine load average (1 min) at the end', value: round(loadavg()[0] ?? 0, 3), unit: 'runnable tasks' }, { metric: 'lines per feed (rate)', value: LINES, unit: 'lines' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  emit(results);
}

if (process.argv.includes('--help')) {
  process.stdout.write('npm run bench -- ingest: ingest rate (pipeline vs bare loop) and peak RSS; see the comment at the top of bench/ingest.bench.ts for BENCH_INGEST_* variables\n');
} else {
  await main();
}

/**
 * `npm run bench -- ingest`: issue 14's ingest goal (docs/adr/2026-12-06-million-indicators.md):
 * >= 500,000 indicators per CPU-second for 1M-line csv and plain lists, no slower than a bare
 * Node loop doing the same work in the same run, and peak RSS < 200 MB whatever the feed size.
 *
 * 1. Rate (bench/ingest-stage.ts): BENCH_INGEST_LINES-line feeds (default 1,000,000; Feodo csv,
 *    a mixed plain list of IPv4, CIDRs and mixed-case host names) through the product pipeline
 *    and the bare loop (bench/scale-ingest.ts), BENCH_INGEST_REPEATS interleaved runs each
 *    (default 2; the fastest counts), with the ingest Job's V8 flags.
 * 2. Peak RSS with the ingest Job's V8 flags (bench/maxrss.ts), for each size of
 *    BENCH_INGEST_RSS_LINES (default 1000000,5000000), the highest of BENCH_INGEST_RSS_SAMPLES
 *    runs (default 3; peak RSS varies by about 20 MB between identical runs here), of:
 *    - the preview, `threatmesh ingest --source FILE --dry-run --output ndjson > /dev/null`;
 *    - the Feed path (bench/ingest-feed.ts: a Feed run as `ingest --feed` makes it, the feed
 *      served over HTTP by this process, every new indicator spooled and created on a stand-in
 *      API that counts creates), for each replica API mode of BENCH_INGEST_FEED_REPLICA
 *      (default `none,empty`: no replica API, or an empty one whose check spools candidates);
 *    - the pipeline alone (bench/scale-ingest.ts, only the feeds modules loaded).
 * BENCH_INGEST_BEFORE=DIR measures an older checkout too (DIR holds its bench/, operator/ and
 * node_modules), in the same runs, labelled `before`: e.g. `git archive 6d9113e bench operator
 * package.json tsconfig.json | tar -x -C DIR && ln -s $PWD/node_modules DIR/`.
 * The load average is reported at the start and the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { FEEDS, ingestOnce, ingestStage, writeFeed, type FeedFormat, type IngestTree } from './ingest-stage.ts';
import { MAXRSS_MARKER } from './maxrss.ts';
import { INGEST_NODE_OPTIONS } from '../operator/src/controllers/jobexecutor.ts';

/** What `npm run bench -- ingest --help` prints. */
const USAGE: BenchUsage = {
  name: 'ingest',
  measures: 'Issue 14\'s ingest goal: the ingest rate of 1M-line csv and plain lists through the product pipeline against a bare Node loop (>= 500,000 indicators per CPU-second, no slower than the loop), and peak RSS (< 200 MB) of the preview, the Feed path and the pipeline alone, for each feed size.',
  knobs: [
    ['BENCH_INGEST_LINES', 'lines of the rate feeds (default 1000000)'],
    ['BENCH_INGEST_REPEATS', 'interleaved rate runs each; the fastest counts (default 2)'],
    ['BENCH_INGEST_RSS_LINES', 'feed sizes of the RSS runs, comma-separated (default 1000000,5000000)'],
    ['BENCH_INGEST_RSS_SAMPLES', 'RSS runs per size; the highest counts (default 3)'],
    ['BENCH_INGEST_FEED_REPLICA', 'replica API modes of the Feed path: none, empty (default none,empty)'],
    ['BENCH_INGEST_BEFORE=DIR', 'also measure an older checkout (DIR holds its bench/, operator/, node_modules)'],
  ],
};

const LINES = Number(process.env['BENCH_INGEST_LINES'] ?? 1_000_000);
const REPEATS = Number(process.env['BENCH_INGEST_REPEATS'] ?? 2);
const RSS_LINES = (process.env['BENCH_INGEST_RSS_LINES'] ?? '1000000,5000000').split(',').filter((s) => s !== '').map(Number);
const BEFORE = process.env['BENCH_INGEST_BEFORE'];
const RSS_SAMPLES = Math.max(1, Number(process.env['BENCH_INGEST_RSS_SAMPLES'] ?? 3));
const FEED_REPLICA = (process.env['BENCH_INGEST_FEED_REPLICA'] ?? 'none,empty').split(',').filter((s) => s !== '');
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

/** Peak RSS (MB) of a Feed run (bench/ingest-feed.ts) of `url` in `tree`; async, so this process can serve the feed meanwhile. */
function feedPeakRss(tree: IngestTree, url: string, format: FeedFormat, replica: string): Promise<number> {
  const args = [...INGEST_NODE_OPTIONS.split(' '), join(root, 'bench', 'maxrss.ts'), join(tree.dir, 'bench', 'ingest-feed.ts'), url, format, replica];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stderr.split('\n').findLast((l) => l.startsWith(MAXRSS_MARKER));
      if (code !== 0 || line === undefined || !stdout.includes('"created"')) reject(new Error(`${tree.label} Feed run ${format} exited with ${String(code)}: ${stderr.slice(-500)}`));
      else resolve(Number(line.slice(MAXRSS_MARKER.length)));
    });
  });
}

/** Serves the files of `dir` on loopback (the Feed path downloads its feed). */
async function feedServer(dir: string): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const file = createReadStream(join(dir, (req.url ?? '/').replace(/[^\w.-]/g, '')));
    file.on('error', () => { res.writeHead(404); res.end(); });
    file.on('open', () => { res.writeHead(200); file.pipe(res); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The highest of RSS_SAMPLES samples, and the lowest (the spread). */
async function highest(sample: () => number | Promise<number>): Promise<{ max: number; min: number }> {
  const got: number[] = [];
  for (let i = 0; i < RSS_SAMPLES; i++) got.push(await sample());
  return { max: Math.max(...got), min: Math.min(...got) };
}

function rssResults(what: string, r: { max: number; min: number }): BenchResult[] {
  return [
    { metric: `peak RSS, ${what} (highest of ${RSS_SAMPLES})`, value: round(r.max, 3), unit: 'MB' },
    { metric: `peak RSS, ${what} (lowest of ${RSS_SAMPLES})`, value: round(r.min, 3), unit: 'MB' },
  ];
}

/** The peak RSS figures of one tree for one generated feed (at `path`, served at `url`). */
async function treeRss(tree: IngestTree, format: FeedFormat, lines: number, feed: { path: string; url: string }): Promise<BenchResult[]> {
  const label = tree.label === 'this' ? '' : ` (${tree.label})`;
  progress(`rss: ${tree.label} threatmesh ingest ${format} ${lines}`);
  const out = rssResults(`threatmesh ingest --dry-run --output ndjson, ${format}, ${lines} lines${label}`, await highest(() => cliPeakRss(tree, format, feed.path)));
  for (const replica of FEED_REPLICA) {
    progress(`rss: ${tree.label} Feed run ${format} ${lines}, replica API ${replica}`);
    out.push(...rssResults(`Feed run (ingest --feed path, stand-in API, replica API ${replica}), ${format}, ${lines} lines${label}`, await highest(() => feedPeakRss(tree, feed.url, format, replica))));
  }
  out.push(...rssResults(`pipeline alone (bench/scale-ingest.ts), ${format}, ${lines} lines${label}`, await highest(() => ingestOnce(tree, 'pipeline', format, feed.path).rssMb)));
  return out;
}

async function rssStage(dir: string, trees: readonly IngestTree[]): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const { server, base } = await feedServer(dir);
  try {
    for (const lines of RSS_LINES) {
      for (const format of Object.keys(FEEDS) as FeedFormat[]) {
        const name = `rss-${format}.txt`;
        const path = join(dir, name);
        progress(`rss: generating ${lines} ${format} lines`);
        await writeFeed(path, format, lines);
        for (const tree of trees) results.push(...await treeRss(tree, format, lines, { path, url: `${base}/${name}` }));
        await rm(path, { force: true });
      }
    }
  } finally {
    server.close();
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

if (!helpAsked(USAGE)) await main();

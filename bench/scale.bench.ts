/**
 * `npm run bench -- scale`: the million-indicator path (issue 14,
 * docs/adr/2026-12-06-million-indicators.md). N = BENCH_SCALE_INDICATORS (default 1,000,000).
 *
 * 1. Ingest (bench/ingest-stage.ts): BENCH_SCALE_INGEST-line feeds (default 1,000,000; Feodo csv, a mixed plain list) through the product pipeline and
 *    through a bare Node loop doing the same work (bench/scale-ingest.ts), each in its own
 *    process with the ingest Job's V8 flags, in the same run: CPU-seconds, wall, peak RSS.
 * 2. Exchange: `bench/exchange.bench.ts` as a child (sequencer + 3 partners + clients on this
 *    machine, FerretDB) with BENCH_SCALE_EXCHANGE indicators (default min(N, 10,000)) saturated and
 *    2,000 paced at 50%/80%, with every signature verification of every thread counted
 *    (bench/scale-verifycount.ts): end-to-end rate, p99 at 80% of saturation, verifications
 *    per admitted indicator.
 * 3. Partner: a new partner catches up on an N-entry log and serves it through the cluster API
 *    (bench/scale-partner.ts): catch-up seconds, etcd growth per indicator, cluster readability.
 *
 * 4. Database: FerretDB's SQLite and PostgreSQL backends with BENCH_SCALE_DB records each
 *    (default min(N, 100,000)): bulk insert, lookup by name, range, stream (bench/scale-db.ts).
 *
 * The cluster end-to-end rate is min(exchange end to end, partner apply rate with the cluster
 * API in the loop): an indicator passes both, and the cluster API adds no write (the aggregated
 * API reads the database). Stages can be skipped with BENCH_SCALE_SKIP=ingest,exchange,partner,database.
 * The results go to bench/results/scale.json; the last stdout line of `npm run bench -- scale`
 * is the summary object.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, emitSummary, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { ensureBinaries } from '../operator/src/dev/controlplane/build.ts';
import { partnerStage, type PartnerStageResult } from './scale-partner.ts';
import { databaseStage } from './scale-db.ts';
import { ingestStage } from './ingest-stage.ts';

/** What `npm run bench -- scale --help` prints. */
const USAGE: BenchUsage = {
  name: 'scale',
  measures: 'The million-indicator path (issue 14): ingest through the product pipeline against a bare Node loop; the exchange (bench/exchange.bench.ts as a child, every signature verification counted); a new partner catching up on an N-entry log and serving it through the cluster API; FerretDB on SQLite and PostgreSQL. The last stdout line of `npm run bench -- scale` is the summary object. bench/results/scale.json must stay a full-size (1M) run: never commit a reduced one over it.',
  knobs: [
    ['BENCH_SCALE_INDICATORS', 'N (default 1000000)'],
    ['BENCH_SCALE_INGEST', 'lines of each ingest feed (default 1000000)'],
    ['BENCH_SCALE_EXCHANGE', 'indicators of the exchange stage (default min(N, 10000))'],
    ['BENCH_SCALE_DB', 'records per database backend (default min(N, 100000))'],
    ['BENCH_SCALE_OBJECT_SAMPLE', 'objects read back through the cluster API (default 1000)'],
    ['BENCH_SCALE_SKIP', 'stages to skip: a comma list of ingest, exchange, partner, database'],
    ['BENCH_EXCHANGE_VOTES', 'protocols of the exchange stage (default v2)'],
    ['THREATMESH_FERRETDB_BACKEND', 'postgresql (default) or sqlite, for the partner stage'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};

const N = Number(process.env['BENCH_SCALE_INDICATORS'] ?? 1_000_000);
/** Lines per ingested feed: the 1M-line lists whatever N. */
const INGEST_LINES = Number(process.env['BENCH_SCALE_INGEST'] ?? 1_000_000);
const EXCHANGE_N = Number(process.env['BENCH_SCALE_EXCHANGE'] ?? Math.min(N, 10_000));
/** Records per FerretDB backend in the database stage. */
const DB_N = Number(process.env['BENCH_SCALE_DB'] ?? Math.min(N, 100_000));
const SAMPLE = Number(process.env['BENCH_SCALE_OBJECT_SAMPLE'] ?? 1000);
/** FerretDB backend of the partner stage (THREATMESH_FERRETDB_BACKEND): PostgreSQL, the faster one, unless told otherwise. */
const BACKEND = process.env['THREATMESH_FERRETDB_BACKEND'] === 'sqlite' ? 'sqlite' : 'postgresql';
const SKIP = new Set((process.env['BENCH_SCALE_SKIP'] ?? '').split(',').filter((s) => s !== ''));
const here = fileURLToPath(new URL('.', import.meta.url));

function child(args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited with ${String(r.status)}`);
  return r.stdout;
}

async function countVerifications(dir: string): Promise<number> {
  let total = 0;
  for (const f of (await readdir(dir).catch(() => [] as string[])).filter((x) => x.endsWith('.count'))) total += Number(await readFile(join(dir, f), 'utf8'));
  return total;
}

interface ExchangeOut { results: BenchResult[]; endToEnd: number; p99: number; verificationsPerIndicator: number }

async function exchangeStage(dir: string): Promise<ExchangeOut> {
  const countDir = await mkdtemp(join(dir, 'verify-'));
  const paced = Math.min(2000, EXCHANGE_N);
  progress(`exchange: ${EXCHANGE_N} saturated + 2 × ${paced} paced (bench/exchange.bench.ts)`);
  const out = child(['--expose-gc', '--import', join(here, 'scale-verifycount.ts'), join(here, 'exchange.bench.ts')], { ...process.env, BENCH_EXCHANGE_COUNT: String(EXCHANGE_N), BENCH_EXCHANGE_PACED_COUNT: String(paced), THREATMESH_VERIFY_COUNT_DIR: countDir, BENCH_EXCHANGE_VOTES: process.env['BENCH_EXCHANGE_VOTES'] ?? 'v2' });
  const line = out.split('\n').find((l) => l.startsWith('THREATMESH_BENCH_RESULTS '));
  if (line === undefined) throw new Error('exchange bench printed no results');
  const results = JSON.parse(line.slice('THREATMESH_BENCH_RESULTS '.length)) as BenchResult[];
  // The last protocol run is the one the network runs (v2 unless BENCH_EXCHANGE_VOTES says otherwise).
  const find = (re: RegExp): number => results.findLast((r) => re.test(r.metric))?.value ?? NaN;
  const verifications = await countVerifications(countDir);
  return {
    results: results.map((r) => ({ ...r, metric: `exchange: ${r.metric}` })),
    endToEnd: find(/: end to end, saturated/), p99: find(/p99, 80% load/), verificationsPerIndicator: verifications / (EXCHANGE_N + 2 * paced),
  };
}

function partnerResults(p: PartnerStageResult): BenchResult[] {
  return [
    { metric: 'partner: catch-up of a new partner (verify + apply into MongoDB)', value: round(p.catchUpSeconds, 4), unit: 's' },
    { metric: 'partner: catch-up rate', value: round(p.entries / p.catchUpSeconds), unit: 'entries/s' },
    { metric: 'partner: signature verifications per entry during catch-up', value: round(p.verificationsPerEntry, 4), unit: 'verifications' },
    { metric: 'partner: last indicator readable through the cluster API (aggregated API) after', value: round(p.clusterReadableSeconds, 4), unit: 's' },
    { metric: 'partner: etcd database file growth', value: p.etcdFileGrowthBytes, unit: 'bytes' },
    { metric: 'partner: etcd in-use growth (etcd_mvcc_db_total_size_in_use_in_bytes)', value: p.etcdInUseGrowthBytes ?? NaN, unit: 'bytes' },
    { metric: 'partner: ThreatIndicator objects in the working set', value: p.workingSetObjects, unit: 'objects' },
    { metric: `reference: etcd bytes per full ThreatIndicator object as written before (${p.fullObjectSample} objects)`, value: round(p.fullObjectBytes), unit: 'bytes' },
    { metric: 'partner: signing the N-entry log (setup, not measured)', value: round(p.buildSeconds, 4), unit: 's' },
    { metric: 'restart: ready (sink open with the digest set loaded, working set listed), fresh process', value: round(p.restart.readyMs / 1000, 4), unit: 's' },
    { metric: 'restart: of which opening the sink (indexes ensured, digest-membership set loaded)', value: round(p.restart.openMs / 1000, 4), unit: 's' },
    { metric: 'restart: digests in the membership set', value: p.restart.knownDigests, unit: 'digests' },
    { metric: 'restart: working-set ThreatIndicators listed (informer initial list)', value: p.restart.workingSet, unit: 'objects' },
    { metric: 'restart: process RSS when ready', value: p.restart.rssAtReadyMb, unit: 'MB' },
    { metric: 'partner: catch-up CPU per 1,000 entries, partner process (replica, log server, materializer client)', value: round(p.apply.partnerCpuMs * 1000 / p.entries), unit: 'ms' },
    { metric: 'partner: catch-up CPU per 1,000 entries, FerretDB + PostgreSQL', value: round(p.apply.databaseCpuMs * 1000 / p.entries), unit: 'ms' },
    { metric: 'partner: catch-up CPU per 1,000 entries, control plane (kube-apiserver + etcd)', value: round(p.apply.controlPlaneCpuMs * 1000 / p.entries), unit: 'ms' },
    { metric: 'partner: catch-up MongoDB commands per 1,000 entries', value: round(Object.values(p.apply.commands).reduce((a, c) => a + c.commands, 0) * 1000 / p.entries, 4), unit: 'commands' },
    { metric: 'partner: catch-up share of wall time with a sink write in flight', value: round(p.apply.sinkBusyMs / 1000 / p.catchUpSeconds, 4), unit: 'ratio' },
    { metric: 'restart: V8 heap used when ready', value: p.restart.heapAtReadyMb, unit: 'MB' },
    { metric: 'restart: first drift repair query (records at or above the working-set floor)', value: round(p.restart.firstRepairQueryMs / 1000, 4), unit: 's' },
    { metric: 'restart: records the first drift repair reads', value: p.restart.firstRepairRecords, unit: 'records' },
    { metric: 'restart: peak RSS (incl. the first repair query)', value: p.restart.peakRssMb, unit: 'MB' },
  ];
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-bench-scale-'));
  const results: BenchResult[] = [{ metric: 'machine load average (1 min) at the start', value: round(loadavg()[0] ?? 0, 3), unit: 'runnable tasks' }];
  // Every key of the contract is present; a skipped stage leaves null.
  const summary: Record<string, number | string | null> = {
    indicators: N, endToEndPerSecond: null, clusterEndToEndPerSecond: null, p99LatencyMs: null, verificationsPerIndicator: null,
    kubeBytesPerIndicator: null, catchUpSeconds: null, ingestPerCpuSecond: null, restartReadySeconds: null, restartRssMb: null,
  };
  try {
    if (!SKIP.has('ingest')) {
      const ing = await ingestStage({ dir, lines: INGEST_LINES });
      results.push(...ing.results);
      Object.assign(summary, { ingestPerCpuSecond: round(ing.perCpuSecond), ingestVsBareLoop: round(ing.vsBare, 3) });
    }
    let endToEnd = NaN;
    if (!SKIP.has('exchange')) {
      const ex = await exchangeStage(dir);
      results.push(...ex.results, { metric: 'exchange: signature verifications per admitted indicator (every party, counted)', value: round(ex.verificationsPerIndicator, 4), unit: 'verifications' });
      endToEnd = ex.endToEnd;
      Object.assign(summary, { exchangeIndicators: EXCHANGE_N, endToEndPerSecond: round(ex.endToEnd), p99LatencyMs: round(ex.p99), verificationsPerIndicator: round(ex.verificationsPerIndicator, 4) });
    }
    if (!SKIP.has('partner')) {
      const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: process.stderr });
      // This process verifies the catch-up: count its own verifications the same way.
      const countDir = await mkdtemp(join(dir, 'verify-partner-'));
      process.env['THREATMESH_VERIFY_COUNT_DIR'] = countDir;
      await import('./scale-verifycount.ts');
      const counted = async (): Promise<number> => {
        await new Promise((r) => setTimeout(r, 300));
        return countVerifications(countDir);
      };
      const p = await partnerStage({ n: N, sample: SAMPLE, dir: join(dir, 'partner'), binaries, verifications: counted, backend: BACKEND });
      results.push(...partnerResults(p));
      const clusterApply = p.entries / p.clusterReadableSeconds;
      Object.assign(summary, {
        clusterEndToEndPerSecond: round(Number.isNaN(endToEnd) ? clusterApply : Math.min(endToEnd, clusterApply)), clusterApplyPerSecond: round(clusterApply),
        kubeBytesPerIndicator: round(p.etcdFileGrowthBytes / p.entries, 4), kubeInUseBytesPerIndicator: p.etcdInUseGrowthBytes === undefined ? null : round(p.etcdInUseGrowthBytes / p.entries, 4),
        catchUpSeconds: round(p.catchUpSeconds, 4), restartReadySeconds: round(p.restart.readyMs / 1000, 4), restartRssMb: p.restart.rssAtReadyMb, fullObjectBytes: round(p.fullObjectBytes), ferretdbBackend: BACKEND,
      });
    }
    if (!SKIP.has('database')) {
      const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: process.stderr });
      results.push(...await databaseStage(DB_N, dir, binaries));
    }
    results.push({ metric: 'machine load average (1 min) at the end', value: round(loadavg()[0] ?? 0, 3), unit: 'runnable tasks' }, { metric: 'indicators', value: N, unit: 'count' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  emit(results);
  emitSummary(summary);
}

if (!helpAsked(USAGE)) {
  await main();
  process.exit(0);
}

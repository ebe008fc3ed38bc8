/**
 * The replica API's reads by object name on the local database (FerretDB 1.24 on PostgreSQL,
 * started by dev/controlplane as every test and sandbox starts it), at N records (argv or
 * BENCH_REPLICANAME_COUNTS, default 100000; BENCH_REPLICANAME_BACKEND=sqlite for the other
 * backend; BENCH_REPLICANAME_GETS, default 40, and BENCH_REPLICANAME_SETS, default 3, reads of each kind): the sink opens the collection (its indexes), N records in the sink's shape are
 * inserted 1,000 per unordered insertMany, then, through store/indicatornames.ts as
 * `threatmesh replica-api` reads:
 * - `GET threatindicators/NAME` of existing names, and of names that do not exist (after the
 *   first miss, which also asks once whether records without a name exist, timed alone);
 * - the set query `-l 'threatmesh.io/name in (…)'` with 500 names (half existing) and 1,000.
 * BENCH_REPLICANAME_MISSES=0 leaves unknown names out. After seeding, the marker of the operator's
 * naming pass is set (every seeded record has its name); BENCH_REPLICANAME_MARKER=0 leaves it out,
 * and the first unknown name then scans the collection once.
 * Figures: wall ms per read, and CPU ms per read of the database (FerretDB plus PostgreSQL,
 * bench/proccpu.ts) and of this process; the insert rate and database CPU per 1,000 inserted
 * (the write cost of the indexes). docs/adr/2026-12-07-replica-name-lookups.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Collection } from 'mongodb';
import { emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { databaseCpuMs } from './proccpu.ts';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import { ensureBinaries } from '../operator/src/dev/controlplane/build.ts';
import { startDatabase, type FerretBackend } from '../operator/src/dev/controlplane/instance.ts';
import { systemClock } from '../operator/src/runtime/clock.ts';
import { EVERY_RECORD_NAMED, REPLICA_MARKERS } from '../operator/src/store/indicatorpages.ts';
import { NamedIndicatorPages } from '../operator/src/store/indicatornames.ts';
import { INDICATORS, MongoIndicatorSink, type IndicatorRecord } from '../operator/src/store/indicators.ts';

/** What `npm run bench -- replicaname --help` prints. */
const USAGE: BenchUsage = {
  name: 'replicaname',
  args: '[COUNTS]',
  measures: 'GET by name, unknown names and name-set queries of the replica API on FerretDB at COUNTS records.',
  knobs: [
    ['COUNTS', 'comma-separated record counts (or BENCH_REPLICANAME_COUNTS; default 100000)'],
    ['BENCH_REPLICANAME_BACKEND=sqlite', 'FerretDB on SQLite (default PostgreSQL)'],
    ['BENCH_REPLICANAME_GETS', 'GETs by name per count (default 40)'],
    ['BENCH_REPLICANAME_SETS', 'name-set queries per count (default 3)'],
    ['BENCH_REPLICANAME_MISSES=0', 'no unknown names (the first scans the collection once: minutes at 10^6 on FerretDB)'],
    ['BENCH_REPLICANAME_MARKER=0', 'no every-record-named marker after seeding (a database the naming pass has not seen)'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};

const counts = (process.argv[2] ?? process.env['BENCH_REPLICANAME_COUNTS'] ?? '100000').split(',').map(Number);
const BACKEND: FerretBackend = process.env['BENCH_REPLICANAME_BACKEND'] === 'sqlite' ? 'sqlite' : 'postgresql';
const GETS = Number(process.env['BENCH_REPLICANAME_GETS'] ?? 40);
const SETS = Number(process.env['BENCH_REPLICANAME_SETS'] ?? 3);
/** BENCH_REPLICANAME_MISSES=0: no unknown names (the first one scans the collection once, minutes at 10^6 on FerretDB); sets of existing names only. */
const MISSES = process.env['BENCH_REPLICANAME_MISSES'] !== '0';
/** BENCH_REPLICANAME_MARKER=0: no every-record-named marker after seeding (a database the naming pass has not seen). */
const MARKER = process.env['BENCH_REPLICANAME_MARKER'] !== '0';

function record(i: number): IndicatorRecord {
  const value = `n-${i.toString(36)}.replicaname-bench.example`;
  const digest = indicatorDigest({ type: 'domain', value });
  return {
    _id: digest, digest, type: 'domain', value, state: 'active', logIndex: i, proposerId: 'alpha', name: `domain-${digest.slice(0, 40)}`,
    votes: [{ partnerId: 'alpha', decision: 'approve', signedAt: '2026-12-06T10:00:01.000Z', signature: 'A'.repeat(86) }, { partnerId: 'bravo', decision: 'approve', signedAt: '2026-12-06T10:00:02.000Z', signature: 'B'.repeat(86) }],
    window: { opensAt: '2026-12-06T10:00:00.000Z', closesAt: '2026-12-09T10:00:00.000Z' }, proposalSignature: 'C'.repeat(86), meta: { tlp: 'green', confidence: 80 }, addedAt: new Date(),
  };
}

/** An object name no record has (same form, another value). */
const absent = (i: number): string => `domain-${indicatorDigest({ type: 'domain', value: `absent-${i}.replicaname-bench.example` }).slice(0, 40)}`;

interface Cost { ms: number; dbCpuMs: number; cpuMs: number }

async function measured(fn: () => Promise<unknown>): Promise<Cost> {
  const db0 = databaseCpuMs() ?? 0;
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  await fn();
  const ms = performance.now() - t;
  const cpu = process.cpuUsage(cpu0);
  return { ms, dbCpuMs: (databaseCpuMs() ?? 0) - db0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function per(label: string, c: Cost, times: number): BenchResult[] {
  return [
    { metric: `${label}: wall per read`, value: round(c.ms / times), unit: 'ms' },
    { metric: `${label}: database CPU per read`, value: round(c.dbCpuMs / times), unit: 'ms' },
    { metric: `${label}: replica API process CPU per read`, value: round(c.cpuMs / times), unit: 'ms' },
  ];
}

async function seed(col: Collection<IndicatorRecord>, n: number): Promise<BenchResult[]> {
  const insert = await measured(async () => {
    for (let i = 0; i < n; i += 1000) {
      await col.insertMany(Array.from({ length: Math.min(1000, n - i) }, (_, k) => record(i + k)), { ordered: false });
      if ((i + 1000) % 50_000 === 0) progress(`replicaname: inserted ${i + 1000} of ${n}`);
    }
  });
  return [
    { metric: `${n} records: insertMany`, value: round((n * 1000) / insert.ms), unit: 'records/s' },
    { metric: `${n} records: database CPU per 1,000 inserted`, value: round((insert.dbCpuMs * 1000) / n), unit: 'ms' },
  ];
}

async function reads(pages: NamedIndicatorPages, n: number): Promise<BenchResult[]> {
  const existing = (k: number, of: number): string => record(Math.floor((k * n) / of)).name!;
  const out: BenchResult[] = [];
  if (MISSES) out.push(...await missSteps(pages, n));
  const hits = await measured(async () => {
    for (let k = 0; k < GETS; k++) if (await pages.byName(existing(k, GETS)) === undefined) throw new Error(`record ${k} not found by name`);
  });
  out.push(...per(`${n} records: GET by name, existing`, hits, GETS));
  for (const size of [500, 1000]) {
    const cost = await measured(async () => {
      for (let s = 0; s < SETS; s++) {
        const held = (k: number): boolean => !MISSES || k % 2 === 0;
        const names = Array.from({ length: size }, (_, k) => (held(k) ? existing((k + s) % size, size) : absent(1000 * (s + 1) + k)));
        const found = await pages.byNames(names);
        const want = names.filter((_, k) => held(k));
        if (found.length !== want.length) {
          const got = new Set(found.map((r) => r.name));
          throw new Error(`set of ${size}: found ${found.length}, expected ${want.length}; not found: ${want.filter((x) => !got.has(x)).join(', ')}`);
        }
      }
    });
    out.push(...per(`${n} records: set query of ${size} names (${MISSES ? 'half' : 'all'} existing)`, cost, SETS));
  }
  return out;
}

// The first unknown name (which also asks, once, whether records without a name exist), then unknown names.
async function missSteps(pages: NamedIndicatorPages, n: number): Promise<BenchResult[]> {
  const firstMiss = await measured(async () => {
    if (await pages.byName(absent(0)) !== undefined) throw new Error('an absent name was found');
  });
  const misses = await measured(async () => {
    for (let k = 1; k <= GETS; k++) if (await pages.byName(absent(k)) !== undefined) throw new Error('an absent name was found');
  });
  return [
    { metric: `${n} records: first GET of an unknown name (also asks whether records without a name exist)`, value: round(firstMiss.ms), unit: 'ms' },
    ...per(`${n} records: GET by name, unknown`, misses, GETS),
  ];
}

async function one(n: number, dir: string, ferretdb: string): Promise<BenchResult[]> {
  const db = await startDatabase({ name: `replicaname-${n}`, dir: join(dir, String(n)), ferretdb, backend: BACKEND });
  const client = await MongoClient.connect(db.uri);
  try {
    const mdb = client.db('replicaname');
    await MongoIndicatorSink.open(mdb);
    const out = await seed(mdb.collection<IndicatorRecord>(INDICATORS), n);
    // Every seeded record carries its name: the marker the operator's naming pass sets (nameUnnamedRecords) is true here.
    // Without it (BENCH_REPLICANAME_MARKER=0, or main) the first unknown name scans the collection once.
    if (MARKER) await mdb.collection<{ _id: string }>(REPLICA_MARKERS).insertOne({ _id: EVERY_RECORD_NAMED });
    const pages = new NamedIndicatorPages(mdb, { clock: systemClock });
    try {
      out.push(...await reads(pages, n));
    } finally {
      await pages.close();
    }
    return out;
  } finally {
    await client.close();
    await db.stop();
  }
}

async function main(): Promise<void> {
  const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: process.stderr });
  const dir = await mkdtemp(join(tmpdir(), 'bench-replicaname-'));
  const results: BenchResult[] = [];
  try {
    for (const n of counts) results.push(...await one(n, dir, binaries.ferretdb));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  results.push({ metric: `backend`, value: BACKEND === 'postgresql' ? 1 : 0, unit: '1 = FerretDB on PostgreSQL, 0 = SQLite' }, { metric: 'machine load average (1 min) at the end', value: round(loadavg()[0] ?? 0, 3), unit: 'runnable tasks' });
  emit(results);
  process.exit(0);
}

if (!helpAsked(USAGE)) await main();

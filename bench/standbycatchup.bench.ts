/**
 * The standby's catch-up of the stored-digest set (store/replicadigests.ts `catchUp`) on the local
 * database (FerretDB 1.24 on PostgreSQL, started by dev/controlplane as every test starts it), at
 * DIGESTS stored digests (argv or BENCH_STANDBYCATCHUP_DIGESTS, default 150000) in chunks of 10
 * (one per applied batch, as a replica writes them), with both reads side by side in one run:
 * - buckets: the leader's term saved every cursor since the standby's load, so the catch-up reads
 *   the marker and the chunks of the buckets since, one equality each (an index read);
 * - scan: another term saved a cursor since (what main always did): `i ≥ n or i < 0`, which
 *   FerretDB 1.x evaluates by reading every chunk.
 * Each of ROUNDS rounds (BENCH_STANDBYCATCHUP_ROUNDS, default 3): two standbys load the set, the
 * leader applies NEW entries (BENCH_STANDBYCATCHUP_NEW, default 100) in batches of 10, one
 * standby catches up by bucket; then another term saves the cursor and the other standby catches
 * up by scan. Both must end with the same digests (checked). Figures per catch-up (median of the
 * rounds): wall ms, CPU ms of the database (FerretDB plus PostgreSQL, bench/proccpu.ts) and of this
 * process, and chunk documents returned; and how PostgreSQL runs each query (EXPLAIN through
 * FerretDB's explain: 1 = an index scan). docs/adr/2026-12-07-standby-preparation.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Binary, MongoClient, type CommandSucceededEvent, type Db } from 'mongodb';
import { emit, helpAsked, median, progress, round, type BenchResult, type BenchUsage } from './lib.ts';
import { databaseCpuMs } from './proccpu.ts';
import { prefixBytes } from '../operator/src/domain/digestset.ts';
import { ensureBinaries } from '../operator/src/dev/controlplane/build.ts';
import { startDatabase } from '../operator/src/dev/controlplane/instance.ts';
import { MongoCursorStore } from '../operator/src/store/cursor.ts';
import { chunkBucket } from '../operator/src/store/digestwatermark.ts';
import { INDICATORS } from '../operator/src/store/indicators.ts';
import { COMPLETE_MARKER, REPLICA_DIGESTS, ReplicaDigests } from '../operator/src/store/replicadigests.ts';

/** What `npm run bench -- standbycatchup --help` prints. */
const USAGE: BenchUsage = {
  name: 'standbycatchup',
  args: '[DIGESTS]',
  measures: 'The standby\'s catch-up of the stored-digest set on FerretDB 1.24 (PostgreSQL) at DIGESTS stored digests: by bucket (one index read per bucket) beside the scan every catch-up ran before (every chunk read), in one run.',
  knobs: [
    ['DIGESTS', 'stored digests, in chunks of 10 (or BENCH_STANDBYCATCHUP_DIGESTS; default 150000)'],
    ['BENCH_STANDBYCATCHUP_NEW', 'entries the leader applies between the standby\'s load and its catch-up (default 100)'],
    ['BENCH_STANDBYCATCHUP_ROUNDS', 'rounds, each one catch-up of each kind (default 3)'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};

const DIGESTS = Number(process.argv[2] ?? process.env['BENCH_STANDBYCATCHUP_DIGESTS'] ?? 150_000);
const NEW = Number(process.env['BENCH_STANDBYCATCHUP_NEW'] ?? 100);
const ROUNDS = Number(process.env['BENCH_STANDBYCATCHUP_ROUNDS'] ?? 3);
const CHUNK = 10;
const SOURCE = 'sequencer:bench';

// The set keeps each digest's first 96 bits: the number goes first so that every digest is distinct there.
const digestAt = (n: number): string => `${n.toString(16).padStart(24, '0')}${'e'.repeat(40)}`;

/** Chunks of the digests [0, DIGESTS) at log positions [0, DIGESTS), as this version writes them, and the marker. */
async function seed(db: Db): Promise<void> {
  const chunks = db.collection<{ _id: string; i: number; b: number; d: Binary }>(REPLICA_DIGESTS);
  for (let at = 0; at < DIGESTS; at += 1000 * CHUNK) {
    const docs = [];
    for (let first = at; first < Math.min(DIGESTS, at + 1000 * CHUNK); first += CHUNK) {
      docs.push({ _id: `seed-${first}`, i: first, b: chunkBucket(first), d: new Binary(prefixBytes(Array.from({ length: CHUNK }, (_, k) => digestAt(first + k)))) });
    }
    await chunks.insertMany(docs, { ordered: false });
    if ((at + 1000 * CHUNK) % 50_000 === 0) progress(`standbycatchup: seeded ${at + 1000 * CHUNK} of ${DIGESTS} digests`);
  }
  await chunks.insertOne({ _id: COMPLETE_MARKER, i: -2, b: -1, d: new Binary(Buffer.alloc(0)) });
}

/** Counts the chunk documents find/getMore return on `client`, for one call of `fn`. */
async function counted(client: MongoClient, fn: () => Promise<void>): Promise<{ docs: number; wallMs: number; dbCpuMs: number; cpuMs: number }> {
  let docs = 0;
  const listen = (e: CommandSucceededEvent): void => {
    const c = (e.reply as { cursor?: { ns?: string; firstBatch?: unknown[]; nextBatch?: unknown[] } }).cursor;
    if (c?.ns?.endsWith(`.${REPLICA_DIGESTS}`) === true) docs += (c.firstBatch ?? c.nextBatch ?? []).length;
  };
  client.on('commandSucceeded', listen);
  const db0 = databaseCpuMs() ?? 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    client.off('commandSucceeded', listen);
  }
  const cpu = process.cpuUsage(cpu0);
  return { docs, wallMs: performance.now() - t0, dbCpuMs: (databaseCpuMs() ?? 0) - db0, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** 1 when PostgreSQL answers `filter` on the chunks with an index (FerretDB's explain carries its plan), else 0. */
async function usesIndex(db: Db, filter: Record<string, unknown>): Promise<number> {
  const r = await db.command({ explain: { find: REPLICA_DIGESTS, filter } });
  return /Index Scan/.test(JSON.stringify(r['queryPlanner'] ?? {})) ? 1 : 0;
}

type Run = Awaited<ReturnType<typeof counted>> & { readonly chunks?: number };

async function oneRound(client: MongoClient, db: Db, r: number, position: number): Promise<{ buckets: Run; scan: Run; position: number }> {
  const term = `term-${r}`;
  const leader = new MongoCursorStore(db, term);
  await leader.save(SOURCE, { nextIndex: position });
  const records = db.collection<{ digest: string }>(INDICATORS);
  const [byBucket, byScan] = [new ReplicaDigests(db), new ReplicaDigests(db)];
  await byBucket.load(records, undefined, false);
  await byScan.load(records, undefined, false);
  // The leader applies NEW entries: each batch's chunk, then its cursor, as replica.ts orders them.
  const writer = new ReplicaDigests(db);
  for (let first = position; first < position + NEW; first += CHUNK) {
    await writer.remember(first, Array.from({ length: CHUNK }, (_, k) => digestAt(DIGESTS + first + k)));
    await leader.save(SOURCE, { nextIndex: first + CHUNK });
  }
  const buckets = await counted(client, () => byBucket.catchUp(records));
  // Another term saves the cursor (same position): the catch-up can no longer tell who wrote the chunks, and scans.
  await new MongoCursorStore(db, `${term}-next`).save(SOURCE, { nextIndex: position + NEW });
  const scan = { ...await counted(client, () => byScan.catchUp(records)), chunks: DIGESTS / CHUNK + (r * NEW) / CHUNK + 1 };
  for (let k = 0; k < NEW; k++) {
    const d = digestAt(DIGESTS + position + k);
    if (!byBucket.stored.has(d) || !byScan.stored.has(d)) throw new Error(`round ${r}: a catch-up missed digest ${d} (buckets ${byBucket.stored.has(d)}, scan ${byScan.stored.has(d)})`);
  }
  if (byBucket.stored.size !== byScan.stored.size) throw new Error(`round ${r}: the catch-ups disagree: ${byBucket.stored.size} digests by bucket, ${byScan.stored.size} by scan`);
  return { buckets, scan, position: position + NEW };
}

async function main(): Promise<void> {
  const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: process.stderr });
  const dir = await mkdtemp(join(tmpdir(), 'bench-standbycatchup-'));
  const database = await startDatabase({ name: 'standbycatchup', dir, ferretdb: binaries.ferretdb, backend: 'postgresql' });
  const client = await MongoClient.connect(database.uri, { monitorCommands: true });
  const results: BenchResult[] = [];
  try {
    const db = client.db('standbycatchup');
    await new ReplicaDigests(db).ensureIndex();
    await seed(db);
    const runs: Array<{ buckets: Run; scan: Run }> = [];
    let position = DIGESTS;
    for (let r = 1; r <= ROUNDS; r++) {
      const got = await oneRound(client, db, r, position);
      position = got.position;
      runs.push(got);
      progress(`standbycatchup: round ${r}: buckets ${Math.round(got.buckets.wallMs)} ms (${got.buckets.docs} docs), scan ${Math.round(got.scan.wallMs)} ms (${got.scan.docs} docs)`);
    }
    for (const kind of ['buckets', 'scan'] as const) {
      const m = (f: (x: Run) => number | undefined): number => round(median(runs.map((x) => f(x[kind]) ?? 0)));
      results.push(
        { metric: `catch-up by ${kind}: wall`, value: m((x) => x.wallMs), unit: 'ms' },
        { metric: `catch-up by ${kind}: database CPU (FerretDB + PostgreSQL)`, value: m((x) => x.dbCpuMs), unit: 'ms' },
        { metric: `catch-up by ${kind}: this process CPU`, value: m((x) => x.cpuMs), unit: 'ms' },
        { metric: `catch-up by ${kind}: chunk documents returned`, value: m((x) => x.docs), unit: 'documents' },
        // A sequential scan reads every chunk (FerretDB 1.x filters in Go); an index read only those it returns.
        { metric: `catch-up by ${kind}: chunk documents the database reads`, value: kind === 'scan' ? m((x) => x.chunks) : m((x) => x.docs), unit: 'documents' },
      );
    }
    results.push(
      { metric: 'PostgreSQL plan of a bucket read {b: k}', value: await usesIndex(db, { b: chunkBucket(DIGESTS) }), unit: '1 = index scan, 0 = sequential scan' },
      { metric: 'PostgreSQL plan of the scan {i ≥ n or i < 0}', value: await usesIndex(db, { $or: [{ i: { $gte: DIGESTS } }, { i: { $lt: 0 } }] }), unit: '1 = index scan, 0 = sequential scan' },
      { metric: 'stored digests', value: DIGESTS, unit: 'digests' },
      { metric: 'chunks at the end (and the marker)', value: DIGESTS / CHUNK + (ROUNDS * NEW) / CHUNK + 1, unit: 'documents' },
      { metric: 'entries applied between load and catch-up', value: NEW, unit: 'entries' },
      { metric: 'machine load average (1 min) at the end', value: round(loadavg()[0] ?? 0, 3), unit: 'runnable tasks' },
    );
  } finally {
    await client.close();
    await database.stop();
    await rm(dir, { recursive: true, force: true });
  }
  emit(results);
  process.exit(0);
}

if (!helpAsked(USAGE)) await main();

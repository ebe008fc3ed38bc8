/**
 * `npm run bench -- replicawrite`: what a partner's database costs per replicated log entry on the
 * replica's write path alone (issue 14, notes/issue-14-dbwrites.md), without the verification,
 * the log server or Kubernetes of the scale bench's catch-up. N = BENCH_REPLICAWRITE_ENTRIES
 * (default 20,000) genuinely signed ADD entries (protocol v2: batch votes and batch proposals, as
 * `BENCH_SCALE_VOTES=v2p` builds them) are written the way PartnerReplica writes a verified
 * batch: the sink's applyMany (store/indicators.ts), the leaf hashes (store/leaves.ts) and the
 * cursor (store/cursor.ts), in batches of BENCH_REPLICAWRITE_BATCH (default: the checkout's
 * catch-up batch, else its checkpoint size), into a fresh FerretDB on PostgreSQL (THREATMESH_FERRETDB_BACKEND=sqlite for
 * the other backend). Measured: CPU of FerretDB + PostgreSQL and of this process per 1,000
 * entries, wall rate, and MongoDB commands per batch (command monitoring).
 *
 * BENCH_REPLICAWRITE_SERVED=1 opens the serving reader first (store/servedindicators.ts), as a
 * partner running `threatmesh serve` has it, with the indexes it creates.
 *
 * BENCH_REPLICAWRITE_BEFORE=DIR also runs an older checkout's stores and database settings (DIR
 * holds its operator/), each in its own fresh database, alternating, in the same run: before and after side by side.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient } from 'mongodb';
import { emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { databaseCpuMs } from './proccpu.ts';
import { ensureBinaries } from '../operator/src/dev/controlplane/build.ts';
import { startDatabase, type FerretBackend } from '../operator/src/dev/controlplane/instance.ts';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import { entryLeafHash, roundSubject, type EntryBody } from '../operator/src/domain/entry.ts';
import { signProposalBatch } from '../operator/src/domain/proposalbatch.ts';
import { signVoteBatch } from '../operator/src/domain/quorum.ts';
import { SigningKey } from '../operator/src/domain/signature.ts';
import type { VerifiedEntry } from '../operator/src/domain/stores.ts';
import { DEFAULT_VOTE_BATCH_SIZE } from '../operator/src/exchange/partner/voter.ts';

/** What `npm run bench -- replicawrite --help` prints. */
const USAGE: BenchUsage = {
  name: 'replicawrite',
  measures: 'What a partner\'s database costs per replicated log entry on the replica\'s write path alone (sink applyMany, leaf hashes, cursor), for N signed ADD entries into a fresh FerretDB: CPU of FerretDB + PostgreSQL and of this process per 1,000 entries, wall rate, MongoDB commands per batch.',
  knobs: [
    ['BENCH_REPLICAWRITE_ENTRIES', 'N, entries written (default 20000)'],
    ['BENCH_REPLICAWRITE_BATCH', 'entries per batch (default: the checkout\'s catch-up batch, else its checkpoint size)'],
    ['BENCH_REPLICAWRITE_ROUNDS', 'rounds of N entries (default 1)'],
    ['BENCH_REPLICAWRITE_SERVED=1', 'open the serving reader first, with its indexes, as `threatmesh serve` has it'],
    ['BENCH_REPLICAWRITE_SERIAL=1', 'write the batches one after the other'],
    ['BENCH_REPLICAWRITE_BEFORE=DIR', 'also run an older checkout\'s stores (DIR holds its operator/), alternating'],
    ['THREATMESH_FERRETDB_BACKEND', 'postgresql (default) or sqlite'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};

const N = Number(process.env['BENCH_REPLICAWRITE_ENTRIES'] ?? 20_000);
const BEFORE = process.env['BENCH_REPLICAWRITE_BEFORE'];
const SERVED = process.env['BENCH_REPLICAWRITE_SERVED'] === '1';
const ROUNDS = Number(process.env['BENCH_REPLICAWRITE_ROUNDS'] ?? 1);
const BACKEND: FerretBackend = process.env['THREATMESH_FERRETDB_BACKEND'] === 'sqlite' ? 'sqlite' : 'postgresql';

/** The stores of one checkout, loaded from its operator/ tree. */
interface Stores {
  readonly label: string;
  readonly batch: number;
  /** The checkout's own database start (its PostgreSQL settings included). */
  readonly startDatabase: typeof startDatabase;
  open(client: MongoClient): Promise<{ write(entries: readonly VerifiedEntry[]): Promise<void> }>;
}

async function storesOf(root: string, label: string): Promise<Stores> {
  const src = (f: string): string => join(root, 'operator', 'src', f);
  const { MongoIndicatorSink } = await import(src('store/indicators.ts')) as typeof import('../operator/src/store/indicators.ts');
  const { MongoLeafStore } = await import(src('store/leaves.ts')) as typeof import('../operator/src/store/leaves.ts');
  const { MongoCursorStore } = await import(src('store/cursor.ts')) as typeof import('../operator/src/store/cursor.ts');
  const { PARTNER_DEFAULTS } = await import(src('exchange/partner/defaults.ts')) as typeof import('../operator/src/exchange/partner/defaults.ts');
  const served = await import(src('store/servedindicators.ts')) as typeof import('../operator/src/store/servedindicators.ts');
  const instance = await import(src('dev/controlplane/instance.ts')) as typeof import('../operator/src/dev/controlplane/instance.ts');
  // A catch-up: the checkout's catch-up batch when it has one, else its checkpoint size.
  const defaults: { checkpointEvery: number; catchUpEvery?: number } = PARTNER_DEFAULTS;
  const batch = Number(process.env['BENCH_REPLICAWRITE_BATCH'] ?? defaults.catchUpEvery ?? defaults.checkpointEvery);
  return {
    label, batch, startDatabase: instance.startDatabase,
    async open(client) {
      const db = client.db('threatmesh_partner');
      // A partner whose serve process (TAXII, exports, the replica API's reader) opened the database first, with its indexes.
      if (SERVED) await served.MongoServedIndicators.open(db);
      const sink = await MongoIndicatorSink.open(db);
      const leaves = new MongoLeafStore(db);
      const cursors = new MongoCursorStore(db);
      const serial = label === 'before' || process.env['BENCH_REPLICAWRITE_SERIAL'] === '1';
      const head = { treeSize: N, rootHash: '00'.repeat(32), timestamp: new Date().toISOString(), logId: 'bench', signature: 'A'.repeat(86) };
      // What PartnerReplica's writer does with one verified batch.
      return {
        async write(entries) {
          // One after the other, as before this branch; at the same time as PartnerReplica does now (BENCH_REPLICAWRITE_SERIAL=1: always after).
          const hashes = entries.map((e) => e.leafHash ?? entryLeafHash(e));
          if (serial) {
            await sink.applyMany(entries, { treeSize: N });
            await leaves.append(entries[0]!.index, hashes);
          } else {
            await Promise.all([sink.applyMany(entries, { treeSize: N }), leaves.append(entries[0]!.index, hashes)]);
          }
          await cursors.save('sequencer', { nextIndex: entries[entries.length - 1]!.index + 1, head });
        },
      };
    },
  };
}

function buildEntries(n: number): VerifiedEntry[] {
  const keys = { alpha: SigningKey.generate(), bravo: SigningKey.generate() };
  const opensAt = Date.now() - 3_600_000;
  const window = { opensAt: new Date(opensAt).toISOString(), closesAt: new Date(opensAt + 72 * 3_600_000).toISOString() };
  const signedAt = new Date(opensAt + 1000).toISOString();
  const out: VerifiedEntry[] = [];
  for (let first = 0; first < n; first += DEFAULT_VOTE_BATCH_SIZE) {
    const inds = Array.from({ length: Math.min(DEFAULT_VOTE_BATCH_SIZE, n - first) }, (_, k) => ({ type: 'domain' as const, value: `h${(first + k).toString(36)}.replicawrite-bench.example` }));
    const votes = (['alpha', 'bravo'] as const).map((v) => signVoteBatch(keys[v], inds.map((ind) => ({ partnerId: v, digest: roundSubject('add', ind), decision: 'approve' as const, signedAt }))));
    const proposals = signProposalBatch(keys.alpha, inds.map((indicator) => ({ indicator })));
    inds.forEach((ind, k) => {
      const body: EntryBody = { kind: 'add', indicator: ind, proposerId: 'alpha', proposalSignature: proposals[k]!.signature, proposalBatch: proposals[k]!.batch!, window, votes: votes.map((vs) => vs[k]!) };
      const entry = { ...body, index: first + k };
      out.push({ ...entry, digest: indicatorDigest(ind), leafHash: entryLeafHash(entry) });
    });
  }
  return out;
}

interface Run { cpuDbMs: number; cpuNodeMs: number; wallMs: number; commands: number; perCollection: Record<string, number> }

async function runOnce(stores: Stores, entries: readonly VerifiedEntry[], dir: string, ferretdb: string): Promise<Run> {
  const db = await stores.startDatabase({ name: `replicawrite-${stores.label}`, dir, ferretdb, backend: BACKEND });
  const client = await MongoClient.connect(db.uri, { monitorCommands: true });
  try {
    const w = await stores.open(client);
    const perCollection: Record<string, number> = {};
    let commands = 0;
    client.on('commandStarted', (ev) => {
      const coll = (ev.command as Record<string, unknown>)[ev.commandName];
      const key = `${ev.commandName} ${typeof coll === 'string' ? coll : '-'}`;
      perCollection[key] = (perCollection[key] ?? 0) + 1;
      commands += 1;
    });
    const db0 = databaseCpuMs() ?? 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < entries.length; i += stores.batch) await w.write(entries.slice(i, i + stores.batch));
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { cpuDbMs: (databaseCpuMs() ?? 0) - db0, cpuNodeMs: (cpu.user + cpu.system) / 1000, wallMs, commands, perCollection };
  } finally {
    await client.close();
    await db.stop();
  }
}

async function main(): Promise<void> {
  const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: process.stderr });
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-bench-replicawrite-'));
  const results: BenchResult[] = [{ metric: 'machine load average (1 min) at the start', value: round(loadavg()[0] ?? 0, 3), unit: 'runnable tasks' }];
  try {
    const entries = buildEntries(N);
    progress(`${N} signed entries built`);
    const all: Stores[] = [await storesOf(resolve(new URL('..', import.meta.url).pathname), 'this checkout')];
    if (BEFORE !== undefined) all.unshift(await storesOf(resolve(BEFORE), 'before'));
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of all) {
        const run = await runOnce(s, entries, join(dir, `${s.label.replace(/\W/g, '')}-${r}`), binaries.ferretdb);
        const per = (x: number): number => round((x * 1000) / N, 4);
        progress(`${s.label} (batch ${s.batch}): FerretDB + PostgreSQL ${per(run.cpuDbMs)} ms CPU per 1,000 entries, this process ${per(run.cpuNodeMs)} ms, ${Math.round(N / (run.wallMs / 1000))} entries/s wall, ${round(run.commands / Math.ceil(N / s.batch), 2)} commands per batch ${JSON.stringify(run.perCollection)}`);
        results.push(
          { metric: `${s.label}, round ${r + 1}: FerretDB + PostgreSQL CPU per 1,000 entries written (${BACKEND})`, value: per(run.cpuDbMs), unit: 'ms' },
          { metric: `${s.label}, round ${r + 1}: writer process CPU per 1,000 entries`, value: per(run.cpuNodeMs), unit: 'ms' },
          { metric: `${s.label}, round ${r + 1}: entries written per second (wall)`, value: round(N / (run.wallMs / 1000)), unit: 'entries/s' },
          { metric: `${s.label}, round ${r + 1}: MongoDB commands per 1,000 entries`, value: per(run.commands), unit: 'commands' },
        );
      }
    }
    results.push({ metric: 'machine load average (1 min) at the end', value: round(loadavg()[0] ?? 0, 3), unit: 'runnable tasks' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  emit(results);
}

if (!helpAsked(USAGE)) {
  await main();
  process.exit(0);
}

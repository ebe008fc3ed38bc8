/**
 * The partner exchange end to end on this machine: one sequencer behind gRPC with mutual TLS,
 * three partners (all voters, quorum 2), every database on the local MongoDB-wire server.
 * Indicators are proposed by one partner and approved by two voters (two client threads);
 * three replicas, each in its own worker thread, run continuously and apply into their own
 * databases; the sequencer has the main thread.
 *
 * Three runs, each with a fresh sequencer and fresh databases:
 * 1. saturated: N indicators sent as fast as answers come. Throughput at the sequencer
 *    (admitted) and end to end (first proposal → last entry applied at all three partners);
 *    its latencies are mostly backlog, so they are not reported.
 * 2. and 3. paced at 50% and 80% of the saturated end-to-end throughput: latency per indicator
 *    (proposal sent → applied at the third partner) p50/p99, below saturation.
 * 4. REJECT-heavy, saturated: the same as 1. with a share of the rounds rejected by both voters
 *    (each a REJECT entry every partner verifies and stores in `rejections`), so replication of
 *    rejections is measured next to admissions: BENCH_EXCHANGE_REJECT_SHARE (default 0.5; 0
 *    skips the run), BENCH_EXCHANGE_REJECT_COUNT indicators (default N).
 * For the saturated and the 80% run: CPU milliseconds per 1,000 indicators of each party on its
 * own (the sequencer's thread with its gRPC server, each partner's thread, the client threads,
 * and the FerretDB process all four databases share), so readers can size each party's hardware.
 *
 * N: argv or BENCH_EXCHANGE_COUNT (default 10000); indicators per paced run:
 * BENCH_EXCHANGE_PACED_COUNT (default 4000, 0 skips the paced runs); indicators per
 * ProposeBatch/VoteBatch call: BENCH_EXCHANGE_BATCH (default 100; 1 = single calls) and, paced,
 * BENCH_EXCHANGE_PACED_BATCH (default 20); calls in flight: BENCH_EXCHANGE_CONCURRENCY
 * (default 8). The sequencer keeps open rounds in memory; BENCH_EXCHANGE_ROUNDS=1 persists
 * them as `threatmesh sequencer` does (one insert, update and delete per indicator on the
 * sequencer's database). Uses MONGODB_URI when set (then FerretDB's CPU is not measured); otherwise
 * FerretDB on THREATMESH_FERRETDB_BACKEND (postgresql, the tests' default, or sqlite; PostgreSQL's server
 * processes count with FerretDB's: bench/proccpu.ts).
 *
 * Protocols: BENCH_EXCHANGE_VOTES, a comma list of `v1` (one Ed25519 signature per proposal and
 * per vote), `v2` (each call's votes signed as one Merkle batch, docs/adr/2026-12-06-million-indicators.md
 * Decision 4) and `v2p` (v2, and each call's proposals signed as one Merkle batch too); default
 * `v1,v2,v2p`: the three runs for each, in turn, in the same process, so they are compared on
 * the same machine load. Every metric is prefixed with its protocol, and the
 * verifications are counted per protocol.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { MongoClient } from 'mongodb';
import { emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { startControlPlane } from '../e2e/harness/controlplane.ts';
import { ferretdbBackendFromEnv } from '../e2e/harness/env.ts';
import { databaseCpuMs } from './proccpu.ts';
import { createTestCa, type TestCa } from '../e2e/harness/pki.ts';
import { SigningKey } from '../operator/src/domain/signature.ts';
import { createLogger } from '../operator/src/log.ts';
import { Sequencer } from '../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer } from '../operator/src/exchange/sequencer/server.ts';
import type { PartnerEntry, TlsMaterial } from '../operator/src/exchange/protocol/tls.ts';
import type { PartnerMessage, PartnerWorkerData } from './exchange-partner.worker.ts';
import type { ClientMessage, ClientWorkerData } from './exchange-client.worker.ts';
import { MongoLogStore } from '../operator/src/store/log.ts';
import { MongoRoundStore } from '../operator/src/store/rounds.ts';
import type { VerifyDetail } from './scale-verifycount.ts';

/** What `npm run bench -- exchange --help` prints. */
const USAGE: BenchUsage = {
  name: 'exchange',
  args: '[N]',
  measures: 'The partner exchange end to end on this machine: a sequencer over gRPC with mTLS, three partners (quorum 2) replicating into FerretDB. Per protocol: a saturated run (admitted/s, end to end), runs paced at 50% and 80% of it (p50/p99 latency), a REJECT-heavy run, CPU ms per 1,000 indicators of each party, and signature verifications per admitted indicator.',
  knobs: [
    ['N', 'indicators of the saturated runs (or BENCH_EXCHANGE_COUNT; default 10000)'],
    ['BENCH_EXCHANGE_PACED_COUNT', 'indicators per paced run (default 4000; 0 skips them)'],
    ['BENCH_EXCHANGE_BATCH', 'indicators per ProposeBatch/VoteBatch call (default 100; 1 = single calls)'],
    ['BENCH_EXCHANGE_PACED_BATCH', 'the same for the paced runs (default 20)'],
    ['BENCH_EXCHANGE_CONCURRENCY', 'calls in flight (default 8)'],
    ['BENCH_EXCHANGE_ROUNDS=1', 'persist open rounds as `threatmesh sequencer` does (default: in memory)'],
    ['BENCH_EXCHANGE_REJECT_SHARE', 'share of rounds rejected in the REJECT-heavy run (default 0.5; 0 skips it)'],
    ['BENCH_EXCHANGE_REJECT_COUNT', 'indicators of the REJECT-heavy run (default N)'],
    ['BENCH_EXCHANGE_VOTES', 'protocols, a comma list of v1, v2, v2p (default v1,v2,v2p)'],
    ['BENCH_EXCHANGE_LOG=1', 'show the parties\' error logs'],
    ['MONGODB_URI', 'use this MongoDB (FerretDB\'s CPU is then not measured)'],
    ['THREATMESH_FERRETDB_BACKEND', 'postgresql (default) or sqlite'],
  ],
};
// Before anything else: this file's top level does the work.
if (helpAsked(USAGE)) process.exit(0);

// Every Ed25519 verification of every party is counted (scale-verifycount.ts, also imported by
// the worker threads): the scale bench names the directory; run alone, the bench makes one.
const ownVerifyDir = !process.env['THREATMESH_VERIFY_COUNT_DIR'];
const verifyDir = process.env['THREATMESH_VERIFY_COUNT_DIR'] || await mkdtemp(join(tmpdir(), 'tm-verify-'));
process.env['THREATMESH_VERIFY_COUNT_DIR'] = verifyDir;
await import('./scale-verifycount.ts');

const count = Number(process.argv[2] ?? process.env['BENCH_EXCHANGE_COUNT'] ?? 10_000);
const pacedCount = Number(process.env['BENCH_EXCHANGE_PACED_COUNT'] ?? 4_000);
const concurrency = Number(process.env['BENCH_EXCHANGE_CONCURRENCY'] ?? 8);
const batch = Number(process.env['BENCH_EXCHANGE_BATCH'] ?? 100);
const pacedBatch = Number(process.env['BENCH_EXCHANGE_PACED_BATCH'] ?? 20);
// BENCH_EXCHANGE_ROUNDS=1: open rounds persisted as `threatmesh sequencer` does (exchange/hub.ts).
const withRounds = process.env['BENCH_EXCHANGE_ROUNDS'] === '1';
const rejectShare = Number(process.env['BENCH_EXCHANGE_REJECT_SHARE'] ?? 0.5);
const rejectCount = Number(process.env['BENCH_EXCHANGE_REJECT_COUNT'] ?? count);
type Protocol = 'v1' | 'v2' | 'v2p';
const PROTOCOL_LABEL: Record<Protocol, string> = { v1: 'protocol v1 (a signature per vote)', v2: 'protocol v2 (batch votes)', v2p: 'protocol v2 (batch votes and batch proposals)' };
const PROTOCOLS: readonly Protocol[] = (process.env['BENCH_EXCHANGE_VOTES'] ?? 'v1,v2,v2p').split(',').map((p) => p.trim()).filter((p): p is Protocol => p in PROTOCOL_LABEL);
if (PROTOCOLS.length === 0) throw new Error('BENCH_EXCHANGE_VOTES must list some of v1, v2 and v2p, for example v1,v2,v2p');
const quiet = process.env['BENCH_EXCHANGE_LOG'] === '1' ? createLogger(process.stderr, 'error') : createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const IDS = ['alpha', 'bravo', 'charlie'] as const;
const CLIENT_THREADS = 2;
type Id = typeof IDS[number];

/** Keys, certificates and the database server shared by every run. */
interface Network {
  readonly mongo: MongoClient;
  readonly mongoUri: string;
  readonly keys: Record<Id, SigningKey>;
  readonly partners: PartnerEntry[];
  readonly tls: Record<Id | 'sequencer', TlsMaterial>;
  /** CPU ms the FerretDB process has used so far; undefined when the server is external. */
  readonly dbCpuMs: () => number | undefined;
  /** Indicators proposed by the runs so far: each run proposes the next ones, so no run re-sends a proposal an earlier run signed (a party would meet the same signature twice, which no real network does). */
  proposed: number;
}

/** What one run measured. */
interface RunStats {
  readonly admittedMs: number;
  readonly endToEndMs: number;
  /** Sorted, ms. */
  readonly latencies: number[];
  /** CPU ms by party. */
  readonly cpuMs: ReadonlyMap<string, number>;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function threadCpuMs(): number {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
}

async function network(mongoUri: string, ca: TestCa, external: boolean): Promise<Network> {
  const mongo = new MongoClient(mongoUri);
  await mongo.connect();
  const keys = Object.fromEntries(IDS.map((id) => [id, SigningKey.generate()])) as Record<Id, SigningKey>;
  const partners: PartnerEntry[] = IDS.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter'] }));
  const tls = {} as Record<Id | 'sequencer', TlsMaterial>;
  for (const id of [...IDS, 'sequencer'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
  return { mongo, mongoUri, keys, partners, tls, dbCpuMs: () => (external ? undefined : databaseCpuMs()), proposed: 0 };
}

function settled(w: Worker, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited with ${code}`))));
  });
}

async function run(net: Network, n: number, rate: number, perCall: number, votes: Protocol, rejected = 0): Promise<RunStats> {
  const tag = `bench_${Date.now().toString(36)}`;
  const dbs = [net.mongo.db(`${tag}_seq`), ...IDS.map((id) => net.mongo.db(`${tag}_${id}`))];
  const seqKey = SigningKey.generate();
  const rounds = withRounds ? { rounds: new MongoRoundStore(dbs[0]!) } : {};
  const sequencer = await Sequencer.open({ store: await MongoLogStore.open(dbs[0]!), ...rounds, key: seqKey, partners: net.partners, quorum: 2, now: () => new Date(), log: quiet });
  const server = await startExchangeServer({ sequencer, directory: new Map(net.partners.map((p) => [p.partnerId, p])), tls: net.tls.sequencer, address: '127.0.0.1:0', log: quiet });
  const cpuMs = new Map<string, number>();
  const appliedAt = IDS.map(() => new Map<string, number>());
  const partnerDone = IDS.map((id, i) => {
    const data: PartnerWorkerData = {
      id, mongoUri: net.mongoUri, dbName: dbs[i + 1]!.databaseName, address: `127.0.0.1:${server.port}`, tls: net.tls[id],
      sequencerKey: seqKey.publicKey.toRawBase64(), partners: net.partners.map((p) => ({ partnerId: p.partnerId, publicKey: p.publicKey.toRawBase64(), roles: p.roles })), count: n,
    };
    const w = new Worker(new URL('./exchange-partner.worker.ts', import.meta.url), { workerData: data });
    w.on('message', (m: PartnerMessage) => {
      if ('cpuMs' in m) cpuMs.set(`partner ${id} (thread)`, m.cpuMs);
      else for (const d of m.digests) appliedAt[i]!.set(d, m.at);
    });
    return settled(w, `partner ${id}`);
  });

  progress(`${PROTOCOL_LABEL[votes]}: ${n} indicators, ${perCall} per call, ${concurrency} calls in flight, offered ${rate > 0 ? `${round(rate)}/s` : 'unpaced'}, 3 partners, quorum 2, rounds ${withRounds ? 'persisted' : 'in memory'}${rejected > 0 ? `, ${rejected * 100}% rejected` : ''}`);
  const sentAt = new Map<string, number>();
  let clientCpu = 0;
  const seqCpu0 = threadCpuMs();
  const dbCpu0 = net.dbCpuMs();
  const start = Date.now();
  const first = net.proposed;
  net.proposed += n;
  const senders = Array.from({ length: CLIENT_THREADS }, (_, t) => {
    const data: ClientWorkerData = {
      address: `127.0.0.1:${server.port}`, from: first + Math.floor((t * n) / CLIENT_THREADS), to: first + Math.floor(((t + 1) * n) / CLIENT_THREADS),
      concurrency: Math.max(1, Math.floor(concurrency / CLIENT_THREADS)), batch: perCall, rate: rate / CLIENT_THREADS, votes, rejectShare: rejected,
      alpha: { tls: net.tls.alpha, key: net.keys.alpha.toRawBase64() }, bravo: { tls: net.tls.bravo, key: net.keys.bravo.toRawBase64() },
    };
    const w = new Worker(new URL('./exchange-client.worker.ts', import.meta.url), { workerData: data });
    w.on('message', (m: ClientMessage) => {
      if ('cpuMs' in m) clientCpu += m.cpuMs;
      else for (const [d, at] of m.sent) sentAt.set(d, at);
    });
    return settled(w, 'client thread');
  });
  await Promise.all(senders);
  const admittedMs = Date.now() - start;
  progress(`decided ${sequencer.size} (ADD and REJECT entries) in ${round(admittedMs)} ms`);
  // A worker that fails (a halted replica) rejects: surface it instead of waiting forever.
  await Promise.all(partnerDone);
  cpuMs.set('sequencer (thread: sequencer + gRPC server)', threadCpuMs() - seqCpu0);
  const dbCpu1 = net.dbCpuMs();
  if (dbCpu0 !== undefined && dbCpu1 !== undefined) cpuMs.set(ferretdbBackendFromEnv() === 'postgresql' ? 'FerretDB + PostgreSQL (processes, all 4 databases)' : 'FerretDB on SQLite (process, all 4 databases)', dbCpu1 - dbCpu0);
  cpuMs.set(`clients (${CLIENT_THREADS} threads: 1 proposer + 2 voters)`, clientCpu);
  const end = Math.max(...appliedAt.flatMap((m) => [...m.values()]));
  const latencies = [...sentAt].map(([digest, t]) => Math.max(...appliedAt.map((m) => m.get(digest) ?? NaN)) - t).sort((a, b) => a - b);
  if (latencies.length !== n || latencies.some((l) => !Number.isFinite(l) || l < 0)) throw new Error(`${latencies.filter((l) => !Number.isFinite(l)).length} of ${latencies.length} sent indicators were not applied at every partner, or some before they were sent`);
  const head = await sequencer.treeHead();
  progress(`all partners applied ${n}; tree ${head.treeSize} ${head.rootHash.slice(0, 16)}…; latency min ${round(latencies[0]!)} p50 ${round(percentile(latencies, 50))} ms; load average ${loadavg()[0]!.toFixed(1)}`);
  await server.stop();
  for (const d of dbs) await d.dropDatabase();
  return { admittedMs, endToEndMs: end - start, latencies, cpuMs };
}

function cpuResults(stats: RunStats, n: number, label: string): BenchResult[] {
  const order = [...stats.cpuMs.keys()].sort();
  return order.map((party) => ({ metric: `CPU per 1,000 indicators, ${label}: ${party}`, value: round((stats.cpuMs.get(party)! * 1000) / n), unit: 'ms' }));
}

async function main(): Promise<BenchResult[]> {
  const external = (process.env['MONGODB_URI'] ?? '') !== '';
  const cp = await startControlPlane({ kube: false, mongodbUri: process.env['MONGODB_URI'] || undefined, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), ferretdbBackend: ferretdbBackendFromEnv() });
  const ca = await createTestCa('bench-network');
  const net = await network(cp.mongoUri, ca, external);
  // Other work on the machine takes cores from every party: the load average tells readers how quiet it was.
  const results: BenchResult[] = [{ metric: 'machine load average (1 min) before the runs', value: round(loadavg()[0]!, 3), unit: 'runnable tasks' }];
  let counted = await verifyDetails();
  for (const votes of PROTOCOLS) {
    results.push(...(await protocolRuns(net, votes)).map((r) => ({ ...r, metric: `${PROTOCOL_LABEL[votes]}: ${r.metric}` })));
    const now = await verifyDetails();
    results.push(...verificationResults(since(counted, now), count + 2 * pacedCount).map((r) => ({ ...r, metric: `${PROTOCOL_LABEL[votes]}: ${r.metric}` })));
    counted = now;
  }
  if (rejectShare > 0 && rejectCount > 0) {
    // With the last protocol measured; its verifications are not counted above.
    const votes = PROTOCOLS.at(-1)!;
    const rej = await run(net, rejectCount, 0, batch, votes, rejectShare);
    const what = `saturated, ${rejectShare * 100}% of rounds rejected (REJECT entries)`;
    results.push(
      { metric: `${PROTOCOL_LABEL[votes]}: decided at the sequencer (admitted or rejected), ${what}`, value: round((rejectCount * 1000) / rej.admittedMs), unit: 'indicators/s' },
      { metric: `${PROTOCOL_LABEL[votes]}: end to end, ${what}: proposal to applied at all 3 partners`, value: round((rejectCount * 1000) / rej.endToEndMs), unit: 'indicators/s' },
      ...cpuResults(rej, rejectCount, `${rejectShare * 100}% rejected`).map((r) => ({ ...r, metric: `${PROTOCOL_LABEL[votes]}: ${r.metric}` })),
    );
  }
  results.push({ metric: 'machine load average (1 min) after the runs', value: round(loadavg()[0]!, 3), unit: 'runnable tasks' });
  results.push({ metric: 'indicators (saturated run)', value: count, unit: 'count' }, { metric: 'indicators (each paced run)', value: pacedCount, unit: 'count' }, { metric: 'indicators (REJECT-heavy run)', value: rejectShare > 0 ? rejectCount : 0, unit: 'count' });
  await net.mongo.close();
  await ca.dispose();
  await cp.stop();
  return results;
}

/** The saturated run, then the runs paced at 50 % and 80 % of its throughput, with `votes`. */
async function protocolRuns(net: Network, votes: Protocol): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const saturated = await run(net, count, 0, batch, votes);
  const throughput = (count * 1000) / saturated.endToEndMs;
  results.push(
    { metric: `admitted at the sequencer, saturated (propose + 2 votes, ${batch} per call, ${concurrency} calls in flight)`, value: round((count * 1000) / saturated.admittedMs), unit: 'indicators/s' },
    { metric: 'end to end, saturated: proposal to applied at all 3 partners', value: round(throughput), unit: 'indicators/s' },
    ...cpuResults(saturated, count, 'saturated'),
  );
  if (pacedCount === 0) return results;
  for (const share of [0.5, 0.8]) {
    const offered = Math.round(throughput * share);
    const paced = await run(net, pacedCount, offered, pacedBatch, votes);
    const what = `${share * 100}% load (offered ${offered}/s, ${pacedBatch} per call)`;
    results.push(
      { metric: `latency proposal → applied at 3rd partner, p50, ${what}`, value: round(percentile(paced.latencies, 50)), unit: 'ms' },
      { metric: `latency proposal → applied at 3rd partner, p99, ${what}`, value: round(percentile(paced.latencies, 99)), unit: 'ms' },
    );
    if (share === 0.8) results.push(...cpuResults(paced, pacedCount, '80% load'));
  }
  return results;
}

/** Every thread's verification counts so far, by file. */
async function verifyDetails(): Promise<Map<string, VerifyDetail>> {
  // The main thread's counter is written every 200 ms; the workers' at their exit.
  await new Promise((r) => setTimeout(r, 400));
  const details = new Map<string, VerifyDetail>();
  for (const f of (await readdir(verifyDir)).filter((x) => x.endsWith('.json'))) details.set(f, JSON.parse(await readFile(join(verifyDir, f), 'utf8')) as VerifyDetail);
  return details;
}

/** What each thread verified between two snapshots (a thread's file only grows). */
function since(before: ReadonlyMap<string, VerifyDetail>, after: ReadonlyMap<string, VerifyDetail>): VerifyDetail[] {
  const minus = (a: Record<string, number>, b: Record<string, number> | undefined): Record<string, number> => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b?.[k] ?? 0)]));
  return [...after].map(([f, d]) => {
    const b = before.get(f);
    return { role: d.role, total: d.total - (b?.total ?? 0), byKind: minus(d.byKind, b?.byKind), repeatsByKind: minus(d.repeatsByKind, b?.repeatsByKind) };
  });
}

/** Verifications per admitted indicator over one protocol's runs: in all, per party, per signature kind, and the repeats a party had verified before. */
function verificationResults(details: readonly VerifyDetail[], indicators: number): BenchResult[] {
  const per = (v: number): number => round(v / indicators, 4);
  const sum = (pick: (d: VerifyDetail) => number, of: readonly VerifyDetail[] = details): number => of.reduce((a, d) => a + pick(d), 0);
  const roles = [...new Set(details.map((d) => d.role))].sort();
  const kinds = [...new Set(details.flatMap((d) => Object.keys(d.byKind).filter((k) => d.byKind[k] !== 0)))].sort();
  const repeats = (d: VerifyDetail): number => Object.values(d.repeatsByKind).reduce((a, b) => a + b, 0);
  return [
    { metric: 'signature verifications per admitted indicator (every party, every run)', value: per(sum((d) => d.total)), unit: 'verifications' },
    ...roles.map((role) => {
      const of = details.filter((d) => d.role === role);
      return { metric: `verifications per admitted indicator: ${role} (of which repeats of a triple it had verified)`, value: per(sum((d) => d.total, of)), unit: `verifications (${per(sum(repeats, of))} repeats)` };
    }),
    ...kinds.map((kind) => ({ metric: `verifications per admitted indicator: kind ${kind}, all parties`, value: per(sum((d) => d.byKind[kind] ?? 0)), unit: `verifications (${per(sum((d) => d.repeatsByKind[kind] ?? 0))} repeats)` })),
  ];
}

emit(await main());
if (ownVerifyDir) await rm(verifyDir, { recursive: true, force: true });
process.exit(0);

/**
 * The partner exchange end to end on this machine: one sequencer behind gRPC with mutual TLS,
 * three partners (all voters, quorum 2), every database on the local MongoDB-wire server.
 * N indicators are proposed by one partner and approved by two voters (two client threads);
 * three replicas, each in its own worker thread, run continuously and apply into their own
 * databases; the sequencer has the main thread. Reports throughput from the first proposal
 * to the last entry applied at all three partners, and per-indicator latency (proposal sent →
 * applied at the third partner) p50/p99. N: argv or BENCH_EXCHANGE_COUNT (default 10000);
 * indicators per ProposeBatch/VoteBatch call: BENCH_EXCHANGE_BATCH (default 100; 1 = single
 * calls); calls in flight: BENCH_EXCHANGE_CONCURRENCY (default 8); offered load in
 * indicators/s: BENCH_EXCHANGE_RATE (default 0 = as fast as possible, so latency includes the
 * backlog). Uses MONGODB_URI when set.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { MongoClient } from 'mongodb';
import { emit, progress, round, type BenchResult } from './lib.ts';
import { startControlPlane } from '../e2e/harness/controlplane.ts';
import { createTestCa } from '../e2e/harness/pki.ts';
import { SigningKey } from '../operator/src/domain/signature.ts';
import { createLogger } from '../operator/src/log.ts';
import { Sequencer } from '../operator/src/exchange/sequencer.ts';
import { startExchangeServer } from '../operator/src/exchange/server.ts';
import type { PartnerEntry, TlsMaterial } from '../operator/src/exchange/tls.ts';
import type { PartnerWorkerData } from './exchange-partner.worker.ts';
import type { ClientWorkerData } from './exchange-client.worker.ts';
import { MongoLogStore } from '../operator/src/store/log.ts';

const count = Number(process.argv[2] ?? process.env['BENCH_EXCHANGE_COUNT'] ?? 10_000);
const concurrency = Number(process.env['BENCH_EXCHANGE_CONCURRENCY'] ?? 8);
const batch = Number(process.env['BENCH_EXCHANGE_BATCH'] ?? 100);
const offered = Number(process.env['BENCH_EXCHANGE_RATE'] ?? 0);
const quiet = process.env['BENCH_EXCHANGE_LOG'] === '1' ? createLogger(process.stderr, 'error') : createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const IDS = ['alpha', 'bravo', 'charlie'] as const;
const CLIENT_THREADS = 2;
type Id = typeof IDS[number];

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<BenchResult[]> {
  const cp = await startControlPlane({ kube: false, mongodbUri: process.env['MONGODB_URI'] || undefined, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  const mongo = new MongoClient(cp.mongoUri);
  await mongo.connect();
  const ca = await createTestCa('bench-network');
  const keys = Object.fromEntries(IDS.map((id) => [id, SigningKey.generate()])) as Record<Id, SigningKey>;
  const partners: PartnerEntry[] = IDS.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter'] }));
  const tls = {} as Record<Id | 'sequencer', TlsMaterial>;
  for (const id of [...IDS, 'sequencer'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
  const tag = `bench_${Date.now().toString(36)}`;
  const dbs = [mongo.db(`${tag}_seq`), ...IDS.map((id) => mongo.db(`${tag}_${id}`))];
  const seqKey = SigningKey.generate();
  const sequencer = await Sequencer.open({ store: await MongoLogStore.open(dbs[0]!), key: seqKey, partners, quorum: 2, now: () => new Date(), log: quiet });
  const server = await startExchangeServer({ sequencer, directory: new Map(partners.map((p) => [p.partnerId, p])), tls: tls.sequencer, address: '127.0.0.1:0', log: quiet });

  const appliedAt = IDS.map(() => new Map<string, number>());
  const workers = IDS.map((id, i) => {
    const data: PartnerWorkerData = {
      id, mongoUri: cp.mongoUri, dbName: dbs[i + 1]!.databaseName, address: `127.0.0.1:${server.port}`, tls: tls[id],
      sequencerKey: seqKey.publicKey.toRawBase64(), partners: partners.map((p) => ({ partnerId: p.partnerId, publicKey: p.publicKey.toRawBase64(), roles: p.roles })), count,
    };
    const w = new Worker(new URL('./exchange-partner.worker.ts', import.meta.url), { workerData: data });
    w.on('message', (m: { at: number; digests: string[] }) => {
      for (const d of m.digests) appliedAt[i]!.set(d, m.at);
    });
    return new Promise<void>((resolve, reject) => {
      w.on('error', reject);
      w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`partner ${id} exited with ${code}`))));
    });
  });

  progress(`${count} indicators, ${batch} per call, ${concurrency} calls in flight, offered ${offered > 0 ? `${offered}/s` : 'unpaced'}, 3 partners, quorum 2`);
  const sentAt = new Map<string, number>();
  const start = performance.timeOrigin + performance.now();
  const senders = Array.from({ length: CLIENT_THREADS }, (_, t) => {
    const data: ClientWorkerData = {
      address: `127.0.0.1:${server.port}`, from: Math.floor((t * count) / CLIENT_THREADS), to: Math.floor(((t + 1) * count) / CLIENT_THREADS),
      concurrency: Math.max(1, Math.floor(concurrency / CLIENT_THREADS)), batch, rate: offered / CLIENT_THREADS,
      alpha: { tls: tls.alpha, key: keys.alpha.toRawBase64() }, bravo: { tls: tls.bravo, key: keys.bravo.toRawBase64() },
    };
    const w = new Worker(new URL('./exchange-client.worker.ts', import.meta.url), { workerData: data });
    w.on('message', (m: Array<[string, number]>) => {
      for (const [d, at] of m) sentAt.set(d, at);
    });
    return new Promise<void>((resolve, reject) => {
      w.on('error', reject);
      w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`client thread exited with ${code}`))));
    });
  });
  await Promise.all(senders);
  const admittedMs = performance.timeOrigin + performance.now() - start;
  progress(`admitted ${sequencer.size} in ${round(admittedMs)} ms`);
  // A worker that fails (a halted replica) rejects: surface it instead of waiting forever.
  await Promise.all(workers);
  const end = Math.max(...appliedAt.flatMap((m) => [...m.values()]));
  const latencies = [...sentAt].map(([digest, t]) => Math.max(...appliedAt.map((m) => m.get(digest) ?? NaN)) - t).sort((a, b) => a - b);
  const head = await sequencer.treeHead();
  progress(`all partners applied ${count}; tree ${head.treeSize} ${head.rootHash.slice(0, 16)}…`);

  await server.stop();
  for (const d of dbs) await d.dropDatabase();
  await mongo.close();
  await ca.dispose();
  await cp.stop();
  return [
    { metric: `admitted at the sequencer (propose + 2 votes, ${batch} per call, ${concurrency} calls in flight)`, value: round((count * 1000) / admittedMs), unit: 'indicators/s' },
    { metric: 'end to end: proposal to applied at all 3 partners', value: round((count * 1000) / (end - start)), unit: 'indicators/s' },
    { metric: `latency proposal → applied at 3rd partner, p50 (offered ${offered > 0 ? `${offered}/s` : 'unpaced'})`, value: round(percentile(latencies, 50)), unit: 'ms' },
    { metric: `latency proposal → applied at 3rd partner, p99 (offered ${offered > 0 ? `${offered}/s` : 'unpaced'})`, value: round(percentile(latencies, 99)), unit: 'ms' },
    { metric: 'indicators', value: count, unit: 'count' },
  ];
}

emit(await main());
process.exit(0);

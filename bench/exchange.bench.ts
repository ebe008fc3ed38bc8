/**
 * The partner exchange end to end on this machine: one sequencer behind gRPC with mutual TLS,
 * three partners (all voters, quorum 2), every database on the local MongoDB-wire server.
 * N indicators are proposed by one partner and approved by two voters; three replicas run
 * continuously and apply into their own databases. Reports throughput from the first proposal
 * to the last entry applied at all three partners, and per-indicator latency (proposal sent →
 * applied at the third partner) p50/p99. N: argv or BENCH_EXCHANGE_COUNT (default 10000);
 * in-flight proposals: BENCH_EXCHANGE_CONCURRENCY (default 64). Uses MONGODB_URI when set.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { emit, progress, round, type BenchResult } from './lib.ts';
import { startControlPlane } from '../e2e/harness/controlplane.ts';
import { createTestCa } from '../e2e/harness/pki.ts';
import { indicatorCanonicalJson, indicatorDigest } from '../operator/src/domain/canonical.ts';
import type { Indicator } from '../operator/src/domain/indicator.ts';
import { signVote } from '../operator/src/domain/quorum.ts';
import { SigningKey } from '../operator/src/domain/signature.ts';
import { createLogger } from '../operator/src/log.ts';
import { ExchangeClient } from '../operator/src/exchange/client.ts';
import { signProposal } from '../operator/src/exchange/entry.ts';
import { PartnerReplica, type EntrySink, type VerifiedEntry } from '../operator/src/exchange/partner.ts';
import { Sequencer } from '../operator/src/exchange/sequencer.ts';
import { startExchangeServer } from '../operator/src/exchange/server.ts';
import type { PartnerEntry, TlsMaterial } from '../operator/src/exchange/tls.ts';
import { MongoCursorStore } from '../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../operator/src/store/indicators.ts';
import { MongoLogStore } from '../operator/src/store/log.ts';

const count = Number(process.argv[2] ?? process.env['BENCH_EXCHANGE_COUNT'] ?? 10_000);
const concurrency = Number(process.env['BENCH_EXCHANGE_CONCURRENCY'] ?? 64);
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const IDS = ['alpha', 'bravo', 'charlie'] as const;
type Id = typeof IDS[number];

/** Records when each digest was applied, then passes the entry on to the real sink. */
class TimedSink implements EntrySink {
  readonly appliedAt = new Map<string, number>();
  readonly #inner: MongoIndicatorSink;
  constructor(inner: MongoIndicatorSink) {
    this.#inner = inner;
  }
  async apply(entry: VerifiedEntry): Promise<void> {
    await this.applyMany([entry]);
  }
  async applyMany(entries: readonly VerifiedEntry[]): Promise<void> {
    await this.#inner.applyMany(entries);
    const at = performance.now();
    for (const e of entries) this.appliedAt.set(e.digest, at);
  }
}

function indicator(i: number): Indicator {
  return { type: 'ipv4', value: `${11 + (i % 89)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}` };
}

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
  const client = (id: Id): ExchangeClient => new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: tls[id], serverName: 'localhost', deadlineMs: 60_000 });
  const clients = { alpha: client('alpha'), bravo: client('bravo') };

  const sinks: TimedSink[] = [];
  const stop = new AbortController();
  const running: Array<Promise<void>> = [];
  for (const [i, id] of IDS.entries()) {
    const sink = new TimedSink(await MongoIndicatorSink.open(dbs[i + 1]!));
    sinks.push(sink);
    const replica = new PartnerReplica({ sourceId: 'sequencer', source: client(id), sink, cursors: new MongoCursorStore(dbs[i + 1]!), anchors: { sequencerKey: seqKey.publicKey, partners, quorum: 2 }, now: () => new Date(), log: quiet });
    running.push(replica.run({ signal: stop.signal, waitMs: 1_000 }));
  }

  progress(`${count} indicators, ${concurrency} in flight, 3 partners, quorum 2`);
  const sentAt = new Map<string, number>();
  const start = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const ind = indicator(next++);
      const digest = indicatorDigest(ind);
      sentAt.set(digest, performance.now());
      await clients.alpha.propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(ind), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', ind) });
      const signedAt = new Date().toISOString();
      await clients.alpha.vote(signVote(keys.alpha, { partnerId: 'alpha', digest, decision: 'approve', signedAt }));
      await clients.bravo.vote(signVote(keys.bravo, { partnerId: 'bravo', digest, decision: 'approve', signedAt }));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const admittedMs = performance.now() - start;
  progress(`admitted ${sequencer.size} in ${round(admittedMs)} ms`);
  // A halted replica rejects its run(): surface it instead of waiting forever.
  const halted = Promise.race(running.map((r) => r.then(() => new Promise<never>(() => undefined))));
  while (sinks.some((s) => s.appliedAt.size < count)) await Promise.race([halted, new Promise((resolve) => setTimeout(resolve, 20))]);
  const end = Math.max(...sinks.flatMap((s) => [...s.appliedAt.values()]));
  stop.abort();
  await Promise.all(running);
  const latencies = [...sentAt].map(([digest, t]) => Math.max(...sinks.map((s) => s.appliedAt.get(digest) ?? NaN)) - t).sort((a, b) => a - b);
  const head = await sequencer.treeHead();
  progress(`all partners applied ${count}; tree ${head.treeSize} ${head.rootHash.slice(0, 16)}…`);

  for (const c of Object.values(clients)) c.close();
  await server.stop();
  for (const d of dbs) await d.dropDatabase();
  await mongo.close();
  await ca.dispose();
  await cp.stop();
  return [
    { metric: `admitted at the sequencer (propose + 2 votes, ${concurrency} in flight)`, value: round((count * 1000) / admittedMs), unit: 'indicators/s' },
    { metric: 'end to end: proposal to applied at all 3 partners', value: round((count * 1000) / (end - start)), unit: 'indicators/s' },
    { metric: 'latency proposal → applied at 3rd partner, p50', value: round(percentile(latencies, 50)), unit: 'ms' },
    { metric: 'latency proposal → applied at 3rd partner, p99', value: round(percentile(latencies, 99)), unit: 'ms' },
    { metric: 'indicators', value: count, unit: 'count' },
  ];
}

emit(await main());
process.exit(0);

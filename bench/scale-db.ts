/**
 * Database stage of `npm run bench -- scale`: FerretDB's SQLite backend against its PostgreSQL
 * backend on the partner's write-heavy path, each a fresh local server (dev/controlplane): bulk
 * inserts of `indicators` records in the replica sink's shape (1,000 per unordered insertMany),
 * then one equality lookup by object name, one by an unindexed-in-FerretDB range, and a stream of
 * every record (what the aggregated API's list does).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import { startDatabase, type Binaries, type FerretBackend } from '../operator/src/dev/controlplane/instance.ts';
import { INDICATORS, type IndicatorRecord } from '../operator/src/store/indicators.ts';
import { progress, round, type BenchResult } from './lib.ts';

function record(i: number): IndicatorRecord {
  const value = `db-${i.toString(36)}.scale-bench.example`;
  const digest = indicatorDigest({ type: 'domain', value });
  return {
    _id: digest, digest, type: 'domain', value, state: 'active', logIndex: i, proposerId: 'alpha', name: `domain-${digest.slice(0, 40)}`,
    votes: [{ partnerId: 'alpha', decision: 'approve', signedAt: '2026-12-06T10:00:01.000Z', signature: 'A'.repeat(86) }, { partnerId: 'bravo', decision: 'approve', signedAt: '2026-12-06T10:00:02.000Z', signature: 'B'.repeat(86) }],
    window: { opensAt: '2026-12-06T10:00:00.000Z', closesAt: '2026-12-09T10:00:00.000Z' }, proposalSignature: 'C'.repeat(86), meta: { tlp: 'green', confidence: 80 }, addedAt: new Date(),
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function one(backend: FerretBackend, n: number, dir: string, binaries: Binaries): Promise<BenchResult[]> {
  const db = await startDatabase({ name: `scale-${backend}`, dir: join(dir, backend), ferretdb: binaries.ferretdb, backend });
  const client = await MongoClient.connect(db.uri);
  try {
    const col = client.db('scale_db').collection<IndicatorRecord>(INDICATORS);
    await col.createIndex({ name: 1 });
    const insertMs = await timed(async () => {
      for (let i = 0; i < n; i += 1000) {
        await col.insertMany(Array.from({ length: Math.min(1000, n - i) }, (_, k) => record(i + k)), { ordered: false });
        if ((i + 1000) % 50_000 === 0) progress(`database ${backend}: inserted ${i + 1000} of ${n}`);
      }
    });
    const target = record(Math.floor(n / 2));
    const byNameMs = await timed(() => col.findOne({ name: target.name }));
    const rangeMs = await timed(() => col.find({ logIndex: { $gte: n - 10 } }).toArray());
    let streamed = 0;
    const streamMs = await timed(async () => {
      for await (const _ of col.find({}, { batchSize: 1000 })) streamed++;
    });
    if (streamed !== n) throw new Error(`${backend}: streamed ${streamed} of ${n}`);
    return [
      { metric: `database ${backend}: insertMany of ${n} records`, value: round((n * 1000) / insertMs), unit: 'records/s' },
      { metric: `database ${backend}: find one by object name (equality) at ${n} records`, value: round(byNameMs), unit: 'ms' },
      { metric: `database ${backend}: range on logIndex at ${n} records`, value: round(rangeMs), unit: 'ms' },
      { metric: `database ${backend}: stream every record`, value: round((n * 1000) / streamMs), unit: 'records/s' },
    ];
  } finally {
    await client.close();
    await db.stop();
  }
}

/** Runs both backends with `n` records each. */
export async function databaseStage(n: number, tmp: string, binaries: Binaries): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmp, 'db-'));
  try {
    const out: BenchResult[] = [];
    for (const backend of ['postgresql', 'sqlite'] as const) out.push(...await one(backend, n, dir, binaries));
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

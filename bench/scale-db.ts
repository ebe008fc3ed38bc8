/**
 * Database stage of `npm run bench -- scale`: FerretDB's SQLite backend against its PostgreSQL
 * backend on the partner's write-heavy path, each a fresh local server (dev/controlplane): bulk
 * inserts of `indicators` records in the replica sink's shape (1,000 per unordered insertMany),
 * then one equality lookup by object name, one by an unindexed-in-FerretDB range, a stream of
 * every record (what the aggregated API's list does), revocations written as the sink wrote them
 * before (one findOneAndUpdate on `_id` and `logIndex`) and as it writes them now (on `_id` alone,
 * the guard checked on the replaced record: store/indicators.ts), and sightings-style replacements of existing records in
 * bounded commands (store/bulk.ts). CPU is FerretDB's plus PostgreSQL's (bench/proccpu.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MongoClient, type Collection } from 'mongodb';
import { indicatorDigest } from '../operator/src/domain/canonical.ts';
import { startDatabase, type Binaries, type FerretBackend } from '../operator/src/dev/controlplane/instance.ts';
import { INDICATORS, type IndicatorRecord } from '../operator/src/store/indicators.ts';
import { bulkWriteBounded } from '../operator/src/store/bulk.ts';
import { progress, round, type BenchResult } from './lib.ts';
import { databaseCpuMs } from './proccpu.ts';

/** Revocations timed per way of writing them (each costs a full scan somewhere at this size). */
const REVOKES = 20;
/** Existing records replaced in the sightings-style step. */
const REPLACES = 100;

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

/** Wall and database CPU of `fn`, ms. */
async function measured(fn: () => Promise<unknown>): Promise<{ ms: number; cpuMs: number }> {
  const cpu0 = databaseCpuMs() ?? 0;
  const ms = await timed(fn);
  return { ms, cpuMs: (databaseCpuMs() ?? 0) - cpu0 };
}

/** The write-heavy steps on `n` stored records: revocations both ways, then bounded replacements. */
async function writeSteps(col: Collection<IndicatorRecord>, n: number, backend: FerretBackend): Promise<BenchResult[]> {
  const at = (k: number): string => record(Math.floor((k * n) / (3 * REVOKES))).digest;
  const revokedAt = new Date();
  const guarded = await measured(async () => {
    for (let k = 0; k < REVOKES; k++) await col.findOneAndUpdate({ _id: at(k), logIndex: { $lt: n + k } }, { $set: { state: 'revoked', revokedAtIndex: n + k, revokedAt } }, { returnDocument: 'after' });
  });
  const byId = await measured(async () => {
    for (let k = REVOKES; k < 2 * REVOKES; k++) {
      const before = await col.findOneAndUpdate({ _id: at(k) }, { $set: { state: 'revoked', revokedAtIndex: n + k, revokedAt } }, { returnDocument: 'before' });
      if (before === null || before.logIndex >= n + k) throw new Error(`${backend}: revocation ${k} found no record below it`);
    }
  });
  const revoked = await col.countDocuments({ state: 'revoked' });
  if (revoked !== 2 * REVOKES) throw new Error(`${backend}: ${revoked} revoked, expected ${2 * REVOKES}`);
  const replaced = await measured(() => bulkWriteBounded(col, Array.from({ length: REPLACES }, (_, k) => {
    const { _id: _key, ...r } = record(Math.floor((k * n) / REPLACES));
    return { replaceOne: { filter: { _id: r.digest }, replacement: { ...r, meta: { tlp: 'green', confidence: 90 } }, upsert: true } };
  })));
  const label = `database ${backend} at ${n} records`;
  return [
    { metric: `${label}: revocation, findOneAndUpdate on _id and logIndex (before)`, value: round(guarded.ms / REVOKES), unit: 'ms' },
    { metric: `${label}: revocation, database CPU (before)`, value: round(guarded.cpuMs / REVOKES), unit: 'ms' },
    { metric: `${label}: revocation, findOneAndUpdate on _id alone, guard checked on the record it replaced (now)`, value: round(byId.ms / REVOKES), unit: 'ms' },
    { metric: `${label}: revocation, database CPU (now)`, value: round(byId.cpuMs / REVOKES), unit: 'ms' },
    { metric: `${label}: replace existing records, ${REPLACES} in commands of 25`, value: round((REPLACES * 1000) / replaced.ms), unit: 'records/s' },
    { metric: `${label}: replace existing records, database CPU per 1,000`, value: round((replaced.cpuMs * 1000) / REPLACES), unit: 'ms' },
  ];
}

async function one(backend: FerretBackend, n: number, dir: string, binaries: Binaries): Promise<BenchResult[]> {
  const db = await startDatabase({ name: `scale-${backend}`, dir: join(dir, backend), ferretdb: binaries.ferretdb, backend });
  const client = await MongoClient.connect(db.uri);
  try {
    const col = client.db('scale_db').collection<IndicatorRecord>(INDICATORS);
    await col.createIndex({ name: 1 });
    const insert = await measured(async () => {
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
    const writes = await writeSteps(col, n, backend);
    return [
      { metric: `database ${backend}: insertMany of ${n} records`, value: round((n * 1000) / insert.ms), unit: 'records/s' },
      { metric: `database ${backend}: FerretDB${backend === 'postgresql' ? ' + PostgreSQL' : ''} CPU per 1,000 records inserted`, value: round((insert.cpuMs * 1000) / n), unit: 'ms' },
      { metric: `database ${backend}: find one by object name (equality) at ${n} records`, value: round(byNameMs), unit: 'ms' },
      { metric: `database ${backend}: range on logIndex at ${n} records`, value: round(rangeMs), unit: 'ms' },
      { metric: `database ${backend}: stream every record`, value: round((n * 1000) / streamMs), unit: 'records/s' },
      ...writes,
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

/**
 * One backend contract, two implementations (as medallion tests its memory and MongoDB
 * backends with one suite): every query of a table runs against the in-memory reader and the
 * MongoDB reader over a real FerretDB holding the same records, and both must answer the same.
 * Covers TLP filters (unmarked = clear, unknown TLP to nobody), views, cursors, added_after,
 * source feeds, the watermark, lookup by STIX id, and the backfill of records stored before the
 * replica kept STIX ids.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { MemoryIndicatorReader } from '../../operator/src/serve/memory.ts';
import type { IndicatorReader, ServedRecord, VersionQuery } from '../../operator/src/serve/record.ts';
import { stixIdOfDigest } from '../../operator/src/serve/stixview.ts';
import { tlpsUpTo } from '../../operator/src/serve/tlp.ts';
import { REPLICA_CURSORS } from '../../operator/src/store/cursor.ts';
import { INDICATORS, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { MongoServedIndicators } from '../../operator/src/store/servedindicators.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let mongoReader: MongoServedIndicators;
let memoryReader: MemoryIndicatorReader;

const T0 = Date.UTC(2026, 10, 25, 12);
const TLPS = ['green', undefined, 'amber', 'red', 'clear', 'white', 'green', 'amber+strict'] as const;

function served(i: number): ServedRecord {
  const value = `r${i}.served-test.net`;
  const digest = indicatorDigest({ type: 'domain', value });
  const tlp = TLPS[i % TLPS.length];
  const revoked = i % 5 === 3;
  return {
    digest, type: 'domain', value, state: revoked ? 'revoked' : 'active', logIndex: i, proposerId: 'p', addedAt: new Date(T0 + Math.floor(i / 4) * 1000),
    window: { opensAt: '2026-11-25T10:00:00.000Z', closesAt: '2026-11-28T10:00:00.000Z' },
    meta: { ...(tlp === undefined ? {} : { tlp: tlp as 'green' }), source: `feed-${i % 2}`, confidence: i },
    ...(revoked ? { revokedAtIndex: 100 + i, revokedAt: new Date(T0 + 3_600_000 + i * 1000), revocationWindow: { opensAt: '2026-11-26T10:00:00.000Z', closesAt: '2026-11-29T10:00:00.000Z' } } : {}),
  };
}

const RECORDS = Array.from({ length: 40 }, (_, i) => served(i));

function toDoc(r: ServedRecord): IndicatorRecord {
  return {
    _id: r.digest, digest: r.digest, type: r.type, value: r.value, state: r.state, logIndex: r.logIndex, proposerId: r.proposerId, votes: [], addedAt: r.addedAt,
    stixId: stixIdOfDigest(r.digest), ...(r.window ? { window: r.window } : {}), ...(r.meta ? { meta: r.meta } : {}),
    ...(r.revokedAtIndex !== undefined ? { revokedAtIndex: r.revokedAtIndex, revokedAt: r.revokedAt, revocation: { logIndex: r.revokedAtIndex, proposerId: 'p', proposalSignature: 's', window: r.revocationWindow ?? { opensAt: '', closesAt: '' }, votes: [] } } : {}),
  };
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  db = mongo.db(`tm_served_${uniqueSuffix()}`);
  await db.collection<IndicatorRecord>(INDICATORS).insertMany(RECORDS.map(toDoc));
  await db.collection<{ _id: string; nextIndex: number }>(REPLICA_CURSORS).insertOne({ _id: 'seq', nextIndex: 130 });
  mongoReader = await MongoServedIndicators.open(db);
  memoryReader = new MemoryIndicatorReader(RECORDS, 130);
});

after(async () => {
  await db?.dropDatabase();
  await mongo?.close();
  await cp?.stop();
});

function shape(rows: Awaited<ReturnType<IndicatorReader['versions']>>): string {
  return `${rows.rows.map((r) => `${r.index}:${r.kind}:${r.record.value}`).join(' ')} more=${rows.more}`;
}

const QUERIES: Array<[string, VersionQuery, number]> = [
  ['green consumer, last', { tlps: tlpsUpTo('green'), after: -1, view: 'last', limit: 100 }, 130],
  ['green consumer, first, page 2', { tlps: tlpsUpTo('green'), after: 10, view: 'first', limit: 5 }, 130],
  ['red consumer, all', { tlps: tlpsUpTo('red'), after: -1, view: 'all', limit: 100 }, 130],
  ['amber only, one feed', { tlps: ['amber'], source: 'feed-0', after: -1, view: 'last', limit: 100 }, 130],
  ['clear only (unmarked included)', { tlps: ['clear'], after: -1, view: 'all', limit: 100 }, 130],
  ['added_after in the middle of a second', { tlps: tlpsUpTo('red'), after: -1, view: 'all', limit: 100, addedAfter: new Date(T0 + 4_500) }, 130],
  ['added_after past every ADD', { tlps: tlpsUpTo('red'), after: -1, view: 'last', limit: 3, addedAfter: new Date(T0 + 100_000) }, 130],
  ['watermark hides what is not yet complete', { tlps: tlpsUpTo('red'), after: 20, view: 'all', limit: 100 }, 25],
  ['cursor past the end', { tlps: tlpsUpTo('red'), after: 500, view: 'all', limit: 10 }, 130],
];

test('the memory and MongoDB readers answer every query the same', async () => {
  for (const [what, q, watermark] of QUERIES) {
    const [m, g] = [await memoryReader.versions(q, watermark), await mongoReader.versions(q, watermark)];
    assert.equal(shape(g), shape(m), what);
  }
  assert.ok(shape(await mongoReader.versions(QUERIES[0]![1], 130)).split(' ').length > 10, 'the table is not trivially empty');
});

test('unknown TLP values reach nobody; lookups by id respect the TLP; sources and watermark agree', async () => {
  const all = await mongoReader.versions({ tlps: tlpsUpTo('red'), after: -1, view: 'all', limit: 1000 }, 1000);
  assert.ok(!all.rows.some((r) => r.record.meta?.tlp === ('white' as 'clear')));
  const amber = RECORDS.find((r) => r.meta?.tlp === 'amber')!;
  for (const reader of [memoryReader, mongoReader]) {
    assert.equal(await reader.byStixId(stixIdOfDigest(amber.digest), tlpsUpTo('green')), undefined);
    assert.equal((await reader.byStixId(stixIdOfDigest(amber.digest), tlpsUpTo('amber')))?.value, amber.value);
    assert.deepEqual(await reader.sources(['amber+strict']), ['feed-1']);
  }
  assert.equal(await mongoReader.watermark(), 130);
});

test('backfill gives records stored before the replica kept them a STIX id and date_added, once', async () => {
  const value = 'legacy.served-test.net';
  const digest = indicatorDigest({ type: 'domain', value });
  await db.collection<IndicatorRecord>(INDICATORS).insertOne({ _id: digest, digest, type: 'domain', value, state: 'revoked', logIndex: 60, revokedAtIndex: 61, proposerId: 'p', votes: [] });
  assert.equal(await mongoReader.backfill(), 2, 'one STIX id and date_added, one revokedAt');
  assert.equal(await mongoReader.backfill(), 0);
  const r = await mongoReader.byStixId(stixIdOfDigest(digest), ['clear']);
  assert.equal(r?.value, value);
  assert.ok(r?.revokedAt instanceof Date);
});

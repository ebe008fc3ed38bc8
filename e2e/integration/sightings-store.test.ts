/**
 * The matcher's database side against a real FerretDB: the snapshot holder follows the
 * replicated `indicators` collection (admission, revocation and expiry take effect at the next
 * refresh, without a restart), and the scan store's shard results are idempotent (a shard
 * finished twice, as after a killed worker, counts once) and roll up into `sightings`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv } from '../harness/env.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { IndicatorType } from '../../operator/src/domain/indicator.ts';
import { SnapshotHolder } from '../../operator/src/match/holder.ts';
import { ReplicaReader } from '../../operator/src/store/replicaread.ts';
import { INDICATORS } from '../../operator/src/store/indicators.ts';
import { MongoScanStore, sightingId, type SightingPart } from '../../operator/src/store/sightings.ts';

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri);
  db = mongo.db(`sightings_${randomBytes(3).toString('hex')}`);
});

after(async () => {
  await mongo?.close();
  await cp?.stop();
});

function record(type: IndicatorType, value: string, logIndex: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const digest = indicatorDigest({ type, value });
  return { _id: digest, digest, type, value, state: 'active', logIndex, proposerId: 'acme', votes: [], ...extra };
}

function hits(holder: SnapshotHolder, name: string): boolean {
  const buf = Buffer.from(name);
  return holder.current().domain(buf, 0, buf.length) >= 0;
}

test('admissions, revocations and expiry reach the matcher at the next refresh, without a restart', async () => {
  const col = db.collection<Record<string, unknown>>(INDICATORS);
  let now = new Date('2024-05-01T12:00:00Z');
  await col.insertMany([
    record('domain', 'evil.example', 1),
    record('domain', 'short-lived.example', 2, { meta: { validUntil: '2024-05-01T13:00:00Z' } }),
    record('domain', 'revoked-before.example', 3, { state: 'revoked', revokedAtIndex: 4 }),
  ]);
  const holder = await SnapshotHolder.load(new ReplicaReader(db), { now: () => now, minIntervalMs: 0 });
  const first = holder.current();
  const cases: Array<[string, boolean]> = [['www.evil.example', true], ['short-lived.example', true], ['revoked-before.example', false]];
  for (const [name, want] of cases) assert.equal(hits(holder, name), want, name);
  assert.equal(await holder.refresh(), false, 'nothing changed: no rebuild');

  await col.insertOne(record('domain', 'new.example', 5));
  await col.updateOne({ value: 'evil.example' }, { $set: { state: 'revoked', revokedAtIndex: 6 } });
  assert.equal(await holder.refresh(), true);
  assert.equal(hits(holder, 'new.example'), true, 'admitted');
  assert.equal(hits(holder, 'www.evil.example'), false, 'revoked');
  assert.equal(first.domain(Buffer.from('evil.example'), 0, 12) >= 0, true, 'a snapshot already handed out never changes');

  now = new Date('2024-05-01T13:00:01Z');
  assert.equal(await holder.refresh(), true, 'expiry forces a rebuild with no replica change');
  assert.equal(hits(holder, 'short-lived.example'), false, 'expired');
  assert.equal(holder.info.loaded, 1);
});

test('a shard finished twice counts once; rollups sum the shards of one hour', async () => {
  const store = await MongoScanStore.open(db);
  const bucket = new Date('2024-05-01T12:00:00Z');
  const digest = indicatorDigest({ type: 'domain', value: 'evil.example' });
  const part = (count: number): SightingPart => ({ digest, type: 'domain', value: 'evil.example', bucketStart: bucket, count, firstSeen: new Date('2024-05-01T12:01:00Z'), lastSeen: new Date('2024-05-01T12:59:00Z'), sources: { 'zeek:dns': count } });
  const result = { lines: 10, bytes: 100, matchedRecords: 3, indicators: 1, rejected: {}, outsideTimeRange: 0 };
  await store.savePlan('plan-1', [{ index: 0, input: { kind: 'file', path: '/a' }, bytes: 100 }, { index: 1, input: { kind: 'file', path: '/b' }, bytes: 100 }]);
  await store.savePlan('plan-1', [{ index: 0, input: { kind: 'file', path: '/a' }, bytes: 100 }]);
  assert.equal((await store.shards('plan-1')).length, 2, 'a plan saved twice is kept once');

  assert.equal(await store.startShard('plan-1', 0, 'attempt-1', new Date()), true);
  // The first attempt dies before finishing; the second takes over and finishes, and so (late) does the first.
  assert.equal(await store.startShard('plan-1', 0, 'attempt-2', new Date()), true);
  await store.finishShard('plan-1', 0, 'attempt-2', { parts: [part(3)], result }, new Date());
  await store.finishShard('plan-1', 0, 'attempt-1', { parts: [part(3)], result }, new Date());
  assert.equal(await store.startShard('plan-1', 0, 'attempt-3', new Date()), false, 'a done shard is not taken again');
  await store.rollupShard('plan-1', 0, 'acme');
  await store.rollupShard('plan-1', 0, 'acme');
  assert.equal(await store.startShard('plan-1', 1, 'a', new Date()), true);
  await store.finishShard('plan-1', 1, 'a', { parts: [part(2)], result }, new Date());
  await store.rollupShard('plan-1', 1, 'acme');
  const [s] = await store.sightings(digest);
  assert.equal(s?._id, sightingId(digest, bucket));
  assert.equal(s?.count, 5);
  assert.deepEqual(s?.sources, { 'zeek:dns': 5 });
  assert.equal(s?.partnerId, 'acme');
  const shards = await store.shards('plan-1');
  assert.deepEqual(shards.map((x) => [x.state, x.attempts, x.rolledUp]), [['done', 2, true], ['done', 1, true]]);
});

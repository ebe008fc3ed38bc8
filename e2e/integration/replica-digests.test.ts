/**
 * The partner sink's digest-membership set on a real MongoDB-wire server (FerretDB): history
 * lookups for indicators never stored make no database query; the set survives a restart (its
 * chunks are persisted before the records), a database written before the set existed is
 * backfilled at open, and a chunk whose records never arrived (a crash between the two writes)
 * only costs a lookup that finds nothing. REJECT entries go to `rejections`, their digests to
 * chunks of their own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type CommandStartedEvent, type Db } from 'mongodb';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { prefixBytes } from '../../operator/src/domain/digestset.ts';
import { INDICATORS, MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { REPLICA_DIGESTS } from '../../operator/src/store/replicadigests.ts';
import { Binary } from 'mongodb';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

const suffix = uniqueSuffix();
let cp: ControlPlane;
let mongo: MongoClient;
let dbs = 0;
const finds: string[] = [];

function entry(i: number): VerifiedEntry {
  const indicator = { type: 'domain' as const, value: `d${i}.digests-test.example` };
  return {
    kind: 'add', indicator, digest: indicatorDigest(indicator), index: i, proposerId: 'alpha', proposalSignature: 'c2ln',
    window: { opensAt: '2026-12-06T00:00:00.000Z', closesAt: '2026-12-09T00:00:00.000Z' }, votes: [],
  };
}

function freshDb(): Db {
  return mongo.db(`tm_digests_${suffix}_${dbs++}`);
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { monitorCommands: true });
  mongo.on('commandStarted', (e: CommandStartedEvent) => {
    if (e.commandName === 'find') finds.push(String((e.command as { find?: string }).find));
    if (e.commandName === 'count' || e.commandName === 'aggregate') finds.push(`${e.commandName}:${String((e.command as Record<string, unknown>)[e.commandName])}`);
  });
  await mongo.connect();
});

after(async () => {
  await mongo?.close();
  await cp?.stop();
});

test('history lookups of digests never stored make no query; stored ones are found', async () => {
  const db = freshDb();
  const sink = await MongoIndicatorSink.open(db);
  await sink.applyMany([entry(0), entry(1), entry(2)]);
  finds.length = 0;
  const none = await sink.lastEntries([entry(7).digest, entry(8).digest]);
  assert.equal(none.size, 0);
  assert.deepEqual(finds.filter((f) => f === INDICATORS), [], 'a lookup of unknown digests reached the database');
  const some = await sink.lastEntries([entry(1).digest, entry(9).digest]);
  assert.deepEqual([...some.keys()], [entry(1).digest]);
  assert.equal(some.get(entry(1).digest)?.index, 1);
});

test('the set survives a restart; a database written before it existed is backfilled at open', async () => {
  const cases: Array<[string, (db: Db) => Promise<void>]> = [
    ['restart', async (db) => { await (await MongoIndicatorSink.open(db)).applyMany([entry(10), entry(11)]); }],
    ['legacy records without chunks', async (db) => {
      await (await MongoIndicatorSink.open(db)).applyMany([entry(10), entry(11)]);
      await db.collection(REPLICA_DIGESTS).deleteMany({});
    }],
  ];
  for (const [what, prepare] of cases) {
    const db = freshDb();
    await prepare(db);
    const reopened = await MongoIndicatorSink.open(db);
    assert.ok(reopened.knownDigests >= 2, `${what}: ${reopened.knownDigests} digests known`);
    const found = await reopened.lastEntries([entry(10).digest, entry(11).digest]);
    assert.equal(found.size, 2, what);
  }
});

test('a restart over a complete set never reads or counts the records; a set whose chunks were cleared is checked again', async () => {
  const db = freshDb();
  await (await MongoIndicatorSink.open(db)).applyMany([entry(30), entry(31)]);
  finds.length = 0;
  const reopened = await MongoIndicatorSink.open(db);
  assert.equal(reopened.knownDigests, 2);
  assert.deepEqual(finds.filter((f) => f.endsWith(INDICATORS)), [], 'a restart read or counted the indicators');
  await db.collection(REPLICA_DIGESTS).deleteMany({});
  finds.length = 0;
  const rebuilt = await MongoIndicatorSink.open(db);
  assert.equal(rebuilt.knownDigests, 2, 'without the marker the records are read again');
  assert.ok(finds.some((f) => f.endsWith(INDICATORS)));
});

test('a chunk without its records (crash between the writes) costs a lookup that finds nothing', async () => {
  const db = freshDb();
  await MongoIndicatorSink.open(db);
  await db.collection(REPLICA_DIGESTS).insertOne({ _id: 'crashed' as never, i: 20, d: new Binary(prefixBytes([entry(20).digest])) });
  const sink = await MongoIndicatorSink.open(db);
  finds.length = 0;
  assert.equal((await sink.lastEntries([entry(20).digest])).size, 0);
  assert.deepEqual(finds.filter((f) => f === INDICATORS), [INDICATORS], 'a member must be looked up');
  await sink.applyMany([entry(20)]);
  assert.equal((await sink.lastEntries([entry(20).digest])).size, 1);
  assert.equal(await db.collection(INDICATORS).countDocuments(), 1);
});

test('REJECT entries: stored in rejections only, their digests remembered across a restart, replays insert nothing, history is the latest entry of either collection', async () => {
  const db = freshDb();
  const reject = (i: number, index: number, opensAt: string): VerifiedEntry => ({ ...entry(i), kind: 'reject', index, window: { opensAt, closesAt: '2026-12-09T00:00:00.000Z' } });
  const batch = [reject(1, 0, '2026-12-01T00:00:00.000Z'), reject(1, 1, '2026-12-02T00:00:00.000Z'), reject(2, 2, '2026-12-01T00:00:00.000Z'), { ...entry(2), index: 3 }];
  await (await MongoIndicatorSink.open(db)).applyMany(batch);
  const sink = await MongoIndicatorSink.open(db);
  // A replay after a crash (the same entries again) changes nothing.
  await sink.applyMany(batch);
  assert.deepEqual((await sink.rejections()).map((r) => [r.logIndex, r.digest]), [[0, entry(1).digest], [1, entry(1).digest], [2, entry(2).digest]]);
  assert.deepEqual((await sink.all()).map((r) => r.digest), [entry(2).digest], 'a rejected indicator is never in indicators');
  finds.length = 0;
  assert.equal((await sink.lastEntries([entry(7).digest])).size, 0);
  assert.deepEqual(finds, [], 'a digest neither stored nor rejected makes no query');
  const h = await sink.lastEntries([entry(1).digest, entry(2).digest]);
  assert.deepEqual([h.get(entry(1).digest)?.kind, h.get(entry(1).digest)?.index, h.get(entry(1).digest)?.window?.opensAt], ['reject', 1, '2026-12-02T00:00:00.000Z'], 'the latest of two rejections, found after the restart');
  assert.ok((h.get(entry(1).digest)?.readmitFloorMs ?? 0) > Date.parse('2026-12-02T00:00:00.000Z'), 'a rejection sets the floor of the next round');
  assert.deepEqual([h.get(entry(2).digest)?.kind, h.get(entry(2).digest)?.index], ['add', 3], 'the admission after the rejection is the latest entry');
});

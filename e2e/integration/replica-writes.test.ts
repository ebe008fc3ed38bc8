/**
 * The replica's cheaper writes on a real MongoDB-wire server (FerretDB 1.24 started by the
 * harness; docs/adr/2026-12-07-replica-write-cost.md): no secondary index on `indicators` where
 * FerretDB reads none (and those of earlier versions dropped), the served-changes journal and the
 * leaf hashes in their compact spellings with the older ones still read, and a batch replayed
 * after a crash at any point between its writes leaving the database a clean run leaves.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { MongoIndicatorSource } from '../../operator/src/enforce/source.ts';
import { ignoresSecondaryIndexes } from '../../operator/src/store/indexes.ts';
import { INDICATORS, MongoIndicatorSink, SINK_INDEXES } from '../../operator/src/store/indicators.ts';
import { LEAF_CHUNK, MongoLeafStore, REPLICA_LEAVES } from '../../operator/src/store/leaves.ts';
import { REPLICA_RECENT } from '../../operator/src/store/recentrecords.ts';
import { SERVED_CHANGES, ServedChangesJournal } from '../../operator/src/store/servedchanges.ts';
import { MongoServedIndicators, SERVED_INDEXES } from '../../operator/src/store/servedindicators.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

const suffix = uniqueSuffix();
let cp: ControlPlane;
let mongo: MongoClient;
let dbs = 0;

const WINDOW = { opensAt: '2026-12-06T00:00:00.000Z', closesAt: '2026-12-09T00:00:00.000Z' };

function add(i: number, n = i): VerifiedEntry {
  const indicator = { type: 'domain' as const, value: `d${n}.writes-test.example` };
  return { kind: 'add', indicator, digest: indicatorDigest(indicator), index: i, proposerId: 'alpha', proposalSignature: 'c2ln', window: WINDOW, votes: [] };
}

function revoke(i: number, n: number): VerifiedEntry {
  return { ...add(i, n), kind: 'revoke' };
}

function freshDb(): Db {
  return mongo.db(`tm_writes_${suffix}_${dbs++}`);
}

const hex = (i: number): string => i.toString(16).padStart(64, '0');

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri);
  await mongo.connect();
});

after(async () => {
  await mongo?.close();
  await cp?.stop();
});

describe('indexes on FerretDB 1.x', () => {
  test('the harness database is FerretDB 1.x, which reads no secondary index', async () => {
    assert.equal(await ignoresSecondaryIndexes(freshDb()), true);
  });

  test('the sink, the serving reader and the enforcement source leave only _id and object_name, and drop what earlier versions created', async () => {
    const db = freshDb();
    const col = db.collection(INDICATORS);
    // What a partner opened by an earlier version has.
    await col.createIndex({ digest: 1 }, { unique: true, name: 'digest_unique' });
    for (const [name, keys] of [...SINK_INDEXES, ...SERVED_INDEXES]) await col.createIndex({ ...keys }, { name });
    await col.createIndex({ revokedAtIndex: 1, state: 1 }, { name: 'revokedAtIndex_1' });
    await col.createIndex({ logIndex: 1, state: 1 }, { name: 'logIndex_1' });
    await col.createIndex({ value: 1 }, { name: 'not_ours' });
    await MongoIndicatorSink.open(db);
    await MongoServedIndicators.open(db);
    await MongoIndicatorSource.open(db);
    const names = (await col.listIndexes().toArray()).map((i) => String((i as { name?: unknown }).name)).sort();
    // object_name stays: the local PostgreSQL gives it a GIN twin FerretDB's equality reads (docs/adr/2026-12-07-replica-name-lookups.md).
    assert.deepEqual(names, ['_id_', 'not_ours', 'object_name'], 'an index no FerretDB 1.x query reads is still written with every record (or one not ours, or the name index, was dropped)');
  });

  test('without digest_unique, a digest is still stored once: _id is the digest', async () => {
    const db = freshDb();
    const sink = await MongoIndicatorSink.open(db);
    await sink.applyMany([add(0), add(1)]);
    await sink.applyMany([add(0), add(1)]);
    assert.equal(await db.collection(INDICATORS).countDocuments({}), 2);
  });
});

describe('the served-changes journal', () => {
  test('a document is one JSON text; its dates come back as dates', async () => {
    const db = freshDb();
    const sink = await MongoIndicatorSink.open(db);
    await sink.applyMany([add(0), add(1), revoke(2, 0)]);
    const doc = await db.collection(SERVED_CHANGES).findOne({});
    assert.equal(typeof doc?.['json'], 'string');
    assert.equal(doc?.['changes'], undefined);
    const changes = await new ServedChangesJournal(db).since(0, 3);
    assert.deepEqual(changes?.map((c) => [c.index, c.kind]), [[0, 'add'], [1, 'add'], [2, 'revoke']]);
    const first = changes?.[0];
    const last = changes?.[2];
    assert.ok(first?.kind === 'add' && first.record.addedAt instanceof Date);
    assert.ok(last?.kind === 'revoke' && last.revokedAt instanceof Date);
  });

  test('documents written by an earlier version (changes as documents) are still read, beside new ones', async () => {
    const db = freshDb();
    const at = new Date();
    const record = { digest: add(0).digest, type: 'domain', value: 'd0.writes-test.example', state: 'active' as const, logIndex: 0, proposerId: 'alpha', addedAt: at, window: WINDOW };
    await db.collection(SERVED_CHANGES).insertOne({ _id: 0 as never, last: 0, at, changes: [{ kind: 'add', index: 0, record }] });
    const sink = await MongoIndicatorSink.open(db);
    await sink.applyMany([add(1)]);
    const changes = await new ServedChangesJournal(db).since(0, 2);
    assert.deepEqual(changes?.map((c) => c.index), [0, 1]);
    const old = changes?.[0];
    assert.ok(old?.kind === 'add' && old.record.addedAt instanceof Date && old.record.digest === record.digest);
  });
});

describe('leaf hashes', () => {
  test('a chunk holds its hashes as one binary value', async () => {
    const db = freshDb();
    await new MongoLeafStore(db).append(0, [hex(1), hex(2)]);
    const doc = await db.collection(REPLICA_LEAVES).findOne({ _id: 0 as never });
    assert.equal(doc?.['hashes'], undefined);
    assert.equal((doc?.['h'] as { length(): number }).length(), 64);
  });

  test('chunks written by an earlier version (hex arrays) are read, sized and continued', async () => {
    const db = freshDb();
    const old = Array.from({ length: LEAF_CHUNK }, (_, i) => hex(i));
    await db.collection(REPLICA_LEAVES).insertMany([{ _id: 0 as never, hashes: old }, { _id: 1 as never, hashes: [hex(LEAF_CHUNK), hex(LEAF_CHUNK + 1)] }]);
    const leaves = new MongoLeafStore(db);
    assert.equal(await leaves.size(), LEAF_CHUNK + 2);
    await leaves.append(LEAF_CHUNK + 2, [hex(LEAF_CHUNK + 2)]);
    assert.equal(await leaves.size(), LEAF_CHUNK + 3);
    assert.deepEqual(await leaves.range(LEAF_CHUNK - 1, LEAF_CHUNK + 3), [hex(LEAF_CHUNK - 1), hex(LEAF_CHUNK), hex(LEAF_CHUNK + 1), hex(LEAF_CHUNK + 2)]);
  });

  test('a hash that is not 64 lowercase hex digits is refused with its position, nothing stored', async () => {
    const db = freshDb();
    const leaves = new MongoLeafStore(db);
    await assert.rejects(leaves.append(0, [hex(0), 'not-a-hash']), /leaf hash 1 is not 64 lowercase hex digits/);
    assert.equal(await leaves.size(), 0);
  });
});

/** The records without the per-run stamps (addedAt, revokedAt), by digest. */
async function records(db: Db): Promise<unknown[]> {
  const docs = await db.collection(INDICATORS).find({}, { projection: { addedAt: 0, revokedAt: 0 } }).sort({ _id: 1 }).toArray();
  return docs;
}

describe('a batch replayed after a crash between its writes', () => {
  const batch = [add(0), add(1), add(2), revoke(3, 1), add(4)];
  // What each crash lost: the collections written after it (write-ahead chunks first, then records and rejections together, then the journal and the recent states together, then the cursor).
  const crashes: Array<[string, string[]]> = [
    ['after the digest chunks, before any record', [INDICATORS, SERVED_CHANGES, REPLICA_RECENT]],
    ['after the records, before the journal and recent states', [SERVED_CHANGES, REPLICA_RECENT]],
    ['after the journal, before the recent states', [REPLICA_RECENT]],
    ['after everything but the cursor', []],
  ];
  for (const [name, lost] of crashes) {
    test(`${name}: the replay leaves what a clean run leaves`, async () => {
      const clean = freshDb();
      await (await MongoIndicatorSink.open(clean)).applyMany(batch, { treeSize: batch.length });
      const crashed = freshDb();
      await (await MongoIndicatorSink.open(crashed)).applyMany(batch, { treeSize: batch.length });
      for (const c of lost) await crashed.collection(c).deleteMany({});
      // The restarted partner replays from its cursor (before the batch).
      await (await MongoIndicatorSink.open(crashed)).applyMany(batch, { treeSize: batch.length });
      assert.deepEqual(await records(crashed), await records(clean));
      const journal = await new ServedChangesJournal(crashed).since(0, batch.length);
      assert.deepEqual(journal?.map((c) => [c.index, c.kind]), [[0, 'add'], [1, 'add'], [2, 'add'], [3, 'revoke'], [4, 'add']]);
      const sink = await MongoIndicatorSink.open(crashed);
      assert.deepEqual((await sink.recent(0)).map((r) => [r.digest, r.state]).sort(), (await records(clean)).map((r) => [(r as { digest: string }).digest, (r as { state: string }).state]).sort());
    });
  }
});

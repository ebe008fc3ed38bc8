/**
 * Drift repair's read of the working set's records (`MongoIndicatorSink.recent`) on a real
 * MongoDB-wire server (FerretDB): answered from the small `replica_recent` collection when it
 * covers the floor, without any query on `indicators`, and always equal to the one query on
 * `indicators` it replaces (`recentByScan`: `logIndex ≥ floor OR revokedAtIndex ≥ floor OR
 * digest in kept`) — for admissions, revocations, re-admissions, replayed batches, pruned
 * positions (the read falls back to `indicators`) and databases written before the collection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type CommandStartedEvent, type Db } from 'mongodb';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { INDICATORS, MongoIndicatorSink, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { REPLICA_RECENT } from '../../operator/src/store/recentrecords.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

const suffix = uniqueSuffix();
let cp: ControlPlane;
let mongo: MongoClient;
let dbs = 0;
const queried: string[] = [];

const WINDOW = { opensAt: '2026-12-06T00:00:00.000Z', closesAt: '2026-12-09T00:00:00.000Z' };

function indicator(n: number): { type: 'domain'; value: string } {
  return { type: 'domain', value: `d${n}.recent-test.example` };
}

/** ADD of indicator `n` at log index `index`. */
function add(index: number, n = index): VerifiedEntry {
  const ind = indicator(n);
  return { kind: 'add', indicator: ind, digest: indicatorDigest(ind), index, proposerId: 'alpha', proposalSignature: `p${index}`, window: WINDOW, votes: [] };
}

/** REVOKE of indicator `n` at log index `index`. */
function revoke(index: number, n: number): VerifiedEntry {
  return { ...add(index, n), kind: 'revoke', proposerId: 'bravo' };
}

function digest(n: number): string {
  return indicatorDigest(indicator(n));
}

function freshDb(): Db {
  return mongo.db(`tm_recent_${suffix}_${dbs++}`);
}

function sorted(rs: readonly IndicatorRecord[]): IndicatorRecord[] {
  return [...rs].sort((a, b) => a.digest.localeCompare(b.digest));
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { monitorCommands: true });
  mongo.on('commandStarted', (e: CommandStartedEvent) => {
    for (const name of ['find', 'findAndModify', 'count', 'aggregate']) {
      const col = (e.command as Record<string, unknown>)[name];
      if (e.commandName === name) queried.push(`${name}:${String(col)}`);
    }
  });
  await mongo.connect();
});

after(async () => {
  await mongo?.close();
  await cp?.stop();
});

/** One scenario: batches applied in order with `keep` recent positions, then the floors asked (with kept digests). */
interface Case {
  readonly name: string;
  readonly keep: number;
  readonly batches: ReadonlyArray<readonly VerifiedEntry[]>;
  /** [floor, kept indicator numbers, answered from replica_recent?] */
  readonly asks: ReadonlyArray<readonly [number, readonly number[], boolean]>;
  /** Done to the database before the batches (a database written before replica_recent). */
  readonly prepare?: (db: Db) => Promise<void>;
  /** Done to the database after the batches. */
  readonly tamper?: (db: Db) => Promise<void>;
}

const CASES: readonly Case[] = [
  {
    name: 'admissions only', keep: 100, batches: [[add(0), add(1), add(2)], [add(3), add(4)]],
    asks: [[0, [], true], [2, [], true], [4, [], true], [3, [0], true]],
  },
  {
    name: 'revocations of old and new records, a revocation in the batch that admitted, a re-admission', keep: 100,
    batches: [[add(0), add(1), add(2), add(3)], [revoke(4, 0), add(5), revoke(6, 5)], [add(7, 0), revoke(8, 2), add(9)]],
    asks: [[0, [], true], [4, [], true], [6, [], true], [7, [], true], [8, [1], true], [9, [1, 3], true]],
  },
  {
    name: 'a replayed batch that runs further than the first attempt', keep: 100,
    batches: [[add(0), add(1)], [add(2), revoke(3, 0)], [add(2), revoke(3, 0), add(4), revoke(5, 2)]],
    asks: [[0, [], true], [3, [], true], [5, [1], true]],
  },
  {
    name: 'pruned below the newest positions: floors below them fall back to indicators', keep: 4,
    batches: [[add(0), add(1)], [add(2), add(3)], [revoke(4, 1), add(5)], [add(6), add(7)]],
    asks: [[0, [], false], [3, [], false], [4, [], true], [6, [0, 1], true]],
  },
  {
    name: 'a gap in replica_recent (a batch applied by an operator without it): floors before the gap fall back to indicators', keep: 100,
    batches: [[add(0), add(1)], [add(2), revoke(3, 0)], [add(4), add(5)]],
    tamper: async (db) => { await db.collection<{ _id: number }>(REPLICA_RECENT).deleteOne({ _id: 2 }); },
    asks: [[1, [], false], [4, [], true]],
  },
  {
    name: 'a batch of more than 1,000 entries (several documents), then revocations on both sides of a document boundary', keep: 5000,
    batches: [Array.from({ length: 2100 }, (_, i) => add(i)), [revoke(2100, 5), revoke(2101, 1700), add(2102)]],
    tamper: async (db) => { assert.equal(await db.collection(REPLICA_RECENT).countDocuments(), 4, 'the 2,100-entry batch was not split into 3 documents'); },
    asks: [[0, [], true], [999, [], true], [1000, [], true], [1999, [], true], [2000, [], true], [2101, [3], true]],
  },
  {
    name: 'records stored before replica_recent existed', keep: 100,
    prepare: async (db) => {
      await (await MongoIndicatorSink.open(db)).applyMany([add(0), add(1), add(2)]);
      await db.collection(REPLICA_RECENT).deleteMany({});
    },
    batches: [[revoke(3, 0), add(4)]],
    asks: [[0, [], false], [2, [], false], [3, [], true], [4, [1, 2], true]],
  },
];

test('recent() equals the query on indicators it replaces, and reads only replica_recent when it covers the floor', async () => {
  for (const c of CASES) {
    const db = freshDb();
    await c.prepare?.(db);
    const sink = await MongoIndicatorSink.open(db, { recentPositions: c.keep });
    for (const b of c.batches) await sink.applyMany(b);
    await c.tamper?.(db);
    for (const [floor, kept, fromCopies] of c.asks) {
      const what = `${c.name}: floor ${floor}, kept [${kept.join(',')}]`;
      queried.length = 0;
      const got = await sink.recent(floor, kept.map(digest));
      const onIndicators = queried.filter((q) => q === `find:${INDICATORS}`).length;
      // Each kept digest not found among the recent records costs one _id equality; the floor never touches indicators.
      const expectedLookups = fromCopies ? kept.filter((n) => !got.some((r) => r.digest === digest(n) && (r.logIndex >= floor || (r.revokedAtIndex ?? -1) >= floor))).length : 1;
      assert.equal(onIndicators, expectedLookups, `${what}: ${onIndicators} queries on indicators`);
      assert.deepEqual(sorted(got), sorted(await sink.recentByScan(floor, kept.map(digest))), what);
      assert.equal(new Set(got.map((r) => r.digest)).size, got.length, `${what}: a record returned twice`);
    }
  }
});

test('a catch-up skips the batches wholly below the newest positions of the log it comes from, and still answers every floor that needs them', async () => {
  const db = freshDb();
  const sink = await MongoIndicatorSink.open(db, { recentPositions: 10 });
  const treeSize = 40;
  for (let i = 0; i < treeSize; i += 4) await sink.applyMany([0, 1, 2, 3].map((k) => (i + k === 33 ? revoke(33, 2) : add(i + k))), { treeSize });
  const firsts = (await db.collection<{ _id: number }>(REPLICA_RECENT).find({}).toArray()).map((d) => d._id).sort((a, b) => a - b);
  assert.deepEqual(firsts, [28, 32, 36], 'batches wholly below position 30 were recorded, or one above it was not');
  for (const floor of [30, 31, 35]) assert.deepEqual(sorted(await sink.recent(floor)), sorted(await sink.recentByScan(floor)), `floor ${floor}`);
  queried.length = 0;
  assert.deepEqual(sorted(await sink.recent(20)), sorted(await sink.recentByScan(20)), 'floor 20');
  assert.equal(queried.filter((q) => q === `find:${INDICATORS}`).length, 2, 'a floor below the recorded positions was not read from indicators');
});

test('replica_recent stays bounded by the newest positions, and a restart keeps answering from it', async () => {
  const db = freshDb();
  const sink = await MongoIndicatorSink.open(db, { recentPositions: 10 });
  for (let i = 0; i < 60; i += 5) await sink.applyMany([0, 1, 2, 3, 4].map((k) => add(i + k)));
  const docs = await db.collection<{ _id: number; last: number }>(REPLICA_RECENT).find({}).toArray();
  // The newest 10 positions, plus up to a quarter of them until the next prune.
  assert.ok(docs.every((d) => d.last >= 59 - 10 + 1 - 3), `kept ${JSON.stringify(docs.map((d) => [d._id, d.last]))}`);
  assert.ok(docs.length < 60 / 5, 'nothing was pruned');
  const reopened = await MongoIndicatorSink.open(db, { recentPositions: 10 });
  queried.length = 0;
  const got = await reopened.recent(52);
  assert.deepEqual(got.map((r) => r.logIndex).sort((a, b) => a - b), [52, 53, 54, 55, 56, 57, 58, 59]);
  assert.equal(queried.filter((q) => q === `find:${INDICATORS}`).length, 0, 'the restart read indicators');
});

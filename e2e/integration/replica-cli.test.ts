/**
 * `threatmesh replica status|clear-halt|rebuild` as child processes against a real FerretDB: a
 * partner's replica halted on a fork is shown as halted (exit 3), the halt is lifted keeping the
 * position, and a rebuild forgets the cursor and the replicated records (rejections included); bad input gets clear
 * errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { REJECTIONS } from '../../operator/src/store/rejections.ts';
import { INDICATORS } from '../../operator/src/store/indicators.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { runCli, type CliRun } from '../harness/cli.ts';

const SOURCE = 'sequencer:seq-1';
const head = { treeSize: 12, rootHash: 'ab'.repeat(32), timestamp: '2026-11-25T20:00:00.000Z', logId: 'cd'.repeat(32), signature: 'sig' };

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let dbName: string;

function cli(args: readonly string[]): Promise<CliRun> {
  return runCli(['replica', ...args, '--mongodb-uri', cp.mongoUri, '--database', dbName], { timeout: 60_000 });
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  dbName = `tm_replica_${uniqueSuffix()}`;
  db = mongo.db(dbName);
  await new MongoCursorStore(db).save(SOURCE, { nextIndex: 12, head, halted: { reason: 'fork', message: 'peer bravo accepted a different root at size 12', index: 12, at: '2026-11-25T20:01:00.000Z' } });
  await db.collection(INDICATORS).insertMany([
    { _id: 'd1' as never, digest: 'd1', type: 'domain', value: 'a.example', state: 'active', logIndex: 0 },
    { _id: 'd2' as never, digest: 'd2', type: 'domain', value: 'b.example', state: 'revoked', logIndex: 1 },
  ]);
  await db.collection(REJECTIONS).insertOne({ _id: 2 as never, logIndex: 2, digest: 'd3', type: 'domain', value: 'c.example' });
});

after(async () => {
  await db?.dropDatabase();
  await mongo?.close();
  await cp?.stop();
});

test('status shows the cursor, the halt and what to do, and exits 3 while halted', async () => {
  const r = await cli(['status']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /sequencer:seq-1: applied 12 entries; accepted tree head size 12 root abab/);
  assert.match(r.stdout, /HALTED at 2026-11-25T20:01:00.000Z: fork at entry 12: peer bravo accepted a different root/);
  assert.match(r.stdout, /threatmesh replica clear-halt --source sequencer:seq-1/);
  assert.match(r.stdout, /indicators: 1 active, 1 revoked; rejections: 1 \(proposals the network rejected by votes\)/);
  const j = await cli(['status', '--json']);
  const parsed = JSON.parse(j.stdout) as { sources: Array<{ source: string; halted?: { reason: string } }>; indicators: { active: number }; rejections: number };
  assert.equal(parsed.sources[0]?.halted?.reason, 'fork');
  assert.equal(parsed.indicators.active, 1);
  assert.equal(parsed.rejections, 1, 'the replicated REJECT entries are counted');
});

test('clear-halt lifts the halt and keeps the position', async () => {
  const r = await cli(['clear-halt']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cleared the halt of sequencer:seq-1 \(fork\); restart the operator/);
  const cursor = await new MongoCursorStore(db).load(SOURCE);
  assert.equal(cursor?.halted, undefined);
  assert.equal(cursor?.nextIndex, 12);
  assert.equal((await cli(['status'])).code, 0);
  assert.match((await cli(['clear-halt'])).stdout, /was not halted; nothing to do/);
});

test('rebuild needs --yes, then forgets the cursor and the records', async () => {
  const refused = await cli(['rebuild']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /stop the operator, then run again with --yes/);
  assert.equal(await db.collection(INDICATORS).countDocuments({}), 2);
  const r = await cli(['rebuild', '--yes']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /forgot sequencer:seq-1's cursor and 2 replicated records/);
  assert.equal(await new MongoCursorStore(db).load(SOURCE), undefined);
  assert.equal(await db.collection(INDICATORS).countDocuments({}), 0);
  assert.equal(await db.collection(REJECTIONS).countDocuments({}), 0, 'the replicated rejections are forgotten too');
  assert.match((await cli(['status'])).stdout, /no replication cursor yet/);
});

test('bad input: unknown source, nothing to clear, no database', async () => {
  const unknown = await cli(['clear-halt', '--source', 'sequencer:nope']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no cursor for source "sequencer:nope"/);
  const none = await cli(['clear-halt']);
  assert.match(none.stderr, /no replication cursor in database .*: nothing to do/);
  const noDb = await runCli(['replica', 'status'], { timeout: 60_000, env: { ...process.env, MONGODB_URI: '' } });
  assert.equal(noDb.code, 2);
  assert.match(noDb.stderr, /--mongodb-uri URI or MONGODB_URI/);
});

/**
 * The sequencer's round store against a real FerretDB: hundreds of rounds and votes written at
 * once (as a ProposeBatch and a VoteBatch do) all land without a database-locked error and load
 * back with their votes; deleted rounds take their votes with them; a round re-opened under the
 * same subject starts without the old votes; a repeated write is harmless.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import type { StoredRound } from '../../operator/src/domain/stores.ts';
import { MongoRoundStore, PENDING_ROUNDS, runsOf } from '../../operator/src/store/rounds.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
const keys = { alpha: SigningKey.generate(), bravo: SigningKey.generate() };
const subject = (i: number): string => i.toString(16).padStart(64, '0');
const round = (i: number, opensAt = '2026-11-25T10:00:00.000Z'): StoredRound => ({
  subject: subject(i), kind: 'add', indicatorJson: `{"type":"domain","value":"r${i}.example"}`, proposerId: 'alpha', signature: 'sig',
  window: { opensAt, closesAt: '2026-11-28T10:00:00.000Z' }, votes: [],
});
const vote = (i: number, who: 'alpha' | 'bravo', signedAt = '2026-11-25T10:01:00.000Z') => signVote(keys[who], { partnerId: who, digest: subject(i), decision: 'approve', signedAt });

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  db = mongo.db(`tm_rounds_${uniqueSuffix()}`);
});

after(async () => {
  await db?.dropDatabase();
  await mongo?.close();
  await cp?.stop();
});

test('runsOf groups consecutive operations of one kind, in order', () => {
  const items = ['round', 'round', 'vote', 'delete', 'delete', 'round'].map((kind) => ({ op: { kind } }));
  assert.deepEqual(runsOf(items).map((r) => `${r[0]!.op.kind}×${r.length}`), ['round×2', 'vote×1', 'delete×2', 'round×1']);
});

test('300 rounds and 600 votes written at once all load back', async () => {
  const store = new MongoRoundStore(db);
  await Promise.all(Array.from({ length: 300 }, (_, i) => store.saveRound(round(i))));
  await Promise.all(Array.from({ length: 300 }, (_, i) => [store.saveVote(subject(i), vote(i, 'alpha')), store.saveVote(subject(i), vote(i, 'bravo'))]).flat());
  const loaded = await new MongoRoundStore(db).loadRounds();
  assert.equal(loaded.length, 300);
  assert.ok(loaded.every((r) => r.votes.length === 2));
  assert.deepEqual(loaded.find((r) => r.subject === subject(7))?.votes.map((v) => v.partnerId).sort(), ['alpha', 'bravo']);
});

test('repeating a write is harmless; a round already stored under its subject is kept', async () => {
  const store = new MongoRoundStore(db);
  await store.saveVote(subject(1), vote(1, 'alpha'));
  await store.saveRound({ ...round(1), proposerId: 'bravo' });
  const r1 = (await store.loadRounds()).find((r) => r.subject === subject(1));
  assert.equal(r1?.proposerId, 'alpha');
  assert.equal(r1?.votes.length, 2);
});

test('deleting rounds removes their votes; a re-opened round starts without them', async () => {
  const store = new MongoRoundStore(db);
  await Promise.all(Array.from({ length: 300 }, (_, i) => store.deleteRound(subject(i))));
  assert.deepEqual(await store.loadRounds(), []);
  assert.equal(await db.collection(PENDING_ROUNDS).countDocuments({}), 0);
  assert.equal(await db.collection('pending_votes').countDocuments({}), 0);
  // Decided, then re-opened in the same flush: the order of the calls is kept.
  const a = store.saveRound(round(5));
  const b = store.saveVote(subject(5), vote(5, 'alpha'));
  const c = store.deleteRound(subject(5));
  const d = store.saveRound(round(5, '2026-11-26T10:00:00.000Z'));
  await Promise.all([a, b, c, d]);
  const [reopened] = await store.loadRounds();
  assert.equal(reopened?.window.opensAt, '2026-11-26T10:00:00.000Z');
  assert.deepEqual(reopened?.votes, []);
});

test('a round stored by an earlier version with votes inside it still loads them', async () => {
  await db.collection(PENDING_ROUNDS).insertOne({ _id: subject(900) as never, kind: 'add', indicatorJson: '{"type":"domain","value":"old.example"}', proposerId: 'alpha', signature: 'sig', window: { opensAt: '2026-11-25T09:00:00.000Z', closesAt: '2026-11-28T10:00:00.000Z' }, votes: [{ partnerId: 'alpha', decision: 'approve', signedAt: '2026-11-25T09:01:00.000Z', signature: 's', digest: subject(900) }] });
  const store = new MongoRoundStore(db);
  await store.saveVote(subject(900), vote(900, 'bravo'));
  const old = (await store.loadRounds()).find((r) => r.subject === subject(900));
  assert.deepEqual(old?.votes.map((v) => v.partnerId), ['alpha', 'bravo']);
});

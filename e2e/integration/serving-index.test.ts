/**
 * The serve process's serving index over a real MongoDB-wire server (FerretDB), fed by the real
 * replica sink: after the build and after every applied batch (admissions, revocations, a
 * re-admission) it answers every query as the database reader does; it follows the
 * served-changes journal without one query on `indicators`, and falls back to reading the
 * records when the journal does not cover its watermark (pruned, or a database written before it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type CommandStartedEvent, type Db } from 'mongodb';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import type { VersionQuery } from '../../operator/src/serve/record.ts';
import { ServingIndex } from '../../operator/src/serve/servingindex.ts';
import { stixIdOfDigest } from '../../operator/src/serve/stixview.ts';
import { tlpsUpTo } from '../../operator/src/serve/tlp.ts';
import { REPLICA_CURSORS } from '../../operator/src/store/cursor.ts';
import { INDICATORS, MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { SERVED_CHANGES } from '../../operator/src/store/servedchanges.ts';
import { MongoServedIndicators } from '../../operator/src/store/servedindicators.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
const finds: string[] = [];
const TLPS = ['green', undefined, 'amber', 'red', 'clear'] as const;

function entry(kind: 'add' | 'revoke', index: number, n: number): VerifiedEntry {
  const indicator = { type: 'domain' as const, value: `i${n}.serving-index-test.example` };
  const tlp = TLPS[n % TLPS.length];
  return {
    kind, indicator, digest: indicatorDigest(indicator), index, proposerId: 'alpha', proposalSignature: 'c2ln', votes: [],
    window: { opensAt: `2026-12-0${kind === 'add' ? 6 : 7}T00:00:00.000Z`, closesAt: '2026-12-09T00:00:00.000Z' },
    ...(kind === 'add' ? { meta: { ...(tlp === undefined ? {} : { tlp }), source: `feed-${n % 2}`, confidence: n } } : {}),
  };
}

async function applied(sink: MongoIndicatorSink, entries: readonly VerifiedEntry[]): Promise<void> {
  await sink.applyMany(entries);
  await db.collection<{ _id: string; nextIndex: number }>(REPLICA_CURSORS).updateOne({ _id: 'seq' }, { $set: { nextIndex: entries[entries.length - 1]!.index + 1 } }, { upsert: true });
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { monitorCommands: true });
  mongo.on('commandStarted', (e: CommandStartedEvent) => {
    if (e.commandName === 'find' || e.commandName === 'aggregate') finds.push(String((e.command as { find?: string }).find));
  });
  await mongo.connect();
  db = mongo.db(`tm_serving_index_${uniqueSuffix()}`);
});

after(async () => {
  await db?.dropDatabase();
  await mongo?.close();
  await cp?.stop();
});

const QUERIES: Array<[string, VersionQuery]> = [
  ['green, last', { tlps: tlpsUpTo('green'), after: -1, view: 'last', limit: 100 }],
  ['red, all', { tlps: tlpsUpTo('red'), after: -1, view: 'all', limit: 100 }],
  ['red, first, page 2', { tlps: tlpsUpTo('red'), after: 4, view: 'first', limit: 3 }],
  ['clear, one feed', { tlps: ['clear'], source: 'feed-1', after: -1, view: 'all', limit: 100 }],
];

async function sameAsDatabase(index: ServingIndex, reader: MongoServedIndicators, what: string): Promise<void> {
  const mark = await reader.watermark();
  assert.equal(await index.watermark(), mark, `${what}: watermark`);
  for (const [name, q] of QUERIES) {
    const shape = (p: Awaited<ReturnType<MongoServedIndicators['versions']>>): string => `${p.rows.map((r) => `${r.index}:${r.kind}:${r.record.value}:${r.record.state}:${r.record.addedAt.toISOString()}`).join(' ')} more=${p.more}`;
    assert.equal(shape(await index.versions(q, mark)), shape(await reader.versions(q, mark)), `${what}: ${name}`);
  }
  const amber = entry('add', 0, 2);
  assert.equal(await index.byStixId(stixIdOfDigest(amber.digest), tlpsUpTo('green')), undefined, `${what}: AMBER by id to GREEN`);
  assert.deepEqual(await index.sources(tlpsUpTo('green')), await reader.sources(tlpsUpTo('green')), `${what}: sources`);
}

test('the serving index follows the replica sink through the journal, and reads the records when the journal does not cover it', async () => {
  const sink = await MongoIndicatorSink.open(db);
  const reader = await MongoServedIndicators.open(db);
  await applied(sink, Array.from({ length: 10 }, (_, i) => entry('add', i, i)));
  const index = await ServingIndex.build(reader);
  await sameAsDatabase(index, reader, 'built');
  assert.ok((await index.versions(QUERIES[1]![1], 10)).rows.length >= 8, 'the table is not trivially empty');

  const batches: Array<[string, VerifiedEntry[]]> = [
    ['admissions', [entry('add', 10, 10), entry('add', 11, 11)]],
    ['revocations between admissions', [entry('revoke', 12, 1), entry('add', 13, 13), entry('revoke', 14, 3)]],
    ['a re-admission of a revoked indicator', [entry('add', 15, 1)]],
  ];
  for (const [what, batch] of batches) {
    await applied(sink, batch);
    finds.length = 0;
    await index.refresh();
    assert.deepEqual(finds.filter((f) => f === INDICATORS), [], `${what}: the refresh queried the records`);
    await sameAsDatabase(index, reader, what);
  }

  await db.collection(SERVED_CHANGES).deleteMany({});
  await applied(sink, [entry('revoke', 16, 13), entry('add', 17, 17)]);
  await db.collection(SERVED_CHANGES).deleteMany({});
  finds.length = 0;
  await index.refresh();
  assert.ok(finds.includes(INDICATORS), 'without the journal the refresh reads the records');
  await sameAsDatabase(index, reader, 'fallback without a journal');
  assert.equal((await index.byStixId(stixIdOfDigest(entry('add', 0, 13).digest), tlpsUpTo('red')))?.state, 'revoked');
});

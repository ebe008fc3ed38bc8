/**
 * Replicated records keep their quorum certificate as one canonical-JSON text (`cert`,
 * store/certificate.ts; docs/adr/2026-12-07-certificate-text.md), on a real MongoDB-wire server
 * (FerretDB started by the harness): the sink writes the text and no certificate fields, every
 * reader of the certificate (the sink's history and drift-repair reads, the cluster API's pages
 * and name lookups, the report store) gives the record it was, records stored before (fields)
 * read the same beside new ones, and a record whose text was changed into something that is
 * not a certificate is refused by every one of those readers, naming the record and the fix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { voteRecord } from '../../operator/src/domain/entry.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { systemClock } from '../../operator/src/runtime/clock.ts';
import { MongoReportStore } from '../../operator/src/report/reportstore.ts';
import { CorruptRecordError, certificateText, type StoredIndicatorRecord } from '../../operator/src/store/certificate.ts';
import { INDICATORS, MongoIndicatorSink, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { NamedIndicatorPages } from '../../operator/src/store/indicatornames.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

const suffix = uniqueSuffix();
let cp: ControlPlane;
let mongo: MongoClient;
let dbs = 0;

const WINDOW = { opensAt: '2026-12-06T00:00:00.000Z', closesAt: '2026-12-09T00:00:00.000Z' };
const hex = (c: string): string => c.repeat(64);
/** Votes are signed after the window opened: the report store's time of admission is this, not the window's start. */
const SIGNED_AT = '2026-12-06T01:00:00.000Z';

function indicatorOf(n: number): { type: 'domain'; value: string } {
  return { type: 'domain', value: `d${n}.cert-test.example` };
}

/** An ADD entry with two votes; a batch proof on the proposal and the votes when `batched`. */
function add(i: number, n = i, batched = true): VerifiedEntry {
  const indicator = indicatorOf(n);
  const digest = indicatorDigest(indicator);
  const vote = (partnerId: string) => ({ partnerId, digest, decision: 'approve' as const, signedAt: SIGNED_AT, signature: `sig-${partnerId}-${i}`, ...(batched ? { batch: `${i % 2} 2 ${hex('a')} ${hex('b')}` } : {}) });
  return { kind: 'add', indicator, digest, index: i, proposerId: 'alpha', proposalSignature: `prop-${i}`, ...(batched ? { proposalBatch: `${i % 2} 2 ${hex('c')} ${hex('d')}` } : {}), window: WINDOW, votes: [vote('alpha'), vote('bravo')] };
}

function revoke(i: number, n: number): VerifiedEntry {
  return { ...add(i, n, false), kind: 'revoke' };
}

function freshDb(): Db {
  return mongo.db(`tm_cert_${suffix}_${dbs++}`);
}

/** The certificate fields a reader must give back for `e`. */
function certificateOf(e: VerifiedEntry): Pick<IndicatorRecord, 'votes' | 'proposalSignature' | 'proposalBatch'> {
  return { votes: e.votes.map(voteRecord), proposalSignature: e.proposalSignature, ...(e.proposalBatch !== undefined ? { proposalBatch: e.proposalBatch } : {}) };
}

function pick(r: IndicatorRecord | undefined): unknown {
  return r === undefined ? undefined : { digest: r.digest, state: r.state, votes: r.votes, proposalSignature: r.proposalSignature, proposalBatch: r.proposalBatch };
}

/** Every reader of the certificate, each returning the record of `digest` as it read it. */
function readers(db: Db, sink: MongoIndicatorSink): Array<[string, (digest: string, name: string) => Promise<IndicatorRecord | undefined>]> {
  const pages = new NamedIndicatorPages(db, { clock: systemClock });
  const reports = new MongoReportStore(db);
  return [
    ['sink.all', async (d) => (await sink.all()).find((r) => r.digest === d)],
    ['sink.recent (replica_recent)', async (d) => (await sink.recent(0, [d])).findLast((r) => r.digest === d)],
    ['sink.recent of a kept digest (indicators)', async (d) => (await sink.recent(1_000_000, [d])).find((r) => r.digest === d)],
    ['sink.recentByScan', async (d) => (await sink.recentByScan(0)).find((r) => r.digest === d)],
    ['cluster API byName', async (_d, name) => pages.byName(name)],
    ['cluster API byNames', async (d, name) => (await pages.byNames([name])).find((r) => r.digest === d)],
    ['cluster API list', async (d) => (await pages.chunk(1000)).records.find((r) => r.digest === d)],
    // The report store reads the votes for the time of admission (the first approval), nothing else of the certificate.
    ['report store facts', async (d) => {
      const f = (await reports.facts([d], { since: new Date(0), until: new Date(Date.UTC(2100, 0)) })).get(d);
      const r = (await sink.all()).find((x) => x.digest === d);
      if (f === undefined || r === undefined) return undefined;
      assert.equal(f.admittedAt, SIGNED_AT, 'the report store read the approvals');
      return r;
    }],
  ];
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri);
  await mongo.connect();
});

after(async () => {
  await mongo?.close();
  await cp?.stop();
});

describe('the certificate as one text', () => {
  test('the sink stores the canonical text and no certificate fields; every reader gives the record back', async () => {
    const db = freshDb();
    const sink = await MongoIndicatorSink.open(db);
    const entries = [add(0), add(1, 1, false), add(2), revoke(3, 2)];
    await sink.applyMany(entries);
    const raw = await db.collection<StoredIndicatorRecord>(INDICATORS).find({}).toArray();
    assert.equal(raw.length, 3);
    for (const e of entries.slice(0, 3)) {
      const doc = raw.find((r) => r.digest === e.digest)!;
      assert.equal(doc.cert, certificateText(certificateOf(e)), `record ${e.index}: the canonical text`);
      for (const f of ['votes', 'proposalSignature', 'proposalBatch'] as const) assert.equal(f in doc, false, `record ${e.index}: no ${f} field`);
    }
    for (const [name, read] of readers(db, sink)) {
      for (const e of entries.slice(0, 2)) {
        const got = await read(e.digest, indicatorObjectName(e.indicator));
        assert.deepEqual(pick(got), { digest: e.digest, state: 'active', ...certificateOf(e), ...(e.proposalBatch === undefined ? { proposalBatch: undefined } : {}) }, `${name}: record ${e.index}`);
      }
    }
    const revoked = (await sink.all()).find((r) => r.digest === entries[2]!.digest);
    assert.deepEqual({ state: revoked?.state, votes: revoked?.votes, revocationVotes: revoked?.revocation?.votes }, { state: 'revoked', votes: certificateOf(entries[2]!).votes, revocationVotes: certificateOf(entries[3]!).votes });
    assert.deepEqual([...(await sink.lastEntries([entries[0]!.digest, entries[2]!.digest])).values()].map((h) => [h.kind, h.index]), [['add', 0], ['revoke', 3]]);
  });

  test('a record stored before, with certificate fields, reads the same beside new ones', async () => {
    const db = freshDb();
    const sink = await MongoIndicatorSink.open(db);
    await sink.applyMany([add(0)]);
    const old = add(1);
    const legacy: IndicatorRecord = { _id: old.digest, digest: old.digest, type: 'domain', value: old.indicator.value, state: 'active', logIndex: 1, proposerId: 'alpha', window: WINDOW, name: indicatorObjectName(old.indicator), ...certificateOf(old) };
    await db.collection<IndicatorRecord>(INDICATORS).insertOne(legacy);
    for (const [name, read] of readers(db, sink)) {
      if (name.startsWith('sink.recent (')) continue; // replica_recent holds what the sink applied, not a record inserted beside it.
      assert.deepEqual(pick(await read(old.digest, legacy.name!)), { digest: old.digest, state: 'active', ...certificateOf(old) }, name);
    }
  });

  const corruptions: ReadonlyArray<[string, Record<string, unknown>]> = [
    ['text that is not JSON', { $set: { cert: '{"votes":[{"partnerId"' } }],
    ['a vote without its signature', { $set: { cert: JSON.stringify({ votes: [{ partnerId: 'alpha', digest: hex('a'), decision: 'approve', signedAt: WINDOW.opensAt }] }) } }],
    ['a certificate field beside the text', { $set: { votes: [] } }],
  ];
  for (const [what, update] of corruptions) {
    test(`a record whose certificate was changed into ${what} is refused by every reader`, async () => {
      const db = freshDb();
      const sink = await MongoIndicatorSink.open(db);
      const e = add(0);
      await sink.applyMany([e, add(1)]);
      await db.collection(INDICATORS).updateOne({ _id: e.digest as never }, update);
      for (const [name, read] of readers(db, sink)) {
        if (name.startsWith('sink.recent (')) continue; // the copy in replica_recent was not changed
        await assert.rejects(read(e.digest, indicatorObjectName(e.indicator)), (err: unknown) => {
          assert.ok(err instanceof CorruptRecordError, `${name}: ${String(err)}`);
          assert.equal(err.digest, e.digest);
          assert.match(err.message, /threatmesh replica rebuild/);
          return true;
        }, name);
      }
    });
  }
});

/**
 * How the stores write existing documents, on both FerretDB backends (SQLite and PostgreSQL, each
 * a real FerretDB with its real storage; PostgreSQL from scripts/install-postgresql.sh).
 *
 * Regression: FerretDB 1.24 holds one pooled connection per matched statement of an update
 * command until the command ends (PostgreSQL: 50 by default, 150 in the local cluster; SQLite:
 * 100), so a roll-up that replaced 500 sightings in one command waited forever for a connection,
 * and every client of that FerretDB with it (logscan's second roll-up hung on PostgreSQL). The
 * stores now send at most UPDATES_PER_COMMAND statements per command (store/bulk.ts); before
 * that change the roll-up and backfill tests here time out on both backends.
 *
 * Revocations and re-admissions name the record by `_id` alone (FerretDB's SQLite backend reads
 * and decodes every record for any other filter) and keep their positional guard: the filters the
 * sink sends are watched through the driver's command monitoring, and a second writer changing
 * the record between the sink's check and its re-admission is provoked by wrapping the real
 * collection.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MongoClient, type Collection, type CommandStartedEvent, type Db, type Document } from 'mongodb';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv } from '../harness/env.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { bulkWriteBounded, UPDATES_PER_COMMAND } from '../../operator/src/store/bulk.ts';
import { INDICATORS, MongoIndicatorSink, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { MongoServedIndicators } from '../../operator/src/store/servedindicators.ts';
import { MongoScanStore, sightingId, SIGHTINGS, type SightingDoc, type SightingPart } from '../../operator/src/store/sightings.ts';

/** More matched statements than one command may hold connections for: the SQLite pool (100), the PostgreSQL pool (150). */
const N = 200;
const BUCKET = new Date('2024-05-01T12:00:00Z');
const RESULT = { lines: 1, bytes: 1, matchedRecords: 1, indicators: N, rejected: {}, outsideTimeRange: 0 };

function part(i: number, count: number): SightingPart {
  const value = `d${i}.example`;
  const seen = new Date(BUCKET.getTime() + 60_000);
  return { digest: indicatorDigest({ type: 'domain', value }), type: 'domain', value, bucketStart: BUCKET, count, firstSeen: seen, lastSeen: seen, sources: { zeek: count } };
}

function record(i: number): IndicatorRecord {
  const value = `r${i}.example`;
  const digest = indicatorDigest({ type: 'domain', value });
  return { _id: digest, digest, type: 'domain', value, state: 'active', logIndex: i, proposerId: 'acme', votes: [] };
}

const WINDOW = { opensAt: '2026-12-06T00:00:00.000Z', closesAt: '2026-12-09T00:00:00.000Z' };

function entry(kind: 'add' | 'revoke', index: number, n: number): VerifiedEntry {
  const indicator = { type: 'domain' as const, value: `w${n}.example` };
  return { kind, indicator, digest: indicatorDigest(indicator), index, proposerId: 'alpha', proposalSignature: `p${index}`, window: WINDOW, votes: [] };
}

function digestOf(n: number): string {
  return entry('add', 0, n).digest;
}

/** The filters of every command on `indicators` that names records (find, findAndModify, update, delete). */
function filtersOf(ev: CommandStartedEvent): Document[] {
  const c = ev.command;
  if (c['find'] === INDICATORS) return [c['filter'] as Document];
  if (c['findAndModify'] === INDICATORS) return [c['query'] as Document];
  if (c['update'] === INDICATORS) return (c['updates'] as Array<{ q: Document }>).map((u) => u.q);
  if (c['delete'] === INDICATORS) return (c['deletes'] as Array<{ q: Document }>).map((d) => d.q);
  return [];
}

/**
 * `db` whose `indicators` collection runs `between` once, after the first findOne of `digest`
 * has answered and before its answer reaches the caller: another writer at the worst moment.
 */
function withWriterBetween(db: Db, digest: string, between: (col: Collection<IndicatorRecord>) => Promise<unknown>): Db {
  let armed = true;
  const wrapCol = (col: Collection<IndicatorRecord>): Collection<IndicatorRecord> => new Proxy(col, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (prop !== 'findOne' || typeof v !== 'function') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return async (filter: Document, ...rest: unknown[]) => {
        const found: unknown = await (v as (...a: unknown[]) => Promise<unknown>).call(target, filter, ...rest);
        if (armed && filter['_id'] === digest) {
          armed = false;
          await between(target);
        }
        return found;
      };
    },
  });
  return new Proxy(db, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (prop === 'collection') return (name: string) => (name === INDICATORS ? wrapCol(target.collection<IndicatorRecord>(name)) : target.collection(name));
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

for (const backend of ['sqlite', 'postgresql'] as const) {
  describe(`FerretDB on ${backend}`, () => {
    let cp: ControlPlane;
    let mongo: MongoClient;
    let db: Db;

    const commands: CommandStartedEvent[] = [];

    before(async () => {
      cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false, ferretdbBackend: backend }));
      // A wedged FerretDB shows as a timeout here rather than a test that never ends.
      mongo = new MongoClient(cp.mongoUri, { socketTimeoutMS: 60_000, serverSelectionTimeoutMS: 30_000, monitorCommands: true });
      mongo.on('commandStarted', (ev) => commands.push(ev));
      db = mongo.db(`writes_${randomBytes(3).toString('hex')}`);
    });

    after(async () => {
      await mongo?.close(true);
      await cp?.stop();
    });

    test(`a roll-up that replaces ${N} sightings finishes, and the database still answers another client`, async () => {
      const store = await MongoScanStore.open(db);
      for (const shard of [0, 1]) {
        await store.finishShard('plan', shard, `a${shard}`, { parts: Array.from({ length: N }, (_, i) => part(i, shard + 1)), result: RESULT }, new Date());
        assert.equal(await store.rollupShard('plan', shard, 'acme'), N, `shard ${shard} rolls up every key`);
      }
      const docs = await db.collection<SightingDoc>(SIGHTINGS).find({}).toArray();
      assert.equal(docs.length, N);
      for (const d of docs) assert.equal(d.count, 3, `${d._id}: 1 from shard 0 + 2 from shard 1`);
      assert.ok(docs.some((d) => d._id === sightingId(part(7, 1).digest, BUCKET)));
      const other = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 20_000, socketTimeoutMS: 20_000 });
      try {
        assert.equal((await other.db(db.databaseName).collection(SIGHTINGS).countDocuments({})), N);
      } finally {
        await other.close(true);
      }
    });

    test(`the served index's backfill stamps ${N} stored records in one call`, async () => {
      const served = await MongoServedIndicators.open(db);
      await db.collection<IndicatorRecord>(INDICATORS).insertMany(Array.from({ length: N }, (_, i) => record(i)));
      assert.equal(await served.backfill(), N);
      assert.equal(await db.collection(INDICATORS).countDocuments({ stixId: { $type: 'string' } }), N);
    });

    test('bulkWriteBounded sums its commands and refuses a bound that is not a positive integer', async () => {
      const col = db.collection<{ _id: string; n: number }>('bounded');
      await col.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: `k${i}`, n: 0 })));
      const ops = Array.from({ length: 60 }, (_, i) => ({ replaceOne: { filter: { _id: `k${i}` }, replacement: { n: 1 }, upsert: true } }));
      assert.deepEqual(await bulkWriteBounded(col, ops), { matched: 30, modified: 30, upserted: 30 });
      assert.equal(await col.countDocuments({ n: 1 }), 60);
      for (const bad of [0, -1, 2.5, Number.NaN]) {
        await assert.rejects(bulkWriteBounded(col, ops, bad), /perCommand must be a positive integer/, String(bad));
      }
      assert.ok(UPDATES_PER_COMMAND < 50, 'below FerretDB\'s default pool');
    });

    test('revocations and re-admissions name the record by _id alone and keep their positional guard', async () => {
      const wdb = mongo.db(`${db.databaseName}_guard`);
      const sink = await MongoIndicatorSink.open(wdb);
      const col = wdb.collection<IndicatorRecord>(INDICATORS);
      await sink.applyMany([entry('add', 1, 1), entry('add', 2, 2)]);
      // [step, entries, indicator n, expected state and position after it, whether every filter is `_id` alone]
      const steps: Array<[string, VerifiedEntry[], number, { state: string; logIndex: number; revokedAtIndex?: number } | null, boolean]> = [
        ['revoke', [entry('revoke', 3, 1)], 1, { state: 'revoked', logIndex: 1, revokedAtIndex: 3 }, true],
        ['replayed revoke', [entry('revoke', 3, 1)], 1, { state: 'revoked', logIndex: 1, revokedAtIndex: 3 }, true],
        ['replayed revoked ADD: no re-admission', [entry('add', 1, 1)], 1, { state: 'revoked', logIndex: 1, revokedAtIndex: 3 }, true],
        ['re-admission by a later ADD', [entry('add', 4, 1)], 1, { state: 'active', logIndex: 4 }, true],
        // The write is undone by a filter that also names what it set: the rare path.
        ['the old REVOKE replayed after re-admission changes nothing', [entry('revoke', 3, 1)], 1, { state: 'active', logIndex: 4 }, false],
        ['a REVOKE of an indicator never stored writes nothing', [entry('revoke', 5, 9)], 9, null, true],
        ['a REVOKE and an ADD of others in one batch', [entry('revoke', 6, 2), entry('add', 7, 3)], 2, { state: 'revoked', logIndex: 2, revokedAtIndex: 6 }, true],
        ['a crash between a replayed REVOKE and its undo heals when the later ADD replays', [entry('add', 4, 1)], 1, { state: 'active', logIndex: 4 }, true],
      ];
      for (const [name, entries, n, want, idOnly] of steps) {
        if (name.startsWith('a crash')) await col.updateOne({ _id: digestOf(1) }, { $set: { state: 'revoked', revokedAtIndex: 3 } });
        commands.length = 0;
        await sink.applyMany(entries);
        const filters = commands.flatMap(filtersOf);
        const r = await col.findOne({ _id: digestOf(n) });
        assert.deepEqual(r === null ? null : { state: r.state, logIndex: r.logIndex, ...(r.revokedAtIndex !== undefined ? { revokedAtIndex: r.revokedAtIndex } : {}) }, want, name);
        if (want?.state === 'active') assert.equal(r?.revocation, undefined, `${name}: the revocation is cleared`);
        assert.ok(filters.length > 0, `${name}: watched its filters`);
        const byId = filters.every((f) => Object.keys(f).join() === '_id' && typeof f['_id'] === 'string');
        assert.equal(byId, idOnly, `${name}: filters ${JSON.stringify(filters)}`);
      }
    });

    test('a record another writer re-admits between the check and the re-admission is left as that writer wrote it', async () => {
      const wdb = mongo.db(`${db.databaseName}_race`);
      await (await MongoIndicatorSink.open(wdb)).applyMany([entry('add', 1, 1), entry('revoke', 3, 1)]);
      const readmitted = { state: 'active' as const, logIndex: 10, proposalSignature: 'other-writer' };
      const racing = withWriterBetween(wdb, digestOf(1), (c) => c.updateOne({ _id: digestOf(1) }, { $set: readmitted, $unset: { revokedAtIndex: '', revocation: '', revokedAt: '' } }));
      await (await MongoIndicatorSink.open(racing)).applyMany([entry('add', 4, 1)]);
      const r = await wdb.collection<IndicatorRecord>(INDICATORS).findOne({ _id: digestOf(1) });
      assert.deepEqual({ state: r?.state, logIndex: r?.logIndex, proposalSignature: r?.proposalSignature, revokedAtIndex: r?.revokedAtIndex, revocation: r?.revocation }, { ...readmitted, revokedAtIndex: undefined, revocation: undefined });
    });
  });
}

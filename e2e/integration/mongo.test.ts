/**
 * Proves the database is a real MongoDB-wire server through the official driver: documents in
 * and out, queries, a unique index that rejects a duplicate (E11000), and an aggregation.
 * Set MONGODB_URI to run the same checks against your own MongoDB.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, MongoServerError, type Collection, type Db } from 'mongodb';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { probeMongoFeatures } from '../harness/mongo-features.ts';

interface IndicatorDoc {
  digest: string;
  type: string;
  value: string;
  confidence: number;
}

let cp: ControlPlane;
let client: MongoClient;
let db: Db;
let indicators: Collection<IndicatorDoc>;

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  client = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  db = client.db(`threatmesh_e2e_${uniqueSuffix()}`);
  indicators = db.collection<IndicatorDoc>('indicators');
});

after(async () => {
  await db?.dropDatabase();
  await client?.close();
  await cp?.stop();
});

describe('MongoDB wire server', () => {
  test('answers ping and reports a server version', async () => {
    assert.equal((await db.command({ ping: 1 }))['ok'], 1);
    const info = await db.admin().command({ buildInfo: 1 });
    assert.match(String(info['version']), /^\d+\.\d+/);
  });

  test('inserted documents come back from queries with filters, sort and projection', async () => {
    const docs: IndicatorDoc[] = [
      { digest: 'd1', type: 'ipv4', value: '198.51.100.7', confidence: 80 },
      { digest: 'd2', type: 'domain', value: 'evil.example', confidence: 60 },
      { digest: 'd3', type: 'ipv4', value: '203.0.113.9', confidence: 95 },
    ];
    const res = await indicators.insertMany(docs.map((d) => ({ ...d })));
    assert.equal(res.insertedCount, 3);
    const found = await indicators.find({ type: 'ipv4', confidence: { $gte: 70 } }, { projection: { _id: 0, value: 1 } })
      .sort({ confidence: -1 }).toArray();
    assert.deepEqual(found, [{ value: '203.0.113.9' }, { value: '198.51.100.7' }]);
  });

  test('a unique index rejects a duplicate with E11000', async () => {
    await indicators.createIndex({ digest: 1 }, { unique: true, name: 'digest_unique' });
    const names = (await indicators.listIndexes().toArray()).map((i) => String((i as { name?: unknown }).name));
    assert.ok(names.includes('digest_unique'), names.join(','));
    await assert.rejects(
      indicators.insertOne({ digest: 'd1', type: 'ipv4', value: '198.51.100.7', confidence: 10 }),
      (err: unknown) => err instanceof MongoServerError && err.code === 11000 && /E11000/.test(err.message),
    );
    assert.equal(await indicators.countDocuments({ digest: 'd1' }), 1);
  });

  test('updates, then a $group aggregation by type', async () => {
    const upd = await indicators.updateOne({ digest: 'd2' }, { $set: { confidence: 99 } });
    assert.equal(upd.modifiedCount, 1);
    // One $sum per $group: FerretDB 1.24 lacks $max/$min/$avg and computes only the first of
    // several accumulators (see docs/controlplane.md).
    const sumBy = (field: string): Promise<{ _id: string; v: number }[]> =>
      indicators.aggregate<{ _id: string; v: number }>([{ $group: { _id: '$type', v: { $sum: field } } }, { $sort: { _id: 1 } }]).toArray();
    assert.deepEqual(await sumBy('$confidence'), [{ _id: 'domain', v: 99 }, { _id: 'ipv4', v: 175 }]);
  });

  test('every core feature ThreatMesh relies on passes its probe (others are reported)', async (t) => {
    const probeDb = client.db(`threatmesh_probe_${uniqueSuffix()}`);
    try {
      const results = await probeMongoFeatures(probeDb);
      for (const [name, r] of Object.entries(results)) t.diagnostic(`${r === true ? 'yes' : 'no '} ${name}${r === true ? '' : ` (${r})`}`);
      const missingCore = Object.entries(results).filter(([name, r]) => name.startsWith('core:') && r !== true);
      assert.deepEqual(missingCore, []);
    } finally {
      await probeDb.dropDatabase();
    }
  });
});

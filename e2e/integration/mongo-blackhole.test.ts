/**
 * MongoDB clients built with store/connect.ts mongoClient (MONGO_TIMEOUTS) over a database link
 * that is blackholed (packets dropped: open connections stop, new ones wait), as the chaos run
 * cuts it: an operation in flight and a new one each fail with a driver error within a bounded
 * time instead of hanging, and the client works again once the link heals. A long command is not
 * cut by the heartbeat that detects the blackhole (it travels on its own connection); the control
 * row shows the same write fails under a socket timeout shorter than it, so the row can fail.
 * Real parts: FerretDB behind the chaos network's TCP link (e2e/chaos/link.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MongoClient } from 'mongodb';
import { MONGO_TIMEOUTS, mongoClient, type MongoTimeouts } from '../../operator/src/store/connect.ts';
import { startLink, type Link } from '../chaos/link.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

const database = `tm_blackhole_${uniqueSuffix()}`;
let cp: ControlPlane;
let link: Link;
const clients: MongoClient[] = [];

function client(overrides: Partial<MongoTimeouts> = {}): MongoClient {
  const c = mongoClient(`mongodb://127.0.0.1:${link.port}/`, overrides);
  clients.push(c);
  return c;
}

// Settles `p`, reporting how long it took and the error it failed with.
async function timed(p: Promise<unknown>): Promise<{ readonly ms: number; readonly err: unknown }> {
  const t0 = Date.now();
  const err = await p.then(() => undefined, (e: unknown) => e);
  return { ms: Date.now() - t0, err };
}

before(async () => {
  cp = await startControlPlane({ ...controlPlaneOptionsFromEnv(), kube: false });
  link = await startLink('client→ferretdb', () => [Number(new URL(cp.mongoUri).port)]);
});

after(async () => {
  link?.set('up');
  for (const c of clients) await c.close(true).catch(() => undefined);
  await link?.close();
  await cp?.stop();
});

// The bound an operation may wait on a blackholed link: the heartbeat that finds it down, then one retry's server selection.
const BOUND_MS = MONGO_TIMEOUTS.heartbeatFrequencyMS + MONGO_TIMEOUTS.connectTimeoutMS + MONGO_TIMEOUTS.serverSelectionTimeoutMS + 10_000;

describe('MongoDB clients over a blackholed database link (MONGO_TIMEOUTS)', () => {
  test('an operation on an open connection and a new one fail with a driver error within the bound, and the client recovers once the link heals', async (t) => {
    const c = client();
    const coll = c.db(database).collection<{ _id: string }>('probe');
    await coll.insertOne({ _id: 'a' });
    link.set('blackhole');
    const rows = await Promise.all([
      timed(coll.findOne({ _id: 'a' })),
      // After the first has met the frozen pool.
      new Promise((r) => setTimeout(r, 1_000)).then(() => timed(coll.insertOne({ _id: 'b' }))),
    ]);
    for (const [i, r] of rows.entries()) {
      assert.ok(r.err instanceof Error, `operation ${i}: fails instead of hanging`);
      assert.match(r.err.name, /^Mongo(Network|NetworkTimeout|ServerSelection|PoolCleared)Error$/, `operation ${i}: a driver error that says the database is out of reach (${r.err.name}: ${r.err.message})`);
      assert.ok(r.ms < BOUND_MS, `operation ${i}: failed after ${r.ms} ms, within ${BOUND_MS} ms`);
      t.diagnostic(`operation ${i} failed after ${r.ms} ms: ${r.err.name}: ${r.err.message}`);
    }
    link.set('up');
    const back = await timed(coll.findOne({ _id: 'a' }));
    assert.equal(back.err, undefined, 'works again once the link heals');
  });

  // Scaled-down timeouts so a long command outlasts the heartbeat's timeout many times over in seconds.
  const LONG_WRITE: ReadonlyArray<{ readonly name: string; readonly overrides: Partial<MongoTimeouts>; readonly completes: boolean }> = [
    { name: 'heartbeats time out after 500 ms: a bulk write that takes longer completes', overrides: { heartbeatFrequencyMS: 500, connectTimeoutMS: 500 }, completes: true },
    // Far below one batch's round trip (several MB each): a 500 ms socket timeout passed in CI when FerretDB answered every batch sooner.
    { name: 'control: a 50 ms socket timeout cuts the same write', overrides: { heartbeatFrequencyMS: 500, connectTimeoutMS: 500, socketTimeoutMS: 50 }, completes: false },
  ];
  for (const row of LONG_WRITE) {
    test(row.name, async (t) => {
      const coll = client(row.overrides).db(database).collection<{ _id: string; pad: string }>(`long_${row.completes ? 'ok' : 'cut'}`);
      const pad = 'x'.repeat(2_000);
      const docs = Array.from({ length: 20_000 }, (_, i) => ({ _id: `d${i}`, pad }));
      const r = await timed(coll.insertMany(docs, { ordered: false }));
      t.diagnostic(`insertMany of ${docs.length} documents: ${r.ms} ms${r.err instanceof Error ? `, ${r.err.name}: ${r.err.message}` : ''}`);
      if (row.completes) {
        assert.equal(r.err, undefined, `the write completes (${r.ms} ms)`);
        assert.ok(r.ms > 500, `the write (${r.ms} ms) outlasted the heartbeat timeout, so the row tests something`);
        assert.equal(await coll.countDocuments(), docs.length);
      } else {
        assert.ok(r.err instanceof Error, `cut by the socket timeout (${r.ms} ms)`);
      }
    });
  }
});

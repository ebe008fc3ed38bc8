/**
 * One PostgreSQL cluster holding a database per FerretDB, as `threatmesh sandbox`, the journeys
 * and `controlplane up --instances N` run it (operator/src/dev/controlplane/postgres.ts): real
 * PostgreSQL and FerretDB on loopback. Parties must not see each other's data, a restart on the
 * kept directory must find every party's data again, a name that could escape the database
 * name is refused, stopping leaves no server behind, and FerretDB's equalities are read from the
 * GIN twins of its indexes (dev/controlplane/pgequality.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { controlPlaneOptionsFromEnv } from '../harness/env.ts';
import { ensureBinaries } from '../../operator/src/dev/controlplane/build.ts';
import { startDatabase, type Binaries, type Database } from '../../operator/src/dev/controlplane/instance.ts';
import { postgresBinDir, startPostgresCluster, type PostgresCluster } from '../../operator/src/dev/controlplane/postgres.ts';

const PARTIES = ['sequencer', 'partner-a', 'partner-b'] as const;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

async function withClient<T>(uri: string, fn: (c: MongoClient) => Promise<T>): Promise<T> {
  const c = new MongoClient(uri, { serverSelectionTimeoutMS: 20_000 });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

async function startAll(dir: string, binaries: Binaries): Promise<{ pg: PostgresCluster; dbs: Database[] }> {
  const pg = await startPostgresCluster({ name: 'test', dir: join(dir, 'postgres'), databases: PARTIES.length });
  const dbs = await Promise.all(PARTIES.map((name) => startDatabase({ name, dir: join(dir, name), ferretdb: binaries.ferretdb, backend: 'postgresql', postgres: pg })));
  return { pg, dbs };
}

async function stopAll(s: { pg: PostgresCluster; dbs: Database[] } | undefined): Promise<void> {
  if (s === undefined) return;
  await Promise.all(s.dbs.map((d) => d.stop()));
  await s.pg.stop();
}

describe('a PostgreSQL cluster shared by several FerretDBs', () => {
  let dir = '';
  let binaries: Binaries;
  let run: { pg: PostgresCluster; dbs: Database[] } | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tm-pgshared-'));
    binaries = await ensureBinaries({ cacheDir: controlPlaneOptionsFromEnv().cacheDir, progress: process.stderr });
    run = await startAll(dir, binaries);
  });
  after(async () => {
    await stopAll(run);
    await rm(dir, { recursive: true, force: true });
  });

  test('each party writes to its own database and sees only its own documents', async () => {
    const dbs = run!.dbs;
    await Promise.all(dbs.map((d, i) => withClient(d.uri, (c) => c.db('threatmesh').collection('indicators').insertOne({ _id: `only-${PARTIES[i]}` } as never))));
    for (const [i, d] of dbs.entries()) {
      const ids = await withClient(d.uri, (c) => c.db('threatmesh').collection('indicators').find({}).map((x) => String(x._id)).toArray());
      assert.deepEqual(ids, [`only-${PARTIES[i]}`], `${PARTIES[i]} sees ${ids.join(', ')}`);
    }
  });

  test('the FerretDBs hold no PostgreSQL process of their own (the cluster is shared)', () => {
    for (const d of run!.dbs) assert.deepEqual(d.pids, [d.pid]);
  });

  const badNames: Array<[string, string]> = [
    ['a quote', 'x"; DROP DATABASE sequencer; --'],
    ['a space', 'partner a'],
    ['a URL path separator', 'a/b'],
    ['an empty name', ''],
    ['64 characters', 'p'.repeat(64)],
  ];
  for (const [name, db] of badNames) {
    test(`a database name with ${name} is refused before PostgreSQL sees it`, async () => {
      await assert.rejects(run!.pg.database(db), /cannot name a PostgreSQL database here: use letters, digits, - and _/);
    });
  }

  test('stopping stops PostgreSQL; a restart on the kept directory finds every party\'s data', async () => {
    const port = run!.pg.port;
    await stopAll(run);
    run = undefined;
    assert.equal(await portOpen(port), false, 'PostgreSQL still listens after stop');
    run = await startAll(dir, binaries);
    for (const [i, d] of run.dbs.entries()) {
      const n = await withClient(d.uri, (c) => c.db('threatmesh').collection('indicators').countDocuments({ _id: `only-${PARTIES[i]}` } as never));
      assert.equal(n, 1, `${PARTIES[i]} lost its document over the restart`);
    }
  });

  test('equalities are read from GIN twins of FerretDB\'s single-field indexes: made with each index, and at start for one made while the trigger was missing', async () => {
    const uri = run!.dbs[0]!.uri;
    // The FerretDB of party 0 now (a restart gives it another port).
    const plan = (field: string): Promise<string> => withClient(run!.dbs[0]!.uri, async (c) => JSON.stringify(await c.db('threatmesh').command({ explain: { find: 'indicators', filter: { [field]: 'x' } } })));
    // Enough rows that PostgreSQL's planner prefers an index to reading a page or two.
    await withClient(uri, (c) => c.db('threatmesh').collection('indicators').insertMany(Array.from({ length: 3000 }, (_, i) => ({ _id: `row-${i}`, name: `domain-${i}`, value: `v${i}`, proposerId: `p${i}` })) as never));
    await withClient(uri, (c) => c.db('threatmesh').collection('indicators').createIndex({ name: 1 }, { name: 'object_name' }));
    const twin = /"Index Name":"tm_eq_[0-9a-f]{24}"/;
    for (const field of ['_id', 'name']) assert.match(await plan(field), twin, `${field}: no index read`);
    // The trigger gone (a database set up by hand), an index made then has no twin until the next start installs it.
    const bin = await postgresBinDir();
    await promisify(execFile)(join(bin!, 'psql'), ['-h', '127.0.0.1', '-p', String(run!.pg.port), '-U', 'postgres', '-d', PARTIES[0], '-c', 'DROP EVENT TRIGGER threatmesh_twin_indexes']);
    await withClient(uri, (c) => c.db('threatmesh').collection('indicators').createIndex({ value: 1 }, { name: 'by_value' }));
    assert.match(await plan('value'), /"Node Type":"Seq Scan"/, 'the twin came without the trigger: this test proves nothing');
    await stopAll(run);
    run = undefined;
    run = await startAll(dir, binaries);
    for (const field of ['_id', 'name', 'value']) assert.match(await plan(field), twin, `${field} after the restart: no index read`);
    assert.match(await plan('proposerId'), /"Node Type":"Seq Scan"/, 'a field without an index is still a scan');
  });
});

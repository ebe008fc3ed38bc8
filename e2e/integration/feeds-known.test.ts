/**
 * A Feed run's "already exists" check against the full replicated set (feeds/knownset.ts), on a
 * real kube-apiserver with the aggregated API replica.threatmesh.io in front of a real FerretDB:
 * an indicator the partner database holds (Approved or Revoked) but that is no ThreatIndicator
 * object (evicted from the working set) is not proposed again; one that is an object is not
 * either; a new one is, whether the candidates are checked by name selector in batches (the
 * default), by a get each or (above the threshold, set low here) against the replica API's list
 * read page by page (the paths kept for an older replica API). Without the replica API (APIService removed) the run falls back to the
 * objects alone, says so in a warning with the fix, and proposes the database-only ones again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { apiRequest } from '../harness/apiget.ts';
import { eventually } from '../harness/kube.ts';
import type { Feed, ThreatIndicator } from '../../operator/src/api/types.ts';
import { FEEDS, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import { replicaApiObjects } from '../../operator/src/api/replicaapiservice.ts';
import { indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { LocalCa, readTlsMaterial } from '../../operator/src/dev/sandbox/pki.ts';
import { runFeedIngestion, type FeedRunOutcome } from '../../operator/src/feeds/feedrun.ts';
import type { KnownSetOptions } from '../../operator/src/feeds/knownset.ts';
import { createLogger } from '../../operator/src/log.ts';
import { systemClock } from '../../operator/src/runtime/clock.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { AccessReviewer, loadRequestHeaderConfig } from '../../operator/src/serve/replicaauth.ts';
import { startReplicaApi, type RunningReplicaApi } from '../../operator/src/serve/replicaapi.ts';
import { NamedIndicatorPages } from '../../operator/src/store/indicatornames.ts';
import { INDICATORS, type IndicatorRecord } from '../../operator/src/store/indicators.ts';

const root = new URL('../../', import.meta.url);
const suffix = uniqueSuffix();
const ns = `feedknown-${suffix}`;
const APISERVICE = { group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices', kind: 'APIService', namespaced: false } as const;

/** Where each listed value already exists before the run, and whether a run with the replica API proposes it. */
const ROWS: ReadonlyArray<{ value: string; where: 'database' | 'revoked' | 'object' | 'nowhere'; proposed: boolean }> = [
  { value: 'only-in-db.feedknown-e2e.net', where: 'database', proposed: false },
  { value: 'revoked-in-db.feedknown-e2e.net', where: 'revoked', proposed: false },
  { value: 'working-set.feedknown-e2e.net', where: 'object', proposed: false },
  { value: 'brand-new.feedknown-e2e.net', where: 'nowhere', proposed: true },
];
/**
 * The paths of the check: the name selector (the default; batches of 250, so several requests),
 * and those kept for an older replica API: a get each, and the list, with a threshold below the
 * run's 604 candidates and pages smaller than the set, so it follows continue tokens.
 */
const PATHS: ReadonlyArray<{ mode: 'select' | 'get' | 'list'; knownSet: KnownSetOptions }> = [
  { mode: 'select', knownSet: { selectSize: 250 } },
  { mode: 'get', knownSet: { nameSelector: false } },
  { mode: 'list', knownSet: { nameSelector: false, listThreshold: 100, pageSize: 250 } },
];
/** The feed's new indicator: a fresh one per run, since each run makes the last one an object. */
let fresh = 'brand-new.feedknown-e2e.net';
/** Enough database-only indicators to take several batches of the check. */
const BULK = 600;
const bulkValue = (i: number): string => `bulk${i}.feedknown-e2e.net`;

let cp: ControlPlane;
let admin: KubeHttpClient;
let mongo: MongoClient;
let db: Db;
let pages: NamedIndicatorPages;
let replica: RunningReplicaApi;
let feedServer: Server;
let pkiDir: string;
const quiet = createLogger(process.stderr, 'warn', { component: 'feeds-known-test' });

function record(value: string, i: number, revoked: boolean): IndicatorRecord {
  const digest = indicatorDigest({ type: 'domain', value });
  return {
    _id: digest, digest, type: 'domain', value, state: revoked ? 'revoked' : 'active', logIndex: i, proposerId: 'partner-b',
    votes: [{ partnerId: 'partner-b', decision: 'approve', signedAt: '2026-12-06T10:00:01.000Z', signature: 'B'.repeat(86) }],
    window: { opensAt: '2026-12-06T10:00:00.000Z', closesAt: '2026-12-09T10:00:00.000Z' }, proposalSignature: 'C'.repeat(86),
    addedAt: new Date('2026-12-06T10:00:05.000Z'), name: indicatorObjectName({ type: 'domain', value }),
    ...(revoked ? { revokedAtIndex: 100_000 + i } : {}),
  };
}

function feed(name: string): Feed {
  const port = (feedServer.address() as AddressInfo).port;
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name, namespace: ns }, spec: { url: `http://127.0.0.1:${port}/list.txt`, format: 'lines', schedule: { interval: '1h' }, defaults: { type: 'domain', validFor: '30d' } } };
}

/** Runs the Feed `name` in process as the Job does, with the log captured. */
async function run(name: string, knownSet: KnownSetOptions = {}): Promise<{ outcome: FeedRunOutcome; logs: Array<Record<string, unknown>>; proposed: Set<string> }> {
  const f = (await admin.get<Feed>(FEEDS, name, ns)) ?? (await admin.create<Feed>(FEEDS, feed(name)));
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (b: Buffer) => lines.push(...b.toString('utf8').split('\n').filter((l) => l !== '')));
  const outcome = await runFeedIngestion(f, { kube: admin, log: createLogger(out, 'info'), now: () => new Date(), allowInternal: ['127.0.0.1/32'], knownSet });
  const list = await admin.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns, labelSelector: `threatmesh.io/feed=${name}` });
  return { outcome, logs: lines.map((l) => JSON.parse(l) as Record<string, unknown>), proposed: new Set(list.items.map((o) => o.spec.value)) };
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  const crds: KubeObject[] = [];
  for (const f of (await readdir(new URL('crds/', root))).filter((x) => x.endsWith('.yaml'))) crds.push(...parseManifests(await readFile(new URL(`crds/${f}`, root), 'utf8'), f));
  await applyManifests(admin, [...crds, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }], 'feeds-known-test');
  mongo = await MongoClient.connect(cp.mongoUri);
  db = mongo.db(`feedknown_${suffix}`);
  const docs = ROWS.filter((r) => r.where === 'database' || r.where === 'revoked').map((r, i) => record(r.value, i, r.where === 'revoked'));
  docs.push(...Array.from({ length: BULK }, (_, i) => record(bulkValue(i), 10 + i, false)));
  await db.collection<IndicatorRecord>(INDICATORS).insertMany(docs);
  // The working-set object, as the materializer or an earlier run left it.
  const ws = ROWS.find((r) => r.where === 'object')!.value;
  await admin.create(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName({ type: 'domain', value: ws }), namespace: ns }, spec: { type: 'domain', value: ws, pattern: `[domain-name:value = '${ws}']` } });
  feedServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end([...ROWS.map((r) => (r.where === 'nowhere' ? fresh : r.value)), ...Array.from({ length: BULK }, (_, i) => bulkValue(i))].join('\n') + '\n');
  });
  await new Promise<void>((resolve) => feedServer.listen(0, '127.0.0.1', resolve));
  pkiDir = await mkdtemp(join(tmpdir(), 'threatmesh-feedknown-'));
  const ca = await LocalCa.open(pkiDir, 'feedknown-ca', 1);
  const serving = await readTlsMaterial(await ca.issue('threatmesh-replica-api', 'server', '', [`DNS:threatmesh-replica-api.${ns}.svc`]));
  pages = new NamedIndicatorPages(db, { clock: systemClock, idleMs: 60_000 });
  replica = await startReplicaApi({
    records: pages, namespace: ns, requestHeader: await loadRequestHeaderConfig(admin), reviewer: new AccessReviewer(admin, () => Date.now(), 1000),
    cert: serving.certPem, key: serving.keyPem, now: () => new Date(), log: quiet,
  }, '127.0.0.1', 0);
  await applyManifests(admin, replicaApiObjects({ namespace: ns, caPem: serving.caPem, backend: { kind: 'loopback', port: replica.port } }), 'feeds-known-test');
  const ready = await eventually(() => apiRequest(cp.target, '/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.replica.threatmesh.io', {}), (r) => JSON.stringify(r.body).includes('"type":"Available","status":"True"'), 60_000);
  assert.match(JSON.stringify(ready.body), /"type":"Available","status":"True"/, `APIService never became Available: ${JSON.stringify(ready.body)}`);
});

after(async () => {
  await admin?.delete(APISERVICE, 'v1alpha1.replica.threatmesh.io').catch(() => undefined);
  await replica?.stop();
  await pages?.close();
  feedServer?.close();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  admin?.close();
  await cp?.stop();
  if (pkiDir) await rm(pkiDir, { recursive: true, force: true });
});

for (const path of PATHS) {
  test(`with the replica API (${path.mode} path), indicators held only by the partner database are not proposed again`, async (t) => {
    fresh = `brand-new-${path.mode}.feedknown-e2e.net`;
    const started = Date.now();
    const { outcome, logs, proposed } = await run(`with-replica-${path.mode}`, path.knownSet);
    t.diagnostic(`${path.mode} path: run took ${Date.now() - started} ms`);
    assert.equal(outcome.report.outcome, 'succeeded', JSON.stringify(outcome.report));
    for (const r of ROWS) assert.equal(proposed.has(r.where === 'nowhere' ? fresh : r.value), r.proposed, `${r.value} (${r.where}): ${JSON.stringify({ report: outcome.report, proposals: outcome.proposals })}`);
    for (let i = 0; i < BULK; i++) assert.ok(!proposed.has(bulkValue(i)), `${bulkValue(i)} is in the database and was proposed again`);
    assert.equal(outcome.report.new, 1);
    assert.equal(outcome.report.duplicate, ROWS.length - 1 + BULK);
    assert.deepEqual({ created: outcome.proposals.created, alreadyExisted: outcome.proposals.alreadyExisted }, { created: 1, alreadyExisted: 0 });
    assert.ok(!logs.some((l) => l['level'] === 'warn'), `no fallback warning expected: ${JSON.stringify(logs)}`);
    const checked = logs.find((l) => l['msg'] === 'checked candidates against the full set');
    assert.deepEqual([checked?.['mode'], checked?.['candidates'], checked?.['known']], [path.mode, ROWS.length - 1 + BULK, ROWS.length - 2 + BULK], JSON.stringify(logs));
  });
}

test('without the replica API the run falls back to the objects, says so with the fix, and proposes database-only indicators again', async () => {
  await admin.delete(APISERVICE, 'v1alpha1.replica.threatmesh.io');
  await eventually(() => apiRequest(cp.target, `/apis/replica.threatmesh.io/v1alpha1/namespaces/${ns}/threatindicators?limit=1`, {}), (r) => r.status === 404, 30_000);
  const { outcome, logs, proposed } = await run('without-replica');
  assert.equal(outcome.report.outcome, 'succeeded', JSON.stringify(outcome.report));
  const warn = logs.find((l) => l['level'] === 'warn' && String(l['msg']).includes('replica API'));
  assert.ok(warn !== undefined, `expected the fallback warning: ${JSON.stringify(logs)}`);
  assert.equal(warn['status'], 404);
  assert.match(String(warn['fix']), /install the replica API/);
  // The old behaviour: only the working-set object is recognised.
  for (const r of ROWS) assert.equal(proposed.has(r.value) || r.where === 'nowhere', r.where !== 'object', `${r.value} (${r.where})`);
  // brand-new is an object since the first run; the database-only ones are all new again.
  assert.equal(outcome.report.new, ROWS.filter((r) => r.where === 'database' || r.where === 'revoked').length + BULK);
});

/**
 * The aggregated API replica.threatmesh.io/v1alpha1 on a real kube-apiserver (front proxy
 * configured by the local control plane) over a real FerretDB: registered by APIService with an
 * ExternalName Service, it lists every replicated record in chunks through the API server (JSON
 * and the Table kubectl prints), returns one by name with its quorum certificate, ranks above the
 * ThreatIndicator CRD in discovery (so `kubectl get threatindicators` is the full set), is
 * read-only, and refuses: users without RBAC (403 by SubjectAccessReview), direct clients
 * without the front-proxy certificate even with forged X-Remote-* headers (401), expired
 * continue tokens (410).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { apiRequest, sendJson, type ApiAnswer } from '../harness/apiget.ts';
import { eventually } from '../harness/kube.ts';
import { replicaApiObjects } from '../../operator/src/api/replicaapiservice.ts';
import { indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { LocalCa, readTlsMaterial } from '../../operator/src/dev/sandbox/pki.ts';
import { createLogger } from '../../operator/src/log.ts';
import { systemClock } from '../../operator/src/runtime/clock.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { AccessReviewer, loadRequestHeaderConfig } from '../../operator/src/serve/replicaauth.ts';
import { startReplicaApi, type RunningReplicaApi } from '../../operator/src/serve/replicaapi.ts';
import { IndicatorPages } from '../../operator/src/store/indicatorpages.ts';
import { INDICATORS, type IndicatorRecord } from '../../operator/src/store/indicators.ts';

const root = new URL('../../', import.meta.url);
const suffix = uniqueSuffix();
const ns = `replica-${suffix}`;
const COUNT = 1203;
const BASE = `/apis/replica.threatmesh.io/v1alpha1/namespaces/${ns}/threatindicators`;

let cp: ControlPlane;
let admin: KubeHttpClient;
let mongo: MongoClient;
let db: Db;
let pages: IndicatorPages;
let server: RunningReplicaApi;
let pkiDir: string;
let ca: LocalCa;

function record(i: number): IndicatorRecord {
  const value = `h${i}.replica-test.example`;
  const digest = indicatorDigest({ type: 'domain', value });
  const revoked = i === 7;
  return {
    _id: digest, digest, type: 'domain', value, state: revoked ? 'revoked' : 'active', logIndex: i, proposerId: 'partner-a',
    votes: [{ partnerId: 'partner-a', decision: 'approve', signedAt: '2026-12-06T10:00:01.000Z', signature: 'A'.repeat(86) }, { partnerId: 'partner-b', decision: 'approve', signedAt: '2026-12-06T10:00:02.000Z', signature: 'B'.repeat(86) }],
    window: { opensAt: '2026-12-06T10:00:00.000Z', closesAt: '2026-12-09T10:00:00.000Z' }, proposalSignature: 'C'.repeat(86),
    meta: { tlp: 'green', confidence: 70 }, addedAt: new Date('2026-12-06T10:00:05.000Z'),
    // Records stored before they carried their object name are found by digest range instead.
    ...(i % 2 === 0 ? { name: indicatorObjectName({ type: 'domain', value }) } : {}),
    ...(revoked ? { revokedAtIndex: COUNT + 1, revocation: { logIndex: COUNT + 1, proposerId: 'partner-b', proposalSignature: 'D'.repeat(86), window: { opensAt: '2026-12-06T11:00:00.000Z', closesAt: '2026-12-09T11:00:00.000Z' }, votes: [] } } : {}),
  };
}

/** GET through the API server as admin (or impersonating `as`), with an Accept header. */
function apiGet(path: string, accept = 'application/json', as?: string, method = 'GET'): Promise<ApiAnswer> {
  return apiRequest(cp.target, path, { accept, method, ...(as !== undefined ? { as } : {}) });
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  const crds = parseManifests(await readFile(new URL('crds/threatmesh.io_threatindicators.yaml', root), 'utf8'), 'crd');
  await applyManifests(admin, [...crds, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }], 'replica-api-test');
  mongo = await MongoClient.connect(cp.mongoUri);
  db = mongo.db(`replica_${suffix}`);
  const docs = Array.from({ length: COUNT }, (_, i) => record(i));
  for (let i = 0; i < docs.length; i += 500) await db.collection<IndicatorRecord>(INDICATORS).insertMany(docs.slice(i, i + 500));
  pkiDir = await mkdtemp(join(tmpdir(), 'threatmesh-replica-api-'));
  ca = await LocalCa.open(pkiDir, 'replica-api-ca', 1);
  const serving = await readTlsMaterial(await ca.issue('threatmesh-replica-api', 'server', '', [`DNS:threatmesh-replica-api.${ns}.svc`]));
  pages = new IndicatorPages(db, { clock: systemClock, idleMs: 60_000 });
  server = await startReplicaApi({
    records: pages, namespace: ns, requestHeader: await loadRequestHeaderConfig(admin), reviewer: new AccessReviewer(admin, () => Date.now(), 1000),
    cert: serving.certPem, key: serving.keyPem, now: () => new Date('2026-12-07T00:00:00Z'), log: createLogger(process.stderr, 'warn', { component: 'replica-api-test' }),
  }, '127.0.0.1', 0);
  await applyManifests(admin, replicaApiObjects({ namespace: ns, caPem: serving.caPem, backend: { kind: 'loopback', port: server.port } }), 'replica-api-test');
  const ready = await eventually(() => apiGet('/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.replica.threatmesh.io'), (r) => JSON.stringify(r.body).includes('"type":"Available","status":"True"'), 60_000);
  assert.match(JSON.stringify(ready.body), /"type":"Available","status":"True"/, `APIService never became Available: ${JSON.stringify(ready.body)}`);
});

after(async () => {
  await admin?.delete({ group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices', kind: 'APIService', namespaced: false }, 'v1alpha1.replica.threatmesh.io').catch(() => undefined);
  await server?.stop();
  await pages?.close();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  admin?.close();
  await cp?.stop();
  if (pkiDir) await rm(pkiDir, { recursive: true, force: true });
});

test('a chunked list through the API server returns every replicated record exactly once', async () => {
  const names: string[] = [];
  let cont: string | undefined;
  let chunks = 0;
  do {
    const r = await apiGet(`${BASE}?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const items = r.body['items'] as Array<{ metadata: { name: string } }>;
    names.push(...items.map((o) => o.metadata.name));
    cont = (r.body['metadata'] as { continue?: string }).continue;
    chunks += 1;
  } while (cont);
  assert.equal(chunks, 3);
  assert.equal(names.length, COUNT);
  assert.deepEqual(new Set(names), new Set(Array.from({ length: COUNT }, (_, i) => indicatorObjectName({ type: 'domain', value: `h${i}.replica-test.example` }))));
});

test('kubectl\'s Table form has the CRD\'s columns and one row per record', async () => {
  const r = await apiGet(`${BASE}?limit=5`, 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body['kind'], 'Table');
  assert.deepEqual((r.body['columnDefinitions'] as Array<{ name: string }>).map((c) => c.name), ['Name', 'Type', 'Value', 'Phase', 'Votes', 'Index', 'Revocation', 'Age']);
  assert.equal((r.body['rows'] as unknown[]).length, 5);
});

test('get by name returns the ThreatIndicator with its certificate; a revoked record is Revoked; unknown names are 404', async () => {
  const cases: Array<[number | string, number, string | undefined]> = [[3, 200, 'Approved'], [7, 200, 'Revoked'], ['domain-' + '0'.repeat(40), 404, undefined], ['not-a-name', 404, undefined]];
  for (const [which, code, phase] of cases) {
    const name = typeof which === 'number' ? indicatorObjectName({ type: 'domain', value: `h${which}.replica-test.example` }) : which;
    const r = await apiGet(`${BASE}/${name}`);
    assert.equal(r.status, code, `${name}: ${JSON.stringify(r.body)}`);
    if (phase === undefined) continue;
    const status = r.body['status'] as { phase: string; votes: unknown[]; logIndex: number };
    assert.equal(status.phase, phase);
    assert.equal(status.votes.length, 2);
    assert.equal((r.body['spec'] as { tlp: string }).tlp, 'green');
  }
});

test('discovery ranks replica.threatmesh.io above the CRD group, so the plain name threatindicators is the full set', async () => {
  const r = await apiGet('/apis');
  const groups = (r.body['groups'] as Array<{ name: string }>).map((g) => g.name);
  assert.ok(groups.indexOf('replica.threatmesh.io') >= 0 && groups.indexOf('replica.threatmesh.io') < groups.indexOf('threatmesh.io'), groups.join(','));
});

test('writes and watches are refused with a pointer to the working set', async () => {
  for (const [method, path] of [['DELETE', `${BASE}/${indicatorObjectName({ type: 'domain', value: 'h3.replica-test.example' })}`], ['GET', `${BASE}?watch=true`]] as const) {
    const r = await apiGet(path, 'application/json', undefined, method);
    assert.equal(r.status, 405, `${method} ${path}: ${JSON.stringify(r.body)}`);
    assert.match(String(r.body['message']), /working set/);
  }
});

test('a user without RBAC is refused by SubjectAccessReview; a RoleBinding lets them list', async () => {
  const denied = await apiGet(`${BASE}?limit=1`, 'application/json', 'mallory');
  assert.equal(denied.status, 403, JSON.stringify(denied.body));
  await applyManifests(admin, [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'replica-reader', namespace: ns }, rules: [{ apiGroups: ['replica.threatmesh.io'], resources: ['threatindicators'], verbs: ['get', 'list'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'replica-reader', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'replica-reader' }, subjects: [{ kind: 'User', name: 'alice' }] },
  ] as unknown as KubeObject[], 'replica-api-test');
  const allowed = await eventually(() => apiGet(`${BASE}?limit=1`, 'application/json', 'alice'), (r) => r.status === 200, 15_000);
  assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
  assert.equal((await apiGet(`/apis/replica.threatmesh.io/v1alpha1/threatindicators?limit=1`, 'application/json', 'alice')).status, 403, 'a namespaced grant is not a cluster-wide list');
});

test('direct clients are refused whatever headers they forge: no certificate, or one from another CA', async () => {
  const url = new URL(`https://127.0.0.1:${server.port}${BASE}?limit=1`);
  const forged = { 'x-remote-user': 'system:admin', 'x-remote-group': 'system:masters', accept: 'application/json' };
  const stranger = await readTlsMaterial(await ca.issue('front-proxy-client', 'client'));
  const cases: Array<[string, Parameters<typeof request>[1]]> = [
    ['no client certificate', { headers: forged, rejectUnauthorized: false }],
    ['a certificate named front-proxy-client from another CA', { headers: forged, rejectUnauthorized: false, cert: stranger.certPem, key: stranger.keyPem }],
    ['the cluster admin certificate', { headers: forged, rejectUnauthorized: false, cert: String(cp.target.cert), key: String(cp.target.key) }],
  ];
  for (const [what, options] of cases) {
    const r = await sendJson(url, options);
    assert.equal(r.status, 401, `${what}: ${JSON.stringify(r.body)}`);
  }
});

test('a continue token that was never issued, or whose list is gone, is 410 Expired', async () => {
  for (const token of ['AAAAAAAAAAAAAAAA.500', 'garbage']) {
    const r = await apiGet(`${BASE}?limit=10&continue=${encodeURIComponent(token)}`);
    assert.equal(r.status, 410, `${token}: ${JSON.stringify(r.body)}`);
  }
});

/**
 * The aggregated API replica.threatmesh.io/v1alpha1 on a real kube-apiserver (front proxy
 * configured by the local control plane) over a real FerretDB: registered by APIService with an
 * ExternalName Service, it lists every replicated record in chunks through the API server (JSON
 * and the Table kubectl prints), returns one by name with its quorum certificate, ranks above the
 * ThreatIndicator CRD in discovery (so `kubectl get threatindicators` is the full set), is
 * read-only, and refuses: users without RBAC (403 by SubjectAccessReview), direct clients
 * without the front-proxy certificate even with forged X-Remote-* headers (401), expired
 * continue tokens (410).
 *
 * Its metrics (serve/replicametrics.ts), on a loopback listener as `threatmesh replica-api
 * --metrics-bind` serves them: the requests the API server proxied, counted by verb, resource and
 * code with their list pages and sizes; direct callers (401 by reason) and a failed TLS
 * handshake; label values only from fixed sets whatever path, method or user a caller sends; a second server over a database that does not answer (500s counted as database
 * errors, /readyz failing, ready and database_up 0, a 403 by SubjectAccessReview); every selector of
 * the dashboard's Replica API row and the replica API alerts served by these scrapes and the API
 * server's /metrics; and, last, aggregator_unavailable_apiservice turning 1 when the server stops.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, ferretdbBackendFromEnv, uniqueSuffix } from '../harness/env.ts';
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
import { NamedIndicatorPages, nameUnnamedRecords } from '../../operator/src/store/indicatornames.ts';
import { INDICATORS, MongoIndicatorSink, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { HealthServer, type HealthCheck } from '../../operator/src/runtime/health.ts';
import { DatabaseReadiness, REPLICA_VERBS, ReplicaApiMetrics } from '../../operator/src/serve/replicametrics.ts';
import { REPLICA_API_ROW, isReplicaApiMetric } from '../../cdk8s/lib/alerts.ts';
import { missingSelectors, parseExposition, sampleSum, scrape, shippedSelectors } from '../harness/metrics.ts';
import { freePort } from '../../operator/src/dev/controlplane/probe.ts';

const root = new URL('../../', import.meta.url);
const suffix = uniqueSuffix();
const ns = `replica-${suffix}`;
const COUNT = 1203;
const BASE = `/apis/replica.threatmesh.io/v1alpha1/namespaces/${ns}/threatindicators`;

let cp: ControlPlane;
let admin: KubeHttpClient;
let mongo: MongoClient;
let db: Db;
let pages: NamedIndicatorPages;
let server: RunningReplicaApi;
let pkiDir: string;
let ca: LocalCa;
let serving: Awaited<ReturnType<typeof readTlsMaterial>>;
let metrics: ReplicaApiMetrics;
let database: DatabaseReadiness;
let health: HealthServer;
/** http://127.0.0.1:PORT of the server's metrics listener. */
let metricsUrl: string;
const quiet = createLogger(process.stderr, 'warn', { component: 'replica-api-test' });

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
  // The sink opens the collection first, as a partner's replica does: its indexes (object_name) are the production ones.
  await MongoIndicatorSink.open(db);
  const docs = Array.from({ length: COUNT }, (_, i) => record(i));
  for (let i = 0; i < docs.length; i += 500) await db.collection<IndicatorRecord>(INDICATORS).insertMany(docs.slice(i, i + 500));
  pkiDir = await mkdtemp(join(tmpdir(), 'threatmesh-replica-api-'));
  ca = await LocalCa.open(pkiDir, 'replica-api-ca', 1);
  serving = await readTlsMaterial(await ca.issue('threatmesh-replica-api', 'server', '', [`DNS:threatmesh-replica-api.${ns}.svc`]));
  pages = new NamedIndicatorPages(db, { clock: systemClock, idleMs: 60_000 });
  // As `threatmesh replica-api` wires them (cli/replicaapi.ts): metrics and readiness on a loopback listener of their own.
  metrics = new ReplicaApiMetrics(() => [database.check]);
  metrics.countOpenLists(() => pages.openCount);
  database = new DatabaseReadiness({ ping: () => db.command({ ping: 1 }), clock: systemClock, metrics, intervalMs: 1000 });
  await database.probe();
  database.start();
  health = new HealthServer({ metrics, log: quiet, port: 0, readyChecks: [database.check] });
  metricsUrl = `http://127.0.0.1:${await health.start()}`;
  server = await startReplicaApi({
    records: pages, namespace: ns, requestHeader: await loadRequestHeaderConfig(admin), reviewer: new AccessReviewer(admin, () => Date.now(), 1000),
    cert: serving.certPem, key: serving.keyPem, now: () => new Date('2026-12-07T00:00:00Z'), log: quiet, metrics, readiness: [database.check],
  }, '127.0.0.1', 0);
  await applyManifests(admin, replicaApiObjects({ namespace: ns, caPem: serving.caPem, backend: { kind: 'loopback', port: server.port } }), 'replica-api-test');
  const ready = await eventually(() => apiGet('/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.replica.threatmesh.io'), (r) => JSON.stringify(r.body).includes('"type":"Available","status":"True"'), 60_000);
  assert.match(JSON.stringify(ready.body), /"type":"Available","status":"True"/, `APIService never became Available: ${JSON.stringify(ready.body)}`);
});

after(async () => {
  await admin?.delete({ group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices', kind: 'APIService', namespaced: false }, 'v1alpha1.replica.threatmesh.io').catch(() => undefined);
  await server?.stop();
  database?.stop();
  await health?.stop();
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

const nameOf = (i: number): string => indicatorObjectName({ type: 'domain', value: `h${i}.replica-test.example` });
const absent = (i: number): string => `domain-${i.toString(16).padStart(40, '0')}`;
const selected = (names: readonly string[], extra = ''): string => `${BASE}?labelSelector=${encodeURIComponent(`threatmesh.io/name in (${names.join(',')})`)}${extra}`;
const itemNames = (r: ApiAnswer): string[] => (r.body['items'] as Array<{ metadata: { name: string } }>).map((o) => o.metadata.name);

test('a name selector answers which of a set exist in one request: named and older unnamed records, a revoked one, absent names left out', async () => {
  const held = Array.from({ length: 300 }, (_, i) => nameOf(i));
  const r = await apiGet(selected([...held, ...Array.from({ length: 200 }, (_, i) => absent(i))]));
  assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 500));
  assert.deepEqual(itemNames(r), [...held].sort(), 'exactly the held names, sorted by name');
  assert.equal((r.body['metadata'] as { continue?: string }).continue, undefined);
  const revoked = (r.body['items'] as Array<{ metadata: { name: string; labels: Record<string, string> }; status: { phase: string } }>).find((o) => o.metadata.name === nameOf(7));
  assert.equal(revoked?.status.phase, 'Revoked');
  assert.equal(revoked?.metadata.labels['threatmesh.io/name'], nameOf(7));
  // kubectl pages with limit: a stateless token carries the last name; every held name comes once.
  const paged: string[] = [];
  let cont: string | undefined;
  let pagesSeen = 0;
  do {
    const page = await apiGet(selected(held, `&limit=120${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`));
    assert.equal(page.status, 200, JSON.stringify(page.body).slice(0, 300));
    assert.ok(itemNames(page).length <= 120);
    paged.push(...itemNames(page));
    cont = (page.body['metadata'] as { continue?: string }).continue;
    pagesSeen++;
  } while (cont);
  assert.deepEqual([pagesSeen, paged], [3, [...held].sort()]);
  const table = await apiGet(selected([nameOf(1), nameOf(2), absent(1)]), 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json');
  assert.deepEqual([table.body['kind'], (table.body['rows'] as unknown[]).length], ['Table', 2]);
  assert.deepEqual(itemNames(await apiGet(selected([nameOf(1)], `&${new URLSearchParams({ fieldSelector: `metadata.name=${nameOf(1)}` }).toString()}`))), [nameOf(1)]);
  assert.deepEqual(itemNames(await apiGet(`${selected([nameOf(1), nameOf(2)])}${encodeURIComponent(',threatmesh.io/type=ipv4')}`)), []);
});

test('the name selector is bounded and refuses hostile input with 400 saying what to send; field values are plain strings', async () => {
  const label = (sel: string): string => `${BASE}?${new URLSearchParams({ labelSelector: sel }).toString()}`;
  const field = (sel: string): string => `${BASE}?${new URLSearchParams({ fieldSelector: sel }).toString()}`;
  const names = (n: number): string[] => Array.from({ length: n }, (_, i) => (i === 0 ? nameOf(0) : absent(i)));
  const cases: Array<[string, string, number, RegExp | number]> = [
    ['1,000 names (the bound)', selected(names(1000)), 200, 1],
    ['1,001 names', selected(names(1001)), 400, /names 1001 objects; at most 1000 per request/],
    ['10,000 names (about 480 KB of selector)', selected(names(10_000)), 400, /at most 1000 per request/],
    ['an operator object as a value', label('threatmesh.io/name in ({"$ne":null})'), 400, /not a valid label value/],
    ['a value with a slash', label(`threatmesh.io/name in (${nameOf(0)}/x)`), 400, /not a valid label value/],
    ['a non-ASCII value', label('threatmesh.io/name=caf\u00e9'), 400, /not a valid label value|not supported/],
    ['a 64-character value', label(`threatmesh.io/name in (${'a'.repeat(64)})`), 400, /not a valid label value/],
    ['nested parentheses', label(`threatmesh.io/name in ((${nameOf(0)}))`), 400, /unbalanced/],
    ['notin', label(`threatmesh.io/name notin (${nameOf(0)})`), 400, /not supported/],
    ['a set-valued field selector', field(`metadata.name in (${nameOf(0)})`), 400, /labelSelector=threatmesh\.io\/name in/],
    ['an operator object in a field selector is a name like any other', field('metadata.name={"$gt":""}'), 200, 0],
    ['an odd-character name in a field selector', field('metadata.name=../../etc/passwd'), 200, 0],
  ];
  for (const [what, path, code, want] of cases) {
    const r = await apiGet(path);
    assert.equal(r.status, code, `${what}: ${JSON.stringify(r.body).slice(0, 300)}`);
    if (typeof want === 'number') assert.equal(itemNames(r).length, want, what);
    else assert.match(String(r.body['message']), want, what);
  }
});

test('the name selector is a list: a user without RBAC gets 403, a reader gets the set', async () => {
  const denied = await apiGet(selected([nameOf(1), nameOf(2)]), 'application/json', 'mallory');
  assert.equal(denied.status, 403, JSON.stringify(denied.body));
  const allowed = await apiGet(selected([nameOf(1), nameOf(2)]), 'application/json', 'alice');
  assert.deepEqual([allowed.status, itemNames(allowed)], [200, [nameOf(1), nameOf(2)].sort()]);
});

/** A sample's value in `text`, 0 when the series is not there yet (a labelled counter appears at its first increment). */
function valueOr0(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  try {
    return sampleSum(text, name, labels);
  } catch {
    return 0;
  }
}

type Delta = readonly [string, Readonly<Record<string, string>>, number];

/** Each series' growth between two scrapes against the expected one; `after` must hold every series. */
function deltas(before: string, after: string, want: readonly Delta[]): Array<[string, number, number]> {
  return want.map(([name, labels, expected]) => [`${name}${JSON.stringify(labels)}`, sampleSum(after, name, labels) - valueOr0(before, name, labels), expected]);
}

const TI = { resource: 'threatindicators' } as const;

test('the metrics listener counts what the API server proxied: list pages and sizes, get, 404 and 410 by verb and code', async () => {
  const before = (await scrape(`${metricsUrl}/metrics`)).text;
  const openBefore = sampleSum(before, 'threatmesh_replica_api_open_lists');
  const openDuring: number[] = [];
  let cont: string | undefined;
  do {
    const r = await apiGet(`${BASE}?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    cont = (r.body['metadata'] as { continue?: string }).continue;
    openDuring.push(sampleSum((await scrape(`${metricsUrl}/metrics`)).text, 'threatmesh_replica_api_open_lists') - openBefore);
  } while (cont);
  assert.deepEqual(openDuring, [1, 1, 0], 'the list holds one cursor for its continue token, closed with its last page');
  const answers = await Promise.all([
    apiGet(`${BASE}/${indicatorObjectName({ type: 'domain', value: 'h3.replica-test.example' })}`),
    apiGet(`${BASE}/domain-${'0'.repeat(40)}`),
    apiGet(`${BASE}?limit=10&continue=garbage`),
    // The API server itself refuses a user without RBAC before proxying: never counted here.
    apiGet(`${BASE}?limit=1`, 'application/json', 'mallory'),
  ]);
  assert.deepEqual(answers.map((a) => a.status), [200, 404, 410, 403]);
  const after = await scrape(`${metricsUrl}/metrics`);
  assert.equal(after.status, 200);
  const want: Delta[] = [
    ['threatmesh_replica_api_requests_total', { ...TI, verb: 'list', code: '200' }, 3],
    ['threatmesh_replica_api_request_duration_seconds_count', { ...TI, verb: 'list', code: '200' }, 3],
    ['threatmesh_replica_api_requests_total', { ...TI, verb: 'get', code: '200' }, 1],
    ['threatmesh_replica_api_requests_total', { ...TI, verb: 'get', code: '404' }, 1],
    ['threatmesh_replica_api_requests_total', { ...TI, verb: 'list', code: '410' }, 1],
    ['threatmesh_replica_api_requests_total', { ...TI, code: '500' }, 0],
    ['threatmesh_replica_api_list_pages_total', { page: 'first', more: 'true' }, 1],
    ['threatmesh_replica_api_list_pages_total', { page: 'continued', more: 'true' }, 1],
    ['threatmesh_replica_api_list_pages_total', { page: 'continued', more: 'false' }, 1],
    ['threatmesh_replica_api_list_items_count', {}, 3],
    ['threatmesh_replica_api_list_items_sum', {}, COUNT],
    ['threatmesh_replica_api_authorization_total', { decision: 'denied' }, 0],
    ['threatmesh_replica_api_authorization_total', { decision: 'allowed' }, 6],
    ['threatmesh_replica_api_database_errors_total', {}, 0],
    ['threatmesh_replica_api_authentication_total', { result: 'no-verified-certificate' }, 0],
  ];
  for (const [series, got, expected] of deltas(before, after.text, want)) assert.equal(got, expected, series);
  // The aggregator's own discovery and availability checks come through the front proxy too: at least our requests.
  assert.ok(sampleSum(after.text, 'threatmesh_replica_api_authentication_total', { result: 'success' }) - valueOr0(before, 'threatmesh_replica_api_authentication_total', { result: 'success' }) >= 6);
  assert.equal(sampleSum(after.text, 'threatmesh_replica_api_requests_in_flight'), 0);
  assert.equal(sampleSum(after.text, 'threatmesh_replica_api_ready'), 1);
  assert.equal(sampleSum(after.text, 'threatmesh_replica_api_database_up'), 1);
  for (const url of [`${metricsUrl}/readyz`, `${metricsUrl}/healthz`]) assert.equal((await scrape(url)).status, 200, url);
});

test('direct callers and broken handshakes are counted: 401 by reason, failed TLS handshakes', async () => {
  const before = (await scrape(`${metricsUrl}/metrics`)).text;
  const stranger = await readTlsMaterial(await ca.issue('front-proxy-client', 'client'));
  const url = new URL(`https://127.0.0.1:${server.port}${BASE}?limit=1`);
  for (const options of [{ rejectUnauthorized: false }, { rejectUnauthorized: false, cert: stranger.certPem, key: stranger.keyPem }]) {
    assert.equal((await sendJson(url, { ...options, headers: { 'x-remote-user': 'system:admin' } })).status, 401);
  }
  // The HTTPS probes answer anyone.
  assert.equal((await sendJson(new URL(`https://127.0.0.1:${server.port}/readyz`), { rejectUnauthorized: false })).body['text'], 'ok');
  // Plain HTTP to the TLS port: the handshake fails before any request.
  await new Promise<void>((resolve, reject) => {
    const sock = connect(server.port, '127.0.0.1', () => sock.end('GET /apis HTTP/1.1\r\nhost: x\r\n\r\n'));
    sock.on('close', () => resolve());
    sock.on('error', reject);
  });
  const after = await eventually(async () => (await scrape(`${metricsUrl}/metrics`)).text, (t) => sampleSum(t, 'threatmesh_replica_api_tls_handshake_errors_total') > valueOr0(before, 'threatmesh_replica_api_tls_handshake_errors_total'), 10_000);
  const want: Delta[] = [
    ['threatmesh_replica_api_authentication_total', { result: 'no-verified-certificate' }, 2],
    ['threatmesh_replica_api_requests_total', { ...TI, verb: 'list', code: '401' }, 2],
    ['threatmesh_replica_api_tls_handshake_errors_total', {}, 1],
    ['threatmesh_replica_api_authorization_total', { decision: 'allowed' }, 0],
  ];
  for (const [series, got, expected] of deltas(before, after, want)) assert.equal(got, expected, series);
});

test('callers cannot make label values or read the metrics on the API port: odd paths, methods and users stay in the fixed sets', async () => {
  const junk = [
    ['GET', `/apis/evil.example/v1/${'x'.repeat(2000)}`], ['PROPFIND', `${BASE}/a`], ['GET', '/metrics'], ['DELETE', '/apis'],
    ['GET', `/apis/replica.threatmesh.io/v1alpha1/namespaces/${'%2F..%2F'.repeat(50)}/threatindicators`], ['POST', `${BASE}?watch=true&code=999`],
  ] as const;
  for (const [method, path] of junk) {
    const r = await sendJson(new URL(`https://127.0.0.1:${server.port}${path}`), { method, rejectUnauthorized: false, headers: { 'x-remote-user': `u-${Math.random()}` } });
    assert.equal(r.status, 401, `${method} ${path.slice(0, 60)}: only the front proxy is answered, /metrics included`);
  }
  const series = parseExposition((await scrape(`${metricsUrl}/metrics`)).text).filter((x) => x.name.startsWith('threatmesh_replica_api_request') && x.name !== 'threatmesh_replica_api_requests_in_flight');
  const verbs = new Set<string>(REPLICA_VERBS);
  for (const x of series) {
    const { verb = '', resource = '', code = '' } = x.labels;
    assert.ok(verbs.has(verb) && ['threatindicators', 'discovery', 'unknown'].includes(resource) && /^[1-5][0-9]{2}$/.test(code), JSON.stringify(x));
    assert.ok(Object.keys(x.labels).every((k) => ['verb', 'resource', 'code', 'le'].includes(k)), `no other label: ${JSON.stringify(x)}`);
  }
  assert.ok(series.some((x) => x.labels['verb'] === 'other' && x.labels['code'] === '401'), 'PROPFIND counted as verb other');
});

test('a partner database that never answered: reads are 500 and counted by operation, /readyz fails, ready and database_up are 0; a user without RBAC is 403 by SubjectAccessReview', async () => {
  // A real MongoDB driver facing a port where no database listens (what a partner sees when mongod is down).
  const gone = new MongoClient(`mongodb://127.0.0.1:${await freePort()}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300`);
  const goneDb = gone.db('gone');
  const m: ReplicaApiMetrics = new ReplicaApiMetrics((): HealthCheck[] => [ready.check]);
  const ready: DatabaseReadiness = new DatabaseReadiness({ ping: () => goneDb.command({ ping: 1 }), clock: systemClock, metrics: m });
  await ready.probe();
  const h = new HealthServer({ metrics: m, log: quiet, port: 0, readyChecks: [ready.check] });
  const hUrl = `http://127.0.0.1:${await h.start()}`;
  const records = new NamedIndicatorPages(goneDb, { clock: systemClock });
  // Its own front proxy (the test CA), the real API server's SubjectAccessReviews.
  const broken = await startReplicaApi({
    records, namespace: ns, requestHeader: { caPem: serving.caPem, allowedNames: ['front-proxy-client'], usernameHeaders: ['X-Remote-User'], groupHeaders: ['X-Remote-Group'] },
    reviewer: new AccessReviewer(admin, () => Date.now()), cert: serving.certPem, key: serving.keyPem, now: () => new Date(), log: createLogger(process.stderr, 'error', { component: 'replica-api-test' }), metrics: m, readiness: [ready.check],
  }, '127.0.0.1', 0);
  try {
    const proxy = await readTlsMaterial(await ca.issue('front-proxy-client', 'client'));
    const as = { rejectUnauthorized: false, cert: proxy.certPem, key: proxy.keyPem, headers: { 'x-remote-user': 'ops', 'x-remote-group': 'system:masters', accept: 'application/json' } };
    for (const path of [`${BASE}/${indicatorObjectName({ type: 'domain', value: 'h3.replica-test.example' })}`, `${BASE}?limit=5`]) {
      const r = await sendJson(new URL(`https://127.0.0.1:${broken.port}${path}`), as);
      assert.equal(r.status, 500, `${path}: ${JSON.stringify(r.body)}`);
      assert.match(String(r.body['message']), /replica database could not be read; retry/);
    }
    // Directly with the proxy's certificate (the API server would refuse first): the delegated review denies, before any read.
    const denied = await sendJson(new URL(`https://127.0.0.1:${broken.port}${BASE}?limit=5`), { ...as, headers: { 'x-remote-user': 'mallory', accept: 'application/json' } });
    assert.equal(denied.status, 403, JSON.stringify(denied.body));
    assert.equal(denied.headers['keep-alive'], 'timeout=120', 'idle connections outlast the API server\'s 90 s pool (Node\'s default, 5 s, resets its requests)');
    const text = (await scrape(`${hUrl}/metrics`)).text;
    const want: ReadonlyArray<[string, Readonly<Record<string, string>>, number]> = [
      ['threatmesh_replica_api_database_errors_total', { operation: 'get' }, 1],
      ['threatmesh_replica_api_database_errors_total', { operation: 'list' }, 1],
      ['threatmesh_replica_api_database_errors_total', { operation: 'ping' }, 1],
      ['threatmesh_replica_api_requests_total', { ...TI, verb: 'get', code: '500' }, 1],
      ['threatmesh_replica_api_requests_total', { ...TI, verb: 'list', code: '500' }, 1],
      ['threatmesh_replica_api_authorization_total', { decision: 'allowed' }, 2],
      ['threatmesh_replica_api_authorization_total', { decision: 'denied' }, 1],
      ['threatmesh_replica_api_requests_total', { ...TI, verb: 'list', code: '403' }, 1],
      ['threatmesh_replica_api_ready', {}, 0],
      ['threatmesh_replica_api_database_up', {}, 0],
    ];
    for (const [name, labels, expected] of want) assert.equal(sampleSum(text, name, labels), expected, `${name}${JSON.stringify(labels)}`);
    const readyz = await scrape(`${hUrl}/readyz`);
    assert.equal(readyz.status, 500);
    assert.match(readyz.text, /\[-\]database failed: the partner database has not answered a ping yet: .+/);
    const httpsReady = await sendJson(new URL(`https://127.0.0.1:${broken.port}/readyz`), { rejectUnauthorized: false });
    assert.equal(httpsReady.status, 500, 'the kubelet\'s probe on the HTTPS port sees the same readiness');
    assert.equal(sampleSum((await scrape(`${hUrl}/metrics`)).text, 'threatmesh_replica_api_requests_total'), 3, 'the three reads only: health probes are not requests');
  } finally {
    await broken.stop();
    ready.stop();
    await h.stop();
    await records.close();
    await gone.close();
  }
});

test('every metric the Replica API row and alerts read is served: the replica API\'s /metrics and the API server\'s aggregator_unavailable_apiservice', async () => {
  const apiserver = await apiGet('/metrics', 'text/plain');
  assert.equal(apiserver.status, 200);
  const apiText = String(apiserver.body['text']);
  assert.match(apiText, /^aggregator_unavailable_apiservice\{name="v1alpha1\.replica\.threatmesh\.io"\} 0$/m, 'the API server reports our APIService available');
  const used = (await shippedSelectors()).filter((u) => u.row === REPLICA_API_ROW || isReplicaApiMetric(u.name));
  assert.ok(used.length >= 15, `selectors of the Replica API row and alerts: ${used.length}`);
  const scraped = parseExposition(`${(await scrape(`${metricsUrl}/metrics`)).text}\n${apiText}`);
  assert.deepEqual(missingSelectors(used, scraped), []);
  // The same check against the same scrapes reports a selector nothing serves (it can fail).
  assert.deepEqual(missingSelectors([{ name: 'threatmesh_replica_api_requests_total', matchers: [{ label: 'code', op: '=~', value: '7..' }], source: 'test' }], scraped), ['test: threatmesh_replica_api_requests_total{code=~"7.."}']);
});

// Last: it stops the server.
/** A record whose digest is `digest` (crafted: two real digests never share 40 hex digits), named `<type>-<digest[0:40]>` unless `named` is false. */
function crafted(type: string, digest: string, value: string, named = true): IndicatorRecord {
  return { ...record(COUNT + 100), _id: digest, digest, type, value, logIndex: COUNT + 100, ...(named ? { name: `${type}-${digest.slice(0, 40)}` } : {}) };
}

const byValue = (r: ApiAnswer): string => (r.body['spec'] as { value: string }).value;

test('a name equality is read from an index, not a scan: the GIN twin on the local PostgreSQL, object_name on MongoDB', async () => {
  const plan = async (filter: Record<string, unknown>): Promise<string> => JSON.stringify(await db.command({ explain: { find: INDICATORS, filter } }));
  const local = process.env['MONGODB_URI'] === undefined || process.env['MONGODB_URI'] === '';
  const cases: Array<[string, Record<string, unknown>]> = [['name', { name: nameOf(0) }], ['_id', { _id: record(0).digest }]];
  for (const [what, filter] of cases) {
    const p = await plan(filter);
    if (!local) assert.match(p, /IXSCAN/, `${what} on MongoDB: ${p.slice(0, 400)}`);
    else if (ferretdbBackendFromEnv() === 'postgresql') assert.match(p, /"Index Name":"tm_eq_[0-9a-f]{24}"/, `${what} on FerretDB + PostgreSQL is a scan: ${p.slice(0, 600)}`);
    else assert.match(p, /"command"/, `${what} on FerretDB + SQLite: ${p.slice(0, 400)}`);
  }
});

test('names that share a digest prefix: each name finds its own record, one more digit apart is another name, an unnamed older record is found by its range', async () => {
  const p = 'c0111de0'.repeat(5);
  const near = `${p.slice(0, 39)}e`;
  const recs = [
    crafted('domain', `${p}${'a'.repeat(24)}`, 'prefix-a.replica-test.example'),
    crafted('ipv4', `${p}${'b'.repeat(24)}`, '198.51.100.7'),
    crafted('domain', `${near}${'c'.repeat(24)}`, 'prefix-c.replica-test.example'),
    crafted('url', `${p}${'d'.repeat(24)}`, 'https://prefix-d.replica-test.example/', false),
  ];
  await db.collection<IndicatorRecord>(INDICATORS).insertMany(recs);
  const cases: Array<[string, number, string | undefined]> = [
    [`domain-${p}`, 200, 'prefix-a.replica-test.example'], [`ipv4-${p}`, 200, '198.51.100.7'], [`domain-${near}`, 200, 'prefix-c.replica-test.example'],
    [`url-${p}`, 200, 'https://prefix-d.replica-test.example/'], [`domain-${p.slice(0, 39)}f`, 404, undefined], [`hash-${p}`, 404, undefined], [`domain-${p}0`, 404, undefined],
  ];
  for (const [name, code, value] of cases) {
    const r = await apiGet(`${BASE}/${name}`);
    assert.equal(r.status, code, `${name}: ${JSON.stringify(r.body).slice(0, 300)}`);
    if (value !== undefined) assert.equal(byValue(r), value, name);
  }
  const set = await apiGet(selected(cases.map(([name]) => name)));
  assert.equal(set.status, 200, JSON.stringify(set.body).slice(0, 300));
  const values = (set.body['items'] as Array<{ spec: { value: string } }>).map((o) => o.spec.value).sort();
  assert.deepEqual(values, cases.flatMap(([, , v]) => (v === undefined ? [] : [v])).sort(), 'each held name once, the near and absent ones left out');
});

test('a record written after the server started is found by get and by the selector; a revocation after start shows as Revoked', async () => {
  const late = crafted('domain', indicatorDigest({ type: 'domain', value: 'late.replica-test.example' }), 'late.replica-test.example');
  const lateName = late.name!;
  assert.equal((await apiGet(`${BASE}/${lateName}`)).status, 404, 'not there before it is written');
  await db.collection<IndicatorRecord>(INDICATORS).insertOne(late);
  const got = await apiGet(`${BASE}/${lateName}`);
  assert.deepEqual([got.status, (got.body['status'] as { phase: string }).phase], [200, 'Approved'], JSON.stringify(got.body).slice(0, 300));
  assert.deepEqual(itemNames(await apiGet(selected([lateName, absent(5)]))), [lateName]);
  await db.collection<IndicatorRecord>(INDICATORS).updateOne({ _id: late.digest }, { $set: { state: 'revoked', revokedAtIndex: COUNT + 200 } });
  const revoked = await apiGet(`${BASE}/${lateName}`);
  assert.equal((revoked.body['status'] as { phase: string }).phase, 'Revoked', JSON.stringify(revoked.body).slice(0, 300));
  const listed = await apiGet(selected([lateName]));
  assert.equal((listed.body['items'] as Array<{ status: { phase: string } }>)[0]?.status.phase, 'Revoked');
});

test('hostile names on get are plain names: very long ones, regular-expression and operator characters are 404, never a match or a crash', async () => {
  const dots = `domain-${'.'.repeat(39)}a`;
  const cases: Array<[string, string]> = [
    ['a 10,000-character name', `domain-${'a'.repeat(10_000)}`],
    ['40 regex wildcards', dots],
    ['a regex class', 'domain-[0-9a-f]{40}'],
    ['a regex prefix of a held name', `${nameOf(0).slice(0, 30)}.*`],
    ['an operator object', '{"$ne":null}'],
    ['a held name in upper case', nameOf(0).toUpperCase()],
    ['a held name with a trailing newline', `${nameOf(0)}\n`],
  ];
  for (const [what, name] of cases) {
    const r = await apiGet(`${BASE}/${encodeURIComponent(name)}`);
    assert.equal(r.status, 404, `${what}: ${JSON.stringify(r.body).slice(0, 300)}`);
  }
  const sel = await apiGet(`${BASE}?${new URLSearchParams({ labelSelector: `threatmesh.io/name in (${dots},domain-${'a'.repeat(40)})` }).toString()}`);
  assert.deepEqual([sel.status, itemNames(sel)], [200, []], 'label-valid regex characters select nothing');
});

test('the operator names records stored without a name once, then sets a marker: a reader no longer scans for them, and they are still found', async () => {
  const unnamed = await db.collection<IndicatorRecord>(INDICATORS).countDocuments({ name: { $exists: false } });
  assert.ok(unnamed > 600, `the test holds records without a name: ${unnamed}`);
  assert.equal(await new NamedIndicatorPages(db, { clock: systemClock }).hasUnnamed(), true);
  assert.equal(await nameUnnamedRecords(db), unnamed);
  assert.equal(await db.collection<IndicatorRecord>(INDICATORS).countDocuments({ name: { $exists: false } }), 0);
  assert.equal(await nameUnnamedRecords(db), 0, 'a second pass does nothing');
  // Proof the marker is what answers: a record without a name written after it is not looked for (versions that write unnamed records are gone).
  await db.collection<IndicatorRecord>(INDICATORS).insertOne(crafted('domain', indicatorDigest({ type: 'domain', value: 'after-marker.replica-test.example' }), 'after-marker.replica-test.example', false));
  assert.equal(await new NamedIndicatorPages(db, { clock: systemClock }).hasUnnamed(), false);
  const r = await apiGet(`${BASE}/${nameOf(1)}`);
  assert.deepEqual([r.status, byValue(r)], [200, 'h1.replica-test.example'], 'a record named by the pass is found by its name');
  assert.deepEqual(itemNames(await apiGet(selected([nameOf(3), nameOf(5)]))), [nameOf(3), nameOf(5)].sort());
});

test('when the replica API stops, the API server reports its APIService unavailable (what ThreatMeshReplicaApiUnavailable reads)', { timeout: 180_000 }, async () => {
  await server.stop();
  const seen = await eventually(async () => String((await apiGet('/metrics', 'text/plain')).body['text']), (t) => /^aggregator_unavailable_apiservice\{name="v1alpha1\.replica\.threatmesh\.io"\} 1$/m.test(t), 150_000);
  assert.match(seen, /^aggregator_unavailable_apiservice\{name="v1alpha1\.replica\.threatmesh\.io"\} 1$/m);
});

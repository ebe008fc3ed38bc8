/**
 * The replica API as the Helm chart installs it, on a real kube-apiserver (front proxy
 * configured by the local control plane) over a real FerretDB:
 *
 * - the default rendering (cert-manager Certificate, CA injected into the APIService) passes a
 *   server-side dry run with strict field validation;
 * - the rendering with the user's Secret and CA bundle is applied for real (ServiceAccount,
 *   auth-delegator ClusterRoleBinding, kube-system RoleBinding, reader ClusterRole, Deployment,
 *   PodDisruptionBudget, Service, APIService), then `threatmesh replica-api` runs with the
 *   rendered container's arguments under a token of the rendered ServiceAccount: the APIService
 *   becomes Available (the rendered caBundle verifies the serving certificate), a user bound to
 *   the rendered reader role lists the replicated set, a user without it gets 403;
 * - before anything is installed (helm refuses to adopt objects it does not own),
 *   `helm template --dry-run=server` (what helm install renders) reads the CA bundle from the
 *   user's Secret's ca.crt when no caBundle value is given, and fails with the message when the
 *   Secret has none or does not exist;
 * - the rendered grants are exactly the delegation (SubjectAccessReviews per verb), and without
 *   the auth-delegator binding no user is served (the check can fail);
 * - the rendered `--metrics-bind` listener (made loopback) counts those reads and the failed
 *   review, and its /readyz answers from a real database ping.
 *
 * There is no kubelet or kube-proxy here: the pods never run, so the Service is replaced by an
 * ExternalName of 127.0.0.1 and the APIService's port by the local server's, as the ADR's local
 * control plane does; everything else is applied as rendered. The APIService and the
 * cluster-scoped RBAC keep their rendered names: with an external KUBECONFIG, do not run this
 * file beside e2e/integration/replica-api.test.ts on the same cluster.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MongoClient, type Db } from 'mongodb';
import { stringify } from 'yaml';
import type { Manifest } from '../../cdk8s/app.ts';
import { REPLICA_APISERVICE_NAME } from '../../operator/src/api/replicaapiservice.ts';
import { indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { LocalCa, readTlsMaterial } from '../../operator/src/dev/sandbox/pki.ts';
import { KubeHttpClient, resourcePath } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { INDICATORS, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { ROOT, allCrdTexts, helmTemplate, parseStream, tools, type Tools } from '../harness/install.ts';
import { apiRequest, type ApiAnswer } from '../harness/apiget.ts';
import { eventually } from '../harness/kube.ts';
import { sampleSum, scrape } from '../harness/metrics.ts';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../operator/src/main.ts', import.meta.url));
const suffix = uniqueSuffix();
const ns = `tm-replica-${suffix}`;
const SA = `system:serviceaccount:${ns}:threatmesh-replica-api`;
const COUNT = 25;
const BASE = `/apis/replica.threatmesh.io/v1alpha1/namespaces/${ns}/threatindicators`;
const FM = 'install-replica-api-test';

let t: Tools;
let cp: ControlPlane;
let admin: KubeHttpClient;
let mongo: MongoClient;
let db: Db;
let dir: string;
let server: ChildProcess | undefined;
let serverLog = '';
/** http://127.0.0.1:PORT of the started server's --metrics-bind listener. */
let metricsUrl = '';

function record(i: number): IndicatorRecord {
  const value = `h${i}.install-replica.example`;
  const digest = indicatorDigest({ type: 'domain', value });
  return {
    _id: digest, digest, type: 'domain', value, state: 'active', logIndex: i, proposerId: 'partner-a', name: indicatorObjectName({ type: 'domain', value }),
    votes: [{ partnerId: 'partner-a', decision: 'approve', signedAt: '2026-12-06T10:00:01.000Z', signature: 'A'.repeat(86) }],
    window: { opensAt: '2026-12-06T10:00:00.000Z', closesAt: '2026-12-09T10:00:00.000Z' }, proposalSignature: 'C'.repeat(86),
    meta: { tlp: 'amber', confidence: 70 }, addedAt: new Date('2026-12-06T10:00:05.000Z'),
  };
}

/** The chart's replica API objects for `values` over a partner in `ns`. */
async function rendered(values: Record<string, unknown>): Promise<Manifest[]> {
  const all = await helmTemplate(t, { namespace: ns, partnerId: `partner-${suffix}`, ...values });
  return all.filter((o) => (o.metadata['labels'] as Record<string, string> | undefined)?.['app.kubernetes.io/component'] === 'replica-api');
}

const one = (objects: readonly Manifest[], kind: string): Manifest => {
  const o = objects.find((x) => x.kind === kind);
  assert.ok(o, `the chart renders a ${kind}`);
  return o;
};

/** GET through the API server, impersonating `as` when given. */
function apiGet(path: string, as?: string): Promise<ApiAnswer> {
  return apiRequest(cp.target, path, as !== undefined ? { as } : {});
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function dryRunApply(objects: readonly Manifest[]): Promise<string[]> {
  const failures: string[] = [];
  for (const o of objects) {
    const ref = await admin.discover(o.apiVersion, o.kind);
    const path = resourcePath(ref, ref.namespaced ? o.metadata.namespace : undefined, o.metadata.name);
    try {
      await admin.json({ method: 'PATCH', path, query: { dryRun: 'All', fieldManager: FM, fieldValidation: 'Strict', force: true }, body: o, contentType: 'application/apply-patch+yaml' });
    } catch (err) {
      failures.push(`${o.kind}/${o.metadata.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return failures;
}

/** What a SubjectAccessReview asks: verb, group, resource and where. */
interface Ask { readonly verb: string; readonly group: string; readonly resource: string; readonly namespace?: string | undefined; readonly name?: string | undefined }

/** Whether `user` may do `ask`, by SubjectAccessReview. */
async function may(user: string, ask: Ask): Promise<boolean> {
  const { verb, group, resource, namespace, name } = ask;
  const review = await admin.create<KubeObject & { status?: { allowed?: boolean } }>({ group: 'authorization.k8s.io', version: 'v1', plural: 'subjectaccessreviews', kind: 'SubjectAccessReview', namespaced: false }, {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata: { name: '' },
    spec: { user, groups: user.startsWith('system:serviceaccount:') ? ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'] : ['system:authenticated'], resourceAttributes: { verb, group, resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) } },
  });
  return review.status?.allowed === true;
}

/** Starts `threatmesh replica-api` with the rendered container's arguments, files and ports made local. */
async function startServer(args: readonly string[], kubeconfig: string, port: number): Promise<void> {
  const metricsPort = await freePort();
  const local = args.map((a) => a.replace('/etc/threatmesh/replica-api/', `${dir}/`).replace(/^0\.0\.0\.0:9444$/, `127.0.0.1:${port}`).replace(/^0\.0\.0\.0:8080$/, `127.0.0.1:${metricsPort}`));
  assert.ok(local.includes(`127.0.0.1:${port}`) && local.includes(`${dir}/tls.crt`), `the rendered arguments bind 9444 and read the mounted certificate: ${args.join(' ')}`);
  assert.equal(local[local.indexOf('--metrics-bind') + 1], `127.0.0.1:${metricsPort}`, `the rendered arguments serve metrics on 8080: ${args.join(' ')}`);
  metricsUrl = `http://127.0.0.1:${metricsPort}`;
  const child = spawn(process.execPath, [MAIN, ...local, '--kubeconfig', kubeconfig, '--database', db.databaseName], { cwd: ROOT, env: { ...process.env, MONGODB_URI: cp.mongoUri, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  const collect = (c: Buffer): void => { serverLog += c.toString('utf8'); };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  await eventually(() => Promise.resolve(serverLog), (l) => l.includes('replica api serving') || child.exitCode !== null, 60_000);
  assert.match(serverLog, /replica api serving/, `threatmesh replica-api did not start:\n${serverLog}`);
}

before(async () => {
  t = await tools();
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 30_000 });
  // Every CRD the chart's objects use: helm's server-side dry run maps every kind it renders.
  const crds = (await allCrdTexts()).flatMap((text) => parseStream(text)) as unknown as KubeObject[];
  await applyManifests(admin, [...crds, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }], FM);
  mongo = await MongoClient.connect(cp.mongoUri);
  db = mongo.db(`install_replica_${suffix}`);
  await db.collection<IndicatorRecord>(INDICATORS).insertMany(Array.from({ length: COUNT }, (_, i) => record(i)));
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-install-replica-'));
});

after(async () => {
  server?.kill('SIGTERM');
  await admin?.delete({ group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices', kind: 'APIService', namespaced: false }, REPLICA_APISERVICE_NAME).catch(() => undefined);
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  admin?.close();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the default rendering (cert-manager injects the CA) passes a strict server-side dry run', async () => {
  const objects = await rendered({});
  const api = one(objects, 'APIService');
  assert.equal((api.metadata['annotations'] as Record<string, string>)['cert-manager.io/inject-ca-from'], `${ns}/threatmesh-replica-api`);
  assert.deepEqual((one(objects, 'Certificate')['spec'] as { dnsNames: string[] }).dnsNames[0], `threatmesh-replica-api.${ns}.svc`);
  const spec = api['spec'] as Record<string, unknown>;
  assert.equal(spec['caBundle'], undefined, 'the CA injector owns caBundle');
  assert.equal(spec['insecureSkipTLSVerify'], undefined);
  assert.deepEqual([spec['groupPriorityMinimum'], spec['versionPriority']], [2000, 100]);
  assert.deepEqual(await dryRunApply(objects), []);
  assert.deepEqual(await dryRunApply([{ ...api, spec: { ...spec, insecureSkipTLSVerfy: true } }]).then((f) => f.length), 1, 'a misspelt field is refused (the dry run can fail)');
});

test('helm against the cluster reads the CA bundle from the user\'s Secret, or fails saying what to set', async () => {
  const ca = await LocalCa.open(join(dir, 'lookup-ca'), 'replica-lookup-ca', 1);
  const tls = await readTlsMaterial(await ca.issue('threatmesh-replica-api', 'server', '', [`DNS:threatmesh-replica-api.${ns}.svc`]));
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  const secret = (name: string, data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, type: 'kubernetes.io/tls', data } as unknown as KubeObject);
  await applyManifests(admin, [
    secret('with-ca', { 'tls.crt': b64(tls.certPem), 'tls.key': b64(tls.keyPem), 'ca.crt': b64(tls.caPem) }),
    secret('without-ca', { 'tls.crt': b64(tls.certPem), 'tls.key': b64(tls.keyPem) }),
  ], FM);
  const cases: ReadonlyArray<[string, string | undefined]> = [
    ['with-ca', undefined],
    ['without-ca', 'replicaApi.tls.caBundle: empty, and the Secret without-ca cannot be read at render time'],
    ['absent', 'replicaApi.tls.caBundle: empty, and the Secret absent cannot be read at render time'],
  ];
  const values = join(dir, 'lookup-values.yaml');
  for (const [name, failure] of cases) {
    await writeFile(values, stringify({ namespace: ns, partnerId: `partner-${suffix}`, replicaApi: { tls: { certManager: false, existingSecret: name } } }));
    const rendering = run(t.HELM, ['template', 'threatmesh', join(ROOT, 'charts/threatmesh'), '-f', values, '--dry-run=server', '--kubeconfig', cp.kubeconfigPath], { maxBuffer: 64 << 20 });
    if (failure !== undefined) {
      await assert.rejects(rendering, (err: Error) => err.message.includes(failure), name);
      continue;
    }
    const api = parseStream((await rendering).stdout).find((o) => o.kind === 'APIService');
    assert.equal((api?.['spec'] as { caBundle?: string } | undefined)?.caBundle, b64(tls.caPem), 'the Secret\'s ca.crt');
  }
});

test('applied for real with the user\'s Secret and CA, the rendered install serves the replicated set to readers only', async () => {
  const ca = await LocalCa.open(join(dir, 'ca'), 'replica-install-ca', 1);
  const serving = await readTlsMaterial(await ca.issue('threatmesh-replica-api', 'server', '', [`DNS:threatmesh-replica-api.${ns}.svc`]));
  await writeFile(join(dir, 'tls.crt'), serving.certPem);
  await writeFile(join(dir, 'tls.key'), serving.keyPem);
  const objects = await rendered({ replicaApi: { tls: { certManager: false, existingSecret: 'replica-api-own-tls', caBundle: serving.caPem } } });
  assert.deepEqual(objects.map((o) => o.kind).sort(), ['APIService', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'RoleBinding', 'Service', 'ServiceAccount']);
  await applyManifests(admin, objects, FM);
  const stored = await apiGet(`/apis/apiregistration.k8s.io/v1/apiservices/${REPLICA_APISERVICE_NAME}`);
  assert.equal((stored.body['spec'] as { caBundle: string }).caBundle, Buffer.from(serving.caPem).toString('base64'));

  // No kube-proxy or kubelet: the Service becomes the loopback address and the APIService its port.
  const port = await freePort();
  const svc = one(objects, 'Service');
  await admin.delete({ group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true }, svc.metadata.name, ns);
  const api = one(objects, 'APIService');
  await applyManifests(admin, [
    { apiVersion: 'v1', kind: 'Service', metadata: svc.metadata, spec: { type: 'ExternalName', externalName: '127.0.0.1' } },
    { ...api, spec: { ...(api['spec'] as object), service: { ...((api['spec'] as { service: object }).service), port } } },
  ], FM);

  const token = await cp.kube.create(`/api/v1/namespaces/${ns}/serviceaccounts/threatmesh-replica-api/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'sa',
    clusters: [{ name: 'test', cluster: { server: cp.target.server, 'certificate-authority-data': Buffer.from(cp.target.ca ?? '').toString('base64') } }],
    users: [{ name: 'sa', user: { token: (token.body as { status: { token: string } }).status.token } }],
    contexts: [{ name: 'sa', context: { cluster: 'test', user: 'sa' } }],
  }));
  const container = (one(objects, 'Deployment')['spec'] as { template: { spec: { containers: Array<{ args: string[] }> } } }).template.spec.containers[0];
  await startServer(container?.args ?? [], kubeconfig, port);

  const ready = await eventually(() => apiGet(`/apis/apiregistration.k8s.io/v1/apiservices/${REPLICA_APISERVICE_NAME}`), (r) => JSON.stringify(r.body).includes('"type":"Available","status":"True"'), 60_000);
  assert.match(JSON.stringify(ready.body), /"type":"Available","status":"True"/, `the APIService never became Available:\n${JSON.stringify(ready.body)}\n${serverLog}`);

  assert.equal((await apiGet(`${BASE}?limit=5`, 'mallory')).status, 403, 'a user without the reader role');
  await applyManifests(admin, [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'alice-reads', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: one(objects, 'ClusterRole').metadata.name }, subjects: [{ kind: 'User', name: 'alice' }] }] as unknown as KubeObject[], FM);
  const listed = await eventually(() => apiGet(BASE, 'alice'), (r) => r.status === 200, 15_000);
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.equal((listed.body['items'] as unknown[]).length, COUNT);
  const name = indicatorObjectName({ type: 'domain', value: 'h3.install-replica.example' });
  const got = await apiGet(`${BASE}/${name}`, 'alice');
  assert.equal(got.status, 200, JSON.stringify(got.body));
  assert.equal((got.body['status'] as { phase: string }).phase, 'Approved');

  // The rendered --metrics-bind listener: the reads above, readiness from a real database ping.
  const text = (await scrape(`${metricsUrl}/metrics`)).text;
  for (const [verb, code] of [['list', '200'], ['get', '200']] as const) {
    assert.equal(sampleSum(text, 'threatmesh_replica_api_requests_total', { verb, resource: 'threatindicators', code }), 1, `${verb} ${code}`);
  }
  assert.equal(sampleSum(text, 'threatmesh_replica_api_list_items_sum'), COUNT);
  assert.equal(sampleSum(text, 'threatmesh_replica_api_ready'), 1);
  assert.equal((await scrape(`${metricsUrl}/readyz`)).status, 200);
});

test('the rendered grants are the delegation and the read, nothing more', async () => {
  const cases: ReadonlyArray<[string, string, string, string, string | undefined, string | undefined, boolean]> = [
    ['replica API: SubjectAccessReviews (system:auth-delegator)', SA, 'create', 'authorization.k8s.io/subjectaccessreviews', undefined, undefined, true],
    ['replica API: TokenReviews (system:auth-delegator)', SA, 'create', 'authentication.k8s.io/tokenreviews', undefined, undefined, true],
    ['replica API: the front proxy\'s settings', SA, 'get', '/configmaps', 'kube-system', 'extension-apiserver-authentication', true],
    // serve/replicatrust.ts lists and watches it (field selector on the name) to follow a rotated front-proxy CA.
    ['replica API: watches the front proxy\'s settings', SA, 'watch', '/configmaps', 'kube-system', 'extension-apiserver-authentication', true],
    ['replica API: lists the front proxy\'s settings', SA, 'list', '/configmaps', 'kube-system', 'extension-apiserver-authentication', true],
    ['replica API: watches no other ConfigMap of kube-system', SA, 'watch', '/configmaps', 'kube-system', undefined, false],
    ['replica API: no other ConfigMap of kube-system', SA, 'get', '/configmaps', 'kube-system', 'kubeadm-config', false],
    ['replica API: no Secrets', SA, 'list', '/secrets', ns, undefined, false],
    ['replica API: no writes of the working set', SA, 'create', 'threatmesh.io/threatindicators', ns, undefined, false],
    ['replica API: not a reader itself', SA, 'list', 'replica.threatmesh.io/threatindicators', ns, undefined, false],
    ['reader: lists the full set', 'alice', 'list', 'replica.threatmesh.io/threatindicators', ns, undefined, true],
    ['reader: reads the working set', 'alice', 'watch', 'threatmesh.io/threatindicators', ns, undefined, true],
    ['reader: cannot vote (patch)', 'alice', 'patch', 'threatmesh.io/threatindicators', ns, undefined, false],
    ['reader: only where bound', 'alice', 'list', 'replica.threatmesh.io/threatindicators', 'default', undefined, false],
  ];
  for (const [what, user, verb, gr, namespace, name, expected] of cases) {
    const [group = '', resource = ''] = gr.split('/');
    assert.equal(await may(user, { verb, group, resource, namespace, name }), expected, what);
  }
});

test('without the auth-delegator binding the server cannot authorize anyone (the binding is needed)', async () => {
  const list: Ask = { verb: 'list', group: 'replica.threatmesh.io', resource: 'threatindicators', namespace: ns };
  await applyManifests(admin, [{ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'bob-reads', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'threatmesh-indicator-reader' }, subjects: [{ kind: 'User', name: 'bob' }] }] as unknown as KubeObject[], FM);
  await eventually(() => may('bob', list), (ok) => ok, 15_000);
  assert.equal((await apiGet(`${BASE}?limit=1`, 'bob')).status, 200, 'bob reads while the server may ask');
  await admin.delete({ group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false }, 'threatmesh-replica-api-auth-delegator');
  const sar: Ask = { verb: 'create', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' };
  assert.equal(await eventually(() => may(SA, sar), (ok) => !ok, 15_000), false, 'the binding is gone');
  // A different namespace-scoped ask than bob's cached one: `get` by name is a new review.
  const r = await apiGet(`${BASE}/${indicatorObjectName({ type: 'domain', value: 'h4.install-replica.example' })}`, 'bob');
  assert.equal(r.status, 500, JSON.stringify(r.body));
  assert.match(String(r.body['message']), /SubjectAccessReview failed.*system:auth-delegator/, 'the answer says what to fix');
  assert.match(serverLog, /replica api authorization failed.*subjectaccessreviews/i, 'the server logs the refused review');
  const text = (await scrape(`${metricsUrl}/metrics`)).text;
  assert.ok(sampleSum(text, 'threatmesh_replica_api_authorization_total', { decision: 'error' }) >= 1, 'the failed review is counted');
  assert.ok(sampleSum(text, 'threatmesh_replica_api_requests_total', { verb: 'get', resource: 'threatindicators', code: '500' }) >= 1, 'and its 500');
});

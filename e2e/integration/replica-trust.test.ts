/**
 * The replica API follows a rotated front-proxy CA without a restart (serve/replicatrust.ts), on
 * a real kube-apiserver and FerretDB. The rotation is done as an administrator does it: the API
 * server's request-header CA file and proxy client certificate are replaced by ones of a new CA
 * (kube-apiserver reloads both files), and once the API server has published the new CA,
 * kube-system/extension-apiserver-authentication is deleted so it is republished without the old
 * CA (the API server otherwise keeps every CA it ever published in it). Before: requests
 * through the API server succeed, and a client certificate of the new CA is refused. After:
 * requests through the API server succeed again (the server trusts the new CA, the API server
 * presents its certificate), the new CA's certificate is accepted and the old CA's refused; the
 * reload is counted and logged. A ConfigMap without a CA is refused and the old trust kept; a
 * connection opened under the old CA is not trusted after the rotation. Without the watch the server would answer the rotated API
 * server 401 until restarted, so the first assertion after the rotation fails.
 */
import { after, before, test } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { Agent } from 'node:https';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
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
import { AccessReviewer, CONFIGMAPS, REQUEST_HEADER_CONFIGMAP, issuedByOneOf, loadRequestHeaderConfig, pemCertificates } from '../../operator/src/serve/replicaauth.ts';
import { startReplicaApi, type RunningReplicaApi } from '../../operator/src/serve/replicaapi.ts';
import { ReplicaApiMetrics } from '../../operator/src/serve/replicametrics.ts';
import { watchRequestHeader, type RequestHeaderWatch } from '../../operator/src/serve/replicatrust.ts';
import { NamedIndicatorPages } from '../../operator/src/store/indicatornames.ts';
import { INDICATORS, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { sampleSum } from '../harness/metrics.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';

const root = new URL('../../', import.meta.url);
const suffix = uniqueSuffix();
const ns = `replica-trust-${suffix}`;
const NAME = indicatorObjectName({ type: 'domain', value: 'rotated.example' });
const BASE = `/apis/replica.threatmesh.io/v1alpha1/namespaces/${ns}/threatindicators`;

let cp: ControlPlane;
let admin: KubeHttpClient;
let mongo: MongoClient;
let db: Db;
let pages: NamedIndicatorPages;
let server: RunningReplicaApi;
let watch: RequestHeaderWatch;
let metrics: ReplicaApiMetrics;
let pkiDir: string;
/** The API server's front-proxy files (pki/front-proxy of the local control plane). */
let frontProxy: string;
const lines: string[] = [];
const log = createLogger(new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString()); cb(); } }), 'info', { component: 'replica-trust-test' });

type Pem = { certPem: string; keyPem: string };

/** A direct call to the replica API as the front proxy would make it, with `client`'s certificate. */
function direct(client: Pem, agent: Agent | false = false): Promise<ApiAnswer> {
  return sendJson(new URL(`https://127.0.0.1:${server.port}${BASE}/${NAME}`), {
    rejectUnauthorized: false, cert: client.certPem, key: client.keyPem, agent,
    headers: { 'x-remote-user': 'rotation-admin', 'x-remote-group': 'system:masters', accept: 'application/json' },
  });
}

function throughApiServer(): Promise<ApiAnswer> {
  return apiRequest(cp.target, `${BASE}/${NAME}`, { accept: 'application/json' });
}

async function published(): Promise<string> {
  const cm = await admin.get<KubeObject & { data?: Record<string, string> }>(CONFIGMAPS, REQUEST_HEADER_CONFIGMAP.name, REQUEST_HEADER_CONFIGMAP.namespace);
  return cm?.data?.['requestheader-client-ca-file'] ?? '';
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  if (cp.dir === undefined) return;
  frontProxy = join(cp.dir, 'pki', 'front-proxy');
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  const crds = parseManifests(await readFile(new URL('crds/threatmesh.io_threatindicators.yaml', root), 'utf8'), 'crd');
  await applyManifests(admin, [...crds, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }], 'replica-trust-test');
  mongo = await MongoClient.connect(cp.mongoUri);
  db = mongo.db(`replica_trust_${suffix}`);
  const digest = indicatorDigest({ type: 'domain', value: 'rotated.example' });
  await db.collection<IndicatorRecord>(INDICATORS).insertOne({ _id: digest, digest, name: NAME, type: 'domain', value: 'rotated.example', state: 'active', logIndex: 1, proposerId: 'a', votes: [] });
  pkiDir = await mkdtemp(join(tmpdir(), 'threatmesh-replica-trust-'));
  const serving = await readTlsMaterial(await (await LocalCa.open(join(pkiDir, 'serving'), 'replica-api-ca', 1)).issue('threatmesh-replica-api', 'server', '', [`DNS:threatmesh-replica-api.${ns}.svc`]));
  pages = new NamedIndicatorPages(db, { clock: systemClock });
  metrics = new ReplicaApiMetrics(() => []);
  // Wired as cli/replicaapi.ts wires them.
  const requestHeader = await loadRequestHeaderConfig(admin);
  server = await startReplicaApi({
    records: pages, namespace: ns, requestHeader, reviewer: new AccessReviewer(admin, () => Date.now(), 1000),
    cert: serving.certPem, key: serving.keyPem, now: () => new Date(), log, metrics,
  }, '127.0.0.1', 0);
  watch = watchRequestHeader({ client: admin, log, metrics, initial: requestHeader, apply: (cfg) => server.reloadRequestHeader(cfg), resyncMs: 5_000 });
  await watch.synced();
  await applyManifests(admin, replicaApiObjects({ namespace: ns, caPem: serving.caPem, backend: { kind: 'loopback', port: server.port } }), 'replica-trust-test');
  await eventually(() => throughApiServer(), (r) => r.status === 200, 60_000);
});

after(async () => {
  await admin?.delete({ group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices', kind: 'APIService', namespaced: false }, 'v1alpha1.replica.threatmesh.io').catch(() => undefined);
  await watch?.stop();
  await server?.stop();
  await pages?.close();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  admin?.close();
  await cp?.stop();
  if (pkiDir) await rm(pkiDir, { recursive: true, force: true });
});

test('a rotated front-proxy CA is trusted without a restart, and the old CA is refused after it', { timeout: 300_000 }, async (t) => {
  if (cp.dir === undefined) {
    t.skip('needs the local control plane: the test rotates the API server\'s front-proxy CA files');
    return;
  }
  const oldClient = await readTlsMaterial({ caPath: join(frontProxy, 'ca.pem'), certPath: join(frontProxy, 'front-proxy-client-client.pem'), keyPath: join(frontProxy, 'front-proxy-client-client.key') });
  const newCa = await LocalCa.open(join(pkiDir, 'rotated'), 'threatmesh-front-proxy-ca-2', 30);
  const newFiles = await newCa.issue('front-proxy-client', 'client');
  const newClient = await readTlsMaterial(newFiles);

  // Before: the API server (old CA) is served; so is a direct call with the old CA's certificate; the new CA is not trusted yet.
  assert.equal((await throughApiServer()).status, 200);
  assert.equal((await direct(oldClient)).status, 200);
  assert.equal((await direct(newClient)).status, 401);
  // A kept-alive connection of the old CA, opened before the rotation.
  const kept = new Agent({ keepAlive: true, maxSockets: 1 });
  assert.equal((await direct(oldClient, kept)).status, 200);

  // A ConfigMap without a request-header CA (here: an edit the API server soon undoes) is refused; the trust stays.
  const cm = await admin.get<KubeObject & { data?: Record<string, string> }>(CONFIGMAPS, REQUEST_HEADER_CONFIGMAP.name, REQUEST_HEADER_CONFIGMAP.namespace);
  const { ['requestheader-client-ca-file']: _ca, ...withoutCa } = cm!.data ?? {};
  await admin.update(CONFIGMAPS, { ...cm!, data: withoutCa });
  await eventually(() => metrics.registry.metrics(), (text) => sampleSum(text, 'threatmesh_replica_api_front_proxy_trust_reloads_total', { result: 'refused' }) >= 1, 30_000);
  assert.equal((await throughApiServer()).status, 200, 'the refused ConfigMap kept the old trust');

  // The rotation: the API server's files in place (it reloads them), then the ConfigMap republished without the old CA.
  await copyFile(newFiles.certPath, join(frontProxy, 'front-proxy-client-client.pem'));
  await copyFile(newFiles.keyPath, join(frontProxy, 'front-proxy-client-client.key'));
  await writeFile(join(frontProxy, 'ca.pem'), newClient.caPem);
  const merged = await eventually(() => published(), (ca) => ca.includes(newClient.caPem.trim()), 120_000);
  assert.ok(merged.includes(newClient.caPem.trim()), 'the API server never published the new front-proxy CA');
  await admin.delete(CONFIGMAPS, REQUEST_HEADER_CONFIGMAP.name, REQUEST_HEADER_CONFIGMAP.namespace);
  const republished = await eventually(() => published(), (ca) => ca.includes(newClient.caPem.trim()) && !ca.includes(oldClient.caPem.trim()), 120_000);
  assert.ok(!republished.includes(oldClient.caPem.trim()), 'the API server republished the old CA');

  // After: no restart; the API server's requests (new certificate) are served, the old CA's certificate is refused.
  const after = await eventually(() => throughApiServer(), (r) => r.status === 200, 60_000);
  assert.equal(after.status, 200, `through the API server after the rotation: ${JSON.stringify(after.body)}`);
  assert.equal((await direct(newClient)).status, 200, 'the new CA\'s certificate after the rotation');
  const refused = await direct(oldClient);
  assert.equal(refused.status, 401, `the old CA's certificate after the rotation: ${JSON.stringify(refused.body)}`);
  assert.equal((await direct(oldClient, kept)).status, 401, 'a connection opened under the old CA is not trusted after the rotation');
  kept.destroy();
  const now = new Date();
  assert.deepEqual([newClient, oldClient].map((c) => issuedByOneOf(new X509Certificate(c.certPem), pemCertificates(republished), now)), [true, false]);

  const text = await metrics.registry.metrics();
  assert.ok(sampleSum(text, 'threatmesh_replica_api_front_proxy_trust_reloads_total', { result: 'applied' }) >= 1, text);
  assert.ok(sampleSum(text, 'threatmesh_replica_api_front_proxy_trust_reloads_total', { result: 'refused' }) >= 1);
  const reloads = lines.map((l) => JSON.parse(l) as { msg: string; caCertificates?: string[] }).filter((l) => l.msg === 'reloaded the front-proxy trust');
  assert.ok(reloads.length >= 1, lines.join(''));
  assert.ok(reloads.at(-1)!.caCertificates!.some((s) => s.includes('threatmesh-front-proxy-ca-2')), JSON.stringify(reloads.at(-1)));
});

/**
 * The generated analyst ClusterRole on a real kube-apiserver, used through a ServiceAccount token
 * bound by RoleBinding in one namespace: the analyst reads ThreatIndicators and annotates one
 * with a vote, and is refused (403) writing status, deleting, creating, and acting in another
 * namespace; config/rbac/analyst.yaml holds exactly the generated role.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { ANALYST_NAME, analystClusterRole } from '../../operator/src/api/manifests.ts';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { ApiError } from '../../operator/src/runtime/client.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';

const root = new URL('../../', import.meta.url);
const suffix = uniqueSuffix();
const ns = `analyst-${suffix}`;
const otherNs = `analyst-other-${suffix}`;
// A per-run ClusterRole name: integration files share one API server.
const roleName = `${ANALYST_NAME}-${suffix}`;
const value = '203.0.113.77';
const name = indicatorObjectName({ type: 'ipv4', value });

let cp: ControlPlane;
let admin: KubeHttpClient;
let analyst: KubeHttpClient;

const ti = (namespace: string): ThreatIndicator => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace }, spec: { type: 'ipv4', value } });

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    throw err;
  }
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ mongo: false }));
  const cfg = await loadKubeconfig(cp.kubeconfigPath);
  admin = new KubeHttpClient(cfg, { requestTimeoutMs: 15_000 });
  const crds: KubeObject[] = [];
  for (const f of ['threatmesh.io_feeds.yaml', 'threatmesh.io_threatindicators.yaml', 'threatmesh.io_partnernodes.yaml']) crds.push(...parseManifests(await readFile(new URL(`crds/${f}`, root), 'utf8'), f));
  await applyManifests(admin, crds, 'analyst-rbac-test');
  await applyManifests(admin, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: otherNs } },
    analystClusterRole(roleName) as unknown as KubeObject,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'alice', namespace: ns } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'alice', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName }, subjects: [{ kind: 'ServiceAccount', name: 'alice', namespace: ns }] } as unknown as KubeObject,
  ], 'analyst-rbac-test');
  await admin.create(THREAT_INDICATORS, ti(ns));
  await admin.create(THREAT_INDICATORS, ti(otherNs));
  const r = await cp.kube.create(`/api/v1/namespaces/${ns}/serviceaccounts/alice/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const token = (r.body as { status: { token: string } }).status.token;
  analyst = new KubeHttpClient({ server: cfg.server, ...(cfg.ca ? { ca: cfg.ca } : { insecureSkipTlsVerify: true }), token, source: 'analyst token' }, { requestTimeoutMs: 15_000 });
});

after(async () => {
  analyst?.close();
  admin?.close();
  await cp?.stop();
});

test('config/rbac/analyst.yaml holds exactly the generated analyst ClusterRole', async () => {
  const onDisk = parseManifests(await readFile(new URL('config/rbac/analyst.yaml', root), 'utf8')).find((o) => o.kind === 'ClusterRole') as unknown as { rules: unknown };
  assert.deepEqual(onDisk.rules, (analystClusterRole() as { rules: unknown }).rules, 'config/rbac/analyst.yaml is stale: run npm run generate');
});

test('an analyst reads indicators and votes by annotation in the bound namespace', async () => {
  assert.equal((await analyst.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns })).items.length, 1);
  const voted = await analyst.patch<ThreatIndicator>(THREAT_INDICATORS, name, ns, { metadata: { annotations: { 'threatmesh.io/vote': 'approve', 'threatmesh.io/vote-reason': 'seen in our proxy logs' } } });
  assert.equal(voted.metadata.annotations?.['threatmesh.io/vote'], 'approve');
});

test('an analyst cannot write status, delete, create, or act in another namespace', async () => {
  assert.equal(await status(analyst.patchStatus(THREAT_INDICATORS, name, ns, { status: { phase: 'Approved' } })), 403);
  assert.equal(await status(analyst.delete(THREAT_INDICATORS, name, ns)), 403);
  assert.equal(await status(analyst.create(THREAT_INDICATORS, { ...ti(ns), metadata: { name: indicatorObjectName({ type: 'ipv4', value: '203.0.113.78' }), namespace: ns }, spec: { type: 'ipv4', value: '203.0.113.78' } })), 403);
  assert.equal(await status(analyst.patch(THREAT_INDICATORS, name, otherNs, { metadata: { annotations: { 'threatmesh.io/vote': 'approve' } } })), 403);
  assert.equal(await status(analyst.list(THREAT_INDICATORS, { namespace: otherNs })), 403);
});

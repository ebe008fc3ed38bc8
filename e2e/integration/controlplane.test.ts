/**
 * Proves the local control plane is a real Kubernetes API server: version, CRDs with CEL
 * validation and watch, core/coordination/batch/events kinds, a validating webhook served by the
 * test, RBAC with ServiceAccount tokens from the TokenRequest API, and garbage collection.
 * Set KUBECONFIG to run the same checks against another cluster.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { eventually, type Obj, type Reply, type TestKube, type WatchEvent } from '../harness/kube.ts';
import { selfSignedLoopbackCert } from '../harness/tls.ts';

const suffix = uniqueSuffix();
const ns = `tm-e2e-${suffix}`;
const group = `e2e-${suffix}.threatmesh.io`;
let cp: ControlPlane;
let kube: TestKube;

const meta = (name: string, extra: Obj = {}): Obj => ({ name, namespace: ns, ...extra });
const msg = (r: Reply): string => JSON.stringify(r.body);

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ mongo: false }));
  kube = cp.kube;
  const r = await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  assert.equal(r.status, 201, msg(r));
});

after(async () => {
  if (kube !== undefined) {
    await kube.delete(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`);
    await kube.delete(`/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${ns}`);
    await kube.delete(`/api/v1/namespaces/${ns}`);
  }
  await cp?.stop();
});

describe('kube-apiserver', () => {
  test('/version reports Kubernetes 1.36 (or, for an external cluster, 1.34 or newer)', async () => {
    const r = await kube.get('/version');
    assert.equal(r.status, 200, msg(r));
    if (cp.local) {
      assert.match(String(r.body['gitVersion']), /^v1\.36\.\d+$/);
    } else {
      assert.ok(Number.parseInt(String(r.body['minor']), 10) >= 34, msg(r));
    }
  });

  test('/readyz lists etcd as healthy', async () => {
    const r = await kube.get('/readyz?verbose');
    assert.equal(r.status, 200);
    assert.match(String(r.body['text']), /\[\+\]etcd ok/);
  });
});

describe('CustomResourceDefinition with a CEL rule', () => {
  const plural = `/apis/${group}/v1/namespaces/${ns}/widgets`;
  const widget = (name: string, replicas: number): Obj => ({
    apiVersion: `${group}/v1`, kind: 'Widget', metadata: meta(name), spec: { replicas },
  });

  before(async () => {
    const crd = await kube.create('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', widgetCrd(group));
    assert.equal(crd.status, 201, msg(crd));
    const served = await eventually(() => kube.get(plural), (r) => r.status === 200);
    assert.equal(served.status, 200, `CRD never served: ${msg(served)}`);
  });

  test('a good object is accepted and seen by a watch; a bad one is rejected with 422 and the rule message', async () => {
    const events: WatchEvent[] = [];
    const stopWatch = await kube.watch(plural, (e) => events.push(e));
    try {
      const bad = await kube.create(plural, widget('too-many', 9));
      assert.equal(bad.status, 422, msg(bad));
      assert.match(msg(bad), /replicas must be at most 5/);
      const good = await kube.create(plural, widget('fine', 3));
      assert.equal(good.status, 201, msg(good));
      await eventually(() => Promise.resolve(events), (ev) => ev.some((e) => e.type === 'ADDED'), 15_000);
      assert.deepEqual(events.map((e) => [e.type, (e.object['metadata'] as Obj)['name']]), [['ADDED', 'fine']]);
    } finally {
      stopWatch();
    }
  });

  test('status is a subresource: writes to it change status only', async () => {
    const path = `${plural}/fine`;
    const current = await kube.get(path);
    const withStatus = { ...current.body, spec: { replicas: 4 }, status: { phase: 'Ready' } };
    const r = await kube.put(`${path}/status`, withStatus);
    assert.equal(r.status, 200, msg(r));
    assert.deepEqual(r.body['status'], { phase: 'Ready' });
    assert.deepEqual(r.body['spec'], { replicas: 3 });
  });
});

describe('built-in kinds the operator uses', () => {
  const cases: { kind: string; path: string; obj: Obj }[] = [
    { kind: 'Lease', path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      obj: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta('leader'), spec: { holderIdentity: 'e2e', leaseDurationSeconds: 15 } } },
    { kind: 'Secret', path: `/api/v1/namespaces/${ns}/secrets`,
      obj: { apiVersion: 'v1', kind: 'Secret', metadata: meta('creds'), stringData: { token: 's3cret' } } },
    { kind: 'Job', path: `/apis/batch/v1/namespaces/${ns}/jobs`,
      obj: { apiVersion: 'batch/v1', kind: 'Job', metadata: meta('ingest'), spec: { template: { spec: {
        restartPolicy: 'Never', containers: [{ name: 'ingest', image: 'threatmesh:test', args: ['ingest'] }] } } } } },
    { kind: 'Event', path: `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
      obj: { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: meta('ev1'), eventTime: microTime(new Date()),
        reportingController: 'threatmesh.io/e2e', reportingInstance: 'e2e', action: 'Test', reason: 'Tested', type: 'Normal',
        regarding: { kind: 'Lease', name: 'leader', namespace: ns, apiVersion: 'coordination.k8s.io/v1' }, note: 'integration test' } },
  ];
  for (const c of cases) {
    test(`${c.kind}: create then get`, async () => {
      const created = await kube.create(c.path, c.obj);
      assert.equal(created.status, 201, msg(created));
      const name = (c.obj['metadata'] as Obj)['name'] as string;
      const got = await kube.get(`${c.path}/${name}`);
      assert.equal(got.status, 200, msg(got));
      assert.equal((got.body['metadata'] as Obj)['uid'], (created.body['metadata'] as Obj)['uid']);
    });
  }

  test('Secret data round-trips base64-encoded', async () => {
    const got = await kube.get(`/api/v1/namespaces/${ns}/secrets/creds`);
    assert.equal(Buffer.from(String((got.body['data'] as Obj)['token']), 'base64').toString(), 's3cret');
  });
});

describe('validating admission webhook served by the test', () => {
  let server: Server;

  before(async () => {
    const tls = await selfSignedLoopbackCert();
    server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string; object: { metadata: { labels?: Record<string, string> } } } };
        const deny = review.request.object.metadata.labels?.['deny'] === 'true';
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: {
          uid: review.request.uid, allowed: !deny, ...(deny ? { status: { code: 403, message: 'threatmesh e2e webhook says no' } } : {}) } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const r = await kube.create('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', webhookConfig(ns, port, tls.cert));
    assert.equal(r.status, 201, msg(r));
  });

  after(async () => {
    await kube.delete(`/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${ns}`);
    await new Promise((resolve) => server?.close(resolve));
  });

  test('a ConfigMap labelled deny=true is refused with the webhook message; others pass', async () => {
    const cm = (name: string, deny: boolean): Obj => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(name, { labels: { deny: String(deny) } }) });
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    // The apiserver picks up new webhook configurations asynchronously.
    const refused = await eventually(() => kube.create(path, cm(`denied-${uniqueSuffix()}`, true)), (r) => r.status !== 201);
    assert.equal(refused.status, 403, msg(refused));
    assert.match(msg(refused), /threatmesh e2e webhook says no/);
    const allowed = await kube.create(path, cm('allowed', false));
    assert.equal(allowed.status, 201, msg(allowed));
  });
});

describe('RBAC with ServiceAccount tokens', () => {
  test('a token from the TokenRequest API may read ConfigMaps (its Role) but not Secrets', async () => {
    const sa = await kube.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('reader') });
    assert.equal(sa.status, 201, msg(sa));
    const role = await kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta('configmap-reader'),
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }] });
    assert.equal(role.status, 201, msg(role));
    const binding = await kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta('reader'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }] });
    assert.equal(binding.status, 201, msg(binding));
    const tr = await kube.create(`/api/v1/namespaces/${ns}/serviceaccounts/reader/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } });
    assert.equal(tr.status, 201, msg(tr));
    const asReader = kube.withToken(String((tr.body['status'] as Obj)['token']));
    const allowed = await eventually(() => asReader.get(`/api/v1/namespaces/${ns}/configmaps`), (r) => r.status === 200);
    assert.equal(allowed.status, 200, msg(allowed));
    const forbidden = await asReader.get(`/api/v1/namespaces/${ns}/secrets`);
    assert.equal(forbidden.status, 403, msg(forbidden));
    assert.match(msg(forbidden), new RegExp(`system:serviceaccount:${ns}:reader`));
  });
});

describe('garbage collector', () => {
  test('deleting an owner deletes its dependents (owner-reference cascade)', async () => {
    const path = `/api/v1/namespaces/${ns}/configmaps`;
    const owner = await kube.create(path, { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('owner') });
    assert.equal(owner.status, 201, msg(owner));
    const uid = (owner.body['metadata'] as Obj)['uid'];
    const dep = await kube.create(path, { apiVersion: 'v1', kind: 'ConfigMap',
      metadata: meta('dependent', { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid }] }) });
    assert.equal(dep.status, 201, msg(dep));
    assert.equal((await kube.delete(`${path}/owner`)).status, 200);
    const gone = await eventually(() => kube.get(`${path}/dependent`), (r) => r.status === 404, 60_000);
    assert.equal(gone.status, 404, `dependent still exists: ${msg(gone)}`);
  });

  test('a deleted namespace finishes terminating (namespace controller)', async () => {
    const name = `${ns}-gone`;
    assert.equal((await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })).status, 201);
    assert.equal((await kube.create(`/api/v1/namespaces/${name}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } })).status, 201);
    await kube.delete(`/api/v1/namespaces/${name}`);
    const gone = await eventually(() => kube.get(`/api/v1/namespaces/${name}`), (r) => r.status === 404, 60_000);
    assert.equal(gone.status, 404, `namespace still present: ${msg(gone)}`);
  });
});

function widgetCrd(g: string): Obj {
  return {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `widgets.${g}` },
    spec: {
      group: g, scope: 'Namespaced', names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [{
        name: 'v1', served: true, storage: true, subresources: { status: {} },
        schema: { openAPIV3Schema: { type: 'object', properties: {
          spec: { type: 'object', required: ['replicas'], properties: { replicas: { type: 'integer' } },
            'x-kubernetes-validations': [{ rule: 'self.replicas <= 5', message: 'replicas must be at most 5' }] },
          status: { type: 'object', properties: { phase: { type: 'string' } } },
        } } },
      }],
    },
  };
}

function webhookConfig(namespace: string, port: number, caPem: string): Obj {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: namespace },
    webhooks: [{
      name: `deny.${namespace}.e2e.threatmesh.io`, admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 5,
      clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle: Buffer.from(caPem).toString('base64') },
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
      // Only labelled objects go to the webhook, so later tests do not depend on its server.
      objectSelector: { matchExpressions: [{ key: 'deny', operator: 'Exists' }] },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'], scope: 'Namespaced' }],
    }],
  };
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits (milliseconds are refused). */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

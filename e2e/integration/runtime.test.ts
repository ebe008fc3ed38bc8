/**
 * The controller runtime against a real kube-apiserver: the HTTPS client (CRUD, status
 * subresource, server-side apply), informers (initial sync, events, watch interruption, 410 Gone
 * re-list), and leader election between two managers in this process.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { withLeaseClient } from '../../operator/src/cli/flags.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ApiError, type WatchEvent } from '../../operator/src/runtime/client.ts';
import { eventsResource, KubeEventRecorder } from '../../operator/src/runtime/events.ts';
import { finalize } from '../../operator/src/runtime/finalizer.ts';
import { Informer } from '../../operator/src/runtime/informer.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { leaseResource, microTime, type Lease } from '../../operator/src/runtime/leader.ts';
import { Manager, STOP_GRACE_MS } from '../../operator/src/runtime/manager.ts';
import { applyManifests, crdResource } from '../../operator/src/runtime/manifest.ts';
import { RuntimeMetrics } from '../../operator/src/runtime/metrics.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const log = process.env['RUNTIME_TEST_LOG'] ? createLogger(process.stderr, 'debug') : quiet;

const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const widgets: ResourceRef = { group: 'runtime-test.threatmesh.io', version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: true };

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.runtime-test.threatmesh.io' },
  spec: {
    group: 'runtime-test.threatmesh.io',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [{
      name: 'v1', served: true, storage: true,
      subresources: { status: {} },
      schema: { openAPIV3Schema: { type: 'object', properties: {
        spec: { type: 'object', properties: { size: { type: 'integer' } } },
        status: { type: 'object', properties: { phase: { type: 'string' } } },
      } } },
    }],
  },
};

let cp: ControlPlane;
let client: KubeHttpClient;
const ns = `rt-${randomBytes(3).toString('hex')}`;

before(async () => {
  cp = await startControlPlane({
    kubeconfig: process.env['KUBECONFIG'],
    mongo: false,
    cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'),
  });
  client = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await client.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});

after(async () => {
  if (client) {
    await client.delete(namespaces, ns).catch(() => undefined);
    await client.delete(crdResource, widgetCrd.metadata.name).catch(() => undefined);
    client.close();
  }
  await cp?.stop();
});

async function ensureWidgets(): Promise<void> {
  await applyManifests(client, [widgetCrd], 'runtime-test');
}

function widget(name: string, size: number, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'runtime-test.threatmesh.io/v1', kind: 'Widget', metadata: { name, namespace: ns, labels }, spec: { size } };
}

function cm(name: string, data: Record<string, string> = {}, labels: Record<string, string> = {}): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels }, data };
}

/** Polls `cond` every 50 ms until true; fails with `what` after `ms`. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function expectApiError(p: Promise<unknown>, status: number, reason: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    assert.equal(err.status, status);
    assert.equal(err.reason, reason);
    return true;
  });
}

describe('KubeHttpClient', () => {
  test('ConfigMap create, get, list, update with optimistic concurrency, merge patch, apply, delete', async () => {
    const created = await client.create(configMaps, cm('crud', { a: '1' }, { suite: 'crud' }));
    assert.ok(created.metadata.uid);
    await expectApiError(client.create(configMaps, cm('crud')), 409, 'AlreadyExists');

    const got = await client.get<ConfigMap>(configMaps, 'crud', ns);
    assert.deepEqual(got?.data, { a: '1' });
    assert.equal(await client.get(configMaps, 'absent', ns), undefined);

    const listed = await client.list<ConfigMap>(configMaps, { namespace: ns, labelSelector: 'suite=crud' });
    assert.deepEqual(listed.items.map((i) => i.metadata.name), ['crud']);
    assert.ok(listed.metadata.resourceVersion);

    const updated = await client.update<ConfigMap>(configMaps, { ...created, data: { a: '2' } });
    assert.deepEqual(updated.data, { a: '2' });
    await expectApiError(client.update(configMaps, { ...created, data: { a: 'stale' } }), 409, 'Conflict');

    const patched = await client.patch<ConfigMap>(configMaps, 'crud', ns, { data: { b: '3' } });
    assert.deepEqual(patched.data, { a: '2', b: '3' });

    const applied = await client.apply<ConfigMap>(configMaps, cm('crud', { c: '4' }), 'runtime-test');
    assert.equal(applied.data?.['c'], '4');
    const managers = (applied.metadata as { managedFields?: { manager: string; operation: string }[] }).managedFields ?? [];
    assert.ok(managers.some((m) => m.manager === 'runtime-test' && m.operation === 'Apply'), 'apply is recorded under our field manager');

    await client.delete(configMaps, 'crud', ns);
    assert.equal(await client.get(configMaps, 'crud', ns), undefined);
    await client.delete(configMaps, 'crud', ns);
  });

  test('Lease: server-side apply creates and updates it', async () => {
    const lease: Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'apply-me', namespace: ns }, spec: { holderIdentity: 'a', leaseDurationSeconds: 5 } };
    const first = await client.apply<Lease>(leaseResource, lease, 'runtime-test');
    assert.equal(first.spec?.holderIdentity, 'a');
    const second = await client.apply<Lease>(leaseResource, { ...lease, spec: { holderIdentity: 'b', leaseDurationSeconds: 5 } }, 'runtime-test');
    assert.equal(second.spec?.holderIdentity, 'b');
    assert.equal(second.metadata.uid, first.metadata.uid);
  });

  test('CRD with status subresource: status writes go only through /status', async () => {
    await ensureWidgets();
    const w = await client.create<KubeObject>(widgets, { ...widget('w', 1), status: { phase: 'Ignored' } });
    assert.equal(w.status, undefined, 'status in a create is dropped when the status subresource is on');
    assert.equal(w.metadata.generation, 1);

    const s1 = await client.patchStatus<KubeObject>(widgets, 'w', ns, { status: { phase: 'Ready' } });
    assert.deepEqual(s1.status, { phase: 'Ready' });
    assert.equal(s1.metadata.generation, 1, 'status writes do not bump generation');

    const s2 = await client.updateStatus<KubeObject>(widgets, { ...s1, spec: { size: 99 }, status: { phase: 'Done' } });
    assert.deepEqual(s2.status, { phase: 'Done' });
    assert.deepEqual(s2.spec, { size: 1 }, 'spec changes through /status are ignored');

    const main = await client.update<KubeObject>(widgets, { ...s2, spec: { size: 2 }, status: { phase: 'Hacked' } });
    assert.deepEqual(main.status, { phase: 'Done' }, 'status changes through the main resource are ignored');
    assert.equal(main.metadata.generation, 2);
    await expectApiError(client.patchStatus(widgets, 'nope', ns, { status: {} }), 404, 'NotFound');
  });

  test('a watch from a resourceVersion older than the watch cache window is answered with 410 Gone', async () => {
    // The watch cache of a CRD starts when the CRD is first served, long after resourceVersion 1,
    // so "1" is reliably too old for it (a core kind's cache may still hold a fresh cluster's whole history).
    await ensureWidgets();
    await client.apply(widgets, widget('churn', 1), 'runtime-test');
    const abort = new AbortController();
    const events: WatchEvent<KubeObject>[] = [];
    let thrown: unknown;
    try {
      for await (const ev of client.watch<KubeObject>(widgets, { namespace: ns, resourceVersion: '1' }, abort.signal)) {
        events.push(ev);
        break;
      }
    } catch (err) {
      thrown = err;
    } finally {
      abort.abort();
    }
    const status = thrown instanceof ApiError ? thrown.status : (events[0]?.object as unknown as { code?: number } | undefined)?.code;
    assert.equal(status, 410, `expected 410 as an HTTP status or ERROR event, got ${JSON.stringify(events[0]) ?? String(thrown)}`);
  });
});

interface Recorded {
  adds: string[];
  updates: string[];
  deletes: string[];
}

function record<T extends ConfigMap>(inf: Informer<T>): Recorded {
  const r: Recorded = { adds: [], updates: [], deletes: [] };
  inf.addHandler({
    onAdd: (o) => r.adds.push(o.metadata.name),
    onUpdate: (a, b) => { if (a !== b) r.updates.push(b.data ? `${b.metadata.name}=${b.data['v'] ?? ''}` : b.metadata.name); },
    onDelete: (o) => r.deletes.push(o.metadata.name),
  });
  return r;
}

describe('Informer', () => {
  test('initial paginated sync, then add, update and delete events; Reader serves the cache', async () => {
    for (let i = 0; i < 7; i++) await client.create(configMaps, cm(`inf-${i}`, { v: '0' }, { suite: 'informer' }));
    const inf = new Informer<ConfigMap>({ client, ref: configMaps, log, namespace: ns, labelSelector: 'suite=informer', pageSize: 3 });
    const r = record(inf);
    inf.start();
    try {
      await inf.waitForSync();
      assert.equal(inf.hasSynced(), true);
      assert.equal(inf.size(), 7, 'three pages of 3, 3 and 1 objects');
      assert.equal(r.adds.length, 7);
      assert.equal(inf.get(`${ns}/inf-3`)?.kind, 'ConfigMap', 'type meta is filled in for list items');
      assert.equal((inf.get(`${ns}/inf-3`)?.metadata as { managedFields?: unknown } | undefined)?.managedFields, undefined, 'managedFields are not cached');

      await client.create(configMaps, cm('inf-new', { v: '0' }, { suite: 'informer' }));
      await client.patch(configMaps, 'inf-0', ns, { data: { v: '1' } });
      await client.delete(configMaps, 'inf-1', ns);
      await until('add, update and delete events', () => r.adds.includes('inf-new') && r.updates.includes('inf-0=1') && r.deletes.includes('inf-1'));
      assert.equal(inf.get(`${ns}/inf-1`), undefined);
      assert.deepEqual(inf.list(ns).map((o) => o.metadata.name).sort(), ['inf-0', 'inf-2', 'inf-3', 'inf-4', 'inf-5', 'inf-6', 'inf-new']);
      assert.equal(inf.list('other-namespace').length, 0);
      assert.ok(inf.lastResourceVersion() !== '');
    } finally {
      await inf.stop();
    }
  });

  test('recovers from dropped connections without losing events', async (t: TestContext) => {
    const own = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath));
    const inf = new Informer<ConfigMap>({ client: own, ref: configMaps, log, namespace: ns, labelSelector: 'suite=drop', backoffBaseMs: 100, backoffCapMs: 1000 });
    const r = record(inf);
    inf.start();
    try {
      await inf.waitForSync();
      let written = 0;
      for (let round = 0; round < 3; round++) {
        await until('the watch is connected', () => inf.stats.watches > round && own.openConnections() > 0);
        const dropped = own.dropConnections();
        // Write while the informer is disconnected: these must arrive after it reconnects.
        for (let i = 0; i < 5; i++) {
          await client.create(configMaps, cm(`drop-${written}`, { v: '0' }, { suite: 'drop' }));
          written += 1;
        }
        await client.patch(configMaps, `drop-${written - 1}`, ns, { data: { v: String(round + 1) } });
        t.diagnostic(`round ${round}: dropped ${dropped} connection(s)`);
      }
      await client.delete(configMaps, 'drop-0', ns);
      await until('every write seen', () => inf.size() === written - 1 && r.deletes.includes('drop-0'));
      const server = await client.list<ConfigMap>(configMaps, { namespace: ns, labelSelector: 'suite=drop' });
      const cached = new Map(inf.list(ns).map((o) => [o.metadata.name, o.metadata.resourceVersion]));
      assert.deepEqual(new Map(server.items.map((o) => [o.metadata.name, o.metadata.resourceVersion])), cached, 'cache equals the server');
      assert.equal(new Set(r.adds).size, written, 'an add for every object, none lost');
      assert.ok(inf.stats.watches >= 4, `re-watched after each drop (stats ${JSON.stringify(inf.stats)})`);
      assert.equal(inf.stats.lists, 1, 'resumed from the tracked resourceVersion, no re-list needed');
      t.diagnostic(`informer stats ${JSON.stringify(inf.stats)}`);
    } finally {
      await inf.stop();
      own.close();
    }
  });

  test('410 Gone: re-lists and diffs the cache, emitting deletes for vanished objects', async () => {
    await ensureWidgets();
    for (let i = 0; i < 3; i++) await client.create(widgets, widget(`gone-${i}`, 0, { suite: 'gone' }));
    const stale = [
      { ...widget('gone-0', 0, { suite: 'gone' }), metadata: { name: 'gone-0', namespace: ns, resourceVersion: '1' } },
      { ...widget('vanished', 0, { suite: 'gone' }), metadata: { name: 'vanished', namespace: ns, resourceVersion: '1' } },
    ];
    const inf = new Informer<KubeObject>({ client, ref: widgets, log, namespace: ns, labelSelector: 'suite=gone', backoffBaseMs: 100 });
    // A snapshot "from before a long outage" at resourceVersion 1, older than the watch cache window.
    inf.resumeFrom('1', stale);
    const r = record(inf);
    r.adds.length = 0;
    inf.start();
    try {
      await until('the re-list after 410', () => inf.stats.gone >= 1 && inf.stats.lists >= 1 && inf.size() === 3);
      assert.deepEqual(r.deletes, ['vanished']);
      assert.deepEqual(r.adds.sort(), ['gone-1', 'gone-2']);
      assert.deepEqual(r.updates, ['gone-0'], 'the known object is updated to the listed version');
      await client.create(widgets, widget('after-gone', 0, { suite: 'gone' }));
      await until('watching again after the re-list', () => r.adds.includes('after-gone'));
      assert.equal(inf.stats.lists, 1);
    } finally {
      await inf.stop();
    }
  });
});

describe('Runtime helpers on a real API server', () => {
  test('finalize: adds the finalizer, then on delete runs cleanup and lets the object go', async () => {
    const F = 'runtime-test.threatmesh.io/cleanup';
    await client.create(configMaps, cm('fin', { v: '0' }));
    const cleaned: string[] = [];
    const applied: string[] = [];
    const handlers = {
      apply: (o: ConfigMap) => { applied.push(o.metadata.resourceVersion ?? ''); return Promise.resolve({}); },
      cleanup: (o: ConfigMap) => { cleaned.push(o.metadata.name); return Promise.resolve(); },
    };
    const fresh = async (): Promise<ConfigMap | undefined> => client.get<ConfigMap>(configMaps, 'fin', ns);
    await finalize(client, configMaps, (await fresh()) as ConfigMap, F, handlers);
    assert.deepEqual((await fresh())?.metadata.finalizers, [F]);
    await finalize(client, configMaps, (await fresh()) as ConfigMap, F, handlers);
    assert.deepEqual((await fresh())?.metadata.finalizers, [F], 'idempotent: still one finalizer');
    assert.equal(applied.length, 2);

    await client.delete(configMaps, 'fin', ns);
    const deleting = await fresh();
    assert.ok(deleting?.metadata.deletionTimestamp, 'the finalizer holds the object');
    await finalize(client, configMaps, deleting, F, handlers);
    assert.deepEqual(cleaned, ['fin']);
    assert.equal(await fresh(), undefined, 'gone once the finalizer is removed');
    await finalize(client, configMaps, deleting, F, handlers);
    assert.deepEqual(cleaned, ['fin', 'fin'], 'a replay after deletion runs the idempotent cleanup again and treats 404 as done');
  });

  test('events: one Event per distinct message, repeats counted', async () => {
    const target = await client.create(configMaps, cm('evented'));
    const recorder = new KubeEventRecorder({ writer: client, log, component: 'runtime-test' });
    await recorder.event(target, 'Warning', 'InvalidSpec', 'spec.url must be https');
    await recorder.event(target, 'Warning', 'InvalidSpec', 'spec.url must be https');
    await recorder.event(target, 'Normal', 'Reconciled', 'ok');
    const list = await client.list<KubeObject & { reason?: string; count?: number; involvedObject?: { uid?: string } }>(eventsResource, { namespace: ns, fieldSelector: `involvedObject.name=evented` });
    const byReason = new Map(list.items.map((e) => [e.reason, e]));
    assert.equal(list.items.length, 2);
    assert.equal(byReason.get('InvalidSpec')?.count, 2);
    assert.equal(byReason.get('Reconciled')?.count, 1);
    assert.equal(byReason.get('InvalidSpec')?.involvedObject?.uid, target.metadata.uid);
    // Recording against a namespace that does not exist fails on the server but never throws.
    await recorder.event({ ...target, metadata: { ...target.metadata, namespace: 'no-such-namespace' } }, 'Normal', 'X', 'y');
  });

  test('informer resync re-delivers every cached object', async () => {
    await client.create(configMaps, cm('resync-a', {}, { suite: 'resync' }));
    const inf = new Informer<ConfigMap>({ client, ref: configMaps, log, namespace: ns, labelSelector: 'suite=resync', resyncMs: 200 });
    let resyncs = 0;
    inf.addHandler({ onUpdate: (a, b) => { if (a === b) resyncs += 1; } });
    inf.start();
    try {
      await until('two resyncs', () => resyncs >= 2);
    } finally {
      await inf.stop();
    }
  });

  test('manager serves /metrics, /healthz and /readyz and stops cleanly', async () => {
    const metrics = new RuntimeMetrics();
    const manager = new Manager({ client, log, metrics, health: { port: 0 } });
    const informer = manager.informer<ConfigMap>(configMaps, { namespace: ns, labelSelector: 'suite=manager' });
    await client.create(configMaps, cm('managed', {}, { suite: 'manager' }));
    const seen: string[] = [];
    manager.controller<ConfigMap>({
      name: 'configmap', informer,
      reconciler: { reconcile: (_ctx, key) => { seen.push(key); return Promise.resolve({}); } },
      context: { log, now: () => new Date(), recorder: { event: () => Promise.resolve() } },
    });
    await manager.start();
    try {
      const base = `http://127.0.0.1:${manager.healthPort ?? 0}`;
      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      await until('reconciled', () => seen.includes(`${ns}/managed`));
      const text = await (await fetch(`${base}/metrics`)).text();
      assert.match(text, /controller_runtime_reconcile_total\{controller="configmap",result="success"\} [1-9]/);
      assert.match(text, /workqueue_adds_total\{name="configmap"\} [1-9]/);
    } finally {
      await manager.stop();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${manager.healthPort ?? 0}/healthz`), 'the health server is closed after stop');
  });
});

describe('Manager start-up errors', () => {
  test('caches that cannot sync (kind not served) fail start() with a message naming the resource', async () => {
    const manager = new Manager({ client, log, metrics: new RuntimeMetrics(), cacheSyncTimeoutMs: 1500 });
    manager.informer({ group: 'missing.threatmesh.io', version: 'v1', plural: 'gizmos', kind: 'Gizmo', namespaced: true }, { backoffBaseMs: 100 });
    await assert.rejects(manager.start(), /caches did not sync within 1500 ms: gizmos\.missing\.threatmesh\.io; are the CRDs installed/);
  });
});

describe('Leader election', () => {
  interface Replica {
    id: string;
    manager: Manager;
    reconciled: string[];
    informer: Informer<ConfigMap>;
  }

  function replica(id: string, lease: string): Replica {
    const metrics = new RuntimeMetrics();
    const manager = new Manager({
      client, log: log.child({ replica: id }), metrics,
      leaderElection: { name: lease, namespace: ns, identity: id, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 },
      shutdownTimeoutMs: 5000,
    });
    const informer = manager.informer<ConfigMap>(configMaps, { namespace: ns, labelSelector: `lease=${lease}` });
    const reconciled: string[] = [];
    manager.controller<ConfigMap>({
      name: `cm-${id}`, informer,
      reconciler: { reconcile: (_ctx, key) => { reconciled.push(key); return Promise.resolve({}); } },
      context: { log, now: () => new Date(), recorder: { event: () => Promise.resolve() } },
    });
    return { id, manager, reconciled, informer };
  }

  async function holder(lease: string): Promise<Lease | undefined> {
    return client.get<Lease>(leaseResource, lease, ns);
  }

  /** Someone else takes the Lease by force: its holder's renewals now see another holder and fail. */
  async function steal(lease: string): Promise<void> {
    const cur = await holder(lease);
    assert.ok(cur);
    await client.update<Lease>(leaseResource, { ...cur, spec: { ...cur.spec, holderIdentity: 'intruder', leaseDurationSeconds: 60, renewTime: microTime(Date.now()) } });
  }

  async function assertReleased(lease: string): Promise<void> {
    const released = await holder(lease);
    // b may already have taken it; otherwise it is released (no holder, 1-second duration).
    if (released?.spec?.holderIdentity === 'b') return;
    assert.equal(released?.spec?.holderIdentity, undefined, 'released: no holder');
    assert.equal(released?.spec?.leaseDurationSeconds, 1);
  }

  async function failover(t: TestContext, lease: string, release: boolean): Promise<number> {
    await client.create(configMaps, cm(`${lease}-obj`, {}, { lease }));
    const a = replica('a', lease);
    const b = replica('b', lease);
    await a.manager.start();
    await until('a leads', () => a.manager.isLeader());
    await b.manager.start();
    try {
      await until('a reconciles', () => a.reconciled.length > 0);
      // b is a warm standby: synced cache, ready, but not reconciling.
      assert.equal(b.informer.hasSynced(), true);
      assert.equal(b.manager.readyChecks().every((c) => c.check() === true), true);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(b.manager.isLeader(), false, 'only one leader');
      assert.deepEqual(b.reconciled, [], 'the standby does not reconcile');
      const before = await holder(lease);
      assert.equal(before?.spec?.holderIdentity, 'a');
      const transitions = before?.spec?.leaseTransitions ?? 0;

      const stopped = Date.now();
      await a.manager.stop({ releaseLease: release });
      if (release) await assertReleased(lease);
      await until('b takes over', () => b.manager.isLeader(), 20_000);
      const took = Date.now() - stopped;
      await until('b reconciles', () => b.reconciled.length > 0);
      const after = await holder(lease);
      assert.equal(after?.spec?.holderIdentity, 'b');
      assert.equal(after?.spec?.leaseTransitions, transitions + 1);
      t.diagnostic(`${release ? 'with' : 'without'} release: takeover after ${took} ms (lease 3000 ms, retry 500 ms)`);
      return took;
    } finally {
      await a.manager.stop();
      await b.manager.stop();
    }
  }

  test('a crashed leader (no release) is replaced once its lease expires', async (t) => {
    await failover(t, 'crash', false);
  });

  test('a leader that releases on shutdown is replaced at the next retry', async (t) => {
    await failover(t, 'release', true);
  });

  test('a leader that loses its Lease is told so even when a runnable never stops (bounded by the shutdown deadline)', async () => {
    const lease = 'steal-hung';
    let lostAt = 0;
    const m = new Manager({
      client, log, metrics: new RuntimeMetrics(), shutdownTimeoutMs: 300,
      leaderElection: { name: lease, namespace: ns, identity: 'a', leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 },
      onLostLeadership: () => { lostAt = Date.now(); },
    });
    let stopAsked = 0;
    m.add({ name: 'stuck', start: () => undefined, stop: () => { stopAsked = Date.now(); return new Promise<boolean>(() => undefined); } });
    await m.start();
    try {
      await until('a leads', () => m.isLeader());
      await steal(lease);
      await until('a is told it lost the Lease', () => lostAt > 0, 20_000);
      assert.ok(stopAsked > 0 && lostAt - stopAsked < 300 + STOP_GRACE_MS + 1000, `told ${lostAt - stopAsked} ms after the stop was asked`);
    } finally {
      await m.stop();
    }
  });

  test('a Lease with its own client is won and kept while the shared pool is full (a Lease on the shared pool is not)', async () => {
    // The Managers' client has one socket, and a watch holds it: as the controllers' requests and
    // the exchange's backlog writes fill the operator's pool under load.
    const kubeconfig = await loadKubeconfig(cp.kubeconfigPath);
    const busy = new KubeHttpClient(kubeconfig, { maxSockets: 1, requestTimeoutMs: 15_000 });
    const stopWatch = new AbortController();
    const watching = (async () => {
      for await (const _ of busy.watch(configMaps, { namespace: ns, timeoutSeconds: 120 }, stopWatch.signal)) { /* holds the socket */ }
    })().catch(() => undefined);
    const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };
    const shared = new Manager({ client: busy, log, metrics: new RuntimeMetrics(), leaderElection: { name: 'pool-shared', namespace: ns, identity: 'a', ...timing } });
    // The Lease client the processes build (cli/flags.ts): its timeout follows this renew deadline.
    const ownElection = withLeaseClient(kubeconfig, 'runtime-test', { name: 'pool-own', namespace: ns, identity: 'a', ...timing });
    const own = new Manager({ client: busy, log, metrics: new RuntimeMetrics(), leaderElection: ownElection });
    try {
      await until('the watch holds the only shared socket', () => busy.openConnections() === 1);
      await Promise.all([shared.start(), own.start()]);
      await until('the Lease with its own client is won', () => own.isLeader(), 10_000);
      // Kept through several renew deadlines (2 s each): the renewals never wait for the watch.
      const wonAt = Date.now();
      await until('kept for 6 s', () => Date.now() - wonAt >= 6_000 || !own.isLeader(), 10_000);
      assert.equal(own.isLeader(), true, 'the Lease with its own client was kept');
      const renewed = await client.get<Lease>(leaseResource, 'pool-own', ns);
      assert.ok(Date.parse(renewed?.spec?.renewTime ?? '') >= wonAt + 4_000, `renewed since it was won: ${renewed?.spec?.renewTime}`);
      // The control: on the shared pool the same campaign's requests queue behind the watch.
      assert.equal(shared.isLeader(), false, 'the Lease on the shared pool was won');
      assert.equal(await client.get<Lease>(leaseResource, 'pool-shared', ns), undefined, 'the shared pool\'s campaign wrote its Lease');
    } finally {
      stopWatch.abort();
      await watching;
      await Promise.all([shared.stop(), own.stop()]);
      busy.close();
      ownElection.client.close();
    }
  });

  test('a leader that cannot renew steps down and stops its controllers', async () => {
    const lease = 'steal';
    let lost = false;
    const metrics = new RuntimeMetrics();
    const m = new Manager({
      client, log, metrics,
      leaderElection: { name: lease, namespace: ns, identity: 'a', leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 },
      onLostLeadership: () => { lost = true; },
    });
    await m.start();
    try {
      await until('a leads', () => m.isLeader());
      await steal(lease);
      await until('a steps down', () => lost && !m.isLeader(), 20_000);
      assert.match(String(m.readyChecks().map((c) => c.check()).find((r) => r !== true)), /lost leadership/, 'no longer ready');
      const text = await metrics.registry.metrics();
      assert.match(text, /leader_election_master_status\{name="steal"\} 0/);
    } finally {
      await m.stop();
    }
  });
});

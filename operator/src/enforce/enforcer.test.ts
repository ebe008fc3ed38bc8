/**
 * PolicyEnforcer with an in-memory source and Kubernetes store (the real ones are covered by
 * e2e/integration/enforce*.test.ts): what reaches the artifacts when records are revoked,
 * deleted by a replica rebuild, written without a cursor move, or expire.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createLogger } from '../log.ts';
import { loadShippedLists } from '../feeds/warninglists.ts';
import { ApiError, type KubeReader, type KubeWriter, type ObjectList } from '../runtime/client.ts';
import type { KubeObject, ResourceRef } from '../runtime/types.ts';
import { PolicyEnforcer, type SyncInput } from './enforcer.ts';
import { buildGuard } from './guard.ts';
import { EnforcementMetrics } from './metrics.ts';
import type { IndicatorSource, ReplicaProgress } from './source.ts';
import { resolved, storedRecord } from './testing.ts';

class MemorySource implements IndicatorSource {
  docs = new Map<string, Record<string, unknown>>();
  cursor: number | undefined;
  queries = 0;

  put(doc: Record<string, unknown>): void {
    this.docs.set(String(doc['digest']), doc);
  }

  scan(onBatch: (docs: readonly unknown[]) => void): Promise<number> {
    this.queries++;
    onBatch([...this.docs.values()]);
    return Promise.resolve(this.docs.size);
  }

  changedSince(hw: number): Promise<unknown[]> {
    this.queries++;
    return Promise.resolve([...this.docs.values()].filter((d) => (d['logIndex'] as number) > hw || ((d['revokedAtIndex'] as number | undefined) ?? -1) > hw));
  }

  count(): Promise<number> {
    return Promise.resolve(this.docs.size);
  }

  progress(): Promise<ReplicaProgress> {
    return Promise.resolve({ cursors: this.cursor === undefined ? new Map() : new Map([['sequencer', this.cursor]]) });
  }
}

class MemoryKube implements Pick<KubeReader, 'list'>, KubeWriter {
  objects = new Map<string, KubeObject>();
  #rv = 0;

  list<T extends KubeObject>(ref: ResourceRef): Promise<ObjectList<T>> {
    return Promise.resolve({ items: [...this.objects.values()].filter((o) => o.kind === ref.kind) as T[], metadata: { resourceVersion: '1' } });
  }
  create<T extends KubeObject>(_ref: ResourceRef, obj: T): Promise<T> {
    const o = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.#rv) } };
    this.objects.set(obj.metadata.name, o);
    return Promise.resolve(o);
  }
  update<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
    return this.create(ref, obj);
  }
  delete(_ref: ResourceRef, name: string): Promise<void> {
    this.objects.delete(name);
    return Promise.resolve();
  }
  patch<T extends KubeObject>(): Promise<T> {
    return Promise.reject(new Error('not used'));
  }
  apply<T extends KubeObject>(): Promise<T> {
    return Promise.reject(new Error('not used'));
  }

  cidrs(): string[] {
    return [...this.objects.values()].filter((o) => o.kind === 'CiliumCIDRGroup').flatMap((o) => (o.spec as { externalCIDRs: string[] }).externalCIDRs).sort();
  }
}

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const guard = buildGuard(await loadShippedLists(), []);
const input: SyncInput = { policy: resolved({ mode: 'Enforce', targets: { cilium: { enabled: true } } }), guard, rulesKey: 'k', haproxyAllowed: true };
const T0 = Date.parse('2026-06-01T00:00:00Z');

function setup(): { src: MemorySource; kube: MemoryKube; enforcer: PolicyEnforcer } {
  const src = new MemorySource();
  const kube = new MemoryKube();
  const enforcer = new PolicyEnforcer('ns', 'p', {
    source: src, kube: kube as unknown as KubeReader & KubeWriter, metrics: new EnforcementMetrics(new Registry()), log: quiet,
    connect: () => { throw new Error('HAProxy is disabled in these tests'); }, unsignalledPollMs: 30_000,
  });
  return { src, kube, enforcer };
}

describe('PolicyEnforcer', () => {
  test('a revocation leaves the artifacts on the next signalled poll; no query runs while the cursor stands still', async () => {
    const { src, kube, enforcer } = setup();
    src.put(storedRecord('ipv4', '11.0.0.1', { logIndex: 0 }));
    src.put(storedRecord('ipv4', '11.0.0.2', { logIndex: 1 }));
    src.cursor = 2;
    await enforcer.sync(input, T0);
    assert.deepEqual(kube.cidrs(), ['11.0.0.1/32', '11.0.0.2/32']);
    const queries = src.queries;
    await enforcer.sync(input, T0 + 1000);
    assert.equal(src.queries, queries, 'idle poll reads only the cursor');
    src.put(storedRecord('ipv4', '11.0.0.1', { logIndex: 0, state: 'revoked', revokedAtIndex: 2 }));
    src.cursor = 3;
    const r = await enforcer.sync(input, T0 + 2000);
    assert.deepEqual(kube.cidrs(), ['11.0.0.2/32']);
    assert.equal(r.skipped['revoked'], 1);
    assert.equal(r.highWater, 2);
  });

  test('a replica rebuild (cursor back, records deleted) forces a full reload: deleted indicators leave', async () => {
    const { src, kube, enforcer } = setup();
    src.put(storedRecord('ipv4', '11.0.0.1', { logIndex: 0 }));
    src.put(storedRecord('ipv4', '11.0.0.2', { logIndex: 1 }));
    src.cursor = 2;
    await enforcer.sync(input, T0);
    src.docs.clear();
    src.put(storedRecord('ipv4', '11.0.0.2', { logIndex: 1 }));
    src.cursor = 1;
    await enforcer.sync(input, T0 + 1000);
    assert.deepEqual(kube.cidrs(), ['11.0.0.2/32']);
  });

  test('records written without moving a cursor are found by the unsignalled poll', async () => {
    const { src, kube, enforcer } = setup();
    src.cursor = 0;
    await enforcer.sync(input, T0);
    src.put(storedRecord('ipv4', '11.0.0.9', { logIndex: 5 }));
    await enforcer.sync(input, T0 + 29_000);
    assert.deepEqual(kube.cidrs(), []);
    await enforcer.sync(input, T0 + 30_000);
    assert.deepEqual(kube.cidrs(), ['11.0.0.9/32']);
  });

  test('an indicator leaves at its validUntil, and the report says when to come back', async () => {
    const { src, kube, enforcer } = setup();
    src.put(storedRecord('ipv4', '11.0.0.1', { logIndex: 0, meta: { validUntil: new Date(T0 + 5000).toISOString() } }));
    src.cursor = 1;
    const r = await enforcer.sync(input, T0);
    assert.equal(r.nextEvent, T0 + 5000);
    assert.deepEqual(kube.cidrs(), ['11.0.0.1/32']);
    await enforcer.sync(input, T0 + 5000);
    assert.deepEqual(kube.cidrs(), []);
    assert.equal([...kube.objects.values()].filter((o) => o.kind === 'CiliumClusterwideNetworkPolicy').length, 0, 'no deny policy without a group');
  });

  test('without Cilium in the cluster a policy that does not use it is not an error; one that does says what to do', async () => {
    const { src, kube, enforcer } = setup();
    const missing = (): Promise<never> => Promise.reject(new ApiError(404, 'NotFound', 'the server could not find the requested resource'));
    kube.list = missing;
    kube.create = missing;
    src.put(storedRecord('ipv4', '11.0.0.1', { logIndex: 0 }));
    src.cursor = 1;
    const off = await enforcer.sync({ ...input, policy: resolved({ mode: 'Enforce' }) }, T0);
    assert.deepEqual(off.errors, []);
    const on = await enforcer.sync({ ...input, rulesKey: 'other' }, T0 + 1000);
    assert.match(on.errors.join(), /install Cilium \(its CRDs\) or set targets.cilium.enabled false/);
  });

  test('LogOnly keeps the groups and removes the deny policy', async () => {
    const { src, kube, enforcer } = setup();
    src.put(storedRecord('ipv4', '11.0.0.1', { logIndex: 0 }));
    src.cursor = 1;
    await enforcer.sync(input, T0);
    assert.equal(kube.objects.size, 2);
    await enforcer.sync({ ...input, policy: resolved({ mode: 'LogOnly', targets: { cilium: { enabled: true } } }) }, T0 + 1000);
    assert.deepEqual([...kube.objects.values()].map((o) => o.kind), ['CiliumCIDRGroup']);
  });
});

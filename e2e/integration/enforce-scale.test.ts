/**
 * Adversarial scale for enforcement: a replicated set far larger than one object can hold is
 * sharded into CiliumCIDRGroups that the real kube-apiserver (with the upstream Cilium CRDs)
 * accepts, each under the configured byte budget as stored; its own file because FerretDB scans
 * the whole collection on every query, which would slow the latency tests down.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Db } from 'mongodb';
import { startEnforceBed, type EnforceBed } from '../harness/enforcebed.ts';
import { eventually } from '../harness/kube.ts';
import { createLogger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { ENFORCEMENT_POLICIES } from '../../operator/src/api/schemas/index.ts';
import type { EnforcementPolicy } from '../../operator/src/api/enforcement.ts';
import { startEnforcement, type RunningEnforcement } from '../../operator/src/controllers/enforcementsetup.ts';
import { CIDR_GROUPS, CLUSTERWIDE_POLICIES, POLICY_LABEL, policyId } from '../../operator/src/enforce/cilium.ts';
import { storedRecord } from '../../operator/src/enforce/testing.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const ns = `enfs-${randomBytes(3).toString('hex')}`;

let bed: EnforceBed | undefined;
let admin: KubeHttpClient;
let db: Db;
let enforcement: RunningEnforcement | undefined;

before(async () => {
  bed = await startEnforceBed({ name: 'enforce-scale-test', namespace: ns, requestTimeoutMs: 60_000 });
  ({ admin, db } = bed);
  enforcement = await startEnforcement({ client: admin, db, log: quiet, namespace: ns, pollIntervalMs: 1000 });
});

after(async () => {
  await enforcement?.stop();
  await bed?.stop();
});

async function owned(ref: ResourceRef, name: string): Promise<Array<KubeObject & { spec: { externalCIDRs: string[] } }>> {
  return (await admin.list<KubeObject & { spec: { externalCIDRs: string[] } }>(ref, { labelSelector: `${POLICY_LABEL}=${policyId(ns, name)}` })).items;
}

test('a huge set never produces an object over the size limit: every shard is accepted by the real API server and stays under its budget', async (t) => {
  const n = 30_000;
  // A third are full-length IPv6 /128s, the longest CIDR strings there are.
  const docs = Array.from({ length: n }, (_, i) => storedRecord(i % 3 === 0 ? 'ipv6' : 'ipv4', i % 3 === 0 ? `2a0${i % 10}:ffff:ffff:ffff:ffff:ffff:${((i >>> 15) + 1).toString(16)}:${((i & 0x7fff) + 1).toString(16)}` : `51.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`, { logIndex: i }));
  const col = db.collection('indicators');
  for (let i = 0; i < docs.length; i += 5000) await col.insertMany(docs.slice(i, i + 5000));
  await new MongoCursorStore(db).save('sequencer', { nextIndex: n });
  const budget = 64 * 1024;
  const policy: EnforcementPolicy = { apiVersion: 'threatmesh.io/v1alpha1', kind: 'EnforcementPolicy', metadata: { name: 'huge', namespace: ns }, spec: { mode: 'Enforce', targets: { cilium: { enabled: true, maxGroupBytes: budget } } } };
  await admin.create(ENFORCEMENT_POLICIES, policy);
  const p = await eventually(() => admin.get<EnforcementPolicy>(ENFORCEMENT_POLICIES, 'huge', ns), (x) => (x?.status?.cidrs ?? 0) >= n, 180_000);
  const groups = await owned(CIDR_GROUPS, 'huge');
  const stored = groups.map((g) => Buffer.byteLength(JSON.stringify({ ...g, metadata: { ...g.metadata, managedFields: undefined } })));
  t.diagnostic(`${n} indicators → ${groups.length} CiliumCIDRGroups, largest ${Math.max(...stored)} bytes as stored (budget ${budget}); status says ${p?.status?.largestGroupBytes}`);
  assert.equal(groups.flatMap((g) => g.spec.externalCIDRs).length, n);
  assert.ok(groups.length >= 8, `${groups.length} groups`);
  // As stored the API server adds uid, resourceVersion, creationTimestamp...: a few hundred bytes.
  for (const b of stored) assert.ok(b <= budget + 1024, `a shard of ${b} bytes`);
  assert.ok((p?.status?.largestGroupBytes ?? Infinity) <= budget);
  assert.equal((await owned(CLUSTERWIDE_POLICIES, 'huge')).length, 1);
  await admin.delete(ENFORCEMENT_POLICIES, 'huge', ns);
  await eventually(() => owned(CIDR_GROUPS, 'huge'), (g) => g.length === 0, 60_000);
  assert.equal((await owned(CIDR_GROUPS, 'huge')).length, 0);
});

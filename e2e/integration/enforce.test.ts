/**
 * Enforcement against real parts: a kube-apiserver with the upstream Cilium CRDs installed (so
 * every generated CiliumCIDRGroup and CiliumClusterwideNetworkPolicy is validated by the real
 * schema), FerretDB holding the partner's replicated `indicators` written through
 * MongoIndicatorSink exactly as the replica writes them, and two real HAProxy processes (one
 * reached through its Unix socket, one through TCP). The controller runs as a ServiceAccount
 * bound to the generated enforcer ClusterRole. Measures admission→enforcement and
 * revocation→enforcement latency at the HAProxy front door.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Collection, Db } from 'mongodb';
import type { ControlPlane } from '../harness/controlplane.ts';
import { startEnforceBed, type EnforceBed } from '../harness/enforcebed.ts';
import { eventually } from '../harness/kube.ts';
import { httpStatus, startHaproxy, type TestHaproxy } from '../harness/haproxy.ts';
import { createLogger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { ENFORCEMENT_POLICIES } from '../../operator/src/api/schemas/index.ts';
import { enforcerRbacManifests } from '../../operator/src/api/manifests.ts';
import type { EnforcementPolicy, EnforcementPolicySpec } from '../../operator/src/api/enforcement.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import type { IndicatorMeta } from '../../operator/src/domain/entry.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { startEnforcement, type RunningEnforcement } from '../../operator/src/controllers/enforcementsetup.ts';
import { CIDR_GROUPS, CLUSTERWIDE_POLICIES, POLICY_LABEL, policyId } from '../../operator/src/enforce/cilium.ts';
import { storedRecord } from '../../operator/src/enforce/testing.ts';
import { SocketRuntimeApi } from '../../operator/src/enforce/haproxy/runtime.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const log = process.env['ENFORCE_TEST_LOG'] ? createLogger(process.stderr, 'debug') : quiet;
const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const ns = `enf-${randomBytes(3).toString('hex')}`;
const saName = `threatmesh-enforce-${ns}`;
const clusterRoles: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false };
const clusterRoleBindings: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false };

let cp: ControlPlane;
let admin: KubeHttpClient;
let asEnforcer: KubeHttpClient | undefined;
let bed: EnforceBed | undefined;
let db: Db;
let col: Collection;
let sink: MongoIndicatorSink;
let cursors: MongoCursorStore;
let dir: string;
let haA: TestHaproxy;
let haB: TestHaproxy;
let enforcement: RunningEnforcement | undefined;
let nextIndex = 0;

function entry(kind: 'add' | 'revoke', indicator: Indicator, meta?: IndicatorMeta): VerifiedEntry {
  const window = { opensAt: new Date(Date.now() - 60_000).toISOString(), closesAt: new Date(Date.now() + 3_600_000).toISOString() };
  return { kind, indicator, ...(meta ? { meta } : {}), proposerId: 'partner-a', proposalSignature: 'c2ln', window, votes: [], index: nextIndex++, digest: indicatorDigest(indicator) };
}

/** As the replica does: the verified entries into the sink, then the cursor past them (the change signal enforcement polls). */
async function replicate(entries: VerifiedEntry[]): Promise<void> {
  await sink.applyMany(entries);
  await cursors.save('sequencer', { nextIndex });
}

async function admit(...inds: Array<Indicator & { meta?: IndicatorMeta }>): Promise<void> {
  await replicate(inds.map((i) => entry('add', { type: i.type, value: i.value }, i.meta)));
}

async function revoke(...inds: Indicator[]): Promise<void> {
  await replicate(inds.map((i) => entry('revoke', i)));
}

/** Milliseconds until `check` holds (polled every 25 ms), or a failure naming `what`. */
async function timeUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (await check().catch(() => false)) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${what} did not happen within ${timeoutMs} ms`);
}

function policyObject(name: string, spec: EnforcementPolicySpec): EnforcementPolicy {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'EnforcementPolicy', metadata: { name, namespace: ns }, spec };
}

function haproxyTargets(...h: Array<[TestHaproxy, 'unix' | 'tcp']>): NonNullable<EnforcementPolicySpec['targets']>['haproxy'] {
  const first = h[0]?.[0];
  // Every replica is started with the same map paths layout, but each lives in its own folder: one policy per replica here.
  return { enabled: true, runtimeApis: h.map(([x, k]) => (k === 'unix' ? x.unixApi : x.tcpApi)), hostsMap: first?.hostsMap ?? '', ipsMap: first?.ipsMap ?? '' };
}

async function getPolicy(name: string): Promise<EnforcementPolicy | undefined> {
  return admin.get<EnforcementPolicy>(ENFORCEMENT_POLICIES, name, ns);
}

async function ciliumObjects(name: string): Promise<{ groups: Array<KubeObject & { spec: { externalCIDRs: string[] } }>; policies: Array<KubeObject & { spec: Record<string, unknown> }> }> {
  const sel = { labelSelector: `${POLICY_LABEL}=${policyId(ns, name)}` };
  const groups = (await admin.list<KubeObject & { spec: { externalCIDRs: string[] } }>(CIDR_GROUPS, sel)).items;
  const policies = (await admin.list<KubeObject & { spec: Record<string, unknown> }>(CLUSTERWIDE_POLICIES, sel)).items;
  return { groups, policies };
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

before(async () => {
  bed = await startEnforceBed({ name: 'enforce-test', namespace: ns });
  ({ cp, admin, db } = bed);
  sink = await MongoIndicatorSink.open(db);
  cursors = new MongoCursorStore(db);
  col = db.collection('indicators');
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-enforce-'));
  haA = await startHaproxy(join(dir, 'a'));
  haB = await startHaproxy(join(dir, 'b'));
  // Enforcement runs as a ServiceAccount bound to exactly the generated enforcer ClusterRole: proves the RBAC is enough.
  await applyManifests(admin, enforcerRbacManifests(ns, saName) as unknown as KubeObject[], 'enforce-test');
  const token = await cp.kube.create(`/api/v1/namespaces/${ns}/serviceaccounts/${saName}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  const adminConfig = await loadKubeconfig(cp.kubeconfigPath);
  asEnforcer = new KubeHttpClient({ server: adminConfig.server, ...(adminConfig.ca ? { ca: adminConfig.ca } : {}), token: (token.body as { status: { token: string } }).status.token, source: 'TokenRequest' }, { requestTimeoutMs: 30_000 });
  // Records inserted by hand below (malformed ones) move no cursor: they are found by the unsignalled poll.
  enforcement = await startEnforcement({ client: asEnforcer, db, log, namespace: ns, pollIntervalMs: 1000, deltaLimit: 100, unsignalledPollMs: 3000 });
});

after(async () => {
  await enforcement?.stop();
  await haA?.stop();
  await haB?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  asEnforcer?.close();
  if (admin) {
    await admin.delete(clusterRoleBindings, saName).catch(() => undefined);
    await admin.delete(clusterRoles, saName).catch(() => undefined);
  }
  await bed?.stop();
});

describe('enforcement at the front door and in Cilium', () => {
  const evilHost = { type: 'domain', value: 'c2.badsite.xyz' } as const;
  const evilIp = { type: 'ipv4', value: '45.33.10.20' } as const;

  test('an admitted indicator is denied within seconds at every HAProxy and in Cilium; a revoked one passes again within seconds', async (t) => {
    await admin.create(ENFORCEMENT_POLICIES, policyObject('front', { mode: 'Enforce', targets: { cilium: { enabled: true }, haproxy: haproxyTargets([haA, 'unix']) } }));
    await admin.create(ENFORCEMENT_POLICIES, policyObject('front-b', { mode: 'Enforce', targets: { haproxy: haproxyTargets([haB, 'tcp']) } }));
    await eventually(() => getPolicy('front'), (p) => p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true);
    assert.equal(await httpStatus(haA, `www.${evilHost.value}`), 200);
    const admitMs: number[] = [];
    const revokeMs: number[] = [];
    for (let round = 0; round < 5; round++) {
      await admit(evilHost, evilIp);
      admitMs.push(await timeUntil('deny after admission', async () => (await httpStatus(haA, `www.${evilHost.value}`)) === 403 && (await httpStatus(haA, 'ok.test', evilIp.value)) === 403 && (await httpStatus(haB, evilHost.value)) === 403 && (await httpStatus(haB, 'ok.test', evilIp.value)) === 403));
      const { groups, policies } = await ciliumObjects('front');
      assert.deepEqual(groups.flatMap((g) => g.spec.externalCIDRs), ['45.33.10.20/32']);
      assert.equal(policies.length, 1);
      const spec = policies[0]?.spec as { enableDefaultDeny: unknown; egressDeny: Array<{ toCIDRSet: Array<{ cidrGroupRef: string }> }> };
      assert.deepEqual(spec.enableDefaultDeny, { egress: false, ingress: false });
      assert.deepEqual(spec.egressDeny[0]?.toCIDRSet.map((r) => r.cidrGroupRef), groups.map((g) => g.metadata.name));
      await revoke(evilHost, evilIp);
      revokeMs.push(await timeUntil('pass after revocation', async () => (await httpStatus(haA, `www.${evilHost.value}`)) === 200 && (await httpStatus(haA, 'ok.test', evilIp.value)) === 200 && (await httpStatus(haB, evilHost.value)) === 200 && (await httpStatus(haB, 'ok.test', evilIp.value)) === 200));
      await timeUntil('Cilium objects removed after revocation', async () => {
        const c = await ciliumObjects('front');
        return c.groups.length === 0 && c.policies.length === 0;
      });
    }
    t.diagnostic(`admission→403 at both HAProxys (ms, poll 1 s): ${admitMs.map(Math.round).join(' ')}; p95 ${Math.round(percentile(admitMs, 95))}`);
    t.diagnostic(`revocation→200 at both HAProxys (ms, poll 1 s): ${revokeMs.map(Math.round).join(' ')}; p95 ${Math.round(percentile(revokeMs, 95))}`);
    assert.ok(percentile(admitMs, 95) < 5000 && percentile(revokeMs, 95) < 5000, 'within seconds');
  });

  test('an expired indicator stops being enforced with no log event', async () => {
    const ind = { type: 'domain', value: 'short-lived.badsite.xyz', meta: { validUntil: new Date(Date.now() + 4000).toISOString() } } as const;
    await admit(ind);
    await timeUntil('deny while valid', async () => (await httpStatus(haA, ind.value)) === 403);
    await timeUntil('pass after validUntil', async () => (await httpStatus(haA, ind.value)) === 200, 10_000);
    // The status is written right after the targets: it may trail the HAProxy answer by a moment.
    const p = await eventually(() => getPolicy('front'), (x) => (x?.status?.skipped?.['expired'] ?? 0) >= 1, 5000);
    assert.ok((p?.status?.skipped?.['expired'] ?? 0) >= 1, JSON.stringify(p?.status?.skipped));
  });

  test('a restarted HAProxy (maps back to its empty files) is refilled within seconds', async () => {
    const ind = { type: 'domain', value: 'persistent.badsite.xyz' } as const;
    await admit(ind);
    await timeUntil('deny', async () => (await httpStatus(haA, ind.value)) === 403);
    await haA.restart();
    assert.equal(await httpStatus(haA, ind.value), 200, 'after a restart HAProxy starts from its map files');
    await timeUntil('deny again after the restart', async () => (await httpStatus(haA, ind.value)) === 403, 10_000);
    await revoke(ind);
    await timeUntil('pass after revocation', async () => (await httpStatus(haA, ind.value)) === 200);
  });
});

describe('two indicators under one key', () => {
  test('revoking the one that names a map entry hands the entry to the other (set map); revoking both removes it', async () => {
    const ip = { type: 'ipv4', value: '52.1.1.1', meta: { confidence: 50 } } as const;
    const net = { type: 'cidr', value: '52.1.1.1/32', meta: { confidence: 90 } } as const;
    const showValue = async (): Promise<string | undefined> => {
      const out = await new SocketRuntimeApi(haA.unixApi).send(`show map ${haA.ipsMap}`);
      return /\s52\.1\.1\.1 ([0-9a-f]{16})/.exec(out)?.[1];
    };
    await admit(ip, net);
    await timeUntil('entry named by the higher-confidence indicator', async () => (await showValue()) === indicatorDigest(net).slice(0, 16));
    await revoke(net);
    await timeUntil('entry handed over', async () => (await showValue()) === indicatorDigest(ip).slice(0, 16));
    assert.equal(await httpStatus(haA, 'ok.test', ip.value), 403);
    await revoke(ip);
    await timeUntil('entry removed', async () => (await showValue()) === undefined && (await httpStatus(haA, 'ok.test', ip.value)) === 200);
  });
});

describe('adversarial: what must never be enforced', () => {
  test('indicators covering the partner\'s own ranges or domains, private ranges or top domains are never enforced', async () => {
    await admin.create(ENFORCEMENT_POLICIES, policyObject('guarded', { mode: 'Enforce', targets: { cilium: { enabled: true } }, allowlist: { cidrs: ['46.1.0.0/16'], domains: ['corp.partner.xyz'] } }));
    await admit(
      { type: 'cidr', value: '46.0.0.0/8' }, { type: 'ipv4', value: '46.1.2.3' }, { type: 'cidr', value: '10.0.0.0/8' }, { type: 'cidr', value: '0.0.0.0/0' },
      { type: 'domain', value: 'google.com' }, { type: 'domain', value: 'co.uk' }, { type: 'domain', value: 'vpn.corp.partner.xyz' }, { type: 'domain', value: 'partner.xyz' },
      { type: 'ipv4', value: '47.5.5.5' },
    );
    const p = await eventually(() => getPolicy('guarded'), (x) => (x?.status?.selected ?? 0) >= 1 && (x?.status?.skipped?.['allowlist:policy'] ?? 0) >= 4);
    const skipped = p?.status?.skipped ?? {};
    assert.deepEqual([skipped['allowlist:policy'], skipped['reserved-ip'], skipped['top-domain']], [4, 2, 2], JSON.stringify(skipped));
    const { groups } = await ciliumObjects('guarded');
    const cidrs = groups.flatMap((g) => g.spec.externalCIDRs);
    assert.ok(cidrs.includes('47.5.5.5/32'), cidrs.join(','));
    for (const bad of ['46.0.0.0/8', '46.1.2.3/32', '10.0.0.0/8', '0.0.0.0/0']) assert.ok(!cidrs.includes(bad), `${bad} enforced`);
    assert.notEqual(await httpStatus(haA, 'google.com'), 403);
    assert.notEqual(await httpStatus(haA, 'www.bbc.co.uk'), 403);
  });

  test('an allowlist ConfigMap wins as soon as it exists; while it is missing the policy refuses to run without it', async () => {
    await admin.create(ENFORCEMENT_POLICIES, policyObject('cm-allow', { mode: 'Enforce', targets: { cilium: { enabled: true } }, allowlist: { configMaps: [{ name: 'partner-ranges' }] } }));
    const waiting = await eventually(() => getPolicy('cm-allow'), (x) => x?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False') === true);
    assert.equal(waiting?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'AllowlistUnavailable');
    assert.equal((await ciliumObjects('cm-allow')).groups.length, 0, 'nothing is written without the allowlist');
    await admit({ type: 'ipv4', value: '53.0.1.1' }, { type: 'ipv4', value: '54.0.1.1' });
    await admin.create(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'partner-ranges', namespace: ns }, data: { ranges: '# our offices\n53.0.0.0/16\n' } } as KubeObject);
    const p = await eventually(() => getPolicy('cm-allow'), (x) => (x?.status?.skipped?.['allowlist:partner-ranges'] ?? 0) >= 1);
    assert.equal(p?.status?.skipped?.['allowlist:partner-ranges'], 1);
    const cidrs = (await ciliumObjects('cm-allow')).groups.flatMap((g) => g.spec.externalCIDRs);
    assert.ok(cidrs.includes('54.0.1.1/32') && !cidrs.includes('53.0.1.1/32'), cidrs.join(','));
    await admin.delete(ENFORCEMENT_POLICIES, 'cm-allow', ns);
  });

  test('malformed records in MongoDB are skipped with a reason, not a crash, and the rest stays enforced', async () => {
    const good = storedRecord('ipv4', '48.8.8.1', { logIndex: nextIndex++ });
    await col.insertMany([
      { _id: 'junk-1', digest: 'not-a-digest', type: 'ipv4', value: '48.8.8.2', state: 'active', logIndex: nextIndex++ },
      { ...storedRecord('ipv4', '48.8.8.3', { logIndex: nextIndex++ }), _id: 'junk-2', value: '0.0.0.0' },
      { ...storedRecord('domain', 'tampered.badsite.xyz', { logIndex: nextIndex++ }), _id: 'junk-3', meta: { confidence: 'high' } },
      good,
    ]);
    const p = await eventually(() => getPolicy('guarded'), (x) => (x?.status?.skipped?.['malformed'] ?? 0) >= 3);
    assert.equal(p?.status?.skipped?.['malformed'], 3);
    assert.equal(p?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    const { groups } = await ciliumObjects('guarded');
    const cidrs = groups.flatMap((g) => g.spec.externalCIDRs);
    assert.ok(cidrs.includes('48.8.8.1/32') && !cidrs.includes('48.8.8.2/32') && !cidrs.includes('0.0.0.0/32'), cidrs.join(','));
  });

  test('a revoked indicator never stays enforced, even re-admitted and revoked again out of order of polls', async () => {
    const ind = { type: 'ipv4', value: '49.9.9.9' } as const;
    await admit(ind);
    await revoke(ind);
    await admit(ind);
    await revoke(ind);
    const p = await eventually(() => getPolicy('guarded'), (x) => (x?.status?.logIndex ?? -1) >= nextIndex - 1);
    assert.ok((p?.status?.logIndex ?? -1) >= nextIndex - 1);
    const cidrs = (await ciliumObjects('guarded')).groups.flatMap((g) => g.spec.externalCIDRs);
    assert.ok(!cidrs.includes('49.9.9.9/32'), 'revoked indicator still enforced');
  });

  test('Cilium cannot deny by FQDN: the upstream schema has no egressDeny.toFQDNs (strict validation refuses it, lax validation drops it silently)', async () => {
    const obj = { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: `fqdn-probe-${ns}` }, spec: { endpointSelector: {}, egressDeny: [{ toFQDNs: [{ matchName: 'evil.badsite.xyz' }] }] } };
    const strict = await cp.kube.call('POST', '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies?fieldValidation=Strict', obj);
    assert.equal(strict.status, 400, JSON.stringify(strict.body));
    assert.match(String((strict.body as { message?: string }).message), /unknown field "spec\.egressDeny\[0\]\.toFQDNs"/);
    const lax = await cp.kube.call('POST', '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies?fieldValidation=Ignore', obj);
    assert.equal(lax.status, 201, JSON.stringify(lax.body));
    assert.deepEqual((lax.body as { spec: { egressDeny: unknown[] } }).spec.egressDeny, [{}], 'the deny rule survives with nothing in it: a deny that denies nothing');
    await cp.kube.delete(`/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies/${obj.metadata.name}`);
  });

  test('a second policy naming the same HAProxy maps leaves them alone and says why', async () => {
    await admin.create(ENFORCEMENT_POLICIES, policyObject('intruder', { mode: 'Enforce', targets: { haproxy: { ...haproxyTargets([haA, 'unix']) } } }));
    const p = await eventually(() => getPolicy('intruder'), (x) => x?.status?.conditions?.some((c) => c.type === 'Degraded') === true);
    assert.equal(p?.status?.conditions?.find((c) => c.type === 'Degraded')?.reason, 'MapConflict');
    await admin.delete(ENFORCEMENT_POLICIES, 'intruder', ns);
  });
});

describe('modes and lifecycle', () => {
  test('LogOnly keeps the CIDR groups but no deny policy and empties the maps; Enforce brings them back', async () => {
    const ind = { type: 'ipv4', value: '50.5.5.5' } as const;
    assert.equal(await httpStatus(haA, 'logonly.badsite.xyz'), 200);
    await admit(ind, { type: 'domain', value: 'logonly.badsite.xyz' });
    await timeUntil('deny', async () => (await httpStatus(haA, 'logonly.badsite.xyz')) === 403);
    await admin.patch(ENFORCEMENT_POLICIES, 'front', ns, { spec: { mode: 'LogOnly' } });
    await timeUntil('pass in LogOnly', async () => (await httpStatus(haA, 'logonly.badsite.xyz')) === 200 && (await httpStatus(haA, 'x.test', ind.value)) === 200);
    await timeUntil('no deny policy in LogOnly', async () => {
      const c = await ciliumObjects('front');
      return c.policies.length === 0 && c.groups.some((g) => g.spec.externalCIDRs.includes('50.5.5.5/32'));
    });
    const p = await eventually(() => getPolicy('front'), (x) => x?.status?.mode === 'LogOnly');
    assert.equal(p?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'LoggingOnly');
    await admin.patch(ENFORCEMENT_POLICIES, 'front', ns, { spec: { mode: 'Enforce' } });
    await timeUntil('deny again in Enforce', async () => (await httpStatus(haA, 'logonly.badsite.xyz')) === 403);
  });

  test('metrics publish every artifact size and the headroom against each limit', async () => {
    const text = await enforcement?.metrics.registry.metrics() ?? '';
    for (const series of [
      `threatmesh_enforcement_artifact_entries{policy="${ns}/front",target="haproxy",artifact="${haA.hostsMap}"}`,
      `threatmesh_enforcement_headroom_ratio{policy="${ns}/front",target="cilium",limit="cilium_total_cidrs"}`,
      `threatmesh_enforcement_headroom_ratio{policy="${ns}/front",target="haproxy",limit="haproxy_map_entries"}`,
      'threatmesh_enforcement_artifact_bytes{',
    ]) assert.ok(text.includes(series), `missing ${series}`);
  });

  test('deleting the policy removes every artifact before the policy goes', async () => {
    await admin.delete(ENFORCEMENT_POLICIES, 'front', ns);
    await timeUntil('policy gone', async () => (await getPolicy('front')) === undefined);
    const c = await ciliumObjects('front');
    assert.deepEqual([c.groups.length, c.policies.length], [0, 0]);
    assert.equal(await httpStatus(haA, 'logonly.badsite.xyz'), 200);
  });
});

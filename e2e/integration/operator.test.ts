/**
 * The operator against a real kube-apiserver: the generated CRDs install and are structural, the
 * samples are accepted, CEL rules refuse bad objects with their messages, and the operator —
 * running under a ServiceAccount token bound to exactly the generated ClusterRole and Role —
 * reconciles PartnerNodes, ThreatIndicators and Feeds (Jobs), reports bad specs, honours its
 * finalizer, and its admission webhook refuses forged phases.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { apiErrorOf } from '../harness/apierror.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { eventually, type TestKube } from '../harness/kube.ts';
import { selfSignedLoopbackCert } from '../harness/tls.ts';
import { freePort } from '../../operator/src/dev/controlplane/probe.ts';
import { createLogger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig, type ClusterConfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { FEEDS, PARTNER_NODES, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import { INGEST_NAME, WEBHOOK_PATH, operatorClusterRole, rbacManifests, webhookConfiguration } from '../../operator/src/api/manifests.ts';
import type { Feed, PartnerNode, ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { startOperator, type RunningOperator } from '../../operator/src/controllers/setup.ts';
import { JOBS, JobExecutor, type Job } from '../../operator/src/controllers/jobexecutor.ts';
import { partner, signedVote, type TestPartner } from '../../operator/src/controllers/fixtures.ts';
import { FEED_FINALIZER, RUN_REPORT_ANNOTATION } from '../../operator/src/api/reasons.ts';
import { loadYamlDir } from '../harness/manifests.ts';

const root = new URL('../../', import.meta.url);
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const log = process.env['OPERATOR_TEST_LOG'] ? createLogger(process.stderr, 'debug') : quiet;
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const webhookConfigs: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', kind: 'ValidatingWebhookConfiguration', namespaced: false };
const clusterRoles: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false };
const clusterRoleBindings: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false };
const events: ResourceRef = { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };
const leases: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };

const suffix = randomBytes(3).toString('hex');
const ns = `op-${suffix}`;
// Samples live apart: their PartnerNodes claim the same partner ids as the test's own partners with other keys.
const samplesNs = `op-samples-${suffix}`;
const saName = `threatmesh-operator-${suffix}`;
const webhookName = `ti-${suffix}.threatmesh.io`;

let cp: ControlPlane;
let admin: KubeHttpClient;
let asOperator: KubeHttpClient;
let saKube: TestKube;
let operator: RunningOperator | undefined;
let startOne: (identity: string, port?: number) => Promise<RunningOperator>;
let webhookPort = 0;
const partners: TestPartner[] = ['acme', 'globex', 'initech'].map((id) => partner(id, {}, ns));


async function serviceAccountToken(): Promise<string> {
  const r = await cp.kube.create(`/api/v1/namespaces/${ns}/serviceaccounts/${saName}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return (r.body as { status: { token: string } }).status.token;
}

before(async () => {
  cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  const adminConfig = await loadKubeconfig(cp.kubeconfigPath);
  admin = new KubeHttpClient(adminConfig, { requestTimeoutMs: 15_000 });
  await admin.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await admin.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: samplesNs } });
  await applyManifests(admin, await loadYamlDir('crds'), 'operator-test');
  await applyManifests(admin, rbacManifests(ns, saName) as unknown as KubeObject[], 'operator-test');
  const token = await serviceAccountToken();
  const saConfig: ClusterConfig = { server: adminConfig.server, ...(adminConfig.ca ? { ca: adminConfig.ca } : {}), ...(adminConfig.insecureSkipTlsVerify ? { insecureSkipTlsVerify: true } : {}), token, source: 'TokenRequest' };
  asOperator = new KubeHttpClient(saConfig, { requestTimeoutMs: 15_000 });
  saKube = cp.kube.withToken(token);
});

after(async () => {
  await operator?.stop();
  if (admin) {
    await admin.delete(webhookConfigs, webhookName).catch(() => undefined);
    await admin.delete(namespaces, ns).catch(() => undefined);
    await admin.delete(namespaces, samplesNs).catch(() => undefined);
    await admin.delete(clusterRoleBindings, saName).catch(() => undefined);
    await admin.delete(clusterRoles, saName).catch(() => undefined);
    admin.close();
  }
  asOperator?.close();
  await cp?.stop();
});

describe('CRDs on a real API server', () => {
  test('every generated CRD is Established with a structural schema', async () => {
    for (const name of ['feeds.threatmesh.io', 'threatindicators.threatmesh.io', 'partnernodes.threatmesh.io']) {
      const r = await cp.kube.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const conds = (r.body as { status: { conditions: Array<{ type: string; status: string; message: string }> } }).status.conditions;
      assert.equal(conds.find((c) => c.type === 'Established')?.status, 'True', name);
      assert.equal(conds.find((c) => c.type === 'NonStructuralSchema'), undefined, `${name}: ${JSON.stringify(conds)}`);
    }
  });

  test('the samples are accepted as they are', async () => {
    const samples = (await loadYamlDir('config/samples')).map((o) => ({ ...o, metadata: { ...o.metadata, namespace: samplesNs } }));
    const applied = await applyManifests(admin, samples, 'operator-test', samplesNs);
    assert.deepEqual(applied.map((o) => o.kind).sort(), ['Feed', 'Feed', 'PartnerNode', 'PartnerNode', 'PartnerNode', 'ThreatIndicator']);
  });

  const refusals: Array<[string, ResourceRef, Record<string, unknown>, RegExp]> = [
    ['a PartnerNode with a short public key', PARTNER_NODES, { kind: 'PartnerNode', spec: { partnerId: 'x', organization: 'X', endpoint: 'x.example:443', publicKey: 'AAAA', roles: ['voter'] } }, /publicKey must be a raw 32-byte Ed25519 key/],
    ['a PartnerNode endpoint without a port', PARTNER_NODES, { kind: 'PartnerNode', spec: { partnerId: 'x', organization: 'X', endpoint: 'x.example', publicKey: partners[0]?.node.spec.publicKey, roles: ['voter'] } }, /endpoint must be host:port/],
    ['a Feed with interval and cron', FEEDS, { kind: 'Feed', spec: { url: 'https://f.example/x', format: 'lines', schedule: { interval: '1h', cron: '0 * * * *' } } }, /set exactly one of schedule.interval or schedule.cron/],
    ['an ipv4 indicator with a leading zero', THREAT_INDICATORS, { kind: 'ThreatIndicator', spec: { type: 'ipv4', value: '192.0.2.01' } }, /an ipv4 value must be a dotted quad without leading zeros/],
    ['a sha256 indicator in upper case', THREAT_INDICATORS, { kind: 'ThreatIndicator', spec: { type: 'sha256', value: 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855' } }, /a sha256 value must be 64 lower-case hex digits/],
  ];
  for (const [name, ref, body, re] of refusals) {
    test(`CEL refuses ${name}`, async () => {
      const obj = { apiVersion: 'threatmesh.io/v1alpha1', metadata: { name: `bad-${randomBytes(3).toString('hex')}`, namespace: ns }, ...body } as unknown as KubeObject;
      const err = await apiErrorOf(admin.create(ref, obj));
      assert.equal(err.status, 422);
      assert.match(err.message, re);
    });
  }

  test('CEL keeps ThreatIndicator.spec immutable', async () => {
    const name = indicatorObjectName({ type: 'domain', value: 'immutable.example' });
    const created = await admin.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace: ns }, spec: { type: 'domain', value: 'immutable.example' } });
    const err = await apiErrorOf(admin.patch(THREAT_INDICATORS, created.metadata.name, ns, { spec: { confidence: 10 } }));
    assert.equal(err.status, 422);
    assert.match(err.message, /spec is immutable/);
  });

  test('the ThreatIndicator CRD serves the printer columns kubectl shows', async () => {
    const table = await admin.list(THREAT_INDICATORS, { namespace: ns });
    assert.ok(table.items.length > 0);
    const crd = await cp.kube.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/threatindicators.threatmesh.io');
    const cols = (crd.body as { spec: { versions: Array<{ additionalPrinterColumns: Array<{ name: string }> }> } }).spec.versions[0]?.additionalPrinterColumns.map((c) => c.name);
    assert.deepEqual(cols, ['Type', 'Value', 'Phase', 'Votes', 'Quorum', 'Index', 'Revocation', 'Age']);
  });
});

describe('the operator under its least-privilege ServiceAccount', () => {
  before(async () => {
    const tls = await selfSignedLoopbackCert();
    webhookPort = await freePort();
    startOne = (identity: string, port = webhookPort) => startOperator({
      client: asOperator,
      log,
      executor: new JobExecutor(asOperator, { image: 'ghcr.io/threatmesh/threatmesh:test' }),
      watchJobs: true,
      namespace: ns,
      identity,
      leaderElection: { name: 'threatmesh-operator-leader', namespace: ns, identity, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
      webhook: { host: '127.0.0.1', port, cert: tls.cert, key: tls.key },
      policy: { votingWindowMs: 24 * 3_600_000 },
      feedConfig: { pollMs: 1_000 },
    });
    operator = await startOne(`op-test-${suffix}`);
    const cfg = webhookConfiguration({ url: `https://127.0.0.1:${webhookPort}${WEBHOOK_PATH}` }, Buffer.from(tls.cert).toString('base64'), webhookName) as { webhooks: Array<Record<string, unknown>> };
    const hooks = cfg.webhooks.map((w) => ({ ...w, name: webhookName, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } }));
    await admin.create(webhookConfigs, { ...cfg, webhooks: hooks } as unknown as KubeObject);
    for (const p of partners) await admin.create(PARTNER_NODES, { ...p.node, metadata: { name: p.id, namespace: ns } });
  });

  test('the ServiceAccount holds exactly the generated role and nothing more', async () => {
    const onDisk = parseManifests(await readFile(new URL('config/rbac/role.yaml', root), 'utf8')).find((o) => o.kind === 'ClusterRole') as unknown as { rules: unknown };
    assert.deepEqual(onDisk.rules, (operatorClusterRole() as { rules: unknown }).rules, 'config/rbac/role.yaml is stale');
    const denied: Array<[string, string, Record<string, unknown> | undefined]> = [
      ['GET', `/api/v1/namespaces/${ns}/pods`, undefined],
      ['POST', `/api/v1/namespaces/${ns}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } }],
      ['DELETE', `/api/v1/namespaces/${ns}/configmaps/x`, undefined],
      ['DELETE', `/apis/threatmesh.io/v1alpha1/namespaces/${ns}/feeds/anything`, undefined],
      ['POST', `/apis/threatmesh.io/v1alpha1/namespaces/${ns}/partnernodes`, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name: 'x' } }],
      ['GET', '/api/v1/secrets', undefined],
      // Least privilege (issue 11): the operator reads no Secret and no ConfigMap, in no namespace.
      ['GET', `/api/v1/namespaces/${ns}/secrets/anything`, undefined],
      ['GET', `/api/v1/namespaces/${samplesNs}/secrets/anything`, undefined],
      ['GET', '/api/v1/configmaps', undefined],
      ['GET', `/api/v1/namespaces/${ns}/configmaps`, undefined],
      ['GET', `/api/v1/namespaces/${ns}/configmaps/threatmesh-allowlist`, undefined],
      ['GET', '/api/v1/configmaps?watch=true', undefined],
      ['GET', `/apis/coordination.k8s.io/v1/namespaces/default/leases`, undefined],
    ];
    for (const [method, path, body] of denied) assert.equal((await saKube.call(method, path, body)).status, 403, `${method} ${path}`);
  });

  test('this replica won the Lease', async () => {
    const lease = await eventually(() => admin.get<KubeObject & { spec?: { holderIdentity?: string } }>(leases, 'threatmesh-operator-leader', ns), (l) => l?.spec?.holderIdentity === `op-test-${suffix}`);
    assert.equal(lease?.spec?.holderIdentity, `op-test-${suffix}`);
  });

  test('PartnerNodes become Ready voters', async () => {
    for (const p of partners) {
      const pn = await eventually(() => admin.get<PartnerNode>(PARTNER_NODES, p.id, ns), (o) => o?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);
      assert.equal(pn?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'VoterRegistered', JSON.stringify(pn?.status));
    }
    await eventually(() => Promise.resolve(operator?.registry.voters().length ?? 0), (n) => n === 3);
  });

  test('a ThreatIndicator goes Proposed → Approved as signed votes arrive', async () => {
    const spec = { type: 'ipv4' as const, value: '198.51.100.23' };
    const name = indicatorObjectName(spec);
    const ti = await admin.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace: ns }, spec });
    const proposed = await eventually(() => admin.get<ThreatIndicator>(THREAT_INDICATORS, name, ns), (o) => o?.status?.quorum?.required === 3);
    assert.equal(proposed?.status?.phase, 'Proposed');
    const signedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const votes = partners.map((p) => signedVote(p, ti, 'approve', signedAt));
    await admin.patchStatus(THREAT_INDICATORS, name, ns, { status: { votes } });
    const approved = await eventually(() => admin.get<ThreatIndicator>(THREAT_INDICATORS, name, ns), (o) => o?.status?.phase === 'Approved');
    assert.equal(approved?.status?.phase, 'Approved');
    assert.equal(approved?.status?.quorum?.summary, '3/3');
  });

  test('the webhook refuses a forged phase, a forged vote and a non-digest name', async () => {
    const spec = { type: 'domain' as const, value: 'forged.example' };
    const name = indicatorObjectName(spec);
    await admin.create(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace: ns }, spec });
    const forged = await apiErrorOf(admin.patchStatus(THREAT_INDICATORS, name, ns, { status: { phase: 'Approved' } }));
    assert.match(forged.message, /status\.phase Approved is not proven by the signed votes/);
    const mallory = partner('mallory');
    const ti = { metadata: { name }, spec } as unknown as ThreatIndicator;
    const badVote = await apiErrorOf(admin.patchStatus(THREAT_INDICATORS, name, ns, { status: { votes: [signedVote(mallory, ti, 'approve')] } }));
    assert.match(badVote.message, /not signed by a known voter \(mallory: unknown-partner\)/);
    const badName = await apiErrorOf(admin.create(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: 'my-domain', namespace: ns }, spec: { type: 'domain', value: 'other.example' } }));
    assert.match(badName.message, /metadata\.name must be domain-[0-9a-f]{40}/);
  });

  test('a Feed runs as an owned Job; its completion is recorded with counts', async () => {
    await admin.create(FEEDS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'hourly', namespace: ns }, spec: { url: 'https://feeds.example/ips.txt', format: 'lines', schedule: { interval: '1h' }, defaults: { type: 'ipv4' } } });
    const running = await eventually(() => admin.get<Feed>(FEEDS, 'hourly', ns), (f) => f?.status?.activeRun?.jobName !== undefined);
    const jobName = running?.status?.activeRun?.jobName ?? '';
    assert.deepEqual(running?.metadata.finalizers, [FEED_FINALIZER]);
    const job = await admin.get<Job>(JOBS, jobName, ns);
    assert.equal(job?.metadata.ownerReferences?.[0]?.uid, running?.metadata.uid);
    assert.ok(job);
    assert.equal((job.spec as { template: { spec: { serviceAccountName: string } } }).template.spec.serviceAccountName, INGEST_NAME, 'ingest pods run as the least-privilege ingest ServiceAccount');
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await admin.patch(JOBS, jobName, ns, { metadata: { annotations: { [RUN_REPORT_ANNOTATION]: JSON.stringify({ outcome: 'succeeded', fetched: 40, new: 12, duplicate: 27, rejected: { 'invalid-ipv4': 1 } }) } } });
    await admin.patchStatus(JOBS, jobName, ns, { status: { startTime: now, completionTime: now, succeeded: 1, conditions: [{ type: 'SuccessCriteriaMet', status: 'True', lastProbeTime: now, lastTransitionTime: now }, { type: 'Complete', status: 'True', lastProbeTime: now, lastTransitionTime: now }] } });
    const done = await eventually(() => admin.get<Feed>(FEEDS, 'hourly', ns), (f) => f?.status?.lastRun?.outcome !== undefined);
    assert.equal(done?.status?.lastRun?.outcome, 'Succeeded', JSON.stringify(done?.status));
    assert.equal(done?.status?.lastRun?.summary, '40/12');
    assert.ok(done?.status?.nextRun, 'next run recorded');
    assert.equal(done?.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'Scheduled');
  });

  test('a Feed whose cron never parses gets Ready=False with the reason', async () => {
    await admin.create(FEEDS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'badcron', namespace: ns }, spec: { url: 'https://feeds.example/x.txt', format: 'lines', schedule: { cron: '61 * * * *' } } });
    const f = await eventually(() => admin.get<Feed>(FEEDS, 'badcron', ns), (o) => o?.status?.conditions?.some((c) => c.type === 'Ready') ?? false);
    const ready = f?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'InvalidSpec');
    assert.match(ready?.message ?? '', /cron minute 61 is outside 0-59/);
  });

  test('deleting a Feed with a running Job: the finalizer cancels the run, then the Feed goes', async () => {
    await admin.create(FEEDS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'doomed', namespace: ns }, spec: { url: 'https://feeds.example/y.txt', format: 'lines', schedule: { interval: '30m' } } });
    const running = await eventually(() => admin.get<Feed>(FEEDS, 'doomed', ns), (f) => f?.status?.activeRun?.jobName !== undefined);
    const jobName = running?.status?.activeRun?.jobName ?? '';
    await admin.delete(FEEDS, 'doomed', ns);
    const gone = await eventually(() => admin.get<Feed>(FEEDS, 'doomed', ns), (f) => f === undefined);
    assert.equal(gone, undefined);
    const job = await eventually(() => admin.get<Job>(JOBS, jobName, ns), (j) => j === undefined || j.metadata.deletionTimestamp !== undefined);
    assert.ok(job === undefined || job.metadata.deletionTimestamp !== undefined, 'the Job was deleted');
  });

  test('an approved indicator expires at validUntil', async () => {
    const spec = { type: 'domain' as const, value: 'expiring.example', validUntil: new Date(Date.now() + 15_000).toISOString().replace(/\.\d+Z$/, 'Z') };
    const name = indicatorObjectName(spec);
    const ti = await admin.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace: ns }, spec });
    const signedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await admin.patchStatus(THREAT_INDICATORS, name, ns, { status: { votes: partners.map((p) => signedVote(p, ti, 'approve', signedAt)) } });
    const approved = await eventually(() => admin.get<ThreatIndicator>(THREAT_INDICATORS, name, ns), (o) => o?.status?.phase === 'Approved' || o?.status?.phase === 'Expired');
    assert.equal(approved?.status?.phase, 'Approved');
    const expired = await eventually(() => admin.get<ThreatIndicator>(THREAT_INDICATORS, name, ns), (o) => o?.status?.phase === 'Expired');
    assert.equal(expired?.status?.phase, 'Expired');
    assert.ok(Date.now() >= Date.parse(spec.validUntil), 'not expired early');
  });

  test('a restarted operator adopts the running Job: nothing lost, nothing duplicated', async () => {
    await admin.create(FEEDS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'restart', namespace: ns }, spec: { url: 'https://feeds.example/z.txt', format: 'lines', schedule: { interval: '1m' } } });
    const running = await eventually(() => admin.get<Feed>(FEEDS, 'restart', ns), (f) => f?.status?.activeRun?.jobName !== undefined);
    const jobName = running?.status?.activeRun?.jobName;
    await operator?.stop();
    operator = undefined;
    // As if the operator died after creating the Job but before recording it.
    await admin.patchStatus(FEEDS, 'restart', ns, { status: { activeRun: null } });
    operator = await startOne(`op-test-${suffix}-2`);
    const adopted = await eventually(() => admin.get<Feed>(FEEDS, 'restart', ns), (f) => f?.status?.activeRun?.jobName !== undefined);
    assert.equal(adopted?.status?.activeRun?.jobName, jobName);
    const jobs = await admin.list<Job>(JOBS, { namespace: ns, labelSelector: 'threatmesh.io/feed=restart' });
    assert.deepEqual(jobs.items.map((j) => j.metadata.name), [jobName]);
    // The restarted operator must know the voters before judging indicators: no Approved → Proposed flapping.
    const approvedName = indicatorObjectName({ type: 'ipv4', value: '198.51.100.23' });
    const tiCount = (await admin.list(THREAT_INDICATORS, { namespace: ns })).items.length;
    const reconciled = async () => (await operator?.manager.metrics.reconcileTotal.get())?.values.filter((v) => v.labels['controller'] === 'threatindicator').reduce((a, v) => a + v.value, 0) ?? 0;
    assert.ok(await eventually(reconciled, (n) => n >= tiCount) >= tiCount, 'the restarted operator reconciled every indicator');
    const corrected = await admin.list<KubeObject & { reason?: string }>(events, { namespace: ns, fieldSelector: 'reason=PhaseCorrected' });
    assert.deepEqual(corrected.items.map((e) => e.metadata.name), []);
    assert.equal((await admin.get<ThreatIndicator>(THREAT_INDICATORS, approvedName, ns))?.status?.phase, 'Approved');
  });

  test('two replicas: one leads; when it dies without releasing the Lease, the other takes over', async () => {
    const standby = await startOne(`op-test-${suffix}-b`, 0);
    try {
      assert.equal(operator?.manager.isLeader(), true);
      assert.equal(standby.manager.isLeader(), false);
      await operator?.stop({ releaseLease: false });
      operator = standby;
    } catch (err) {
      await standby.stop();
      throw err;
    }
    const p = partner('failover', {}, ns);
    await admin.create(PARTNER_NODES, { ...p.node, metadata: { name: 'failover', namespace: ns } });
    const pn = await eventually(() => admin.get<PartnerNode>(PARTNER_NODES, 'failover', ns), (o) => o?.status?.conditions?.some((c) => c.type === 'Ready') ?? false, 45_000);
    assert.equal(pn?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(standby.manager.isLeader(), true);
    const lease = await admin.get<KubeObject & { spec?: { holderIdentity?: string } }>(leases, 'threatmesh-operator-leader', ns);
    assert.equal(lease?.spec?.holderIdentity, `op-test-${suffix}-b`);
  });
});

/**
 * Revocation and re-admission at the partners, against a real kube-apiserver (generated CRDs,
 * the admission webhook served by this test) and real FerretDB. Log entries are built and signed
 * here with the voters' keys, as a sequencer would record them, and applied through each
 * partner's MongoDB and Kubernetes sinks. Two partners share the API server, each with its own
 * namespace (its "cluster") and database: approve → revoke → every partner shows Revoked with
 * the certificate, forged Revoked writes are refused, replays change nothing, re-admission
 * gives Approved with the new index, repair rebuilds Revoked objects, and the Table view
 * `kubectl get ti` prints shows the phase.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { Writable } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { WEBHOOK_PATH, webhookConfiguration } from '../../operator/src/api/manifests.ts';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { createValidators, validatorFor } from '../../operator/src/api/validate.ts';
import { startWebhookServer, type WebhookServer } from '../../operator/src/api/webhook.ts';
import { testContext, TestClock } from '../../operator/src/controllers/fixtures.ts';
import { ThreatIndicatorReconciler } from '../../operator/src/controllers/threatindicator.ts';
import { VoterRegistry, type PartnerEntry } from '../../operator/src/api/partners.ts';
import { indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { signProposal, voteSubject, type EntryKind } from '../../operator/src/domain/entry.ts';
import { KubeIndicatorSink } from '../../operator/src/exchange/partner/kubesink.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { createLogger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { apiErrorOf } from '../harness/apierror.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { selfSignedLoopbackCert } from '../harness/tls.ts';
import { loadYamlDir } from '../harness/manifests.ts';

const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const webhookConfigs: ResourceRef = { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', kind: 'ValidatingWebhookConfiguration', namespaced: false };
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const suffix = uniqueSuffix();
const PARTNERS = ['p1', 'p2'] as const;
/** A partner that joins late and replicates the whole history in one batch. */
const LATE = 'late' as const;
type PartnerName = typeof PARTNERS[number] | typeof LATE;
const nsOf = (p: PartnerName): string => `tm-revoke-${p}-${suffix}`;
const webhookName = `ti-revoke-${suffix}.threatmesh.io`;
const VOTERS = ['alpha', 'bravo', 'charlie'] as const;
const QUORUM = 2;
const keys = Object.fromEntries(VOTERS.map((id) => [id, SigningKey.generate()])) as Record<typeof VOTERS[number], SigningKey>;
const clusterPartners: PartnerEntry[] = VOTERS.map((id) => ({ key: `tm/${id}`, partnerId: id, publicKey: keys[id].publicKey, roles: ['voter', 'contributor'] }));
const policy = { quorum: QUORUM };
const MINUTE = 60_000;
const start = Date.now() - 60 * MINUTE;

let cp: ControlPlane;
let mongo: MongoClient;
let kube: KubeHttpClient;
let webhook: WebhookServer;
const dbs = {} as Record<PartnerName, Db>;
const mongoSinks = {} as Record<PartnerName, MongoIndicatorSink>;
const kubeSinks = {} as Record<PartnerName, KubeIndicatorSink>;

/** A verified entry as the sequencer would log it: alpha proposes, alpha and bravo approve, the round opening `minute` minutes after the test's start. */
function entry(kind: EntryKind, index: number, indicator: Indicator, minute: number): VerifiedEntry {
  const opensAt = new Date(start + minute * MINUTE).toISOString();
  const digest = indicatorDigest(indicator);
  const signedAt = new Date(start + minute * MINUTE + 1000).toISOString();
  const votes = (['alpha', 'bravo'] as const).map((id) => signVote(keys[id], { partnerId: id, digest: voteSubject(kind, digest), decision: 'approve', signedAt }));
  return {
    kind, index, digest, indicator, proposerId: 'alpha', proposalSignature: signProposal(keys.alpha, kind, indicator),
    window: { opensAt, closesAt: new Date(start + minute * MINUTE + 72 * 60 * MINUTE).toISOString() }, votes,
  };
}

async function applyAll(...entries: VerifiedEntry[]): Promise<void> {
  for (const p of PARTNERS) {
    await mongoSinks[p].applyMany(entries);
    await kubeSinks[p].applyMany(entries);
  }
}

const get = (p: PartnerName, i: Indicator): Promise<ThreatIndicator | undefined> => kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(i), nsOf(p));
const record = async (p: PartnerName, i: Indicator) => (await mongoSinks[p].all()).find((r) => r.digest === indicatorDigest(i));


/** The rows `kubectl get ti -o wide` prints: the server-side Table of the namespace's ThreatIndicators. */
function table(ns: string): Promise<{ columns: string[]; rows: unknown[][] }> {
  const t = cp.target;
  return new Promise((resolve, reject) => {
    const url = new URL(`/apis/threatmesh.io/v1alpha1/namespaces/${ns}/threatindicators`, t.server);
    const req = request(url, {
      method: 'GET', ...(t.ca ? { ca: t.ca } : {}), ...(t.cert ? { cert: t.cert } : {}), ...(t.key ? { key: t.key } : {}),
      rejectUnauthorized: t.insecureSkipTlsVerify !== true,
      headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io', ...(t.token ? { authorization: `Bearer ${t.token}` } : {}) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        const body = JSON.parse(text) as { columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> };
        resolve({ columns: body.columnDefinitions.map((c) => c.name), rows: body.rows.map((r) => r.cells) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await applyManifests(kube, await loadYamlDir('crds'), 'revocation-test');
  const tls = await selfSignedLoopbackCert();
  webhook = await startWebhookServer({
    host: '127.0.0.1', port: 0, cert: tls.cert, key: tls.key, log: quiet,
    deps: { validator: validatorFor(createValidators(), 'ThreatIndicator'), partners: () => clusterPartners, now: () => new Date(), policy },
  });
  const cfg = webhookConfiguration({ url: `https://127.0.0.1:${webhook.port}${WEBHOOK_PATH}` }, Buffer.from(tls.cert).toString('base64'), webhookName) as { webhooks: Array<Record<string, unknown>> };
  const hooks = cfg.webhooks.map((w) => ({ ...w, name: webhookName, namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [...PARTNERS, LATE].map(nsOf) }] } }));
  await kube.create(webhookConfigs, { ...cfg, webhooks: hooks } as unknown as KubeObject);
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  for (const p of [...PARTNERS, LATE] as const) {
    await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: nsOf(p) } });
    dbs[p] = mongo.db(`tm_rv_${p}_${suffix}`);
    mongoSinks[p] = await MongoIndicatorSink.open(dbs[p]);
    kubeSinks[p] = new KubeIndicatorSink({ client: kube, namespace: nsOf(p), voters: () => clusterPartners, policy, now: () => new Date(), log: quiet });
  }
});

after(async () => {
  for (const p of [...PARTNERS, LATE] as const) await dbs[p]?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  if (kube) {
    await kube.delete(webhookConfigs, webhookName).catch(() => undefined);
    for (const p of [...PARTNERS, LATE] as const) await kube.delete(namespaces, nsOf(p)).catch(() => undefined);
    kube.close();
  }
  await webhook?.close();
  await cp?.stop();
});

describe('revocation and re-admission at every partner', () => {
  const evil: Indicator = { type: 'domain', value: 'revoked.example' };
  const other: Indicator = { type: 'domain', value: 'kept.example' };
  const add0 = entry('add', 0, evil, 0);
  const add1 = entry('add', 1, other, 1);
  const revoke2 = entry('revoke', 2, evil, 10);
  const readd3 = entry('add', 3, evil, 20);

  test('approved entries are Approved at every partner', async () => {
    await applyAll(add0, add1);
    for (const p of PARTNERS) {
      assert.deepEqual([(await get(p, evil))?.status?.phase, (await get(p, evil))?.status?.logIndex], ['Approved', 0], p);
      assert.equal((await get(p, other))?.status?.phase, 'Approved', p);
    }
  });

  test('a quorum-approved REVOKE makes every partner show Revoked with the certificate, in MongoDB and the cluster', async () => {
    await applyAll(revoke2);
    for (const p of PARTNERS) await revokedAt(p);
  });

  async function revokedAt(p: PartnerName): Promise<void> {
    const status = (await get(p, evil))?.status ?? {};
    assert.equal(status.phase, 'Revoked', `${p}: ${JSON.stringify(status)}`);
    assert.equal(status.logIndex, 0);
    assert.deepEqual(status.revocation, {
      logIndex: 2, proposerId: 'alpha', signature: revoke2.proposalSignature, window: revoke2.window,
      votes: revoke2.votes.map((v) => ({ partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature })),
    });
    const r = await record(p, evil);
    assert.ok(r?.revocation);
    assert.deepEqual([r.state, r.revokedAtIndex, r.revocation.logIndex, r.revocation.proposalSignature, r.revocation.votes.length], ['revoked', 2, 2, revoke2.proposalSignature, 2]);
    assert.equal((await get(p, other))?.status?.phase, 'Approved');
  }

  test('the ThreatIndicator controller keeps Revoked (its write passes the webhook) and kubectl get ti shows it', async () => {
    const registry = new VoterRegistry();
    for (const e of clusterPartners) registry.upsert(e);
    const reconciler = new ThreatIndicatorReconciler({ status: kube, registry, validator: validatorFor(createValidators(), 'ThreatIndicator'), policy });
    const ti = await get('p1', evil);
    assert.ok(ti);
    await reconciler.reconcile(testContext(new TestClock(new Date().toISOString())), `${nsOf('p1')}/${ti.metadata.name}`, ti);
    const after = await get('p1', evil);
    assert.equal(after?.status?.phase, 'Revoked');
    assert.match(after?.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '', /revoked at log index 2: 2 revoke approval\(s\) of 3 voters; 2 required/);
    const t = await table(nsOf('p1'));
    assert.deepEqual(t.columns, ['Name', 'Type', 'Value', 'Phase', 'Votes', 'Quorum', 'Index', 'Revocation', 'Age']);
    const row = t.rows.find((cells) => cells[0] === indicatorObjectName(evil));
    assert.deepEqual(row?.slice(1, 8), ['domain', 'revoked.example', 'Revoked', '2/2', 2, 0, 2]);
  });

  test('re-applying the revocation or replaying the revoked ADD changes nothing', async () => {
    const before = await Promise.all(PARTNERS.map(async (p) => (await get(p, evil))?.metadata.resourceVersion));
    await applyAll(add0, revoke2, add0);
    assert.deepEqual(await Promise.all(PARTNERS.map(async (p) => (await get(p, evil))?.metadata.resourceVersion)), before);
    for (const p of PARTNERS) assert.equal((await record(p, evil))?.state, 'revoked');
  });

  test('the webhook refuses forged revocations and un-revoking', async () => {
    const ns = nsOf('p1');
    const name = indicatorObjectName(other);
    const claim = await apiErrorOf(kube.patchStatus(THREAT_INDICATORS, name, ns, { status: { phase: 'Revoked' } }));
    assert.match(claim.message, /status\.phase Revoked is not proven: status\.revocation is missing; a ThreatIndicator is Revoked only when status\.revocation holds the certificate of a REVOKE entry/);
    const oneVote = entry('revoke', 5, other, 30);
    const short = { logIndex: 5, proposerId: 'alpha', signature: oneVote.proposalSignature, window: oneVote.window, votes: oneVote.votes.slice(0, 1).map((v) => ({ partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature })) };
    const noQuorum = await apiErrorOf(kube.patchStatus(THREAT_INDICATORS, name, ns, { status: { phase: 'Revoked', revocation: short } }));
    assert.match(noQuorum.message, /status\.phase Revoked is not proven: the revocation at log index 5 lacks quorum: 1 revoke approval\(s\) of 3 voters; 2 required/);
    // The ADD certificate of the same indicator presented as a revocation: the votes were signed for another subject.
    const replayed = { ...short, votes: add1.votes.map((v) => ({ partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature })) };
    const replay = await apiErrorOf(kube.patchStatus(THREAT_INDICATORS, name, ns, { status: { phase: 'Revoked', revocation: replayed } }));
    assert.match(replay.message, /status\.revocation is not a valid certificate \(revoke votes not signed by a known voter on this revocation: alpha: bad-signature, bravo: bad-signature\)/);
    const unrevoke = await apiErrorOf(kube.patchStatus(THREAT_INDICATORS, indicatorObjectName(evil), ns, { status: { phase: 'Approved', revocation: null } }));
    assert.match(unrevoke.message, /status\.revocation \(log index 2\) cannot be removed or changed: a revocation is final for this object/);
    assert.equal((await get('p1', other))?.status?.phase, 'Approved');
    assert.equal((await get('p1', evil))?.status?.phase, 'Revoked');
  });

  test('drift repair rebuilds a deleted Revoked object from the revoked record', async () => {
    await kube.delete(THREAT_INDICATORS, indicatorObjectName(evil), nsOf('p2'));
    const report = await kubeSinks.p2.repair(await mongoSinks.p2.all());
    assert.deepEqual(report, { restored: 1, corrected: 0, unchanged: 1, skipped: 0, unlogged: [] });
    const ti = await get('p2', evil);
    assert.deepEqual([ti?.status?.phase, ti?.status?.logIndex, ti?.status?.revocation?.logIndex], ['Revoked', 0, 2]);
  });

  test('a later ADD re-admits the indicator everywhere: Approved with the new index, the revocation cleared', async () => {
    await applyAll(readd3);
    for (const p of PARTNERS) await readmittedAt(p);
  });

  async function readmittedAt(p: PartnerName): Promise<void> {
    const ti = await get(p, evil);
    assert.ok(ti?.status);
    assert.deepEqual([ti.status.phase, ti.status.logIndex, ti.status.revocation], ['Approved', 3, undefined], `${p}: ${JSON.stringify(ti.status)}`);
    assert.equal(ti.spec.provenance?.proposedAt, readd3.window.opensAt);
    assert.deepEqual(ti.status.votes?.map((v) => v.signature), readd3.votes.map((v) => v.signature));
    const r = await record(p, evil);
    assert.ok(r);
    assert.deepEqual([r.state, r.logIndex, r.revokedAtIndex, r.revocation, r.proposalSignature], ['active', 3, undefined, undefined, readd3.proposalSignature]);
  }

  test('replaying the old ADD and the old REVOKE after re-admission changes nothing', async () => {
    const before = await Promise.all(PARTNERS.map(async (p) => (await get(p, evil))?.metadata.resourceVersion));
    await applyAll(add0, revoke2, readd3);
    assert.deepEqual(await Promise.all(PARTNERS.map(async (p) => (await get(p, evil))?.metadata.resourceVersion)), before);
    for (const p of PARTNERS) {
      const r = await record(p, evil);
      assert.deepEqual([r?.state, r?.logIndex], ['active', 3]);
    }
    const report = await kubeSinks.p1.repair(await mongoSinks.p1.all());
    assert.deepEqual(report, { restored: 0, corrected: 0, unchanged: 2, skipped: 0, unlogged: [] });
  });

  test('a partner replicating the whole history in one batch ends in the same state', async () => {
    await mongoSinks.late.applyMany([add0, add1, revoke2, readd3]);
    await kubeSinks.late.applyMany([add0, add1, revoke2, readd3]);
    const strip = (rs: Awaited<ReturnType<MongoIndicatorSink['all']>>) => rs.map((r) => [r.digest, r.state, r.logIndex, r.revokedAtIndex, r.proposalSignature]);
    assert.deepEqual(strip(await mongoSinks.late.all()), strip(await mongoSinks.p1.all()));
    for (const i of [evil, other]) {
      const [late, p1] = [await get(LATE, i), await get('p1', i)];
      assert.deepEqual([late?.status?.phase, late?.status?.logIndex, late?.status?.votes], [p1?.status?.phase, p1?.status?.logIndex, p1?.status?.votes]);
    }
  });

  test('the old revocation certificate cannot be written onto the re-admitted object', async () => {
    const old = (await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(evil), nsOf('p1')));
    assert.ok(old);
    const revocation = { logIndex: 4, proposerId: 'alpha', signature: revoke2.proposalSignature, window: revoke2.window, votes: revoke2.votes.map((v) => ({ partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature })) };
    const err = await apiErrorOf(kube.patchStatus(THREAT_INDICATORS, old.metadata.name, nsOf('p1'), { status: { phase: 'Revoked', revocation } }));
    assert.match(err.message, /status\.phase Revoked is not proven: the revocation at log index 4 does not apply: (its round opened at .*, before this admission|its log index 4 is not after the admission's log index)/);
  });
});

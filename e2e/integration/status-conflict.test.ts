/**
 * Two writers of one status on a real kube-apiserver. The controllers compute a status from
 * their informer's cached copy while the exchange patches the same status (a ThreatIndicator's
 * signed votes, a PartnerNode's Replicating condition). A reconcile of a copy read before the
 * exchange's write must fail with 409 Conflict, not put back the arrays it read: a JSON merge
 * patch replaces a whole array, so the stale write would erase the newer votes or condition.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PARTNER_NODES, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode, ThreatIndicator } from '../../operator/src/api/types.ts';
import { VoterRegistry, partnerEntry } from '../../operator/src/api/partners.ts';
import { createValidators, validatorFor } from '../../operator/src/api/validate.ts';
import { indicator, partner, signedVote, testContext, TestClock, type TestPartner } from '../../operator/src/controllers/fixtures.ts';
import { PartnerNodeReconciler } from '../../operator/src/controllers/partnernode.ts';
import { ThreatIndicatorReconciler } from '../../operator/src/controllers/threatindicator.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { apiErrorOf } from '../harness/apierror.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { loadYamlDir } from '../harness/manifests.ts';

const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const ns = `tm-status-${uniqueSuffix()}`;
const HOUR = 3_600_000;

let cp: ControlPlane;
let kube: KubeHttpClient;
const voters: TestPartner[] = ['alpha', 'bravo', 'charlie'].map((id) => partner(id, {}, ns));
const registry = new VoterRegistry();

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ mongo: false }));
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(kube, await loadYamlDir('crds'), 'status-conflict-test');
  for (const v of voters) {
    const e = partnerEntry(`${ns}/${v.id}`, v.node);
    if (e.ok) registry.upsert(e.entry);
  }
});

after(async () => {
  if (kube) {
    await kube.delete(namespaces, ns).catch(() => undefined);
    kube.close();
  }
  await cp?.stop();
});


/** Creates the object without status, so the API server (not the test) assigns resourceVersion and creationTimestamp. */
async function created<T extends KubeObject>(ref: ResourceRef, obj: T): Promise<T> {
  const { metadata, ...rest } = obj;
  const { resourceVersion: _rv, uid: _uid, creationTimestamp: _ts, generation: _g, ...meta } = metadata;
  return kube.create<T>(ref, { ...rest, metadata: meta } as T);
}

describe('a controller writing status from a stale cached copy', () => {
  test('ThreatIndicator: the exchange\'s newer votes survive; the next reconcile reads them and approves', async () => {
    const reconciler = new ThreatIndicatorReconciler({ status: kube, registry, validator: validatorFor(createValidators(), 'ThreatIndicator'), policy: { votingWindowMs: 24 * HOUR } });
    const ti = await created(THREAT_INDICATORS, indicator('ipv4-stale', { value: '192.0.2.77' }, ns));
    // Votes count inside the window that opens at the object's creation.
    const opened = Date.parse(ti.metadata.creationTimestamp ?? '');
    const signedAt = new Date(opened + 1_000).toISOString();
    const clock = new TestClock(new Date(opened + 2_000).toISOString());
    const [a, b, c] = voters.map((v) => signedVote(v, ti, 'approve', signedAt));
    const stale = await kube.patchStatus<ThreatIndicator>(THREAT_INDICATORS, ti.metadata.name, ns, { status: { votes: [a] } });
    await kube.patchStatus(THREAT_INDICATORS, ti.metadata.name, ns, { status: { votes: [a, b, c] } });

    const err = await apiErrorOf(reconciler.reconcile(testContext(clock), `${ns}/${ti.metadata.name}`, stale), 'the reconcile of the stale copy wrote its status');
    assert.equal(err.status, 409, err.message);
    const fresh = await kube.get<ThreatIndicator>(THREAT_INDICATORS, ti.metadata.name, ns);
    assert.deepEqual(fresh?.status?.votes?.map((v) => v.partnerId), ['alpha', 'bravo', 'charlie'], 'the votes written after the cached read are all there');

    await reconciler.reconcile(testContext(clock), `${ns}/${ti.metadata.name}`, fresh);
    const done = await kube.get<ThreatIndicator>(THREAT_INDICATORS, ti.metadata.name, ns);
    assert.deepEqual([done?.status?.phase, done?.status?.votes?.length], ['Approved', 3], JSON.stringify(done?.status?.conditions));
  });

  test('PartnerNode: the exchange\'s Replicating condition survives the Ready condition\'s write', async () => {
    const clock = new TestClock(new Date().toISOString());
    const reconciler = new PartnerNodeReconciler({ status: kube, registry: new VoterRegistry(), validator: validatorFor(createValidators(), 'PartnerNode') });
    const node = await created(PARTNER_NODES, partner('delta', {}, ns).node);
    const replicating = { type: 'Replicating', status: 'True', reason: 'CaughtUp', message: 'at the sequencer\'s head', lastTransitionTime: new Date().toISOString() };
    const stale = await kube.get<PartnerNode>(PARTNER_NODES, node.metadata.name, ns);
    await kube.patchStatus(PARTNER_NODES, node.metadata.name, ns, { status: { conditions: [replicating] } });

    const err = await apiErrorOf(reconciler.reconcile(testContext(clock), `${ns}/${node.metadata.name}`, stale), 'the reconcile of the stale copy wrote its status');
    assert.equal(err.status, 409, err.message);
    const fresh = await kube.get<PartnerNode>(PARTNER_NODES, node.metadata.name, ns);
    await reconciler.reconcile(testContext(clock), `${ns}/${node.metadata.name}`, fresh);
    const done = await kube.get<PartnerNode>(PARTNER_NODES, node.metadata.name, ns);
    assert.deepEqual(done?.status?.conditions?.map((c) => c.type).sort(), ['Ready', 'Replicating']);
  });

  test('a reconcile of the current copy writes at once (the precondition holds)', async () => {
    const clock = new TestClock(new Date().toISOString());
    const reconciler = new ThreatIndicatorReconciler({ status: kube, registry, validator: validatorFor(createValidators(), 'ThreatIndicator'), policy: { votingWindowMs: 24 * HOUR } });
    const ti = await created(THREAT_INDICATORS, indicator('ipv4-current', { value: '192.0.2.78' }, ns));
    await reconciler.reconcile(testContext(clock), `${ns}/${ti.metadata.name}`, ti);
    const done = await kube.get<ThreatIndicator>(THREAT_INDICATORS, ti.metadata.name, ns);
    assert.deepEqual([done?.status?.phase, done?.status?.quorum?.approvals], ['Proposed', 0]);
  });
});

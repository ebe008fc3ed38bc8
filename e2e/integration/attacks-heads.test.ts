/**
 * Trust model, suspicion "a sequencer that stops signing new tree heads is invisible". A
 * sequencer that withholds new entries keeps serving an old head; one that dates its heads ahead
 * would never look old. The partner service must report both on the sequencer's PartnerNode
 * (HeadFresh condition, Event, metric) and recover when fresh heads come again. Real parts: the
 * real exchange endpoint over gRPC with mutual TLS (the hostile log behind it signs heads at the
 * time the test sets), the partner service as the operator runs it, a real kube-apiserver with
 * the generated CRDs and a real MongoDB-wire server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { Registry } from 'prom-client';
import { PARTNER_NODES } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode } from '../../operator/src/api/types.ts';
import { VoterRegistry } from '../../operator/src/api/partners.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { startPartnerService } from '../../operator/src/exchange/partner/service.ts';
import type { RunningPartner } from '../../operator/src/exchange/partner/serviceoptions.ts';
import { startExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import type { PartnerEntry, TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { eventsResource } from '../../operator/src/runtime/events.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { HostileLog } from '../harness/hostile.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = uniqueSuffix();
const ns = `tm-attack-heads-${suffix}`;
const alphaKey = SigningKey.generate();
const MAX_AGE_MS = 5_000;
const log = new HostileLog();
const metrics = new Registry();

let cp: ControlPlane;
let kube: KubeHttpClient;
let mongo: MongoClient;
let ca: TestCa;
let partner: RunningPartner | undefined;
const closers: Array<() => Promise<void> | void> = [];

function node(name: string, spec: PartnerNode['spec']): PartnerNode {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name, namespace: ns }, spec };
}

/** Polls `attempt` until `done`, failing with `what` and the last value after `ms`. */
async function until<T>(what: string, attempt: () => Promise<T>, done: (r: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await attempt();
    if (done(r)) return r;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

async function headFresh(): Promise<{ status?: string; reason?: string; message?: string } | undefined> {
  const pn = await kube.get<PartnerNode>(PARTNER_NODES, 'sequencer', ns);
  return pn?.status?.conditions?.find((c) => c.type === 'HeadFresh');
}

async function metric(name: string): Promise<number> {
  const m = (await metrics.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + Number(v.value), 0);
}

async function eventReasons(): Promise<string[]> {
  const list = await kube.list<KubeObject & { reason?: string; involvedObject?: { name?: string } }>(eventsResource, { namespace: ns });
  return list.items.filter((e) => e.involvedObject?.name === 'sequencer').map((e) => e.reason ?? '');
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(kube, await loadYamlDir('crds'), 'attacks-test');
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  ca = await createTestCa('threatmesh-attack-heads');
  const tls = {} as Record<'alpha' | 'sequencer', TlsMaterial>;
  for (const id of ['alpha', 'sequencer'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
  const directory = new Map<string, PartnerEntry>([['alpha', { partnerId: 'alpha', publicKey: alphaKey.publicKey, roles: ['contributor', 'voter'] }]]);
  const server = await startExchangeServer({ sequencer: log, directory, tls: tls.sequencer, address: '127.0.0.1:0', log: quiet });
  closers.push(() => server.stop());
  for (const pn of [
    node('sequencer', { partnerId: 'sequencer', organization: 'network sequencer', endpoint: `127.0.0.1:${server.port}`, publicKey: log.key.publicKey.toRawBase64(), roles: ['sequencer'] }),
    node('alpha', { partnerId: 'alpha', organization: 'alpha org', endpoint: '127.0.0.1:1', publicKey: alphaKey.publicKey.toRawBase64(), roles: ['contributor', 'voter'] }),
  ]) await kube.create(PARTNER_NODES, pn);
  // The sequencer went quiet ten minutes ago: every head it serves is that old.
  log.now = new Date(Date.now() - 600_000);
  const db = mongo.db(`tm_attack_heads_${suffix}`);
  closers.push(() => db.dropDatabase().then(() => undefined));
  partner = await startPartnerService({
    client: kube, db, namespace: ns, partnerId: 'alpha', key: alphaKey, tls: tls.alpha, votingPolicy: { mode: 'manual', warningLists: false },
    registry: new VoterRegistry(), metrics, log: quiet, gossipBind: { host: '127.0.0.1', port: 0 }, syncIntervalMs: 200, repairIntervalMs: 60_000, waitMs: 200, maxHeadAgeMs: MAX_AGE_MS,
  });
});

after(async () => {
  await partner?.stop();
  for (const close of closers.reverse()) await close();
  await mongo?.close();
  if (kube) {
    await kube.delete(namespaces, ns).catch(() => undefined);
    kube.close();
  }
  await ca?.dispose();
  await cp?.stop();
});

describe('a sequencer that stops signing heads, or dates them ahead', () => {
  test('an old head: HeadFresh=False StaleHead with an Event, and the head age metric shows it', async () => {
    const c = await until('HeadFresh=False StaleHead', headFresh, (x) => x?.reason === 'StaleHead', 20_000);
    assert.equal(c?.status, 'False');
    assert.match(c?.message ?? '', /stopped signing heads or cannot be reached/);
    assert.ok(await metric('threatmesh_exchange_sequencer_head_age_seconds') >= 590);
    await until('a StaleHead Event', eventReasons, (r) => r.includes('StaleHead'), 10_000);
  });

  test('fresh heads again (the heartbeat resumes): HeadFresh=True', async () => {
    log.now = undefined;
    const c = await until('HeadFresh=True', headFresh, (x) => x?.status === 'True', 20_000);
    assert.equal(c?.reason, 'Fresh');
    assert.ok(await metric('threatmesh_exchange_sequencer_head_age_seconds') < 60);
  });

  test('a head dated an hour ahead: FutureHead, reported as misbehaviour, and it does not count as fresh', async () => {
    log.now = new Date(Date.now() + 3_600_000);
    const c = await until('HeadFresh=False FutureHead', headFresh, (x) => x?.reason === 'FutureHead', 20_000);
    assert.equal(c?.status, 'False');
    assert.ok(await metric('threatmesh_exchange_sequencer_misbehaviour_total') >= 1);
    await until('a SequencerMisbehaviour Event', eventReasons, (r) => r.includes('SequencerMisbehaviour'), 10_000);
    log.now = undefined;
    await until('HeadFresh=True once heads are honest again', headFresh, (x) => x?.status === 'True', 20_000);
  });
});

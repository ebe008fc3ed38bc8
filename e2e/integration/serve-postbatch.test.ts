/**
 * TAXII 2.1 POSTs signed as batch proposals (protocol v2) on real parts: `threatmesh serve`'s
 * service over HTTPS, a real kube-apiserver for the proposals and FerretDB for the partner's
 * data. With `proposalBatchSize` 4 the ADD proposals of one POST share Merkle batches of up to
 * 4: each created ThreatIndicator carries its proof, verifies alone for its own indicator and
 * metadata, and for no other. Adversarial: the leaves are only the POST's own objects that passed
 * every check (a rejected or unsignable object is no leaf, and is refused by its id with the
 * reason; two POSTs at once never share a batch), so a client cannot have the partner sign
 * anything it did not submit, and one bad object neither blocks nor silently rides with the rest.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { MongoClient, type Db } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { metaOfSpec } from '../../operator/src/api/specmeta.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { verifySignedProposal } from '../../operator/src/domain/proposalbatch.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import { loadServeConfig, tokenHash, validateServeConfig } from '../../operator/src/serve/config.ts';
import { startServeService, type RunningServe } from '../../operator/src/serve/service.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';

const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const TOKEN = 'amber-contributor-token-0123456789';
const BATCH = 4;
const signer = SigningKey.generate();
let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let kube: KubeHttpClient;
let ca: TestCa;
/** One serve per namespace: batching on (BATCH) and off (0). */
const served: Record<'batched' | 'single', { ns: string; serve?: RunningServe }> = { batched: { ns: `postbatch-${uniqueSuffix()}` }, single: { ns: `postsingle-${uniqueSuffix()}` } };

function post(which: keyof typeof served, objects: readonly object[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: served[which].serve!.port, method: 'POST', path: '/api/collections/tlp-amber/objects/', ca: ca.caPem,
      headers: { accept: 'application/taxii+json;version=2.1', 'content-type': 'application/taxii+json;version=2.1', authorization: `Bearer ${TOKEN}` },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ objects }));
  });
}

let serial = 0;
function indicatorObject(pattern: string, extra: Record<string, unknown> = {}): { id: string } & Record<string, unknown> {
  const id = `indicator--0d6a8f55-1c5b-4b7e-9a8e-${String(++serial).padStart(12, '0')}`;
  return { type: 'indicator', spec_version: '2.1', id, created: '2026-12-07T06:00:00.000Z', modified: '2026-12-07T06:00:00.000Z', pattern, pattern_type: 'stix', valid_from: '2026-12-07T06:00:00.000Z', ...extra };
}

const domainObject = (name: string, extra: Record<string, unknown> = {}): ReturnType<typeof indicatorObject> => indicatorObject(`[domain-name:value = '${name}']`, extra);

async function proposed(ns: string): Promise<ThreatIndicator[]> {
  return (await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns })).items;
}

function indicatorOf(ti: ThreatIndicator): Indicator {
  return { type: ti.spec.type, value: ti.spec.value };
}

function verifies(ti: ThreatIndicator, as: Indicator = indicatorOf(ti), spec = ti.spec): boolean {
  const meta = metaOfSpec(spec);
  const p = ti.spec.proposal;
  return meta.ok && p !== undefined && verifySignedProposal(signer.publicKey, 'add', as, { signature: p.signature, ...(p.batch === undefined ? {} : { batch: p.batch }) }, meta.meta);
}

/** The batch size written in a proof ("index size root path..."). */
function batchSize(ti: ThreatIndicator): number {
  return Number(ti.spec.proposal?.batch?.split(' ')[1]);
}

type Status = { status: string; pending_count: number; failure_count: number; failures: Array<{ id: string; message: string }> };

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  db = mongo.db(`tm_postbatch_${uniqueSuffix()}`);
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await applyManifests(kube, await loadYamlDir('crds'), 'postbatch-test');
  ca = await createTestCa('postbatch-test-ca');
  const cert = await ca.issue('partner-a-serve', 'server');
  const config = await loadServeConfig(validateServeConfig({ consumers: [{ name: 'intel-amber', maxTlp: 'amber', roles: ['contributor'], tokens: [{ sha256: tokenHash(TOKEN) }] }] }), () => Promise.resolve(''));
  for (const [which, size] of [['batched', BATCH], ['single', 0]] as const) {
    const s = served[which];
    await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: s.ns } });
    s.serve = await startServeService({
      config, db, partnerId: 'partner-a', tls: { certPem: cert.certPem, keyPem: cert.keyPem },
      listen: { host: '127.0.0.1', port: 0 }, metricsBind: { host: '127.0.0.1', port: 0 }, proposing: { kube, namespace: s.ns, signer, proposalBatchSize: size },
      log: createLogger(process.stderr, 'warn', { component: 'postbatch-test' }),
    });
  }
});

after(async () => {
  for (const s of Object.values(served)) await s.serve?.stop();
  await db?.dropDatabase();
  await mongo?.close();
  if (kube) {
    for (const s of Object.values(served)) await kube.delete(namespaces, s.ns).catch(() => undefined);
    kube.close();
  }
  await cp?.stop();
});

describe('TAXII POST with --proposal-batch-size', () => {
  test('one POST of 6 good objects: batches of 4 and 2, one signature each; every proof verifies alone, for its own indicator only', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `batch-${i}.evil-threatmesh-test.net`);
    const res = await post('batched', names.map((n) => domainObject(n, { confidence: 70, labels: ['c2'] })));
    assert.equal(res.status, 202, res.body);
    assert.deepEqual([(JSON.parse(res.body) as Status).pending_count, (JSON.parse(res.body) as Status).failure_count], [6, 0]);
    const items = (await proposed(served.batched.ns)).filter((t) => names.includes(t.spec.value));
    assert.equal(items.length, 6);
    for (const ti of items) {
      assert.ok(ti.spec.proposal?.batch !== undefined, `${ti.spec.value} carries a batch proof (batching ignored?)`);
      assert.ok(verifies(ti), `${ti.spec.value} verifies alone`);
    }
    const bySignature = new Map<string, number[]>();
    for (const ti of items) bySignature.set(ti.spec.proposal!.signature, [...(bySignature.get(ti.spec.proposal!.signature) ?? []), batchSize(ti)]);
    assert.deepEqual([...bySignature.values()].map((sizes) => sizes.join(',')).sort(), ['2,2', '4,4,4,4'], 'two batches, in POST order');
    // A proof moved onto another indicator, or onto other metadata, verifies for nothing.
    const [a, b] = items;
    assert.equal(verifies(a!, indicatorOf(b!)), false);
    assert.equal(verifies(a!, indicatorOf(a!), { ...a!.spec, confidence: 99 }), false);
  });

  test('adversarial: rejected and unsignable objects are no leaves, each refused by its id with the reason; the rest form a batch of exactly what passed', async () => {
    const good = [domainObject('left.evil-threatmesh-test.net'), domainObject('right.evil-threatmesh-test.net')];
    const listed = indicatorObject("[ipv4-addr:value = '10.9.8.7']");
    const malformed = indicatorObject('[domain-name:value = ');
    // A lone surrogate in a label: its metadata has no canonical JSON, so it cannot be signed.
    const unsignable = domainObject('lone.evil-threatmesh-test.net', { labels: ['bad \ud800 label'] });
    const res = await post('batched', [good[0]!, listed, unsignable, malformed, good[1]!]);
    assert.equal(res.status, 202, res.body);
    const status = JSON.parse(res.body) as Status;
    assert.deepEqual([status.pending_count, status.failure_count], [2, 3], res.body);
    const why = new Map(status.failures.map((f) => [f.id, f.message]));
    assert.match(why.get(listed.id) ?? '', /warning list/);
    assert.match(why.get(malformed.id) ?? '', /pattern/i);
    assert.match(why.get(unsignable.id) ?? '', /refused: .*meta\.labels\[0\].*lone UTF-16 surrogate/);
    const items = await proposed(served.batched.ns);
    assert.equal(items.some((t) => t.spec.value === 'lone.evil-threatmesh-test.net'), false, 'the unsignable object is not proposed');
    const pair = items.filter((t) => t.spec.value.endsWith('.evil-threatmesh-test.net') && ['left', 'right'].includes(t.spec.value.split('.')[0]!));
    assert.equal(pair.length, 2);
    assert.equal(pair[0]!.spec.proposal?.signature, pair[1]!.spec.proposal?.signature, 'one batch');
    assert.deepEqual(pair.map(batchSize), [2, 2], 'the batch holds exactly the two objects that passed: nothing else is a leaf');
    for (const ti of pair) assert.ok(verifies(ti));
  });

  test('adversarial: two POSTs at once never share a batch; each batch holds only its own request\'s objects', async () => {
    const first = ['one-a', 'one-b', 'one-c'].map((n) => domainObject(`${n}.evil-threatmesh-test.net`));
    const second = ['two-a'].map((n) => domainObject(`${n}.evil-threatmesh-test.net`));
    const [r1, r2] = await Promise.all([post('batched', first), post('batched', second)]);
    assert.equal(r1.status, 202, r1.body);
    assert.equal(r2.status, 202, r2.body);
    const items = await proposed(served.batched.ns);
    const of = (prefix: string): ThreatIndicator[] => items.filter((t) => t.spec.value.startsWith(prefix));
    assert.deepEqual(of('one-').map(batchSize), [3, 3, 3]);
    assert.deepEqual(of('two-').map(batchSize), [1]);
    assert.equal(new Set(of('one-').map((t) => t.spec.proposal?.signature)).size, 1);
    assert.notEqual(of('two-')[0]?.spec.proposal?.signature, of('one-')[0]?.spec.proposal?.signature);
  });

  test('with batch size 0 each proposal is signed alone, as before (protocol v1)', async () => {
    const res = await post('single', [domainObject('solo-a.evil-threatmesh-test.net'), domainObject('solo-b.evil-threatmesh-test.net')]);
    assert.equal(res.status, 202, res.body);
    const items = await proposed(served.single.ns);
    assert.equal(items.length, 2);
    for (const ti of items) {
      assert.equal(ti.spec.proposal?.batch, undefined);
      assert.ok(verifies(ti));
    }
    assert.notEqual(items[0]?.spec.proposal?.signature, items[1]?.spec.proposal?.signature);
  });
});

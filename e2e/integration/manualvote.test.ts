/**
 * Voting from the cluster: a sequencer behind real gRPC with mutual TLS (its log on the control
 * plane's MongoDB-wire server) and three partners whose clusters are namespaces of a real
 * kube-apiserver with the generated CRDs. Each partner runs a PendingMirror: alpha's proposal
 * appears as a Proposed ThreatIndicator at bravo and charlie; analysts vote by annotating it
 * (kubectl-style metadata patches); votes are signed, sent once, and their outcome is written
 * back; a quorum of annotations admits the indicator into the log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorCanonicalJson, indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { signProposal } from '../../operator/src/domain/entry.ts';
import { MANUAL_VOTE, PendingMirror, type MirrorReport } from '../../operator/src/exchange/partner/manualvote.ts';
import type { PendingRound } from '../../operator/src/exchange/protocol/messages.ts';
import { createLogger, type Logger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { startTestSequencer, type TestSequencer } from '../harness/sequencer.ts';
import { loadYamlDir } from '../harness/manifests.ts';

type Id = 'alpha' | 'bravo' | 'charlie';
const IDS: readonly Id[] = ['alpha', 'bravo', 'charlie'];
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = uniqueSuffix();
/** One namespace per partner cluster, and one for a partner that knows a wrong key for alpha. */
const ns = { alpha: `tm-mv-a-${suffix}`, bravo: `tm-mv-b-${suffix}`, charlie: `tm-mv-c-${suffix}`, stale: `tm-mv-x-${suffix}` };
const logLines: string[] = [];
const closers: Array<() => Promise<void> | void> = [];
const evil: Indicator = { type: 'domain', value: 'c2.manual-vote.example' };
const other: Indicator = { type: 'ipv4', value: '198.51.100.77' };
const stray: Indicator = { type: 'domain', value: 'never-proposed.manual-vote.example' };
const NONE: MirrorReport = { pending: 0, mirrored: 0, badSignature: 0, votes: 0, results: 0, unlabeled: 0, revocations: 0, deferred: 0 };

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let net: TestSequencer;
let kube: KubeHttpClient;
const clients = {} as Record<Id, ExchangeClient>;
const mirrors = {} as Record<Id, PendingMirror>;

function logger(): Logger {
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
  return createLogger(out, 'debug');
}

function known(wrongAlpha = false): Array<{ partnerId: string; publicKey: SigningKey['publicKey'] }> {
  return IDS.map((id) => ({ partnerId: id, publicKey: wrongAlpha && id === 'alpha' ? SigningKey.generate().publicKey : net.partners.get(id)!.key.publicKey }));
}

/** Every analyst's vote a mirror was told the sequencer answered (the missing-decision check's input): [partner, digest, kind, status, logIndex]. */
const answered: Array<[string, string, string, string, number | undefined]> = [];

function mirror(id: Id, namespace: string, partners = known(), now = (): Date => new Date()): PendingMirror {
  return new PendingMirror({
    client: kube, namespace, sequencer: clients[id], partnerId: id, key: net.partners.get(id)!.key, partners: () => partners, now, log: logger(),
    onVoted: (round, _vote, result) => answered.push([id, round.digest, round.kind, result.status, result.logIndex]),
  });
}

async function propose(ind: Indicator): Promise<void> {
  const ack = await clients.alpha.propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(ind), proposerId: 'alpha', signature: signProposal(net.partners.get('alpha')!.key, 'add', ind) });
  assert.equal(ack.status, 'opened');
}

async function get(namespace: string, ind: Indicator): Promise<ThreatIndicator | undefined> {
  return kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(ind), namespace);
}

/** What `kubectl annotate ti NAME k=v` (and `k-` for null) sends. */
async function annotate(namespace: string, ind: Indicator, annotations: Record<string, string | null>): Promise<void> {
  await kube.patch(THREAT_INDICATORS, indicatorObjectName(ind), namespace, { metadata: { annotations } });
}

async function round(ind: Indicator): Promise<PendingRound | undefined> {
  return (await clients.alpha.listPending()).find((r) => r.digest === indicatorDigest(ind));
}

function warnings(msg: string): number {
  return logLines.filter((l) => l.includes('"warn"') && l.includes(msg)).length;
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  for (const n of Object.values(ns)) await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } });
  await applyManifests(kube, await loadYamlDir('crds'), 'manualvote-test');
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  db = mongo.db(`tm_mv_${suffix}`);
  net = await startTestSequencer(db, { alpha: ['contributor', 'voter'], bravo: ['voter'], charlie: ['voter'] }, 2);
  for (const id of IDS) {
    const c = new ExchangeClient({ address: net.address, tls: net.partners.get(id)!.tls, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
    closers.push(() => c.close());
    clients[id] = c;
  }
  for (const id of IDS) mirrors[id] = mirror(id, ns[id]);
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await net?.stop();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  if (kube) {
    for (const n of Object.values(ns)) await kube.delete(namespaces, n).catch(() => undefined);
    kube.close();
  }
  await cp?.stop();
});

describe('voting from the cluster with annotations', () => {
  test("alpha's pending proposal appears in bravo's cluster as a Proposed ThreatIndicator, created once", async () => {
    await propose(evil);
    const r = await round(evil);
    assert.ok(r);
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NONE, pending: 1, mirrored: 1 });
    const ti = await get(ns.bravo, evil);
    assert.ok(ti, 'mirrored object exists');
    assert.equal(ti.metadata.labels?.[MANUAL_VOTE.pendingLabel], 'true');
    assert.equal(ti.status?.phase, 'Proposed');
    assert.deepEqual({ type: ti.spec.type, value: ti.spec.value, provenance: ti.spec.provenance, proposal: ti.spec.proposal }, {
      type: 'domain', value: evil.value, provenance: { partner: 'alpha', proposedAt: r.window.opensAt }, proposal: { partnerId: 'alpha', signature: r.signature },
    });
    assert.match(ti.spec.pattern ?? '', /^\[domain-name:value = 'c2\.manual-vote\.example'\]$/);
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NONE, pending: 1 });
    assert.equal((await get(ns.bravo, evil))?.metadata.resourceVersion, ti.metadata.resourceVersion, 'the second sync wrote nothing');
  });

  test('a proposal whose signature does not verify with the known proposer key is not mirrored (warned once)', async () => {
    const stale = mirror('bravo', ns.stale, known(true));
    assert.deepEqual(await stale.syncOnce(), { ...NONE, pending: 1, badSignature: 1 });
    assert.deepEqual(await stale.syncOnce(), { ...NONE, pending: 1, badSignature: 1 });
    assert.equal(await get(ns.stale, evil), undefined);
    assert.equal(warnings('proposal signature that does not verify'), 1);
  });

  test("bravo's approve annotation is signed, counted at the sequencer, recorded, and never sent twice", async () => {
    await annotate(ns.bravo, evil, { [MANUAL_VOTE.vote]: 'approve' });
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NONE, pending: 1, votes: 1, results: 1 });
    const ti = await get(ns.bravo, evil);
    const a = ti?.metadata.annotations ?? {};
    assert.equal(a[MANUAL_VOTE.result], 'counted: approve counted; quorum not reached yet (1 approve, 0 reject, 2 required)');
    assert.ok(!Number.isNaN(Date.parse(a[MANUAL_VOTE.votedAt] ?? '')), `voted-at ${a[MANUAL_VOTE.votedAt]}`);
    assert.deepEqual((await round(evil))?.tally, { approvals: 1, rejections: 0, required: 2 });
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NONE, pending: 1 });
    assert.equal((await get(ns.bravo, evil))?.metadata.resourceVersion, ti?.metadata.resourceVersion);
  });

  test('after a restart the result annotation still prevents a second vote; an annotated object with no round gets no-open-round', async () => {
    const name = indicatorObjectName(stray);
    await kube.create<ThreatIndicator>(THREAT_INDICATORS, {
      apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator',
      metadata: { name, namespace: ns.bravo, annotations: { [MANUAL_VOTE.vote]: 'approve' } }, spec: { type: stray.type, value: stray.value },
    });
    const restarted = mirror('bravo', ns.bravo);
    // The first sync of a new mirror scans the whole namespace.
    assert.deepEqual(await restarted.syncOnce(), { ...NONE, pending: 1, results: 1 });
    const a = (await get(ns.bravo, stray))?.metadata.annotations ?? {};
    assert.equal(a[MANUAL_VOTE.result], 'no-open-round: approve not sent: the sequencer has no open round for this indicator (already decided, expired or never proposed)');
    assert.equal(a[MANUAL_VOTE.votedAt], undefined);
    assert.deepEqual((await round(evil))?.tally, { approvals: 1, rejections: 0, required: 2 });
  });

  test("charlie's reject with a reason reaches the sequencer", async () => {
    assert.deepEqual(await mirrors.charlie.syncOnce(), { ...NONE, pending: 1, mirrored: 1 });
    await annotate(ns.charlie, evil, { [MANUAL_VOTE.vote]: 'reject', [MANUAL_VOTE.reason]: 'sinkholed by the registrar since May' });
    assert.deepEqual(await mirrors.charlie.syncOnce(), { ...NONE, pending: 1, votes: 1, results: 1 });
    assert.equal((await get(ns.charlie, evil))?.metadata.annotations?.[MANUAL_VOTE.result], 'counted: reject counted; quorum not reached yet (1 approve, 1 reject, 2 required)');
    assert.deepEqual((await round(evil))?.tally, { approvals: 1, rejections: 1, required: 2 });
  });

  test('an invalid vote value is reported on the object and not sent', async () => {
    await propose(other);
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NONE, pending: 2, mirrored: 1 });
    await annotate(ns.bravo, other, { [MANUAL_VOTE.vote]: 'yes' });
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NONE, pending: 2, results: 1 });
    assert.equal((await get(ns.bravo, other))?.metadata.annotations?.[MANUAL_VOTE.result], 'invalid: use approve or reject, not "yes"');
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NONE, pending: 2 });
    assert.equal(warnings('invalid vote annotation'), 1);
    assert.deepEqual((await round(other))?.tally, { approvals: 0, rejections: 0, required: 2 });
  });

  test("alpha's approve annotation reaches quorum: the round is admitted, the log grows, and charlie's reason is in the entry", async () => {
    const before = (await clients.alpha.treeHead()).treeSize;
    assert.deepEqual(await mirrors.alpha.syncOnce(), { ...NONE, pending: 2, mirrored: 2 });
    await annotate(ns.alpha, evil, { [MANUAL_VOTE.vote]: 'approve' });
    assert.deepEqual(await mirrors.alpha.syncOnce(), { ...NONE, pending: 2, votes: 1, results: 1 });
    const result = (await get(ns.alpha, evil))?.metadata.annotations?.[MANUAL_VOTE.result] ?? '';
    assert.equal(result, `approved: approve counted; quorum reached (2 approve, 1 reject, 2 required), log index ${before}`);
    assert.deepEqual(answered.filter(([id]) => id === 'alpha'), [['alpha', indicatorDigest(evil), 'add', 'approved', before]], 'the answered vote reaches onVoted with its round');
    const head = await clients.alpha.treeHead();
    assert.equal(head.treeSize, before + 1);
    const entries = [];
    for await (const e of clients.alpha.entries(before, head.treeSize)) entries.push(e);
    assert.equal(entries.length, 1);
    const entry = entries[0]!;
    assert.ok(entry.ok, 'entry decodes');
    assert.deepEqual(entry.entry.indicator, evil);
    assert.deepEqual(entry.entry.votes.map((v) => [v.partnerId, v.decision, v.reason]).sort(), [
      ['alpha', 'approve', undefined], ['bravo', 'approve', undefined], ['charlie', 'reject', 'sinkholed by the registrar since May'],
    ]);
    assert.equal(await round(evil), undefined);
  });

  test('once the round is closed the pending label is dropped, and a changed vote gets no-open-round', async () => {
    await annotate(ns.charlie, evil, { [MANUAL_VOTE.vote]: 'approve', [MANUAL_VOTE.reason]: null });
    assert.deepEqual(await mirrors.charlie.syncOnce(), { ...NONE, pending: 1, mirrored: 1, results: 1, unlabeled: 1 });
    const c = await get(ns.charlie, evil);
    assert.equal(c?.metadata.labels?.[MANUAL_VOTE.pendingLabel], undefined);
    assert.match(c?.metadata.annotations?.[MANUAL_VOTE.result] ?? '', /^no-open-round: approve not sent/);
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NONE, pending: 1, unlabeled: 1 });
    assert.equal((await get(ns.bravo, evil))?.metadata.labels?.[MANUAL_VOTE.pendingLabel], undefined);
    assert.equal((await get(ns.bravo, other))?.metadata.labels?.[MANUAL_VOTE.pendingLabel], 'true');
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NONE, pending: 1 });
  });

  test('a vote the sequencer refuses is reported with its reason; removing the result sends it again', async () => {
    const skewed = mirror('charlie', ns.charlie, known(), () => new Date('2001-01-01T00:00:00Z'));
    await annotate(ns.charlie, other, { [MANUAL_VOTE.vote]: 'approve' });
    assert.deepEqual(await skewed.syncOnce(), { ...NONE, pending: 1, votes: 1, results: 1 });
    const a = (await get(ns.charlie, other))?.metadata.annotations ?? {};
    assert.match(a[MANUAL_VOTE.result] ?? '', /^refused: approve refused: the sequencer refused it \(outside-window\): .*vote signed at 2001-01-01T00:00:00\.000Z is outside the round's window/);
    assert.equal(a[MANUAL_VOTE.votedAt], '2001-01-01T00:00:00.000Z');
    assert.deepEqual(await mirrors.charlie.syncOnce(), { ...NONE, pending: 1 });
    assert.deepEqual((await round(other))?.tally, { approvals: 0, rejections: 0, required: 2 });
    await annotate(ns.charlie, other, { [MANUAL_VOTE.result]: null });
    assert.deepEqual(await mirrors.charlie.syncOnce(), { ...NONE, pending: 1, votes: 1, results: 1 });
    assert.match((await get(ns.charlie, other))?.metadata.annotations?.[MANUAL_VOTE.result] ?? '', /^counted: approve counted/);
    assert.deepEqual((await round(other))?.tally, { approvals: 1, rejections: 0, required: 2 });
  });
});

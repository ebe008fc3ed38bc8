/**
 * Revoking from the cluster: a sequencer behind real gRPC with mutual TLS (its log on the control
 * plane's MongoDB-wire server) and three partners whose clusters are namespaces of a real
 * kube-apiserver with the generated CRDs. An analyst at alpha annotates an Approved
 * ThreatIndicator with `threatmesh.io/revoke`; alpha's RevocationRequests proposes the revocation
 * once (with alpha's approve vote carrying the reason). bravo's PendingMirror marks its Approved
 * copy for the REVOKE round, clearing bravo's answered vote of the admission so it cannot count as
 * a vote to revoke; bravo's analyst approves with `threatmesh.io/vote` and the REVOKE entry is
 * appended. Requests the sequencer refuses, or that are not revocable, are answered on the object.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorCanonicalJson, indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import type { SigningKey } from '../../operator/src/domain/signature.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { signProposal, voteSubject } from '../../operator/src/domain/entry.ts';
import { MANUAL_VOTE, PendingMirror, type MirrorReport } from '../../operator/src/exchange/partner/manualvote.ts';
import { REVOKE_REQUEST, RevocationRequests, type RevocationReport } from '../../operator/src/exchange/partner/revocations.ts';
import { createLogger } from '../../operator/src/log.ts';
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
const ns: Record<Id, string> = { alpha: `tm-rv-a-${suffix}`, bravo: `tm-rv-b-${suffix}`, charlie: `tm-rv-c-${suffix}` };
const REASON = 'sinkholed by the registrar since May';
const evil: Indicator = { type: 'domain', value: 'c2.revoke-annotation.example' };
const other: Indicator = { type: 'ipv4', value: '198.51.100.78' };
const fresh: Indicator = { type: 'domain', value: 'still-proposed.revoke-annotation.example' };
const NO_MIRROR: MirrorReport = { pending: 0, mirrored: 0, badSignature: 0, votes: 0, results: 0, unlabeled: 0, revocations: 0, deferred: 0 };
const NO_REQUEST: RevocationReport = { requests: 0, proposed: 0, refused: 0, deferred: 0 };

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let net: TestSequencer;
let kube: KubeHttpClient;
const closers: Array<() => void> = [];
const clients = {} as Record<Id, ExchangeClient>;
const mirrors = {} as Record<Id, PendingMirror>;
const requests = {} as Record<Id, RevocationRequests>;
const quiet = createLogger(new PassThrough(), 'error');

function known(): Array<{ partnerId: string; publicKey: SigningKey['publicKey'] }> {
  return IDS.map((id) => ({ partnerId: id, publicKey: net.partners.get(id)!.key.publicKey }));
}

/** Admits `ind` with alpha's proposal and alpha's and bravo's approvals; returns its log index. */
async function admit(ind: Indicator): Promise<number> {
  const ack = await clients.alpha.propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(ind), proposerId: 'alpha', signature: signProposal(net.partners.get('alpha')!.key, 'add', ind) });
  let index: number | undefined;
  for (const id of ['alpha', 'bravo'] as const) index = (await clients[id].vote(signVote(net.partners.get(id)!.key, { partnerId: id, digest: ack.subject, decision: 'approve', signedAt: new Date().toISOString() }))).logIndex;
  assert.ok(index !== undefined);
  return index;
}

/** The object as the replica writes it in `namespace` (no webhook in this control plane), with `phase`. */
async function place(namespace: string, ind: Indicator, phase: 'Approved' | 'Proposed', annotations: Record<string, string> = {}): Promise<void> {
  const name = indicatorObjectName(ind);
  await kube.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace, annotations }, spec: { type: ind.type, value: ind.value } });
  await kube.patchStatus(THREAT_INDICATORS, name, namespace, { status: { phase } });
}

async function annotations(namespace: string, ind: Indicator): Promise<Record<string, string>> {
  return (await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(ind), namespace))?.metadata.annotations ?? {};
}

async function annotate(namespace: string, ind: Indicator, a: Record<string, string | null>): Promise<void> {
  await kube.patch(THREAT_INDICATORS, indicatorObjectName(ind), namespace, { metadata: { annotations: a } });
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  for (const n of Object.values(ns)) await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } });
  await applyManifests(kube, await loadYamlDir('crds'), 'revoke-annotations-test');
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  db = mongo.db(`tm_rv_${suffix}`);
  net = await startTestSequencer(db, { alpha: ['contributor', 'voter'], bravo: ['voter'], charlie: ['voter'] }, 2);
  for (const id of IDS) {
    const c = new ExchangeClient({ address: net.address, tls: net.partners.get(id)!.tls, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
    closers.push(() => c.close());
    clients[id] = c;
    const key = net.partners.get(id)!.key;
    mirrors[id] = new PendingMirror({ client: kube, namespace: ns[id], sequencer: c, partnerId: id, key, partners: known, now: () => new Date(), log: quiet });
    requests[id] = new RevocationRequests({ client: kube, namespace: ns[id], sequencer: c, partnerId: id, key, isVoter: () => true, now: () => new Date(), log: quiet, scanEvery: 1 });
  }
});

after(async () => {
  for (const close of closers) close();
  await net?.stop();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  if (kube) {
    for (const n of Object.values(ns)) await kube.delete(namespaces, n).catch(() => undefined);
    kube.close();
  }
  await cp?.stop();
});

describe('revoking from the cluster with annotations', () => {
  const subject = voteSubject('revoke', indicatorDigest(evil));

  test("alpha's revoke annotation opens the round once, signed by alpha, with alpha's approval carrying the reason", async () => {
    await admit(evil);
    const admission = 'approved: approve counted; quorum reached (2 approve, 0 reject, 2 required), log index 0';
    for (const id of IDS) await place(ns[id], evil, 'Approved', id === 'bravo' ? { [MANUAL_VOTE.vote]: 'approve', [MANUAL_VOTE.result]: admission } : {});
    await annotate(ns.alpha, evil, { [REVOKE_REQUEST.request]: ` ${REASON} ` });
    assert.deepEqual(await requests.alpha.syncOnce(), { ...NO_REQUEST, requests: 1, proposed: 1 });
    const result = (await annotations(ns.alpha, evil))[REVOKE_REQUEST.result] ?? '';
    assert.match(result, new RegExp(`^opened: revocation round ${subject} opened by alpha, voting closes at \\S+; approve vote with the reason counted \\(1 approve, 0 reject, 2 required\\)$`));
    assert.deepEqual(await requests.alpha.syncOnce(), NO_REQUEST, 'answered requests are not sent again');
    const round = (await clients.bravo.listPending()).find((r) => r.subject === subject);
    assert.deepEqual([round?.kind, round?.proposerId, round?.tally?.approvals], ['revoke', 'alpha', 1]);
  });

  test("bravo's mirror marks its Approved copy for the REVOKE round and clears the vote answered for the admission", async () => {
    const round = (await clients.bravo.listPending()).find((r) => r.subject === subject)!;
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NO_MIRROR, pending: 1, revocations: 1 });
    const ti = await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(evil), ns.bravo);
    assert.equal(ti?.metadata.labels?.[MANUAL_VOTE.pendingLabel], 'true');
    assert.equal(ti?.metadata.annotations?.[MANUAL_VOTE.round], `revoke ${subject} ${round.window.opensAt}`);
    assert.equal(ti?.metadata.annotations?.[MANUAL_VOTE.vote], undefined, 'the admission vote cannot count as a vote to revoke');
    assert.equal(ti?.metadata.annotations?.[MANUAL_VOTE.result], undefined);
    assert.equal(ti?.status?.phase, 'Approved');
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NO_MIRROR, pending: 1 }, 'marked once');
    assert.deepEqual((await clients.bravo.listPending()).find((r) => r.subject === subject)?.tally, { approvals: 1, rejections: 0, required: 2 });
  });

  test("bravo's approve annotation completes the revocation: the REVOKE entry has both votes and alpha's reason; the label is dropped", async () => {
    const before = (await clients.bravo.treeHead()).treeSize;
    await annotate(ns.bravo, evil, { [MANUAL_VOTE.vote]: 'approve' });
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NO_MIRROR, pending: 1, votes: 1, results: 1 });
    assert.equal((await annotations(ns.bravo, evil))[MANUAL_VOTE.result], `approved: approve counted on the revocation; quorum reached (2 approve, 0 reject, 2 required), revoked at log index ${before}`);
    const head = await clients.bravo.treeHead();
    assert.equal(head.treeSize, before + 1);
    const entries = [];
    for await (const e of clients.bravo.entries(before, head.treeSize)) entries.push(e);
    const entry = entries[0];
    assert.ok(entry?.ok);
    assert.deepEqual([entry.entry.kind, entry.entry.indicator, entry.entry.proposerId], ['revoke', evil, 'alpha']);
    assert.deepEqual(entry.entry.votes.map((v) => [v.partnerId, v.digest, v.reason]).sort(), [['alpha', subject, REASON], ['bravo', subject, undefined]]);
    assert.deepEqual(await mirrors.bravo.syncOnce(), { ...NO_MIRROR, unlabeled: 1 });
    assert.equal((await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(evil), ns.bravo))?.metadata.labels?.[MANUAL_VOTE.pendingLabel], undefined);
  });

  test('removing the result asks again: the sequencer answers not-active, recorded as refused', async () => {
    await annotate(ns.alpha, evil, { [REVOKE_REQUEST.result]: null });
    assert.deepEqual(await requests.alpha.syncOnce(), { ...NO_REQUEST, requests: 1, refused: 1 });
    assert.match((await annotations(ns.alpha, evil))[REVOKE_REQUEST.result] ?? '', /^refused: the sequencer refused it \(not-active\): cannot revoke domain "c2\.revoke-annotation\.example": it is not active, it was already revoked at log index 1/);
  });

  test('a partner without the contributor role is refused by the sequencer (missing-role)', async () => {
    await admit(other);
    await place(ns.bravo, other, 'Approved', { [REVOKE_REQUEST.request]: 'benign scanner' });
    assert.deepEqual(await requests.bravo.syncOnce(), { ...NO_REQUEST, requests: 1, refused: 1 });
    assert.match((await annotations(ns.bravo, other))[REVOKE_REQUEST.result] ?? '', /^refused: the sequencer refused it \(missing-role\): .*contributor/);
    assert.equal((await clients.alpha.listPending()).length, 0, 'no round opened');
  });

  test('requests that cannot be revoked as annotated are answered and not sent: not Approved, no reason', async () => {
    await place(ns.charlie, fresh, 'Proposed', { [REVOKE_REQUEST.request]: 'typo' });
    await place(ns.charlie, other, 'Approved', { [REVOKE_REQUEST.request]: '  ' });
    assert.deepEqual(await requests.charlie.syncOnce(), { ...NO_REQUEST, requests: 2, refused: 2 });
    assert.equal((await annotations(ns.charlie, fresh))[REVOKE_REQUEST.result], 'refused: only Approved indicators can be revoked; this one is Proposed');
    assert.equal((await annotations(ns.charlie, other))[REVOKE_REQUEST.result], `refused: give the reason as the value: kubectl annotate ti ${indicatorObjectName(other)} threatmesh.io/revoke="<why it is withdrawn>"`);
    assert.equal((await clients.alpha.listPending()).length, 0);
  });

  test('with scanEvery 2 the namespace is listed on the first call and every second one', async () => {
    const sparse = new RevocationRequests({ client: kube, namespace: ns.charlie, sequencer: clients.charlie, partnerId: 'charlie', key: net.partners.get('charlie')!.key, isVoter: () => true, now: () => new Date(), log: quiet, scanEvery: 2 });
    await annotate(ns.charlie, fresh, { [REVOKE_REQUEST.result]: null });
    assert.deepEqual(await sparse.syncOnce(), { ...NO_REQUEST, requests: 1, refused: 1 });
    await annotate(ns.charlie, fresh, { [REVOKE_REQUEST.result]: null });
    assert.deepEqual(await sparse.syncOnce(), NO_REQUEST, 'no list on the second call');
    assert.deepEqual(await sparse.syncOnce(), { ...NO_REQUEST, requests: 1, refused: 1 });
  });
});

/**
 * Trust model, missing decisions (docs/trust-model.md "Missing decisions"): a sequencer that
 * censors a decision. It runs honest rounds and answers votes truthfully, but leaves the decided
 * entry out of the log it signs. The partner alpha knows the ADD rounds it voted on: once a head
 * signed past a round's deadline is applied without the round's ADD or REJECT entry, alpha
 * reports it (metric by evidence, error log, Warning Event MissingDecision on the sequencer's
 * PartnerNode). Control: decisions that are logged, ADD and REJECT, raise nothing.
 * Real parts: a kube-apiserver and FerretDB, the partner exchange as the operator runs it
 * (startPartnerService: automatic voter, replica, MongoDB sink, status and Events), the real
 * sequencer's rounds behind the real exchange endpoint over gRPC with mutual TLS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { Registry } from 'prom-client';
import { registryFrom } from '../../operator/src/api/partners.ts';
import { PARTNER_NODES } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode } from '../../operator/src/api/types.ts';
import { indicatorCanonicalJson, indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { metaJson, signProposal, type IndicatorMeta } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote, type VoteDecision } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { freePort } from '../../operator/src/dev/controlplane/probe.ts';
import { startGossipServer } from '../../operator/src/exchange/partner/gossip.ts';
import { startPartnerService } from '../../operator/src/exchange/partner/service.ts';
import type { RunningPartner } from '../../operator/src/exchange/partner/serviceoptions.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import type { PartnerEntry, TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { createLogger } from '../../operator/src/log.ts';
import { eventsResource } from '../../operator/src/runtime/events.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { INDICATORS } from '../../operator/src/store/indicators.ts';
import { MemoryLogStore } from '../../operator/src/store/memory.ts';
import { REJECTIONS } from '../../operator/src/store/rejections.ts';
import { CensoringSequencer } from '../harness/censor.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { eventually } from '../harness/kube.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';

type Id = 'alpha' | 'bravo' | 'charlie';
const IDS: readonly Id[] = ['alpha', 'bravo', 'charlie'];
/** How long alpha's automatic vote on a new round may take: it lists pending rounds every 200 ms (syncIntervalMs), once took over 5 s at load 30. */
const ALPHA_VOTE_MS = 12_000;
/** What a round's window keeps for bravo's and charlie's votes after alpha's: one loopback gRPC call each. */
const VOTES_MS = 5_000;
/**
 * The voting window. Every vote of a round must land inside it (the sequencer refuses a vote on a
 * closed round), and the tests that need a window closed wait it out: alpha's vote and the
 * others' with 3 s to spare, no longer. A slow machine that eats the margin fails in alphaVoted,
 * saying so, not in a refused vote.
 */
const WINDOW_MS = ALPHA_VOTE_MS + VOTES_MS + 3_000;
const GRACE_MS = 1_000;
const suffix = uniqueSuffix();
const ns = `tm-censor-${suffix}`;
const keys = Object.fromEntries(IDS.map((id) => [id, SigningKey.generate()])) as Record<Id, SigningKey>;
const directory: PartnerEntry[] = IDS.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter'] }));
const META: IndicatorMeta = { source: 'feeds/censor-test', tlp: 'green' };
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const logLines: string[] = [];
const closers: Array<() => Promise<void> | void> = [];

let cp: ControlPlane;
let kube: KubeHttpClient;
let mongo: MongoClient;
let db: Db;
let ca: TestCa;
let censor: CensoringSequencer;
let alpha: RunningPartner;
let metrics: Registry;
const clients = {} as Record<Id, ExchangeClient>;

function partnerNode(name: string, spec: PartnerNode['spec']): PartnerNode {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name, namespace: ns }, spec };
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  db = mongo.db(`tm_censor_${suffix}`);
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(kube, await loadYamlDir('crds'), 'censor-test');
  ca = await createTestCa('threatmesh-censor');
  const tls = {} as Record<Id | 'sequencer', TlsMaterial>;
  for (const id of [...IDS, 'sequencer'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
  const inner = await Sequencer.open({ store: new MemoryLogStore(), key: SigningKey.generate(), partners: directory, quorum: 2, windowMs: WINDOW_MS, now: () => new Date(), log: quiet });
  censor = new CensoringSequencer(inner);
  const server = await startExchangeServer({ sequencer: censor, directory: new Map(directory.map((p) => [p.partnerId, p])), tls: tls.sequencer, address: '127.0.0.1:0', log: quiet });
  closers.push(() => server.stop());
  for (const id of ['bravo', 'charlie'] as const) {
    clients[id] = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: tls[id], serverName: 'localhost', deadlineMs: 15_000 });
    closers.push(() => clients[id].close());
  }
  const gossipPort = await freePort();
  // bravo and charlie serve gossip with nothing accepted yet: alpha's gossip with them succeeds and compares nothing.
  const peerPorts = {} as Record<'bravo' | 'charlie', number>;
  for (const id of ['bravo', 'charlie'] as const) {
    const g = await startGossipServer({ partnerId: id, directory: () => new Map(directory.map((p) => [p.partnerId, p])), tls: tls[id], address: '127.0.0.1:0', log: quiet, acceptedHead: () => Promise.resolve(undefined) });
    closers.push(() => g.stop());
    peerPorts[id] = g.port;
  }
  const nodes = [
    partnerNode('sequencer', { partnerId: 'sequencer', organization: 'a censoring sequencer', endpoint: `127.0.0.1:${server.port}`, publicKey: censor.key.publicKey.toRawBase64(), roles: ['sequencer'] }),
    partnerNode('alpha', { partnerId: 'alpha', organization: 'alpha org', endpoint: `127.0.0.1:${gossipPort}`, publicKey: keys.alpha.publicKey.toRawBase64(), roles: ['contributor', 'voter'] }),
    ...(['bravo', 'charlie'] as const).map((id) => partnerNode(id, { partnerId: id, organization: `${id} org`, endpoint: `127.0.0.1:${peerPorts[id]}`, publicKey: keys[id].publicKey.toRawBase64(), roles: ['contributor', 'voter'] })),
  ];
  for (const node of nodes) await kube.create(PARTNER_NODES, node);
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
  metrics = new Registry();
  alpha = await startPartnerService({
    client: kube, db, namespace: ns, partnerId: 'alpha', key: keys.alpha, tls: tls.alpha, votingPolicy: { mode: 'automatic', warningLists: false },
    registry: registryFrom(nodes), admission: { quorum: 2, votingWindowMs: WINDOW_MS }, metrics, log: createLogger(out, 'info'),
    gossipBind: { host: '127.0.0.1', port: gossipPort }, syncIntervalMs: 200, repairIntervalMs: 600_000, waitMs: 500, decisionGraceMs: GRACE_MS,
  });
});

after(async () => {
  await alpha?.stop();
  for (const close of [...closers].reverse()) await close();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await kube?.delete(namespaces, ns).catch(() => undefined);
  kube?.close();
  await ca?.dispose();
  await cp?.stop();
});

const ind = (name: string): Indicator => ({ type: 'domain', value: `${name}-${suffix}.censor.example` });

/** bravo proposes `x`; returns the round's subject and when its window closes (ms). */
async function proposeRound(x: Indicator): Promise<{ subject: string; closesAt: number }> {
  const ack = await clients.bravo.propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(x), metaJson: metaJson(META), proposerId: 'bravo', signature: signProposal(keys.bravo, 'add', x, META) });
  return { subject: ack.subject, closesAt: Date.parse(ack.window?.closesAt ?? '') };
}

async function propose(x: Indicator): Promise<string> {
  return (await proposeRound(x)).subject;
}

async function vote(id: 'bravo' | 'charlie', subject: string, decision: VoteDecision): Promise<string> {
  return (await clients[id].vote(signVote(keys[id], { partnerId: id, digest: subject, decision, signedAt: new Date().toISOString() }))).status;
}

/** Waits until alpha's automatic vote is counted in the open round of `x` (window closing at `closesAt`), leaving VOTES_MS of it for the others' votes. */
async function alphaVoted(x: Indicator, closesAt: number): Promise<void> {
  const digest = indicatorDigest(x);
  const approvals = await eventually(() => Promise.resolve(censor.inner.pending().find((r) => r.digest === digest)?.tally?.approvals ?? 0), (n) => n >= 1, Math.min(ALPHA_VOTE_MS, closesAt - VOTES_MS - Date.now()));
  assert.ok(approvals >= 1, `alpha did not vote on the round of ${x.value} with ${VOTES_MS / 1000} s of its ${WINDOW_MS / 1000} s window left (a machine this slow needs a longer WINDOW_MS)`);
}

async function missing(): Promise<Record<string, number>> {
  const m = await metrics.getSingleMetric('threatmesh_exchange_missing_decisions_total')?.get();
  return Object.fromEntries((m?.values ?? []).map((v) => [String(v.labels['evidence']), v.value]));
}

async function events(): Promise<Array<KubeObject & { reason?: string; type?: string; message?: string; involvedObject?: { name?: string } }>> {
  return (await kube.list<KubeObject & { reason?: string; type?: string; message?: string; involvedObject?: { name?: string } }>(eventsResource, { namespace: ns })).items.filter((e) => e.reason === 'MissingDecision');
}

/** The MissingDecision Events that name `x`. */
async function eventsAbout(x: Indicator): Promise<Awaited<ReturnType<typeof events>>> {
  return (await events()).filter((e) => (e.message ?? '').includes(x.value));
}

describe('a sequencer that censors a decision', () => {
  test('control: decisions that are logged, an ADD and a REJECT, raise nothing after their deadlines', async () => {
    const added = ind('logged-add');
    const r1 = await proposeRound(added);
    await alphaVoted(added, r1.closesAt);
    assert.equal(await vote('charlie', r1.subject, 'approve'), 'approved');
    const rejected = ind('logged-reject');
    const r2 = await proposeRound(rejected);
    await alphaVoted(rejected, r2.closesAt);
    await vote('bravo', r2.subject, 'reject');
    assert.equal(await vote('charlie', r2.subject, 'reject'), 'rejected');
    // A canary opened after both: only alpha votes, so it expires unlogged and alpha must report it. Its
    // report proves alpha applied a head signed past the canary's deadline, so past both logged rounds':
    // they were checked by then, whatever the machine's speed (a fixed sleep passed unchecked on a slow one).
    const canary = ind('expired-canary');
    const r3 = await proposeRound(canary);
    await alphaVoted(canary, r3.closesAt);
    await eventually(async () => [await db.collection(INDICATORS).countDocuments({ _id: indicatorDigest(added) as never }), await db.collection(REJECTIONS).countDocuments({ digest: indicatorDigest(rejected) })], (c) => c[0] === 1 && c[1] === 1, 15_000);
    const reported = await eventually(missing, (m) => m['unacknowledged'] === 1, r3.closesAt + GRACE_MS + 30_000 - Date.now());
    assert.deepEqual(reported, { acknowledged: 0, unacknowledged: 1 }, 'the canary, and no logged round, is reported');
    assert.ok(r3.closesAt > r2.closesAt && r2.closesAt > r1.closesAt, 'the canary\'s window closes last');
    const found = await eventually(events, (e) => e.length >= 1, 10_000);
    assert.deepEqual(found.map((e) => (e.message ?? '').includes(canary.value)), [true], 'the one MissingDecision Event names the canary');
  });

  test('an admission alpha\'s vote completed is withheld: reported as acknowledged censorship (metric, error log, Warning Event)', async () => {
    const x = ind('censored-add');
    const digest = indicatorDigest(x);
    censor.censor = (e) => e.kind === 'add' && indicatorDigest(e.indicator) === digest;
    // charlie votes before alpha sees the round, so alpha's vote completes the quorum and is answered "approved".
    censor.held.add(digest);
    const subject = await propose(x);
    assert.equal(await vote('charlie', subject, 'approve'), 'counted');
    censor.held.delete(digest);
    await eventually(() => Promise.resolve(censor.withheld.length), (n) => n === 1, 10_000);
    await eventually(missing, (m) => m['acknowledged'] === 1, 15_000);
    const [event] = await eventually(() => eventsAbout(x), (e) => e.length === 1, 10_000);
    assert.equal(event?.type, 'Warning');
    assert.equal(event?.involvedObject?.name, 'sequencer');
    assert.match(event?.message ?? '', new RegExp(`ADD round of domain ${x.value.replaceAll('.', '\\.')} .* voted approve on was answered "approved" by the sequencer \\(logged at index \\d+, it said\\), but its tree head of .* carries no ADD entry for it: the sequencer withholds a decision it made \\(censorship\\)`));
    const line = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['msg'] === 'a decided round is missing from the sequencer\'s log' && l['digest'] === digest);
    assert.deepEqual([line?.['level'], line?.['evidence'], line?.['digest'], line?.['answer']], ['error', 'acknowledged', digest, 'approved']);
    assert.equal(await db.collection(INDICATORS).countDocuments({ _id: digest as never }), 0, 'the partner never saw the admission');
  });

  test('a rejection decided by others after alpha voted is withheld: reported once the window closed (unacknowledged)', async () => {
    const x = ind('censored-reject');
    const digest = indicatorDigest(x);
    censor.censor = (e) => e.kind === 'reject' && indicatorDigest(e.indicator) === digest;
    const { subject, closesAt } = await proposeRound(x);
    await alphaVoted(x, closesAt);
    await vote('bravo', subject, 'reject');
    assert.equal(await vote('charlie', subject, 'reject'), 'rejected');
    await eventually(() => Promise.resolve(censor.withheld.length), (n) => n === 2, 10_000);
    // Not before the window closed plus the grace: alpha cannot tell yet (checked while that is still ahead).
    // The control's canary is the one unacknowledged report so far.
    const before = await missing();
    if (Date.now() < closesAt) assert.equal(before['unacknowledged'], 1);
    await eventually(missing, (m) => m['unacknowledged'] === 2, closesAt + GRACE_MS + 30_000 - Date.now());
    const found = await eventually(() => eventsAbout(x), (e) => e.length === 1, 10_000);
    assert.match(found[0]?.message ?? '', /either too few partners voted \(an expired round is not logged\) or the sequencer withheld the decision/);
    assert.deepEqual(await missing(), { acknowledged: 1, unacknowledged: 2 }, 'each round is reported once');
    assert.equal((await events()).length, 3, 'one Event per missing round: the canary, the withheld admission, this rejection');
  });
});

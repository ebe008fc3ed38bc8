/**
 * Trust model, attack 1: a malicious sequencer asks honest voters to sign another subject than
 * the round it shows them. It lists a harmless, genuinely signed proposal X under the digest and
 * subject of another indicator Y (or of the revocation of an active indicator Z), or names another
 * round in its answer to a revocation proposal. Real parts: the real exchange endpoint over gRPC
 * with mutual TLS (the hostile core behind it is the honest sequencer with one answer changed),
 * the log on a real MongoDB-wire server, the partners' clusters as namespaces of a real
 * kube-apiserver, the CLI as a child process. Every voting path must sign only the subject it
 * derives from the indicator it judged, refuse the round, and report the sequencer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorCanonicalJson, indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { roundSubject, signProposal, type EntryKind } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote, type Vote } from '../../operator/src/domain/quorum.ts';
import { loadWarningLists } from '../../operator/src/feeds/warninglists.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import type { ProposalInput, ProposalResult } from '../../operator/src/exchange/protocol/messages.ts';
import type { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import type { SequencerCore } from '../../operator/src/exchange/sequencer/server.ts';
import { MANUAL_VOTE, PendingMirror } from '../../operator/src/exchange/partner/manualvote.ts';
import { roundJudge } from '../../operator/src/exchange/partner/policy.ts';
import { REVOKE_REQUEST, RevocationRequests } from '../../operator/src/exchange/partner/revocations.ts';
import { AutoVoter } from '../../operator/src/exchange/partner/voter.ts';
import { createLogger, type Logger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { runCli } from '../harness/cli.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { startTestSequencer, type TestSequencer } from '../harness/sequencer.ts';

type Id = 'alpha' | 'bravo' | 'charlie';
const IDS: readonly Id[] = ['alpha', 'bravo', 'charlie'];
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = uniqueSuffix();
const ns = `tm-attack-voters-${suffix}`;
const ind = (value: string): Indicator => ({ type: 'domain', value });
const logLines: string[] = [];
const closers: Array<() => Promise<void> | void> = [];

/** The honest sequencer with some answers changed, as a sequencer under an attacker's control. */
class HostileSequencer implements SequencerCore {
  readonly honest: Sequencer;
  /** Rewrites the pending rounds voters see. */
  pendingLie: ((rounds: ReturnType<Sequencer['pending']>) => ReturnType<Sequencer['pending']>) | undefined;
  /** Rewrites the answer to a proposal. */
  proposeLie: ((p: ProposalInput, r: ProposalResult) => ProposalResult) | undefined;

  constructor(honest: Sequencer) {
    this.honest = honest;
  }

  pending(): ReturnType<Sequencer['pending']> {
    const rounds = this.honest.pending();
    return this.pendingLie?.(rounds) ?? rounds;
  }

  async propose(callerId: string, p: ProposalInput): Promise<ProposalResult> {
    const r = await this.honest.propose(callerId, p);
    return this.proposeLie?.(p, r) ?? r;
  }

  vote(callerId: string, v: Vote): ReturnType<Sequencer['vote']> { return this.honest.vote(callerId, v); }
  waitForSize(min: number, waitMs: number): Promise<void> { return this.honest.waitForSize(min, waitMs); }
  treeHead(): ReturnType<Sequencer['treeHead']> { return this.honest.treeHead(); }
  inclusionProof(i: number, size: number): string[] { return this.honest.inclusionProof(i, size); }
  consistencyProof(a: number, b: number): string[] { return this.honest.consistencyProof(a, b); }
  entries(from: number, size: number): ReturnType<Sequencer['entries']> { return this.honest.entries(from, size); }
}

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let net: TestSequencer;
let hostile: HostileSequencer;
let kube: KubeHttpClient;
const clients = {} as Record<Id, ExchangeClient>;

function logger(): Logger {
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
  return createLogger(out, 'debug');
}

const key = (id: Id) => net.partners.get(id)!.key;
const partners = () => IDS.map((id) => ({ partnerId: id, publicKey: key(id).publicKey, roles: ['contributor', 'voter'] as const }));

async function propose(by: Id, kind: EntryKind, indicator: Indicator): Promise<ProposalResult> {
  return clients[by].propose({ kind, indicatorJson: indicatorCanonicalJson(indicator), proposerId: by, signature: signProposal(key(by), kind, indicator) });
}

async function admit(indicator: Indicator): Promise<void> {
  const { subject } = await propose('alpha', 'add', indicator);
  for (const by of ['alpha', 'bravo'] as const) await clients[by].vote(signVote(key(by), { partnerId: by, digest: subject, decision: 'approve', signedAt: new Date().toISOString() }));
}

/** Approvals the honest sequencer counted on the round of `subject` (undefined: no such round open). */
function approvals(subject: string): number | undefined {
  return hostile.honest.pending().find((r) => r.subject === subject)?.tally?.approvals;
}

/** Shows round `shown` under the digest and subject of `target` (and hides the target's own round). */
function disguise(shown: Indicator, target: { digest: string; subject: string }): void {
  hostile.pendingLie = (rounds) => rounds.filter((r) => r.subject !== target.subject).map((r) => (r.digest === indicatorDigest(shown) ? { ...r, ...target } : r));
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(kube, await loadYamlDir('crds'), 'attacks-test');
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  db = mongo.db(`tm_attack_voters_${suffix}`);
  net = await startTestSequencer(db, { alpha: ['contributor', 'voter'], bravo: ['contributor', 'voter'], charlie: ['contributor', 'voter'] }, 2, {
    wrap: (honest) => (hostile = new HostileSequencer(honest)),
  });
  for (const id of IDS) {
    const c = new ExchangeClient({ address: net.address, tls: net.partners.get(id)!.tls, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
    closers.push(() => c.close());
    clients[id] = c;
  }
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await net?.stop();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  if (kube) {
    await kube.delete(namespaces, ns).catch(() => undefined);
    kube.close();
  }
  await cp?.stop();
});

describe('attack 1: the sequencer asks voters to sign another subject than the round it shows', () => {
  test('automatic voter: X shown under the subject of a warning-listed Y is refused and reported; Y gets no approval', async () => {
    const x = ind(`harmless-x-${suffix}.attack.example`);
    const y = ind('www.google.com');
    await propose('alpha', 'add', x);
    const yAck = await propose('bravo', 'add', y);
    disguise(x, yAck);
    const reports: string[] = [];
    const voter = new AutoVoter({
      partnerId: 'charlie', key: key('charlie'), client: clients.charlie, partners: partners(), now: () => new Date(), log: logger(),
      policy: roundJudge({ mode: 'automatic', warningLists: true }, { warningList: await loadWarningLists(), corroborated: () => false }),
      onMisbehaviour: (reason) => reports.push(reason),
    });
    assert.equal(await voter.voteOnce(), 0, 'no vote is sent for the disguised round');
    assert.equal(approvals(yAck.subject), 0, 'Y collected no approval');
    assert.deepEqual(reports, ['subject-mismatch']);
    hostile.pendingLie = undefined;
  });

  test('automatic voter: X shown under the revocation subject of an active Z is refused; the revocation gets no approval', async () => {
    const x = ind(`harmless-x2-${suffix}.attack.example`);
    const z = ind(`active-z-${suffix}.attack.example`);
    await admit(z);
    await propose('alpha', 'add', x);
    const revoke = await propose('bravo', 'revoke', z);
    disguise(x, { digest: indicatorDigest(z), subject: revoke.subject });
    const reports: string[] = [];
    const voter = new AutoVoter({
      partnerId: 'charlie', key: key('charlie'), client: clients.charlie, partners: partners(), now: () => new Date(), log: logger(),
      policy: roundJudge({ mode: 'automatic', warningLists: false }, { corroborated: () => false }),
      onMisbehaviour: (reason) => reports.push(reason),
    });
    await voter.voteOnce();
    assert.equal(approvals(revoke.subject), 0, 'the revocation of Z collected no approval');
    assert.deepEqual(reports, ['subject-mismatch']);
    hostile.pendingLie = undefined;
  });

  test('analyst vote by annotation: the disguised round is not mirrored, and an approve annotation on X is refused, not sent', async () => {
    const x = ind(`harmless-x3-${suffix}.attack.example`);
    const y = ind(`malicious-y3-${suffix}.attack.example`);
    await propose('alpha', 'add', x);
    const yAck = await propose('bravo', 'add', y);
    disguise(x, yAck);
    const reports: string[] = [];
    const mirror = new PendingMirror({ client: kube, namespace: ns, sequencer: clients.charlie, partnerId: 'charlie', key: key('charlie'), partners, now: () => new Date(), log: logger(), onMisbehaviour: (reason) => reports.push(reason) });
    await mirror.syncOnce();
    assert.equal(await kube.get(THREAT_INDICATORS, indicatorObjectName(x), ns), undefined, 'X is not mirrored');
    // An analyst who saw X earlier (mirrored before the lie) approves it.
    await kube.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName(x), namespace: ns, labels: { [MANUAL_VOTE.pendingLabel]: 'true' }, annotations: { [MANUAL_VOTE.vote]: 'approve' } }, spec: { type: 'domain', value: x.value } });
    await mirror.syncOnce();
    const result = (await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(x), ns))?.metadata.annotations?.[MANUAL_VOTE.result] ?? '';
    assert.match(result, /^refused: approve refused: not sent: the sequencer advertised/);
    assert.equal(approvals(yAck.subject), 0, 'Y collected no approval');
    assert.deepEqual(reports, ['subject-mismatch']);
    hostile.pendingLie = undefined;
  });

  test('threatmesh vote approve X: refuses to sign, says to report the sequencer; Y gets no approval', async () => {
    const x = ind(`harmless-x4-${suffix}.attack.example`);
    const y = ind(`malicious-y4-${suffix}.attack.example`);
    await propose('alpha', 'add', x);
    const yAck = await propose('bravo', 'add', y);
    disguise(x, yAck);
    const f = net.partners.get('charlie')!.files;
    const run = await runCli(['vote', 'approve', x.value, '--sequencer', net.address, '--server-name', 'localhost', '--partner-id', 'charlie', '--signing-key', f.signingKey, '--tls-cert', f.tlsCert, '--tls-key', f.tlsKey, '--tls-ca', f.tlsCa]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /report this sequencer/);
    assert.equal(approvals(yAck.subject), 0);
    hostile.pendingLie = undefined;
  });

  test('a revocation started by annotation, answered with another round\'s subject: refused, reported, no approval of that round', async () => {
    const z = ind(`revoked-by-annotation-${suffix}.attack.example`);
    const v = ind(`victim-v-${suffix}.attack.example`);
    await admit(z);
    await admit(v);
    const victim = await propose('bravo', 'revoke', v);
    hostile.proposeLie = (p, r) => (p.kind === 'revoke' && p.indicatorJson === indicatorCanonicalJson(z) ? { ...r, subject: victim.subject } : r);
    await kube.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName(z), namespace: ns, annotations: { [REVOKE_REQUEST.request]: 'false positive' } }, spec: { type: 'domain', value: z.value } });
    await kube.patchStatus(THREAT_INDICATORS, indicatorObjectName(z), ns, { status: { phase: 'Approved' } });
    const reports: string[] = [];
    const requests = new RevocationRequests({ client: kube, namespace: ns, sequencer: clients.charlie, partnerId: 'charlie', key: key('charlie'), isVoter: () => true, now: () => new Date(), log: logger(), scanEvery: 1, onMisbehaviour: (reason) => reports.push(reason) });
    await requests.syncOnce();
    const result = (await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(z), ns))?.metadata.annotations?.[REVOKE_REQUEST.result] ?? '';
    assert.match(result, /^refused: the sequencer named round/);
    assert.equal(approvals(victim.subject), 0, 'the victim\'s revocation collected no approval');
    assert.deepEqual(reports, ['subject-mismatch']);

    const f = net.partners.get('alpha')!.files;
    const run = await runCli(['revoke', z.value, '--type', 'domain', '--reason', 'false positive', '--sequencer', net.address, '--server-name', 'localhost', '--partner-id', 'alpha', '--signing-key', f.signingKey, '--tls-cert', f.tlsCert, '--tls-key', f.tlsKey, '--tls-ca', f.tlsCa]);
    assert.notEqual(run.code, 0, run.stdout);
    assert.match(run.stderr, /report this sequencer/);
    assert.equal(approvals(victim.subject), 0);
    hostile.proposeLie = undefined;
  });

  test('the local subject of a round is the indicator\'s, whatever the sequencer says', () => {
    const x = ind('anything.example');
    assert.equal(roundSubject('add', x), indicatorDigest(x));
    assert.notEqual(roundSubject('revoke', x), indicatorDigest(x));
  });
});

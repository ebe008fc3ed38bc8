/**
 * A partner's replica writing into its own cluster: a sequencer behind real gRPC with mutual
 * TLS, a partner replica that applies verified entries to FerretDB and, through the Kubernetes
 * sink, to ThreatIndicators on a real kube-apiserver with the generated CRDs; then drift repair
 * (deleted and hand-edited objects restored from the log), idempotence and revocations (Revoked
 * objects carrying the REVOKE entry's certificate).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { evaluateIndicator } from '../../operator/src/api/admission.ts';
import type { PartnerEntry as ClusterPartner } from '../../operator/src/api/partners.ts';
import { indicatorCanonicalJson, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { signProposal, type EntryKind } from '../../operator/src/domain/entry.ts';
import { KubeIndicatorSink } from '../../operator/src/exchange/partner/kubesink.ts';
import { PartnerReplica } from '../../operator/src/exchange/partner/replica.ts';
import { type EntrySink, type VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import type { TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { createLogger, type Logger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { MongoLogStore } from '../../operator/src/store/log.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { votingParties } from '../harness/voters.ts';

type Id = 'alpha' | 'bravo' | 'charlie';
const IDS: readonly Id[] = ['alpha', 'bravo', 'charlie'];
const QUORUM = 2;
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = uniqueSuffix();
const ns = `tm-xkube-${suffix}`;
const { keys, directory } = votingParties(IDS);
const clusterVoters: ClusterPartner[] = IDS.map((id) => ({ key: `${ns}/${id}`, partnerId: id, publicKey: keys[id].publicKey, roles: ['voter'] }));
const logLines: string[] = [];
const closers: Array<() => Promise<void> | void> = [];

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let ca: TestCa;
let kube: KubeHttpClient;
let sequencer: Sequencer;
let mongoSink: MongoIndicatorSink;
let kubeSink: KubeIndicatorSink;
let replica: PartnerReplica;
const applied: VerifiedEntry[] = [];

function logger(): Logger {
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
  return createLogger(out, 'debug');
}

function client(tls: TlsMaterial, port: number): ExchangeClient {
  const c = new ExchangeClient({ address: `127.0.0.1:${port}`, tls, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
  closers.push(() => c.close());
  return c;
}

const clients = {} as Record<Id, ExchangeClient>;

/** alpha proposes, alpha and bravo approve: returns the log index. */
async function admit(indicator: Indicator, kind: EntryKind = 'add'): Promise<number> {
  const ack = await clients.alpha.propose({ kind, indicatorJson: indicatorCanonicalJson(indicator), proposerId: 'alpha', signature: signProposal(keys.alpha, kind, indicator) });
  assert.equal(ack.status, 'opened');
  for (const id of ['alpha', 'bravo'] as const) {
    const done = await clients[id].vote(signVote(keys[id], { partnerId: id, digest: ack.subject, decision: 'approve', signedAt: new Date().toISOString() }));
    if (id === 'bravo') return done.logIndex ?? -1;
  }
  return -1;
}

async function get(value: string): Promise<ThreatIndicator | undefined> {
  return kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName({ type: 'domain', value }), ns);
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(kube, await loadYamlDir('crds'), 'exchange-kube-test');
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  ca = await createTestCa('threatmesh-xkube');
  const tls = {} as Record<Id | 'sequencer', TlsMaterial>;
  for (const id of IDS) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id, 'client')) };
  tls.sequencer = { caPem: ca.caPem, ...(await ca.issue('sequencer', 'server')) };
  db = mongo.db(`tm_xk_${suffix}`);
  const seqKey = SigningKey.generate();
  sequencer = await Sequencer.open({ store: await MongoLogStore.open(mongo.db(`tm_xk_${suffix}_seq`)), key: seqKey, partners: directory, quorum: QUORUM, now: () => new Date(), log: logger() });
  const server = await startExchangeServer({ sequencer, directory: new Map(directory.map((p) => [p.partnerId, p])), tls: tls.sequencer, address: '127.0.0.1:0', log: logger() });
  closers.push(() => server.stop());
  for (const id of IDS) clients[id] = client(tls[id], server.port);
  mongoSink = await MongoIndicatorSink.open(db);
  kubeSink = new KubeIndicatorSink({ client: kube, namespace: ns, voters: () => clusterVoters, policy: { quorum: QUORUM }, now: () => new Date(), log: logger() });
  // Both sinks, as a partner's operator wires them, recording what was applied.
  const both: EntrySink = {
    async apply(entry) {
      applied.push(entry);
      await mongoSink.apply(entry);
      await kubeSink.apply(entry);
    },
  };
  replica = new PartnerReplica({
    sourceId: 'sequencer', source: clients.charlie, sink: both, cursors: new MongoCursorStore(db),
    anchors: { sequencerKey: seqKey.publicKey, partners: directory, quorum: QUORUM }, now: () => new Date(), log: logger(),
  });
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.db(`tm_xk_${suffix}_seq`).dropDatabase().catch(() => undefined);
  await mongo?.close();
  if (kube) {
    await kube.delete(namespaces, ns).catch(() => undefined);
    kube.close();
  }
  await ca?.dispose();
  await cp?.stop();
});

describe('replicating into a cluster through the Kubernetes sink', () => {
  const values = ['one.kube.example', 'two.kube.example', 'three.kube.example'];

  test('approved entries become Approved ThreatIndicators with votes, quorum and log index', async () => {
    for (const v of values) await admit({ type: 'domain', value: v });
    const r = await replica.sync();
    assert.deepEqual({ applied: r.applied, caughtUp: r.caughtUp }, { applied: 3, caughtUp: true });
    for (const [i, v] of values.entries()) {
      const ti = await get(v);
      assert.ok(ti, `${v} exists`);
      assert.deepEqual(ti.spec.provenance, { partner: 'alpha', proposedAt: applied[i]!.window.opensAt });
      assert.equal(ti.status?.phase, 'Approved');
      assert.equal(ti.status?.logIndex, i);
      assert.deepEqual(ti.status?.votes?.map((x) => [x.partnerId, x.decision, x.signature]), applied[i]!.votes.map((x) => [x.partnerId, x.decision, x.signature]));
      assert.deepEqual(ti.status?.quorum, { required: 2, approvals: 2, rejections: 0, summary: '2/2' });
      // What the ThreatIndicator controller (and the webhook) compute from the stored object.
      assert.equal(evaluateIndicator(ti, clusterVoters, new Date(), { quorum: QUORUM }).phase, 'Approved');
    }
  });

  test('re-applying the same entries and repairing an intact cluster write nothing', async () => {
    const before = await Promise.all(values.map(async (v) => (await get(v))?.metadata.resourceVersion));
    await kubeSink.applyMany(applied);
    const report = await kubeSink.repair(await mongoSink.all());
    assert.deepEqual(report, { restored: 0, corrected: 0, unchanged: 3, skipped: 0, unlogged: [] });
    assert.deepEqual(await Promise.all(values.map(async (v) => (await get(v))?.metadata.resourceVersion)), before);
  });

  test('a ThreatIndicator deleted by hand is restored by repair', async () => {
    await kube.delete(THREAT_INDICATORS, indicatorObjectName({ type: 'domain', value: values[0]! }), ns);
    assert.equal(await get(values[0]!), undefined);
    const report = await kubeSink.repair(await mongoSink.all());
    assert.deepEqual(report, { restored: 1, corrected: 0, unchanged: 2, skipped: 0, unlogged: [] });
    const ti = await get(values[0]!);
    assert.equal(ti?.status?.phase, 'Approved');
    assert.equal(ti?.status?.logIndex, 0);
  });

  test('status edited by hand (a vote dropped, the log index changed) is corrected by repair', async () => {
    const ti = await get(values[1]!);
    assert.ok(ti?.status?.votes);
    const good = ti.status.votes;
    await kube.patchStatus(THREAT_INDICATORS, ti.metadata.name, ns, { status: { votes: good.slice(0, 1), logIndex: 99 } });
    assert.equal((await get(values[1]!))?.status?.logIndex, 99);
    const report = await kubeSink.repair(await mongoSink.all());
    assert.deepEqual(report, { restored: 0, corrected: 1, unchanged: 2, skipped: 0, unlogged: [] });
    const fixed = await get(values[1]!);
    assert.deepEqual(fixed?.status?.votes, good);
    assert.equal(fixed?.status?.logIndex, 1);
  });

  test('an Approved ThreatIndicator that is not in the log is reported, not deleted', async () => {
    const stray: Indicator = { type: 'domain', value: 'stray.kube.example' };
    const name = indicatorObjectName(stray);
    await kube.create<ThreatIndicator>(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name, namespace: ns }, spec: { type: stray.type, value: stray.value } });
    await kube.patchStatus(THREAT_INDICATORS, name, ns, { status: { phase: 'Approved' } });
    const report = await kubeSink.repair(await mongoSink.all());
    assert.deepEqual(report.unlogged, [name]);
    assert.notEqual(await kube.get(THREAT_INDICATORS, name, ns), undefined);
    assert.ok(logLines.some((l) => l.includes('not in the replicated log') && l.includes(name)));
  });

  test('a revocation reaches the database and the cluster: Revoked with its certificate, kept by repair', async () => {
    const idx = await admit({ type: 'domain', value: values[2]! }, 'revoke');
    assert.equal((await replica.sync()).applied, 1);
    const rec = (await mongoSink.all()).find((r) => r.value === values[2]);
    assert.ok(rec?.revocation);
    assert.deepEqual([rec.state, rec.revokedAtIndex, rec.revocation.logIndex], ['revoked', idx, idx]);
    const ti = await get(values[2]!);
    assert.ok(ti?.status?.revocation);
    assert.deepEqual([ti.status.phase, ti.status.logIndex, ti.status.revocation.logIndex], ['Revoked', 2, idx]);
    assert.deepEqual(ti.status.revocation.votes.map((v) => v.signature), applied.at(-1)?.votes.map((v) => v.signature));
    // What the ThreatIndicator controller (and the webhook) compute from the stored object.
    assert.equal(evaluateIndicator(ti, clusterVoters, new Date(), { quorum: QUORUM }).phase, 'Revoked');
    const report = await kubeSink.repair(await mongoSink.all());
    assert.deepEqual([report.restored, report.corrected, report.unchanged, report.skipped], [0, 0, 3, 0]);
  });

  test('the revoked indicator proposed and approved again is Approved again with the new index, in MongoDB and the cluster', async () => {
    const idx = await admit({ type: 'domain', value: values[2]! });
    assert.equal((await replica.sync()).applied, 1);
    const ti = await get(values[2]!);
    assert.ok(ti?.status);
    assert.deepEqual([ti.status.phase, ti.status.logIndex, ti.status.revocation], ['Approved', idx, undefined]);
    assert.equal(ti.spec.provenance?.proposedAt, applied.at(-1)?.window.opensAt);
    const rec = (await mongoSink.all()).find((r) => r.value === values[2]);
    assert.deepEqual([rec?.state, rec?.logIndex, rec?.revokedAtIndex], ['active', idx, undefined]);
    const report = await kubeSink.repair(await mongoSink.all());
    assert.deepEqual([report.restored, report.corrected, report.unchanged, report.skipped], [0, 0, 3, 0]);
  });

  // Drift repair and the working set of one operator (or this partner's ingest) can both find an
  // object missing and create it: the loser's create answers 409 and must not fail its batch.
  const races: Array<[string, Indicator, EntryKind]> = [
    ['an admission', { type: 'domain', value: 'race-add.kube.example' }, 'add'],
    ['a revocation', { type: 'domain', value: 'race-revoke.kube.example' }, 'revoke'],
  ];
  for (const [name, ind, kind] of races) {
    test(`${name} whose object another writer creates between the sink's read and its create is still written`, async () => {
      await admit(ind);
      if (kind === 'revoke') await admit(ind, 'revoke');
      await replica.sync();
      const entry = applied.at(-1)!;
      assert.equal(entry.kind, kind);
      const objName = indicatorObjectName(ind);
      await kube.delete(THREAT_INDICATORS, objName, ns);
      let raced = 0;
      const racing = new Proxy(kube, {
        get(target, prop) {
          if (prop === 'create') {
            return async (ref: ResourceRef, obj: ThreatIndicator) => {
              if (raced++ === 0) await kube.create(ref, structuredClone(obj));
              return kube.create(ref, obj);
            };
          }
          const v: unknown = Reflect.get(target, prop, target);
          return typeof v === 'function' ? (v as (this: KubeHttpClient, ...args: unknown[]) => unknown).bind(target) : v;
        },
      });
      const sink = new KubeIndicatorSink({ client: racing, namespace: ns, voters: () => clusterVoters, policy: { quorum: QUORUM }, now: () => new Date(), log: logger() });
      await sink.apply(entry);
      assert.equal(raced, 1, 'one create by the sink, after the other writer\'s: it answered 409');
      const ti = await kube.get<ThreatIndicator>(THREAT_INDICATORS, objName, ns);
      assert.deepEqual([ti?.status?.phase, ti?.status?.logIndex ?? ti?.status?.revocation?.logIndex], [kind === 'add' ? 'Approved' : 'Revoked', entry.index]);
    });
  }

  // Found by `npm run chaos`: two partners ingested the same indicator; the second one's local
  // proposal opened its own window after the first round's votes, so it stayed Proposed.
  const late: Array<[string, number]> = [['another partner\'s round, proposed here after its votes', 60_000], ['this partner\'s round, proposed with its clock 30 s ahead', 30_000]];
  for (const [name, aheadMs] of late) {
    test(`a local proposal the log admits in ${name} becomes Approved from the log`, async () => {
      const value = `late-${aheadMs}.kube.example`;
      const ind: Indicator = { type: 'domain', value };
      const local: ThreatIndicator = {
        apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName(ind), namespace: ns },
        spec: { type: 'domain', value, pattern: `[domain-name:value = '${value}']`, provenance: { partner: 'charlie', proposedAt: new Date(Date.now() + aheadMs).toISOString() }, proposal: { partnerId: 'charlie', signature: signProposal(keys.charlie, 'add', ind) } },
      };
      await kube.create(THREAT_INDICATORS, local);
      const idx = await admit(ind);
      assert.equal((await replica.sync()).applied, 1);
      const ti = await get(value);
      assert.deepEqual([ti?.status?.phase, ti?.status?.logIndex, ti?.spec.provenance?.proposedAt], ['Approved', idx, applied.at(-1)?.window.opensAt]);
      assert.equal(evaluateIndicator(ti!, clusterVoters, new Date(), { quorum: QUORUM }).phase, 'Approved');
    });
  }
});

/**
 * Trust model, attack 5: one entry the protocol verified but the cluster cannot store (a vote
 * reason longer than the ThreatIndicator CRD allows, as logs written before the exchange enforced
 * the CRD's bounds can hold) must not wedge every partner's replication. Real parts: the entry in
 * a log behind the real exchange endpoint over mutual TLS, the partner's replica writing to a
 * real MongoDB-wire server and a real kube-apiserver with the generated CRDs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { ENTRY_LIMITS, roundSubject, signProposal, type EntryBody } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import type { TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { KubeIndicatorSink } from '../../operator/src/exchange/partner/kubesink.ts';
import { PartnerReplica } from '../../operator/src/exchange/partner/replica.ts';
import { startExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { HostileLog } from '../harness/hostile.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';
import { votingParties } from '../harness/voters.ts';

type Id = 'alpha' | 'bravo' | 'charlie';
const IDS: readonly Id[] = ['alpha', 'bravo', 'charlie'];
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const suffix = uniqueSuffix();
const ns = `tm-attack-mat-${suffix}`;
const { keys, directory: partners } = votingParties(IDS);

let cp: ControlPlane;
let mongo: MongoClient;
let kube: KubeHttpClient;
let ca: TestCa;
const tls = {} as Record<Id | 'sequencer', TlsMaterial>;
const closers: Array<() => Promise<void> | void> = [];

function admitted(indicator: Indicator, reason?: string): EntryBody {
  const now = Date.now();
  const votes = (['alpha', 'bravo'] as const).map((id) => signVote(keys[id], { partnerId: id, digest: roundSubject('add', indicator), decision: 'approve', signedAt: new Date(now - 1000).toISOString(), ...(reason !== undefined && id === 'bravo' ? { reason } : {}) }));
  return { kind: 'add', indicator, proposerId: 'alpha', proposalSignature: signProposal(keys.alpha, 'add', indicator), window: { opensAt: new Date(now - 30_000).toISOString(), closesAt: new Date(now + 3_600_000).toISOString() }, votes };
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(kube, await loadYamlDir('crds'), 'attacks-materialize');
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  ca = await createTestCa('threatmesh-attack-materialize');
  for (const id of [...IDS, 'sequencer'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await mongo?.close();
  if (kube) {
    await kube.delete(namespaces, ns).catch(() => undefined);
    kube.close();
  }
  await ca?.dispose();
  await cp?.stop();
});

describe('attack 5: an entry the cluster cannot store', () => {
  test('is recorded and reported, and the entries after it replicate: no partner wedges', async () => {
    const long = { type: 'domain' as const, value: `long-reason-${suffix}.attack.example` };
    const next = { type: 'domain' as const, value: `after-${suffix}.attack.example` };
    const log = new HostileLog();
    log.append(admitted(long, 'r'.repeat(ENTRY_LIMITS.reason * 2)), admitted(next));
    const server = await startExchangeServer({ sequencer: log, directory: new Map(partners.map((p) => [p.partnerId, p])), tls: tls.sequencer, address: '127.0.0.1:0', log: quiet });
    closers.push(() => server.stop());
    const client = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: tls.alpha, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 1 } });
    closers.push(() => client.close());
    const db = mongo.db(`tm_attack_mat_${suffix}`);
    closers.push(() => db.dropDatabase().then(() => undefined));
    const mongoSink = await MongoIndicatorSink.open(db);
    const skipped: VerifiedEntry[] = [];
    const kubeSink = new KubeIndicatorSink({ client: kube, namespace: ns, voters: () => [], now: () => new Date(), log: quiet, onUnmaterialized: (e) => skipped.push(e) });
    const sink = { apply: async (e: VerifiedEntry) => { await mongoSink.apply(e); await kubeSink.apply(e); } };
    const replica = new PartnerReplica({ sourceId: 'sequencer', source: client, sink, history: mongoSink, cursors: new MongoCursorStore(db), anchors: { sequencerKey: log.key.publicKey, partners, quorum: 2 }, now: () => new Date(), log: quiet });
    const r = await replica.sync();
    assert.deepEqual([r.applied, r.caughtUp], [2, true], 'both entries are past the cursor');
    assert.deepEqual(skipped.map((e) => e.index), [0], 'the entry the cluster refused is reported');
    assert.equal((await mongoSink.all()).length, 2, 'the partner database holds both');
    assert.equal((await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(long), ns))?.status?.logIndex, undefined, 'no certificate was written for it');
    assert.ok(await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(next), ns), 'the next entry is a ThreatIndicator');
  });
});

/**
 * What a partner's drift repair must not find, with real parts (a kube-apiserver with the
 * generated CRDs, FerretDB as the partner database, genuinely signed entries; issue 18,
 * docs/adr/2026-12-07-chaos-drift-repairs.md):
 * - a local proposal of another partner's round, kept by the working set because its window
 *   proves the votes, was recreated by every next repair (`corrected: 200` per chaos trial, the
 *   10 % of indicators both feeds carried): the working set now writes the log's spec itself;
 * - an eviction judged on a list taken before a REVOKE moved the object above the floor deleted
 *   it anyway, and the same repair created it again (`restored: 2` in chaos trial 7): evictions
 *   now delete only the object as listed (preconditions uid and resourceVersion) and judge a
 *   changed one again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { MongoClient } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { PartnerEntry } from '../../operator/src/api/partners.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { roundSubject, signProposal, type EntryKind } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { KubeIndicatorSink, specOf } from '../../operator/src/exchange/partner/kubesink.ts';
import { Materializer } from '../../operator/src/exchange/partner/materializer.ts';
import { repairWorkingSet } from '../../operator/src/exchange/partner/workingset.ts';
import { createLogger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { CacheReader, ResourceRef } from '../../operator/src/runtime/types.ts';
import { MongoIndicatorSink, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { votingParties } from '../harness/voters.ts';

const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = uniqueSuffix();
const ns = { overlap: `tm-dc-overlap-${suffix}`, evict: `tm-dc-evict-${suffix}` };
const ids = ['alpha', 'bravo', 'charlie'] as const;
type Id = (typeof ids)[number];
const { keys } = votingParties(ids);
const opensAt = Date.now() - 600_000;
const lines: string[] = [];
const out = new PassThrough();
out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter((l) => l !== '')));
const log = createLogger(out, 'info');

let cp: ControlPlane;
let kube: KubeHttpClient;
let mongo: MongoClient;

function voters(namespace: string): PartnerEntry[] {
  return ids.map((id) => ({ key: `${namespace}/${id}`, partnerId: id, publicKey: keys[id].publicKey, roles: ['voter'] }));
}

/** A verified entry at `index`: `kind` of `indicator`, proposed by `proposer`, approved by alpha and bravo 30 s into a round opened `openedMs` after `opensAt`. */
function entry(indicator: Indicator, index: number, proposer: Id, kind: EntryKind = 'add', openedMs = 0): VerifiedEntry {
  const at = opensAt + openedMs;
  const window = { opensAt: new Date(at).toISOString(), closesAt: new Date(at + 72 * 3_600_000).toISOString() };
  const votes = (['alpha', 'bravo'] as const).map((v) => signVote(keys[v], { partnerId: v, digest: roundSubject(kind, indicator), decision: 'approve', signedAt: new Date(at + 30_000).toISOString() }));
  return { kind, index, digest: indicatorDigest(indicator), indicator, proposerId: proposer, proposalSignature: signProposal(keys[proposer], kind, indicator), window, votes };
}

function recordOf(e: VerifiedEntry): IndicatorRecord {
  return { digest: e.digest, type: e.indicator.type, value: e.indicator.value, state: 'active', logIndex: e.index, proposerId: e.proposerId, window: e.window, proposalSignature: e.proposalSignature, votes: e.votes.map((v) => ({ ...v })) };
}

function sink(namespace: string): KubeIndicatorSink {
  return new KubeIndicatorSink({ client: kube, namespace, voters: () => voters(namespace), policy: { quorum: 2 }, now: () => new Date(), log });
}

/** The last `drift repair` log line since line `from`. */
function repairLine(from: number): { restored: number; corrected: number; restoredNames?: string[]; correctedNames?: string[] } {
  const line = lines.slice(from).reverse().find((l) => l.includes('"msg":"drift repair"'));
  assert.ok(line !== undefined, 'a drift repair ran');
  return JSON.parse(line) as ReturnType<typeof repairLine>;
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 30_000 });
  await applyManifests(kube, await loadYamlDir('crds'), 'drift-corrections-test');
  for (const name of Object.values(ns)) await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
});

after(async () => {
  if (kube) {
    for (const name of Object.values(ns)) await kube.delete(namespaces, name).catch(() => undefined);
    kube.close();
  }
  await mongo?.close();
  await cp?.stop();
});

describe('drift repair finds nothing the working set wrote', () => {
  test('two partners ingested the same indicator and the other one\'s proposal was admitted: the working set writes the log\'s spec, the next repair corrects nothing', async () => {
    const ind: Indicator = { type: 'domain', value: 'overlap.drift-corrections.example' };
    const admitted = entry(ind, 0, 'charlie');
    // alpha's ingest proposed it too, 5 s before charlie's round opened: its window proves charlie's votes.
    const own: ThreatIndicator = {
      apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName(ind), namespace: ns.overlap },
      spec: { ...specOf({ ...admitted, proposerId: 'alpha', proposalSignature: signProposal(keys.alpha, 'add', ind) }), provenance: { partner: 'alpha', feed: 'tm/feed', proposedAt: new Date(opensAt - 5_000).toISOString() } },
    };
    await kube.create(THREAT_INDICATORS, own);
    const s = sink(ns.overlap);
    await s.applyMany([admitted]);
    const written = await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(ind), ns.overlap);
    assert.deepEqual(
      [written?.status?.phase, written?.status?.logIndex, written?.spec.proposal?.partnerId, written?.spec.provenance?.proposedAt],
      ['Approved', 0, 'charlie', admitted.window.opensAt],
      'the object carries the admitted proposal, as every other partner\'s does',
    );
    const from = lines.length;
    const listed = (await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns.overlap })).items;
    const report = await s.repair([recordOf(admitted)], listed);
    // Before: the working set kept alpha's spec (it proves the entry) and this repair recreated it (corrected 1).
    assert.deepEqual({ restored: report.restored, corrected: report.corrected, unchanged: report.unchanged }, { restored: 0, corrected: 0, unchanged: 1 }, JSON.stringify(repairLine(from)));
  });

  test('an object revoked after the eviction\'s list (now above the floor) is not evicted: same uid, its revocation kept, and the repair restores nothing', async () => {
    const db = mongo.db(`drift_corrections_${suffix}`);
    const mongoSink = await MongoIndicatorSink.open(db);
    const s = sink(ns.evict);
    const inds: Indicator[] = Array.from({ length: 6 }, (_, i) => ({ type: 'domain', value: `e${i}.evict.drift-corrections.example` }));
    const adds = inds.map((ind, i) => entry(ind, i, 'alpha'));
    await mongoSink.applyMany(adds);
    await s.applyMany(adds);
    // Budget 3 of 6 positions: the floor is 3, so positions 0, 1 and 2 are evictable.
    const materializer = new Materializer({ sink: s, budget: 3, log });
    materializer.resume([], adds.length);
    // The list the eviction judges on, as an informer cache holds it before it sees the revocation.
    const stale = (await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns.evict })).items;
    const cache: CacheReader<ThreatIndicator> = { get: (key) => stale.find((o) => `${o.metadata.namespace}/${o.metadata.name}` === key), list: () => stale };
    const target = stale.find((o) => o.metadata.name === indicatorObjectName(inds[0]!))!;
    // The REVOKE of position 0 arrives at position 6: the object now reflects 6, above the floor (4 once the log has 7 entries).
    const revoke = entry(inds[0]!, adds.length, 'bravo', 'revoke', 120_000);
    await mongoSink.applyMany([revoke]);
    await s.applyMany([revoke]);
    materializer.resume([], adds.length + 1);
    const from = lines.length;
    await repairWorkingSet({ client: kube, cache, namespace: ns.evict, materializer, kube: s, mongo: mongoSink, log });
    const now = await kube.get<ThreatIndicator>(THREAT_INDICATORS, target.metadata.name, ns.evict);
    // Before: deleted on the stale judgement, then created again by the same repair (a new uid, restored 1).
    assert.deepEqual([now?.metadata.uid, now?.status?.revocation?.logIndex], [target.metadata.uid, revoke.index], 'the revoked object was kept, not deleted and created again');
    assert.equal(repairLine(from).restored, 0, JSON.stringify(repairLine(from)));
    const left = new Set((await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns.evict })).items.map((o) => o.metadata.name));
    assert.deepEqual(inds.map((i) => left.has(indicatorObjectName(i))), [true, false, false, false, true, true], 'the objects still below the floor were evicted');
  });
});

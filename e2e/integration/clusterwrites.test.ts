/**
 * What a partner's cluster writes cost, and what they must not overwrite (issue 14;
 * exchange/partner/kubesink.ts, docs/adr/2026-12-07-cluster-write-requests.md). Real parts: a
 * kube-apiserver with the generated CRDs, a ThreatIndicator informer as the operator runs it,
 * genuinely signed entries; requests are counted by the API server itself
 * (`apiserver_request_total`), so a writer that goes back to a GET before each write fails here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import type { PartnerEntry } from '../../operator/src/api/partners.ts';
import { apiRequestCounts, countsSince } from '../../operator/src/dev/controlplane/apimetrics.ts';
import { indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { roundSubject, signProposal, type EntryKind } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { KubeIndicatorSink, specOf } from '../../operator/src/exchange/partner/kubesink.ts';
import { Materializer } from '../../operator/src/exchange/partner/materializer.ts';
import { createLogger } from '../../operator/src/log.ts';
import { Informer } from '../../operator/src/runtime/informer.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import type { IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { votingParties } from '../harness/voters.ts';

const N = 40;
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = uniqueSuffix();
const ns = { others: `tm-cw-others-${suffix}`, own: `tm-cw-own-${suffix}`, race: `tm-cw-race-${suffix}`, stop: `tm-cw-stop-${suffix}` };
const { keys } = votingParties(['alpha', 'bravo', 'charlie'] as const);
const log = createLogger(new PassThrough().resume(), 'error');
const opensAt = Date.now() - 600_000;
const informers: Array<Informer<ThreatIndicator>> = [];

let cp: ControlPlane;
let kube: KubeHttpClient;

function voters(namespace: string): PartnerEntry[] {
  return (['alpha', 'bravo', 'charlie'] as const).map((id) => ({ key: `${namespace}/${id}`, partnerId: id, publicKey: keys[id].publicKey, roles: ['voter'] }));
}

/** A verified entry at `index`: `kind` of `indicator`, proposed by `proposer`, approved by alpha and bravo in a round opened `openedMs` after the test's start. */
function entry(indicator: Indicator, index: number, proposer: 'alpha' | 'bravo' | 'charlie', kind: EntryKind = 'add', openedMs = 0): VerifiedEntry {
  const at = opensAt + openedMs;
  const window = { opensAt: new Date(at).toISOString(), closesAt: new Date(at + 72 * 3_600_000).toISOString() };
  const votes = (['alpha', 'bravo'] as const).map((v) => signVote(keys[v], { partnerId: v, digest: roundSubject(kind, indicator), decision: 'approve', signedAt: new Date(at + 30_000).toISOString() }));
  return { kind, index, digest: indicatorDigest(indicator), indicator, proposerId: proposer, proposalSignature: signProposal(keys[proposer], kind, indicator), window, votes };
}

function entries(label: string, proposer: 'alpha' | 'charlie'): VerifiedEntry[] {
  return Array.from({ length: N }, (_, i) => entry({ type: 'domain', value: `c${i}.${label}.clusterwrites.example` }, i, proposer));
}

function recordOf(e: VerifiedEntry): IndicatorRecord {
  return { digest: e.digest, type: e.indicator.type, value: e.indicator.value, state: 'active', logIndex: e.index, proposerId: e.proposerId, window: e.window, proposalSignature: e.proposalSignature, votes: e.votes.map((v) => ({ ...v })) };
}

async function informer(namespace: string): Promise<Informer<ThreatIndicator>> {
  const inf = new Informer<ThreatIndicator>({ client: kube, ref: THREAT_INDICATORS, log, namespace });
  inf.start();
  informers.push(inf);
  await inf.waitForSync();
  return inf;
}

/** Waits until the informer holds `n` objects of its namespace (it saw the writes so far). */
async function caughtUp(inf: Informer<ThreatIndicator>, namespace: string, ok: (objs: ReadonlyArray<Readonly<ThreatIndicator>>) => boolean): Promise<void> {
  for (let i = 0; i < 300 && !ok(inf.list(namespace)); i++) await new Promise((r) => setTimeout(r, 100));
}

/** The ThreatIndicator requests `work` made, as the API server counts them (informer LIST/WATCH left out). */
async function counted(work: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = await apiRequestCounts(cp.target, 'threatindicators');
  await work();
  // The server counts a request as it finishes: read until two readings agree.
  let last = await apiRequestCounts(cp.target, 'threatindicators');
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 150));
    const again = await apiRequestCounts(cp.target, 'threatindicators');
    if (JSON.stringify(again) === JSON.stringify(last)) break;
    last = again;
  }
  const { LIST: _l, WATCH: _w, ...writes } = countsSince(before, last);
  return writes;
}

function localProposal(e: VerifiedEntry, namespace: string): ThreatIndicator {
  // This partner's ingest: its own time opens the window (5 s after the round's), its feed as provenance.
  const proposedAt = new Date(Date.parse(e.window.opensAt) + 5_000).toISOString();
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName(e.indicator), namespace }, spec: { ...specOf(e), provenance: { partner: e.proposerId, feed: 'tm/feed', proposedAt } } };
}

before(async () => {
  cp = await startControlPlane({ ...controlPlaneOptionsFromEnv(), mongo: false });
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 30_000 });
  await applyManifests(kube, await loadYamlDir('crds'), 'clusterwrites-test');
  for (const name of Object.values(ns)) await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
});

after(async () => {
  for (const inf of informers) await inf.stop();
  if (kube) {
    for (const name of Object.values(ns)) await kube.delete(namespaces, name).catch(() => undefined);
    kube.close();
  }
  await cp?.stop();
});

describe('requests per object on the real kube-apiserver', () => {
  const others = entries('others', 'charlie');
  const own = entries('own', 'alpha');

  test('other partners\' entries: a create and a status patch each, no GET', async () => {
    const inf = await informer(ns.others);
    const sink = new KubeIndicatorSink({ client: kube, cache: inf, namespace: ns.others, voters: () => voters(ns.others), policy: { quorum: 2 }, now: () => new Date(), log });
    assert.deepEqual(await counted(() => sink.applyMany(others)), { POST: N, 'PATCH/status': N });
    const objs = (await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns.others })).items;
    assert.deepEqual(objs.map((o) => o.status?.phase), Array<string>(N).fill('Approved'));
    await caughtUp(inf, ns.others, (l) => l.filter((o) => o.status?.logIndex !== undefined).length === N);
    assert.deepEqual(await counted(() => sink.applyMany(others)), {}, 'a replay writes and reads nothing');
  });

  test('this partner\'s own proposals: one status patch each; drift repair of the intact set: no request, no recreation', async () => {
    for (const e of own) await kube.create(THREAT_INDICATORS, localProposal(e, ns.own));
    const inf = await informer(ns.own);
    await caughtUp(inf, ns.own, (l) => l.length === N);
    const sink = new KubeIndicatorSink({ client: kube, cache: inf, namespace: ns.own, voters: () => voters(ns.own), policy: { quorum: 2 }, now: () => new Date(), log });
    assert.deepEqual(await counted(() => sink.applyMany(own)), { 'PATCH/status': N });
    await caughtUp(inf, ns.own, (l) => l.filter((o) => o.status?.logIndex !== undefined).length === N);
    let report: Awaited<ReturnType<KubeIndicatorSink['repair']>> | undefined;
    assert.deepEqual(await counted(async () => { report = await sink.repair(own.map(recordOf)); }), {});
    assert.deepEqual(report, { restored: 0, corrected: 0, unchanged: N, skipped: 0, unlogged: [] });
    const objs = (await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns.own })).items;
    assert.deepEqual(new Set(objs.map((o) => `${o.status?.phase} ${o.spec.provenance?.feed}`)), new Set(['Approved tm/feed']), 'the local proposals are kept, Approved');
  });
});

describe('what the writes must not overwrite', () => {
  test('a status written by another writer after the cache was read is judged again, not overwritten', async () => {
    const ind: Indicator = { type: 'domain', value: 'stale.clusterwrites.example' };
    const add = entry(ind, 5, 'alpha');
    const revoke = entry(ind, 9, 'bravo', 'revoke', 120_000);
    await kube.create(THREAT_INDICATORS, localProposal(add, ns.race));
    const stale = await informer(ns.race);
    await caughtUp(stale, ns.race, (l) => l.length === 1);
    // The cache stops seeing changes: it keeps the local proposal without status.
    await stale.stop();
    const other = new KubeIndicatorSink({ client: kube, namespace: ns.race, voters: () => voters(ns.race), policy: { quorum: 2 }, now: () => new Date(), log });
    await other.applyMany([add, revoke]);
    const sink = new KubeIndicatorSink({ client: kube, cache: stale, namespace: ns.race, voters: () => voters(ns.race), policy: { quorum: 2 }, now: () => new Date(), log });
    const requests = await counted(() => sink.applyMany([add]));
    assert.deepEqual(requests, { 'PATCH/status': 1, GET: 1 }, 'the guarded patch answered 409, the object was read once');
    const ti = await kube.get<ThreatIndicator>(THREAT_INDICATORS, indicatorObjectName(ind), ns.race);
    assert.deepEqual([ti?.status?.phase, ti?.status?.logIndex, ti?.status?.revocation?.logIndex], ['Revoked', 5, 9]);
  });

  test('stop() returns once the requests in flight answer, not after the batch; the cut batch is not reported written', async () => {
    const many = Array.from({ length: 400 }, (_, i) => entry({ type: 'domain', value: `s${i}.stop.clusterwrites.example` }, i, 'charlie'));
    const sink = new KubeIndicatorSink({ client: kube, namespace: ns.stop, voters: () => voters(ns.stop), policy: { quorum: 2 }, now: () => new Date(), log, concurrency: 1 });
    const reported: number[] = [];
    const m = new Materializer({ sink, budget: 1000, log, batch: 400, onWritten: (n) => reported.push(n) });
    m.offer(many, many.length);
    for (let i = 0; i < 300; i++) {
      if ((await kube.list(THREAT_INDICATORS, { namespace: ns.stop, limit: 1 })).items.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const t0 = performance.now();
    await m.stop();
    const stopMs = performance.now() - t0;
    const written = (await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns.stop })).items.length;
    // One object in flight takes two requests; the whole batch took minutes on a loaded machine.
    assert.ok(stopMs < 10_000, `stop() took ${Math.round(stopMs)} ms`);
    assert.ok(written < many.length, `stopped after ${written} of ${many.length} objects`);
    assert.deepEqual(reported, [], 'nothing reported written');
    assert.equal(m.busy, false);
  });
});

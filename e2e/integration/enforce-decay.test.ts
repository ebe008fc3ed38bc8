/**
 * Confidence decay against real parts: a kube-apiserver with the upstream Cilium CRDs, FerretDB
 * holding the replicated `indicators` (written through MongoIndicatorSink as the replica writes
 * them), this partner's own `sightings` and the `received_sightings` of its peers (written
 * through MongoReceivedSightings, the store that verified reports go to), and two real HAProxy
 * processes. With a half-life of one minute and admissions dated 45 s back, an unsighted
 * indicator of confidence 100 falls below minConfidence 50 fifteen seconds into the test and
 * must leave the Cilium CIDR groups and the HAProxy map with no log event and no restart; a
 * sighted one stays; a decayed one sighted again comes back. Adversarial: a hostile peer alone
 * keeps nothing alive under minParties 2, and a sighting it claims for next year counts only
 * up to its report's creation time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Db } from 'mongodb';
import { startEnforceBed, type EnforceBed } from '../harness/enforcebed.ts';
import { eventually } from '../harness/kube.ts';
import { startHaproxy, type TestHaproxy } from '../harness/haproxy.ts';
import { createLogger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { ENFORCEMENT_POLICIES } from '../../operator/src/api/schemas/index.ts';
import { DECAY_PARTIES_CONFLICT } from '../../operator/src/api/schemas/enforcementpolicy.ts';
import type { EnforcementPolicy, EnforcementPolicySpec } from '../../operator/src/api/enforcement.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import type { VerifiedEntry } from '../../operator/src/domain/stores.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { MongoReceivedSightings } from '../../operator/src/store/receivedsightings.ts';
import { SIGHTINGS, type SightingDoc } from '../../operator/src/store/sightings.ts';
import { startEnforcement, type RunningEnforcement } from '../../operator/src/controllers/enforcementsetup.ts';
import { CIDR_GROUPS, POLICY_LABEL, policyId } from '../../operator/src/enforce/cilium.ts';
import { SocketRuntimeApi } from '../../operator/src/enforce/haproxy/runtime.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const ns = `decay-${randomBytes(3).toString('hex')}`;
const HOUR = 3_600_000;

let bed: EnforceBed | undefined;
let admin: KubeHttpClient;
let db: Db;
let sink: MongoIndicatorSink;
let cursors: MongoCursorStore;
let received: MongoReceivedSightings;
let dir: string;
let haA: TestHaproxy;
let haB: TestHaproxy;
let enforcement: RunningEnforcement | undefined;
let nextIndex = 0;

const ip = (value: string): Indicator => ({ type: 'ipv4', value });
const UNSIGHTED = ip('45.10.0.1');
const SIGHTED = ip('45.10.0.2');
const LONE_PEER = ip('45.10.0.3');
const FUTURE_CLAIM = ip('45.10.0.4');
const RESIGHTED = ip('45.10.0.5');

/** Admits `inds` (confidence 100) as if their voting round closed at `closesAt`, as the replica writes them. */
async function admitAt(closesAt: number, inds: readonly Indicator[]): Promise<void> {
  const window = { opensAt: new Date(closesAt - 60_000).toISOString(), closesAt: new Date(closesAt).toISOString() };
  const entries: VerifiedEntry[] = inds.map((indicator) => ({ kind: 'add', indicator, meta: { confidence: 100 }, proposerId: 'partner-a', proposalSignature: 'c2ln', window, votes: [], index: nextIndex++, digest: indicatorDigest(indicator) }));
  await sink.applyMany(entries);
  await cursors.save('sequencer', { nextIndex });
}

/** This partner's own sighting of `ind` at `at`, in the `sightings` contract shape (as the LogScan rollup writes it). */
async function ownSighting(ind: Indicator, at: number): Promise<void> {
  const digest = indicatorDigest(ind);
  const bucketStart = new Date(at - (at % HOUR));
  const doc: SightingDoc = { _id: `${digest}:${bucketStart.toISOString()}`, digest, type: ind.type, value: ind.value, partnerId: 'partner-self', bucketStart, count: 3, firstSeen: new Date(at), lastSeen: new Date(at), sources: { 'zeek:conn': 3 }, updatedAt: new Date(at) };
  await db.collection<SightingDoc>(SIGHTINGS).replaceOne({ _id: doc._id }, doc, { upsert: true });
}

/** A peer's verified report of `ind`, last seen at `lastSeen`, made at `reportedAt`. */
async function peerSighting(sender: string, ind: Indicator, lastSeen: number, reportedAt: number): Promise<void> {
  const bucketStart = new Date(lastSeen - (lastSeen % HOUR));
  await received.store(sender, new Date(reportedAt), [{ digest: indicatorDigest(ind), bucketStart, count: 1, firstSeen: new Date(lastSeen), lastSeen: new Date(lastSeen) }]);
}

function policy(name: string, minSightingParties: number, ha: TestHaproxy): EnforcementPolicy {
  const spec: EnforcementPolicySpec = {
    mode: 'Enforce',
    selector: { types: ['ipv4'], minConfidence: 50, confidenceDecay: { halfLife: '1m', minSightingParties } },
    targets: { cilium: { enabled: true }, haproxy: { enabled: true, runtimeApis: [ha.unixApi], hostsMap: ha.hostsMap, ipsMap: ha.ipsMap } },
  };
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'EnforcementPolicy', metadata: { name, namespace: ns }, spec };
}

/** The addresses in a policy's CiliumCIDRGroups and in its HAProxy address map, sorted. */
async function enforced(name: string, ha: TestHaproxy): Promise<{ cilium: string[]; haproxy: string[] }> {
  const groups = (await admin.list<KubeObject & { spec: { externalCIDRs: string[] } }>(CIDR_GROUPS, { labelSelector: `${POLICY_LABEL}=${policyId(ns, name)}` })).items;
  const cilium = groups.flatMap((g) => g.spec.externalCIDRs).map((c) => c.replace(/\/32$/, '')).sort();
  const out = await new SocketRuntimeApi(ha.unixApi).send(`show map ${ha.ipsMap}`);
  const haproxy = [...out.matchAll(/\s(\d+\.\d+\.\d+\.\d+)(?:\/32)? [0-9a-f]{16}/g)].map((m) => m[1] ?? '').sort();
  return { cilium, haproxy };
}

async function until(name: string, ha: TestHaproxy, want: readonly Indicator[], timeoutMs: number): Promise<void> {
  const expect = want.map((i) => i.value).sort();
  let last: unknown;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const got = await enforced(name, ha).catch((e: unknown) => ({ error: String(e) }));
    last = got;
    if ('cilium' in got && JSON.stringify(got.cilium) === JSON.stringify(expect) && JSON.stringify(got.haproxy) === JSON.stringify(expect)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${name}: expected ${JSON.stringify(expect)} in Cilium and HAProxy, last saw ${JSON.stringify(last)}`);
}

before(async () => {
  bed = await startEnforceBed({ name: 'decay-test', namespace: ns });
  ({ admin, db } = bed);
  sink = await MongoIndicatorSink.open(db);
  cursors = new MongoCursorStore(db);
  received = await MongoReceivedSightings.open(db);
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-decay-'));
  haA = await startHaproxy(join(dir, 'a'));
  haB = await startHaproxy(join(dir, 'b'));
  enforcement = await startEnforcement({ client: admin, db, log: quiet, namespace: ns, pollIntervalMs: 500, sightingsRefreshMs: 500 });
});

after(async () => {
  await enforcement?.stop();
  await haA?.stop();
  await haB?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  await bed?.stop();
});

describe('confidence decay (half-life 1m, minConfidence 50, confidence 100: unsighted ones leave 60 s after admission)', () => {
  test('an unsighted indicator leaves Cilium and HAProxy at its decay time; a sighted one stays; a lone or future-dated peer keeps nothing alive under minSightingParties 2; a new sighting brings one back', async (t) => {
    const t0 = Date.now();
    const admitted = t0 - 45_000;
    await admitAt(admitted, [UNSIGHTED, SIGHTED, LONE_PEER, FUTURE_CLAIM, RESIGHTED]);
    // SIGHTED: this partner and a peer saw it just now (two parties).
    await ownSighting(SIGHTED, t0);
    await peerSighting('partner-b', SIGHTED, t0, t0);
    // LONE_PEER: only one (hostile) peer claims to see it, and keeps claiming.
    await peerSighting('hostile', LONE_PEER, t0, t0);
    // FUTURE_CLAIM: a report made before the admission that claims a sighting a year ahead (the protocol refuses such buckets; the store's cap is the second line).
    await peerSighting('hostile', FUTURE_CLAIM, t0 + 365 * 24 * HOUR, admitted - 10_000);
    await admin.create(ENFORCEMENT_POLICIES, policy('one-party', 1, haA));
    await admin.create(ENFORCEMENT_POLICIES, policy('two-parties', 2, haB));
    const all = [UNSIGHTED, SIGHTED, LONE_PEER, FUTURE_CLAIM, RESIGHTED];
    await until('one-party', haA, all, 12_000);
    await until('two-parties', haB, all, 12_000);
    assert.ok(Date.now() < admitted + 60_000, 'everything was enforced before its decay time');
    const stopFaking = setInterval(() => { void peerSighting('hostile', LONE_PEER, Date.now(), Date.now()).catch(() => undefined); }, 1000);
    try {
      await until('one-party', haA, [SIGHTED, LONE_PEER], admitted + 60_000 - Date.now() + 8000);
      await until('two-parties', haB, [SIGHTED], 8000);
      const left = Date.now() - (admitted + 60_000);
      t.diagnostic(`decayed indicators left Cilium and HAProxy within ${Math.max(0, left)} ms of their decay time (poll 500 ms)`);
    } finally {
      clearInterval(stopFaking);
    }
    const one = await eventually(() => admin.get<EnforcementPolicy>(ENFORCEMENT_POLICIES, 'one-party', ns), (p) => p?.status?.decayed === 3, 5000);
    const two = await eventually(() => admin.get<EnforcementPolicy>(ENFORCEMENT_POLICIES, 'two-parties', ns), (p) => p?.status?.decayed === 4, 5000);
    assert.deepEqual([one?.status?.decayed, one?.status?.skipped?.['decayed'], one?.status?.selected], [3, 3, 2]);
    assert.deepEqual([two?.status?.decayed, two?.status?.skipped?.['decayed'], two?.status?.selected], [4, 4, 1]);
    // Sighted again by two parties: back in both, without a restart.
    const now = Date.now();
    await ownSighting(RESIGHTED, now);
    await peerSighting('partner-b', RESIGHTED, now, now);
    await until('one-party', haA, [SIGHTED, LONE_PEER, RESIGHTED], 8000);
    await until('two-parties', haB, [SIGHTED, RESIGHTED], 8000);
  });
});

describe('the deprecated confidenceDecay.minParties on the real API server (docs/adr/2026-12-07-sighting-party-thresholds.md)', () => {
  const decayOnly = (name: string, confidenceDecay: Record<string, unknown>): EnforcementPolicy => ({
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'EnforcementPolicy', metadata: { name, namespace: ns },
    spec: { mode: 'LogOnly', selector: { types: ['ipv4'], minConfidence: 50, confidenceDecay: { halfLife: '1m', ...confidenceDecay } } },
  });
  test('an object that still says minParties is served and its Ready condition says to rename it', async () => {
    await admin.create(ENFORCEMENT_POLICIES, decayOnly('old-name', { minParties: 2 }));
    const p = await eventually(() => admin.get<EnforcementPolicy>(ENFORCEMENT_POLICIES, 'old-name', ns), (o) => o?.status?.conditions?.some((c) => c.type === 'Ready') === true, 10_000);
    const ready = p?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.match(ready?.message ?? '', /selector\.confidenceDecay\.minParties is deprecated: rename it to minSightingParties/);
  });
  const refused: Array<[string, Record<string, unknown>]> = [
    ['minParties 1 beside minSightingParties 2', { minParties: 1, minSightingParties: 2 }],
    ['minParties 3 beside minSightingParties 2', { minParties: 3, minSightingParties: 2 }],
  ];
  for (const [name, fields] of refused) {
    test(`the API server refuses ${name} (the CRD's CEL rule), naming the fix`, async () => {
      await assert.rejects(admin.create(ENFORCEMENT_POLICIES, decayOnly(`conflict-${String(fields['minParties'])}`, fields)), (e: unknown) => String(e).includes(DECAY_PARTIES_CONFLICT));
    });
  }
  test('both names with the same number are accepted (a rename half done)', async () => {
    await admin.create(ENFORCEMENT_POLICIES, decayOnly('same', { minParties: 2, minSightingParties: 2 }));
  });
});

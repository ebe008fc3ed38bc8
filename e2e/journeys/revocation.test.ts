/**
 * Journey: a network-wide revocation started from a cluster. One sequencer cluster and three
 * partner clusters (each its own kube-apiserver, FerretDB and ThreatMesh process, mutual TLS over
 * loopback, quorum 2 of 3) converge on the bundled feodo snapshot. An analyst at partner A
 * annotates one Approved ThreatIndicator with `threatmesh.io/revoke`; A's operator proposes the
 * revocation (and approves it with the reason); B's and C's operators mark their copies for the
 * REVOKE round; their analysts approve with `threatmesh.io/vote`. Then every cluster shows that
 * object Revoked with its revocation certificate and the others still Approved, every partner's
 * MongoDB record of it is revoked, and all hold the same tree, one entry larger. The network comes
 * from the journey harness (local control plane, or kind with THREATMESH_E2E_TARGET=kind).
 * On the local target every partner also defends with what it received: its `threatmesh serve`
 * answers a TAXII consumer (the sandbox's TLP:GREEN sample consumer), and `threatmesh enforce`
 * keeps a real HAProxy's deny map and the cluster's CiliumCIDRGroups equal to the admitted set.
 * The admitted indicator reaches every partner's TAXII collection, HAProxy and Cilium; after the
 * revocation TAXII shows its revoked version and HAProxy and Cilium let it through again. The
 * admission→enforcement and revocation→enforcement latencies are measured and printed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { feedPlan, sandboxFeedObject, SANDBOX_FEED } from '../../operator/src/dev/commands/sandbox.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { isIndicatorType } from '../../operator/src/domain/indicator.ts';
import { MANUAL_VOTE } from '../../operator/src/exchange/partner/manualvote.ts';
import { REVOKE_REQUEST } from '../../operator/src/exchange/partner/revocations.ts';
import { notConverged, type NetworkView } from '../../operator/src/dev/sandbox/convergence.ts';
import { NETWORK_NAMESPACE } from '../../operator/src/dev/sandbox/network.ts';
import { controlPlaneOptionsFromEnv, journeyTargetFromEnv, keepJourneyDirFromEnv } from '../harness/env.ts';
import { startJourneyNetwork, type JourneyNetwork, type JourneyParty } from '../harness/journey/index.ts';
import { startDefences, type Defences } from '../harness/journey/defend.ts';
import { stixIndicatorId } from '../../operator/src/domain/stix.ts';

const dir = await mkdtemp(join(tmpdir(), 'threatmesh-revocation-'));
const REASON = 'journey: the C2 server was taken down';

after(async () => {
  if (!keepJourneyDirFromEnv()) await rm(dir, { recursive: true, force: true });
});

/**
 * Polls `probe` every second until it returns `{ done }`; fails after `ms` with the last reason
 * (a string) and what `explain` says (the processes' last warnings).
 */
async function until<T>(what: string, ms: number, probe: () => Promise<{ readonly done: T } | string>, explain?: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: { readonly done: T } | string = 'not polled yet';
  while (Date.now() < deadline) {
    last = await probe();
    if (typeof last !== 'string') return last.done;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const why = explain === undefined ? '' : `\n${await explain().catch((err: unknown) => `(no explanation: ${String(err)})`)}`;
  return assert.fail(`${what} did not happen in ${ms} ms; waiting for: ${String(last)}${why}`);
}

async function objects(p: JourneyParty): Promise<ThreatIndicator[]> {
  return (await p.client.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: NETWORK_NAMESPACE })).items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

async function object(p: JourneyParty, name: string): Promise<ThreatIndicator | undefined> {
  return p.client.get<ThreatIndicator>(THREAT_INDICATORS, name, NETWORK_NAMESPACE);
}

async function annotate(p: JourneyParty, name: string, annotations: Record<string, string>): Promise<void> {
  await p.client.patch(THREAT_INDICATORS, name, NETWORK_NAMESPACE, { metadata: { annotations } });
}

async function mongoStates(net: JourneyNetwork, p: JourneyParty): Promise<Map<string, string>> {
  const client = new MongoClient(await net.mongoUri(p), { serverSelectionTimeoutMS: 5000 });
  try {
    const docs = await client.db('threatmesh_partner').collection<{ digest: string; state: string }>('indicators').find({}).toArray();
    return new Map(docs.map((d) => [d.digest, d.state]));
  } finally {
    await client.close();
  }
}

/** When each address first appeared in, and then left, each partner's live HAProxy deny map (polled every 250 ms). */
class MapWatch {
  readonly denied = new Map<string, Map<string, number>>();
  readonly cleared = new Map<string, Map<string, number>>();
  #running = true;
  readonly #loop: Promise<void>;

  constructor(defences: Defences) {
    this.#loop = (async () => {
      while (this.#running) {
        await Promise.all(defences.partners.map(async (d) => {
          const now = Date.now();
          const ips = await d.deniedIps().catch(() => undefined);
          if (ips === undefined) return;
          const denied = this.denied.get(d.party.id) ?? new Map<string, number>();
          const cleared = this.cleared.get(d.party.id) ?? new Map<string, number>();
          this.denied.set(d.party.id, denied);
          this.cleared.set(d.party.id, cleared);
          for (const ip of ips) if (!denied.has(ip)) denied.set(ip, now);
          for (const ip of denied.keys()) if (!ips.has(ip) && !cleared.has(ip)) cleared.set(ip, now);
        }));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }
}

function p95(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] ?? NaN;
}

/** When quorum was reached: the `quorum`-th earliest approval's signing time. */
function quorumAt(t: ThreatIndicator, quorum: number): number | undefined {
  const times = (t.status?.votes ?? []).filter((v) => v.decision === 'approve').map((v) => Date.parse(v.signedAt)).sort((a, b) => a - b);
  return times[quorum - 1];
}

describe('a revocation started by an annotation at partner A', () => {
  let net: JourneyNetwork;
  let defences: Defences | undefined;
  let watch: MapWatch | undefined;
  /** Filled by the first test for the second: what was revoked and when the deciding votes were cast. */
  const revoked: { name?: string; ip?: string; stixId?: string; votedAt?: number; admitted?: ThreatIndicator[] } = {};

  before(async () => {
    net = await startJourneyNetwork(journeyTargetFromEnv(), { dir: join(dir, 'net'), partners: 3, quorum: 2, feeds: new Map(), cacheDir: controlPlaneOptionsFromEnv().cacheDir });
    if (net.local !== undefined) {
      defences = await startDefences(net, join(dir, 'defences'));
      watch = new MapWatch(defences);
    }
  });

  after(async () => {
    await watch?.stop();
    await defences?.stop();
    await net?.stop();
  });

  test('annotations revoke one indicator in every cluster and MongoDB; the trees stay equal, one entry larger', async () => {
    const [a, b, c] = net.partners as [JourneyParty, JourneyParty, JourneyParty];
    const view = (): Promise<NetworkView> => net.view({ partner: a, name: SANDBOX_FEED });
    await net.addFeed(a, sandboxFeedObject(feedPlan({ preset: 'feodo' }), net.feedBaseUrl));
    const converged = await until('convergence on the feodo snapshot', 300_000, async () => {
      const v = await view();
      return notConverged(v).length === 0 ? { done: v } : notConverged(v).join('; ');
    }, () => net.explain());
    const size = converged.sequencer!.treeSize;
    assert.ok(size >= 2, `the feodo snapshot admits at least two indicators, got ${size}`);

    const target = (await objects(a)).find((t) => t.status?.phase === 'Approved' && t.spec.type === 'ipv4');
    assert.ok(target !== undefined, 'an Approved ipv4 indicator at A');
    const name = target.metadata.name;
    assert.ok(isIndicatorType(target.spec.type));
    const digest = indicatorDigest({ type: target.spec.type, value: target.spec.value });
    const stixId = stixIndicatorId({ type: target.spec.type, value: target.spec.value });
    Object.assign(revoked, { name, ip: target.spec.value, stixId, admitted: (await objects(a)).filter((t) => t.status?.phase === 'Approved') });
    for (const d of defences?.partners ?? []) {
      await until(`${d.party.id} serving and enforcing ${target.spec.value}`, 60_000, async () => {
        const taxii = await d.taxiiObjects(stixId);
        if (taxii.status !== 200 || taxii.objects.length !== 1) return `TAXII answered ${taxii.status} with ${taxii.objects.length} objects`;
        if (taxii.objects[0]?.['revoked'] === true) return 'TAXII shows it revoked already';
        if (await d.statusFrom(target.spec.value) !== 403) return 'HAProxy lets it through';
        if (!(await d.ciliumCidrs()).has(`${target.spec.value}/32`)) return 'not in a CiliumCIDRGroup';
        return { done: true };
      });
    }
    // Revoked right after admission: the revocation round opens up to a minute before it is
    // proposed (clock-skew allowance), yet A's own copy, which carries its ingest time, is revoked too.
    await annotate(a, name, { [REVOKE_REQUEST.request]: REASON });
    const opened = await until('A\'s revocation proposal', 60_000, async () => {
      const result = (await object(a, name))?.metadata.annotations?.[REVOKE_REQUEST.result];
      return result !== undefined ? { done: result } : 'the revoke-result annotation at A';
    });
    assert.match(opened, /^opened: revocation round [0-9a-f]{64} opened by partner-a, voting closes at \S+; approve vote with the reason counted \(1 approve, 0 reject, 2 required\)$/);

    for (const p of [b, c]) {
      await until(`${p.id} marking its copy for the REVOKE round`, 60_000, async () => {
        const t = await object(p, name);
        return t?.metadata.annotations?.[MANUAL_VOTE.round]?.startsWith('revoke ') === true && t.metadata.labels?.[MANUAL_VOTE.pendingLabel] === 'true' ? { done: t } : `the vote-round annotation at ${p.id}`;
      });
    }
    for (const p of [b, c]) await annotate(p, name, { [MANUAL_VOTE.vote]: 'approve' });
    revoked.votedAt = Date.now();

    const done = await until('the revocation everywhere', 120_000, async () => {
      const v = await view();
      const why = notConverged(v, size - 1);
      if (v.sequencer?.treeSize !== size + 1) why.push(`sequencer tree size ${v.sequencer?.treeSize} of ${size + 1}`);
      for (const p of net.partners) {
        const t = await object(p, name);
        if (t?.status?.phase !== 'Revoked') why.push(`${p.id}: ${name} is ${t?.status?.phase}`);
      }
      return why.length === 0 ? { done: v } : why.join('; ');
    }, () => net.explain());
    for (const p of done.partners) assert.deepEqual({ treeSize: p.treeSize, rootHash: p.rootHash }, { treeSize: size + 1, rootHash: done.sequencer!.rootHash }, p.name);

    for (const p of net.partners) {
      const all = await objects(p);
      const revoked = all.filter((t) => t.status?.phase === 'Revoked');
      assert.deepEqual(revoked.map((t) => t.metadata.name), [name], `${p.id}: only the target is Revoked`);
      assert.equal(all.filter((t) => t.status?.phase === 'Approved').length, size - 1, `${p.id}: the others stay Approved`);
      const revocation = revoked[0]!.status?.revocation;
      assert.ok(revocation !== undefined, `${p.id}: status.revocation carries the certificate`);
      assert.equal(revocation.logIndex, size);
      assert.equal(revocation.proposerId, 'partner-a');
      assert.equal(revocation.votes.length, 2, `${p.id}: A's and one analyst's approval`);
      assert.equal(revocation.votes.find((v) => v.partnerId === 'partner-a')?.reason, REASON, `${p.id}: the reason is in A's signed vote`);
      const states = await mongoStates(net, p);
      assert.equal(states.get(digest), 'revoked', `${p.id}: the MongoDB record is revoked`);
      assert.deepEqual([...states.values()].filter((s) => s === 'active').length, size - 1, `${p.id}: the other records stay active`);
    }

    const results = await Promise.all([b, c].map(async (p) => (await object(p, name))?.metadata.annotations?.[MANUAL_VOTE.result] ?? ''));
    assert.equal(results.filter((r) => r === `approved: approve counted on the revocation; quorum reached (2 approve, 0 reject, 2 required), revoked at log index ${size}`).length, 1, results.join(' | '));
  });

  test('every partner defends with it: TAXII, HAProxy and Cilium follow the admission and the revocation within seconds', { skip: journeyTargetFromEnv().name !== 'local' && 'the kind target installs partners with serve off and no front door (local target only)' }, async () => {
    assert.ok(defences !== undefined && watch !== undefined && revoked.ip !== undefined && revoked.stixId !== undefined && revoked.votedAt !== undefined, 'the revocation test ran first');
    const ip = revoked.ip;
    for (const d of defences.partners) {
      await until(`${d.party.id} lifting the block on ${ip}`, 60_000, async () => {
        const taxii = await d.taxiiObjects(revoked.stixId!);
        if (taxii.objects[0]?.['revoked'] !== true) return `TAXII shows ${JSON.stringify(taxii.objects[0]?.['revoked'])} for revoked`;
        if (await d.statusFrom(ip) !== 200) return 'HAProxy still refuses it';
        if ((await d.ciliumCidrs()).has(`${ip}/32`)) return 'still in a CiliumCIDRGroup';
        return { done: true };
      });
      const other = (revoked.admitted ?? []).find((t) => t.spec.type === 'ipv4' && t.spec.value !== ip);
      if (other !== undefined) assert.equal(await d.statusFrom(other.spec.value), 403, `${d.party.id}: the other admitted addresses stay blocked`);
    }
    await watch.stop();
    const admission: number[] = [];
    for (const t of revoked.admitted ?? []) {
      const at = quorumAt(t, net.quorum);
      if (t.spec.type !== 'ipv4' || at === undefined) continue;
      for (const d of defences.partners) {
        const seen = watch.denied.get(d.party.id)?.get(t.spec.value);
        if (seen !== undefined) admission.push(Math.max(0, seen - at));
      }
    }
    const revocation = defences.partners.map((d) => (watch!.cleared.get(d.party.id)?.get(ip) ?? NaN) - revoked.votedAt!);
    assert.ok(admission.length >= defences.partners.length, `admissions observed at the front doors: ${admission.length}`);
    assert.ok(revocation.every((ms) => Number.isFinite(ms)), `the revocation was observed leaving every map: ${JSON.stringify(revocation)}`);
    const figures = { admissionToEnforcement: { samples: admission.length, p95Ms: p95(admission), maxMs: Math.max(...admission) }, revocationToEnforcement: { samples: revocation.length, p95Ms: p95(revocation), maxMs: Math.max(...revocation) } };
    process.stdout.write(`# journey enforcement latency ${JSON.stringify(figures)}\n`);
    assert.ok(figures.admissionToEnforcement.p95Ms <= 30_000, `admission→enforcement p95 ${figures.admissionToEnforcement.p95Ms} ms (aim ≤ 30 s)`);
    assert.ok(figures.revocationToEnforcement.p95Ms <= 30_000, `revocation→enforcement p95 ${figures.revocationToEnforcement.p95Ms} ms (aim ≤ 30 s)`);
  });
});

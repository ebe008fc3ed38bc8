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
import { controlPlaneOptionsFromEnv, journeyTargetFromEnv } from '../harness/env.ts';
import { startJourneyNetwork, type JourneyNetwork, type JourneyParty } from '../harness/journey/index.ts';

const dir = await mkdtemp(join(tmpdir(), 'threatmesh-revocation-'));
const REASON = 'journey: the C2 server was taken down';

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Polls `probe` every second until it returns `{ done }`; fails with the last reason (a string) after `ms`. */
async function until<T>(what: string, ms: number, probe: () => Promise<{ readonly done: T } | string>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: { readonly done: T } | string = 'not polled yet';
  while (Date.now() < deadline) {
    last = await probe();
    if (typeof last !== 'string') return last.done;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return assert.fail(`${what} did not happen in ${ms} ms; waiting for: ${String(last)}`);
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

describe('a revocation started by an annotation at partner A', () => {
  let net: JourneyNetwork;

  before(async () => {
    net = await startJourneyNetwork(journeyTargetFromEnv(), { dir: join(dir, 'net'), partners: 3, quorum: 2, feeds: new Map(), cacheDir: controlPlaneOptionsFromEnv().cacheDir });
  });

  after(async () => {
    await net?.stop();
  });

  test('annotations revoke one indicator in every cluster and MongoDB; the trees stay equal, one entry larger', async () => {
    const [a, b, c] = net.partners as [JourneyParty, JourneyParty, JourneyParty];
    const view = (): Promise<NetworkView> => net.view({ partner: a, name: SANDBOX_FEED });
    await net.addFeed(a, sandboxFeedObject(feedPlan({ preset: 'feodo' }), net.feedBaseUrl));
    const converged = await until('convergence on the feodo snapshot', 300_000, async () => {
      const v = await view();
      return notConverged(v).length === 0 ? { done: v } : notConverged(v).join('; ');
    });
    const size = converged.sequencer!.treeSize;
    assert.ok(size >= 2, `the feodo snapshot admits at least two indicators, got ${size}`);

    const target = (await objects(a)).find((t) => t.status?.phase === 'Approved');
    assert.ok(target !== undefined, 'an Approved indicator at A');
    const name = target.metadata.name;
    assert.ok(isIndicatorType(target.spec.type));
    const digest = indicatorDigest({ type: target.spec.type, value: target.spec.value });
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

    const done = await until('the revocation everywhere', 120_000, async () => {
      const v = await view();
      const why = notConverged(v, size - 1);
      if (v.sequencer?.treeSize !== size + 1) why.push(`sequencer tree size ${v.sequencer?.treeSize} of ${size + 1}`);
      for (const p of net.partners) {
        const t = await object(p, name);
        if (t?.status?.phase !== 'Revoked') why.push(`${p.id}: ${name} is ${t?.status?.phase}`);
      }
      return why.length === 0 ? { done: v } : why.join('; ');
    });
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
});

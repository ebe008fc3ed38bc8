/**
 * Journey: the whole network on this machine. One sequencer cluster and three partner clusters,
 * each with its own kube-apiserver, FerretDB and ThreatMesh process, all over loopback with
 * mutual TLS. A feed ingested at partner A becomes proposals, votes (3 voters, quorum 2),
 * approvals and the same indicators in every cluster: equal tree size and root hash, identical
 * ThreatIndicator sets, one MongoDB record per log entry. A partner stopped while indicators are
 * approved catches up after restart with nothing lost or duplicated. Then README's command,
 * `threatmesh sandbox --partners 3 --json --until-converged`, as a user runs it. Every metric the
 * generated dashboard and alerts read is on the real operator's and sequencer's /metrics.
 *
 * The network comes from the journey harness (e2e/harness/journey): the local control plane by
 * default, or kind clusters with the chart installed (THREATMESH_E2E_TARGET=kind, e2e/kind/run.sh).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { PARTNER_NODES, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode, ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { verifyVote, type Voter } from '../../operator/src/domain/quorum.ts';
import { PublicKey } from '../../operator/src/domain/signature.ts';
import { feedPlan, sandboxFeedObject, SANDBOX_FEED } from '../../operator/src/dev/commands/sandbox.ts';
import { notConverged, type NetworkView } from '../../operator/src/dev/sandbox/convergence.ts';
import { NETWORK_NAMESPACE } from '../../operator/src/dev/sandbox/network.ts';
import { runCli } from '../harness/cli.ts';
import { controlPlaneOptionsFromEnv, journeyTargetFromEnv, keepJourneyDirFromEnv } from '../harness/env.ts';
import { startJourneyNetwork, type JourneyNetwork, type JourneyParty } from '../harness/journey/index.ts';
import { REPLICA_API_ROW, REPORTS_ROW, isReplicaApiMetric } from '../../cdk8s/lib/alerts.ts';
import { missingSelectors, parseExposition, shippedSelectors, type UsedSelector } from '../harness/metrics.ts';

const main = new URL('../../operator/src/main.ts', import.meta.url).pathname;
const dir = await mkdtemp(join(tmpdir(), 'threatmesh-network-'));
const target = journeyTargetFromEnv();

after(async () => {
  if (!keepJourneyDirFromEnv()) await rm(dir, { recursive: true, force: true });
});

/** Polls the network until `done` says so; fails with the last view and reasons after `ms`. */
async function until(net: JourneyNetwork, feed: string, done: (v: NetworkView) => boolean, ms: number): Promise<NetworkView> {
  const deadline = Date.now() + ms;
  let last: NetworkView | undefined;
  const first = net.partners[0]!;
  while (Date.now() < deadline) {
    last = await net.view({ partner: first, name: feed });
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.fail(`network did not get there in ${ms} ms: ${JSON.stringify(last)}; waiting for ${JSON.stringify(last ? notConverged(last) : [])}; ${net.diagnostics}\n${await net.explain()}`);
}

interface Snapshot { name: string; phase: string | undefined; logIndex: number | undefined; votes: number }

async function indicators(p: JourneyParty): Promise<Snapshot[]> {
  const list = await p.client.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: NETWORK_NAMESPACE });
  return list.items.map((t) => ({ name: t.metadata.name, phase: t.status?.phase, logIndex: t.status?.logIndex, votes: t.status?.votes?.length ?? 0 }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function mongoRecords(net: JourneyNetwork, p: JourneyParty): Promise<{ total: number; digests: number; maxIndex: number }> {
  const client = new MongoClient(await net.mongoUri(p), { serverSelectionTimeoutMS: 5000 });
  try {
    const docs = await client.db('threatmesh_partner').collection<{ digest: string; logIndex: number }>('indicators').find({}).toArray();
    return { total: docs.length, digests: new Set(docs.map((d) => d.digest)).size, maxIndex: Math.max(-1, ...docs.map((d) => d.logIndex)) };
  } finally {
    await client.close();
  }
}

/** Selectors no dashboard or alert reads, which the check must report missing. */
const BOGUS: readonly UsedSelector[] = [
  { source: 'test', name: 'threatmesh_no_such_metric_total', matchers: [] },
  { source: 'test', name: 'threatmesh_feeds', matchers: [{ label: 'state', op: '=', value: 'no-such-state' }] },
  { source: 'test', name: 'controller_runtime_webhook_requests_total', matchers: [{ label: 'code', op: '=~', value: '7..' }] },
];

describe(`three partners and a sequencer, each its own cluster (${target.name} target)`, () => {
  let net: JourneyNetwork;

  before(async () => {
    const sample = feedPlan({});
    net = await startJourneyNetwork(target, { dir: join(dir, 'net'), partners: 3, quorum: 2, feeds: new Map([[sample.servedName, sample.path ?? '']]), cacheDir: controlPlaneOptionsFromEnv().cacheDir });
  });

  after(async () => {
    await net?.stop();
  });

  test('a feed ingested at partner A reaches all four clusters identically', async () => {
    const a = net.partners[0]!;
    await net.addFeed(a, sandboxFeedObject(feedPlan({}), net.feedBaseUrl));
    const v = await until(net, SANDBOX_FEED, (x) => notConverged(x).length === 0, 240_000);
    const size = v.sequencer!.treeSize;
    assert.equal(size, 200, 'every indicator of the bundled sample is admitted once');
    const sets = await Promise.all(net.partners.map(indicators));
    for (const [i, s] of sets.entries()) {
      assert.equal(s.length, size, `${net.partners[i]!.id}: one ThreatIndicator per entry`);
      assert.ok(s.every((t) => t.phase === 'Approved' && t.logIndex !== undefined && t.votes >= 2), `${net.partners[i]!.id}: all Approved with index and ≥2 votes`);
      assert.deepEqual(s.map(({ name, logIndex }) => ({ name, logIndex })), sets[0]!.map(({ name, logIndex }) => ({ name, logIndex })));
    }
    for (const p of v.partners) {
      assert.equal(p.treeSize, size);
      assert.equal(p.rootHash, v.sequencer!.rootHash);
      assert.equal(p.lagEntries, 0);
    }
    for (const p of net.partners) assert.deepEqual(await mongoRecords(net, p), { total: size, digests: size, maxIndex: size - 1 });
  });

  test('every metric the generated dashboard and alerts read is on the operators\' and the sequencer\'s /metrics', async () => {
    // The Reports row needs a ThreatReport that ran (series per report and per model): the report journey checks it.
    // The replica API (its row and alerts) is not part of the sandbox network: e2e/integration/replica-api.test.ts checks it.
    const used = (await shippedSelectors()).filter((u) => u.row !== REPORTS_ROW && u.row !== REPLICA_API_ROW && !isReplicaApiMetric(u.name));
    assert.ok(used.length >= 20, `selectors found in the dashboard and the PrometheusRule: ${used.length}`);
    const scraped = parseExposition((await Promise.all([net.sequencer, ...net.partners].map((p) => net.metrics(p)))).join('\n'));
    assert.deepEqual(missingSelectors(used, scraped), []);
    // The same check against the same scrapes reports what no process serves.
    assert.deepEqual(missingSelectors(BOGUS, scraped), ['test: threatmesh_no_such_metric_total', 'test: threatmesh_feeds{state="no-such-state"}', 'test: controller_runtime_webhook_requests_total{code=~"7.."}']);
  });

  test('a partner stopped during approvals catches up after restart with nothing lost or duplicated', async () => {
    const [a, , c] = net.partners as [JourneyParty, JourneyParty, JourneyParty];
    const before = (await net.view({ partner: a, name: SANDBOX_FEED })).sequencer!.treeSize;
    await net.stopParty(c);
    await net.addFeed(a, { ...sandboxFeedObject(feedPlan({ preset: 'urlhaus' }), net.feedBaseUrl), metadata: { name: 'second-feed', namespace: NETWORK_NAMESPACE } });
    // Quorum 2 of 3: A and B keep admitting while C is down.
    const during = await until(net, 'second-feed', (x) => x.feedDone && x.sequencer !== undefined && x.sequencer.treeSize > before && x.sequencer.pending === 0
      && x.partners.slice(0, 2).every((p) => p.treeSize === x.sequencer!.treeSize), 180_000);
    const size = during.sequencer!.treeSize;
    assert.ok((await mongoRecords(net, c)).total <= before, 'the stopped partner applied nothing while down');
    await net.startParty(c);
    const v = await until(net, 'second-feed', (x) => notConverged(x).length === 0 && x.sequencer!.treeSize === size, 180_000);
    assert.equal(v.partners[2]!.rootHash, v.sequencer!.rootHash);
    assert.deepEqual(await mongoRecords(net, c), { total: size, digests: size, maxIndex: size - 1 });
    assert.deepEqual(await indicators(c), await indicators(a));
  });

  test('a voter key and the sequencer key rotate in the running network: no halt, equal roots, new certificates under the new key', async () => {
    const [a, b, c] = net.partners as [JourneyParty, JourneyParty, JourneyParty];
    const before = (await net.view({ partner: a, name: SANDBOX_FEED })).sequencer!.treeSize;
    const oldB = (await a.client.get<PartnerNode>(PARTNER_NODES, b.id, NETWORK_NAMESPACE))!.spec.publicKey;
    await net.rotateKey(b, 600_000);
    await net.rotateKey(net.sequencer, 600_000);
    // With C down, A and B must both approve: B's new key is in every new certificate.
    await net.stopParty(c);
    await net.addFeed(a, { ...sandboxFeedObject(feedPlan({ preset: 'feodo' }), net.feedBaseUrl), metadata: { name: 'rotation-feed', namespace: NETWORK_NAMESPACE } });
    await until(net, 'rotation-feed', (x) => x.feedDone && x.sequencer !== undefined && x.sequencer.treeSize > before && x.sequencer.pending === 0
      && x.partners.slice(0, 2).every((p) => p.treeSize === x.sequencer!.treeSize), 180_000);
    await net.startParty(c);
    const v = await until(net, 'rotation-feed', (x) => notConverged(x).length === 0, 180_000);
    for (const p of v.partners) assert.deepEqual([p.name, p.rootHash, p.replicating], [p.name, v.sequencer!.rootHash, 'True']);
    const bNode = (await c.client.get<PartnerNode>(PARTNER_NODES, b.id, NETWORK_NAMESPACE))!;
    assert.deepEqual(bNode.spec.retiredKeys?.map((k) => k.publicKey), [oldB]);
    const fresh = (await c.client.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: NETWORK_NAMESPACE })).items.filter((t) => (t.status?.logIndex ?? -1) >= before);
    assert.ok(fresh.length > 0, 'indicators admitted after the rotation');
    const newKey: Voter = { partnerId: b.id, publicKey: PublicKey.fromRawBase64(bNode.spec.publicKey), roles: ['voter'] };
    for (const t of fresh) {
      const vote = t.status?.votes?.find((x) => x.partnerId === b.id);
      assert.ok(vote !== undefined, `${t.metadata.name}: B approved it`);
      assert.ok(verifyVote(newKey, { ...vote, digest: indicatorDigest({ type: t.spec.type, value: t.spec.value }) }), `${t.metadata.name}: B's vote is signed with its new key`);
    }
  });

  test('a partner whose database diverged rebuilds from the log (threatmesh replica rebuild)', async () => {
    const [a, , c] = net.partners as [JourneyParty, JourneyParty, JourneyParty];
    const size = (await net.view({ partner: a, name: SANDBOX_FEED })).sequencer!.treeSize;
    await net.stopParty(c);
    const uri = await net.mongoUri(c);
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
    try {
      const records = client.db('threatmesh_partner').collection<{ _id: string; digest: string; state: string }>('indicators');
      await records.deleteMany({ _id: { $in: (await records.find({}).limit(5).toArray()).map((d) => d._id) } });
      await records.insertOne({ _id: 'f'.repeat(64), digest: 'f'.repeat(64), state: 'active' });
    } finally {
      await client.close();
    }
    const rebuild = await runCli(['replica', 'rebuild', '--yes', '--mongodb-uri', uri]);
    assert.equal(rebuild.code, 0, rebuild.stderr);
    assert.match(rebuild.stdout, new RegExp(`forgot sequencer:sequencer's cursor and ${size - 5 + 1} replicated records`));
    await net.startParty(c);
    // The cluster still holds every object and the PartnerNode its last status: wait for the database.
    const deadline = Date.now() + 180_000;
    while ((await mongoRecords(net, c)).total < size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1000));
    await until(net, 'second-feed', (x) => notConverged(x).length === 0 && x.sequencer!.treeSize === size, 60_000);
    assert.deepEqual(await mongoRecords(net, c), { total: size, digests: size, maxIndex: size - 1 });
    assert.deepEqual(await indicators(c), await indicators(a));
  });
});

test('README: threatmesh sandbox --partners 3 --json --until-converged', { skip: target.name !== 'local' && 'threatmesh sandbox starts its own clusters on this machine (local target only)' }, async () => {
  const child = spawn(process.execPath, [main, 'sandbox', '--partners', '3', '--json', '--until-converged', '--fresh', '--dir', join(dir, 'cli'), '--timeout', '400'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-10_000); });
  const code = await new Promise<number | null>((res) => child.once('close', res));
  const lines = stdout.trimEnd().split('\n');
  assert.equal(code, 0, `exit ${code}; last output: ${lines.slice(-5).join('\n')}\n${stderr}`);
  const summary = JSON.parse(lines.at(-1) ?? '') as { partners: Array<{ name: string; treeSize: number; rootHash: string; indicators: number }>; sequencer: { treeSize: number; rootHash: string } };
  assert.deepEqual(summary.partners.map((p) => p.name), ['partner-a', 'partner-b', 'partner-c']);
  assert.ok(summary.sequencer.treeSize > 0);
  for (const p of summary.partners) assert.deepEqual({ treeSize: p.treeSize, rootHash: p.rootHash, indicators: p.indicators }, { ...summary.sequencer, indicators: summary.sequencer.treeSize });
  const events = lines.slice(0, -1).map((l) => JSON.parse(l) as { event: string; partners?: unknown[] });
  assert.ok(events.some((e) => e.event === 'network'), 'progress events were printed while converging');
  // Every line that lists partners says where each one's database and TAXII server (with a TLP:GREEN sample consumer) are.
  const listing = [...events.filter((e) => Array.isArray(e.partners)), summary as unknown as { partners: unknown[] }];
  assert.ok(listing.length >= 3, 'the network-up step, progress lines and the convergence line list partners');
  for (const e of listing) {
    for (const p of e.partners as Array<{ name: string; mongodbUri?: string; taxii?: { url: string; token: string; ca: string } }>) {
      assert.match(p.mongodbUri ?? '', /^mongodb:\/\//, `${p.name}: mongodbUri`);
      assert.match(p.taxii?.url ?? '', /^https:\/\/127\.0\.0\.1:\d+\/taxii2\/$/, `${p.name}: taxii.url`);
      assert.match(p.taxii?.token ?? '', /^[0-9a-f]{64}$/, `${p.name}: taxii.token`);
      assert.match(p.taxii?.ca ?? '', /ca\.pem$|\.crt$|\.pem$/, `${p.name}: taxii.ca`);
    }
  }
});

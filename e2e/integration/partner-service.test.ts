/**
 * The partner edge end to end with real parts: a sequencer behind gRPC with mutual TLS, and two
 * partner operators (startOperator with the partner exchange as its leader-only extra; bravo's
 * built from `threatmesh operator --exchange` flags), each against its own kube-apiserver and
 * FerretDB. A proposal signed by alpha in alpha's cluster (with its TLP, confidence, labels,
 * validity and feed as signed metadata, as the ingest makes it) is forwarded, both partners
 * vote automatically, and the admitted indicator appears Approved with its log index and that
 * metadata in both clusters; PartnerNode status shows the replicated log; a deleted object
 * is restored by drift repair; a forged tree head gossiped by a peer halts replication (fork)
 * with a condition, an Event and a metric.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { MongoClient } from 'mongodb';
import type { Registry } from 'prom-client';
import { PARTNER_NODES, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode, ThreatIndicator } from '../../operator/src/api/types.ts';
import { JobExecutor } from '../../operator/src/controllers/jobexecutor.ts';
import { startOperator, type RunningOperator } from '../../operator/src/controllers/setup.ts';
import { operatorOptions } from '../../operator/src/cli/operator.ts';
import { freePort } from '../../operator/src/dev/controlplane/probe.ts';
import { indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { signTreeHead } from '../../operator/src/domain/treehead.ts';
import { startPartnerService } from '../../operator/src/exchange/partner/service.ts';
import type { RunningPartner } from '../../operator/src/exchange/partner/serviceoptions.ts';
import { partnerRunnable } from '../../operator/src/exchange/partner/startup.ts';
import { signProposal } from '../../operator/src/domain/entry.ts';
import { startGossipServer } from '../../operator/src/exchange/partner/gossip.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import type { TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { loadWarningLists } from '../../operator/src/feeds/warninglists.ts';
import { createLogger, type Logger } from '../../operator/src/log.ts';
import { eventsResource } from '../../operator/src/runtime/events.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { MongoLogStore } from '../../operator/src/store/log.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { eventually } from '../harness/kube.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { votingParties } from '../harness/voters.ts';

type Id = 'alpha' | 'bravo';
const IDS: readonly Id[] = ['alpha', 'bravo'];
const QUORUM = 2;
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = uniqueSuffix();
const { keys, directory } = votingParties(IDS);
const seqKey = SigningKey.generate();
const logLines: string[] = [];
const closers: Array<() => Promise<void> | void> = [];
const evil: Indicator = { type: 'domain', value: `c2-${suffix}.threat-edge-test.net` };
const evilName = indicatorObjectName(evil);
// The metadata alpha's ingest signs with the indicator (exchange/specmeta.ts: source is provenance.feed).
const evilMeta = { tlp: 'amber', confidence: 75, labels: ['c2', 'edge-test'], validFrom: '2026-11-25T00:00:00.000Z', validUntil: '2036-11-25T00:00:00.000Z', source: 'threatmesh/feodo' } as const;

/** One partner: its cluster, database, operator and edge. */
interface Side {
  readonly id: Id;
  readonly ns: string;
  cp: ControlPlane;
  kube: KubeHttpClient;
  mongo: MongoClient;
  operator: RunningOperator;
  edge: RunningPartner | undefined;
  metrics: Registry | undefined;
  gossipPort: number;
}

const sides = {} as Record<Id, Side>;
let ca: TestCa;
let sequencer: Sequencer;
let seqPort = 0;
let charliePort = 0;
let bravoTls: TlsMaterial;
let workDir = '';

function logger(): Logger {
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
  return createLogger(out, process.env['EDGE_TEST_LOG'] ? 'debug' : 'info');
}

function partnerNode(ns: string, name: string, spec: PartnerNode['spec']): PartnerNode {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name, namespace: ns }, spec };
}

/** The PartnerNodes every cluster holds: the sequencer and both partners (gossip endpoints). */
function networkNodes(ns: string): PartnerNode[] {
  return [
    partnerNode(ns, 'sequencer', { partnerId: 'sequencer', organization: 'network sequencer', endpoint: `127.0.0.1:${seqPort}`, publicKey: seqKey.publicKey.toRawBase64(), roles: ['sequencer'] }),
    ...IDS.map((id) => partnerNode(ns, id, { partnerId: id, organization: `${id} org`, endpoint: `127.0.0.1:${sides[id].gossipPort}`, publicKey: keys[id].publicKey.toRawBase64(), roles: ['contributor', 'voter'] })),
  ];
}

async function startSide(side: Side, tls: TlsMaterial): Promise<void> {
  const log = logger().child({ partner: side.id });
  const warningList = await loadWarningLists();
  side.operator = await startOperator({
    client: side.kube, log, executor: new JobExecutor(side.kube, { image: 'ghcr.io/threatmesh/threatmesh:test' }), watchJobs: false,
    namespace: side.ns, policy: { quorum: QUORUM }, identity: `edge-test-${side.id}`,
    extras: (parts) => {
      side.metrics = parts.metrics.registry;
      return [partnerRunnable(async () => {
        side.edge = await startPartnerService({
          client: side.kube, cache: parts.cache, db: side.mongo.db(`tm_edge_${side.id}_${suffix}`), namespace: side.ns, partnerId: side.id, key: keys[side.id], tls,
          votingPolicy: { mode: 'automatic', warningLists: true }, warningList, registry: parts.registry, admission: { quorum: QUORUM },
          metrics: parts.metrics.registry, log, gossipBind: { host: '127.0.0.1', port: side.gossipPort }, syncIntervalMs: 300, repairIntervalMs: 1_000, waitMs: 1_000,
        });
        return side.edge;
      }, { log })];
    },
  });
}

/**
 * bravo runs as `threatmesh operator --exchange …` builds it: flags validated and loaded by
 * operatorOptions (PEM files, signing key, MongoDB URI, warning lists), the edge as its extra.
 */
async function startSideFromFlags(side: Side, tls: TlsMaterial, dir: string): Promise<void> {
  const files = { tlsCert: join(dir, `${side.id}.crt`), tlsKey: join(dir, `${side.id}.key`), tlsCa: join(dir, 'ca.pem'), signingKey: join(dir, `${side.id}.signing.pem`) };
  await writeFile(files.tlsCert, tls.certPem);
  await writeFile(files.tlsKey, tls.keyPem, { mode: 0o600 });
  await writeFile(files.tlsCa, tls.caPem);
  await writeFile(files.signingKey, keys[side.id].toPem(), { mode: 0o600 });
  const log = logger().child({ partner: side.id });
  const opts = await operatorOptions({
    kubeconfig: side.cp.kubeconfigPath, namespace: side.ns, metricsBind: '127.0.0.1:0', webhookBind: '127.0.0.1:0', leaderElect: false, executor: 'job', jobImage: 'ghcr.io/threatmesh/threatmesh:test',
    votingWindow: '72h', quorum: String(QUORUM), partnerId: side.id, ...files,
    exchange: true, exchangeNamespace: side.ns, mongodbUri: side.cp.mongoUri, database: `tm_edge_${side.id}_${suffix}`, gossipBind: `127.0.0.1:${side.gossipPort}`, syncInterval: '1s', repairInterval: '1s',
    // bravo votes in protocol v2 batches, alpha one signature per vote: the certificate mixes both.
    voteBatchSize: '256',
  }, { kubeconfig: undefined, mongodbUri: undefined, cacheDir: dir, logLevel: 'info', stdout: process.stdout, stderr: process.stderr }, log);
  side.operator = await startOperator({ ...opts, watchJobs: false, identity: `edge-test-${side.id}` });
  side.metrics = side.operator.manager.metrics.registry;
}

async function ti(id: Id): Promise<ThreatIndicator | undefined> {
  return sides[id].kube.get<ThreatIndicator>(THREAT_INDICATORS, evilName, sides[id].ns);
}

async function pn(id: Id, name: string): Promise<PartnerNode | undefined> {
  return sides[id].kube.get<PartnerNode>(PARTNER_NODES, name, sides[id].ns);
}

/** Watches `id`'s sequencer PartnerNode from `resourceVersion` and keeps each Replicating condition written, until stop(). */
function replicatingWrites(id: Id, resourceVersion: string | undefined): { readonly conditions: Array<{ status?: string; reason?: string; message?: string }>; stop(): void } {
  const abort = new AbortController();
  const conditions: Array<{ status?: string; reason?: string; message?: string }> = [];
  const watching = (async () => {
    const events = sides[id].kube.watch<PartnerNode>(PARTNER_NODES, { namespace: sides[id].ns, fieldSelector: 'metadata.name=sequencer', ...(resourceVersion ? { resourceVersion } : {}) }, abort.signal);
    for await (const e of events) {
      const c = e.object.status?.conditions?.find((x) => x.type === 'Replicating');
      if (c !== undefined) conditions.push({ status: c.status, reason: c.reason, message: c.message });
    }
  })().catch((err: unknown) => { if (!abort.signal.aborted) conditions.push({ message: `watch failed: ${(err as Error).message}` }); });
  return { conditions, stop: () => { abort.abort(); void watching; } };
}

before(async () => {
  ca = await createTestCa('threatmesh-edge');
  const tls = {} as Record<Id | 'sequencer' | 'charlie', TlsMaterial>;
  for (const id of [...IDS, 'sequencer', 'charlie'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
  for (const id of IDS) {
    const cp = await startControlPlane(controlPlaneOptionsFromEnv());
    const kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
    const mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
    await mongo.connect();
    sides[id] = { id, ns: `tm-edge-${id}-${suffix}`, cp, kube, mongo, gossipPort: await freePort() } as Side;
    await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: sides[id].ns } });
    await applyManifests(kube, await loadYamlDir('crds'), 'edge-test');
  }
  sequencer = await Sequencer.open({ store: await MongoLogStore.open(sides.alpha.mongo.db(`tm_edge_seq_${suffix}`)), key: seqKey, partners: directory, quorum: QUORUM, now: () => new Date(), log: logger() });
  const server = await startExchangeServer({ sequencer, directory: new Map(directory.map((p) => [p.partnerId, p])), tls: tls.sequencer, address: '127.0.0.1:0', log: logger() });
  seqPort = server.port;
  closers.push(() => server.stop());
  for (const id of IDS) for (const node of networkNodes(sides[id].ns)) await sides[id].kube.create(PARTNER_NODES, node);
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-edge-'));
  closers.push(() => rm(dir, { recursive: true, force: true }));
  await startSide(sides.alpha, tls.alpha);
  bravoTls = tls.bravo;
  workDir = dir;
  await startSideFromFlags(sides.bravo, tls.bravo, dir);
  // charlie: a peer that gossips a forged head (used by the last test).
  const forgedPort = await freePort();
  const forged = startGossipServer({
    partnerId: 'charlie', directory: () => new Map(directory.map((p) => [p.partnerId, p])), tls: tls.charlie, address: `127.0.0.1:${forgedPort}`, log: logger(),
    acceptedHead: async () => {
      const real = await sequencer.treeHead();
      return signTreeHead(seqKey, { treeSize: real.treeSize, rootHash: 'f'.repeat(64), timestamp: real.timestamp });
    },
  });
  const gossip = await forged;
  closers.push(() => gossip.stop());
  charliePort = forgedPort;
});

async function stopSide(side: Side | undefined): Promise<void> {
  if (!side) return;
  await side.mongo?.db(`tm_edge_${side.id}_${suffix}`).dropDatabase().catch(() => undefined);
  if (side.id === 'alpha') await side.mongo?.db(`tm_edge_seq_${suffix}`).dropDatabase().catch(() => undefined);
  await side.mongo?.close();
  await side.kube?.delete(namespaces, side.ns).catch(() => undefined);
  side.kube?.close();
  await side.cp?.stop();
}

after(async () => {
  for (const id of IDS) await sides[id]?.operator?.stop();
  for (const close of closers.reverse()) await close();
  for (const id of IDS) await stopSide(sides[id]);
  await ca?.dispose();
  if (process.env['EDGE_TEST_LOG']) process.stderr.write(`${logLines.join('\n')}\n`);
});

/** The sequencer PartnerNode of `id`'s cluster once it shows the replicated head. */
async function assertSequencerNode(id: Id, rootHash: string): Promise<void> {
  const seq = await eventually(() => pn(id, 'sequencer'), (p) => p?.status?.logSize === 1 && p.status.lagEntries === 0, 30_000);
  const s = seq?.status;
  assert.deepEqual({ reachable: s?.reachable, logSize: s?.logSize, rootHash: s?.rootHash, lagEntries: s?.lagEntries, lagSeconds: s?.lagSeconds }, { reachable: true, logSize: 1, rootHash, lagEntries: 0, lagSeconds: 0 }, id);
  assert.ok(s?.lastSeen);
  assert.equal(s?.conditions?.find((c) => c.type === 'Replicating')?.status, 'True');
  // The PartnerNode controller's Ready condition is kept next to the edge's.
  assert.equal(s?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
}

describe('two partner operators with the partner exchange', () => {
  test('a proposal signed by alpha in its cluster is forwarded, voted on by both and Approved with its log index in both clusters', async () => {
    await sides.alpha.kube.create<ThreatIndicator>(THREAT_INDICATORS, {
      apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: evilName, namespace: sides.alpha.ns },
      spec: {
        type: evil.type, value: evil.value, tlp: evilMeta.tlp, confidence: evilMeta.confidence, labels: [...evilMeta.labels], validFrom: evilMeta.validFrom, validUntil: evilMeta.validUntil,
        provenance: { feed: evilMeta.source, partner: 'alpha' }, proposal: { partnerId: 'alpha', signature: signProposal(keys.alpha, 'add', evil, evilMeta) },
      },
    });
    for (const id of IDS) {
      const got = await eventually(() => ti(id), (t) => t?.status?.phase === 'Approved' && t.status.logIndex !== undefined, 60_000);
      assert.equal(got?.status?.phase, 'Approved', `${id}: ${JSON.stringify(got?.status)}`);
      assert.equal(got?.status?.logIndex, 0);
      assert.deepEqual(got?.status?.votes?.map((v) => [v.partnerId, v.decision, v.batch !== undefined]).sort(), [['alpha', 'approve', false], ['bravo', 'approve', true]], `${id}: bravo's batch vote (--vote-batch-size) keeps its proof in the status`);
      const { tlp, confidence, labels, validFrom, validUntil, provenance } = got?.spec ?? {};
      assert.deepEqual({ tlp, confidence, labels, validFrom, validUntil, feed: provenance?.feed }, { tlp: 'amber', confidence: 75, labels: ['c2', 'edge-test'], validFrom: evilMeta.validFrom, validUntil: evilMeta.validUntil, feed: 'threatmesh/feodo' }, `${id}: the signed metadata is in the spec`);
    }
    assert.equal((await sequencer.treeHead()).treeSize, 1);
    for (const id of IDS) {
      // The object can turn Approved (the working set writes it) before the sync step that applied it counts it.
      const text = await eventually(() => sides[id].metrics!.metrics(), (t) => /threatmesh_exchange_applied_total 1\b/.test(t), 30_000);
      assert.match(text, /threatmesh_exchange_applied_total 1\b/);
      assert.match(text, /threatmesh_exchange_votes_total\{decision="approve"\} 1\b/);
    }
    assert.match(await sides.alpha.metrics!.metrics(), /threatmesh_exchange_proposals_forwarded_total 1\b/);
  });

  test('the sequencer PartnerNode shows logSize, rootHash and lagEntries 0 in both clusters; peers show the gossiped head', async () => {
    const headNow = await sequencer.treeHead();
    for (const id of IDS) {
      await assertSequencerNode(id, headNow.rootHash);
      const other: Id = id === 'alpha' ? 'bravo' : 'alpha';
      const peer = await eventually(() => pn(id, other), (p) => p?.status?.logSize === 1, 30_000);
      assert.deepEqual([peer?.status?.reachable, peer?.status?.rootHash], [true, headNow.rootHash]);
    }
  });

  test('a ThreatIndicator deleted in bravo\'s cluster is restored by drift repair', async () => {
    await sides.bravo.kube.delete(THREAT_INDICATORS, evilName, sides.bravo.ns);
    const back = await eventually(() => ti('bravo'), (t) => t?.status?.phase === 'Approved', 30_000);
    assert.equal(back?.status?.phase, 'Approved');
    assert.deepEqual([back?.spec.tlp, back?.spec.confidence, back?.spec.provenance?.feed], [evilMeta.tlp, evilMeta.confidence, evilMeta.source], 'restored from the MongoDB record with its metadata');
    assert.equal(back?.status?.logIndex, 0);
  });

  test('a forged head gossiped by a peer (sequencer-signed, same size, other root) halts bravo: Replicating=False Fork, Event, metric', async () => {
    await sides.bravo.kube.create(PARTNER_NODES, partnerNode(sides.bravo.ns, 'charlie', { partnerId: 'charlie', organization: 'charlie org', endpoint: `127.0.0.1:${charliePort}`, publicKey: SigningKey.generate().publicKey.toRawBase64(), roles: ['consumer'] }));
    const seq = await eventually(() => pn('bravo', 'sequencer'), (p) => p?.status?.conditions?.find((c) => c.type === 'Replicating')?.status === 'False', 30_000);
    const cond = seq?.status?.conditions?.find((c) => c.type === 'Replicating');
    assert.equal(cond?.status, 'False');
    assert.equal(cond?.reason, 'Fork', cond?.message);
    assert.match(cond?.message ?? '', /replication halted \(fork\) on the tree head gossiped by charlie/);
    const events = await eventually(
      async () => (await sides.bravo.kube.list<KubeObject & { reason?: string; type?: string; involvedObject?: { name?: string } }>(eventsResource, { namespace: sides.bravo.ns })).items,
      (items) => items.some((e) => e.reason === 'Fork' && e.involvedObject?.name === 'sequencer'), 15_000,
    );
    assert.ok(events.some((e) => e.reason === 'Fork' && e.type === 'Warning' && e.involvedObject?.name === 'sequencer'));
    assert.match(await sides.bravo.metrics!.metrics(), /threatmesh_exchange_halted\{reason="fork"\} 1\b/);
    // alpha never saw charlie: it keeps replicating.
    assert.equal((await pn('alpha', 'sequencer'))?.status?.conditions?.find((c) => c.type === 'Replicating')?.status, 'True');
  });

  test('after a restart the halt persists: bravo\'s new operator reports Fork again, never Replicating=True, and applies nothing', async () => {
    const before = await pn('bravo', 'sequencer');
    const seen = replicatingWrites('bravo', before?.metadata.resourceVersion);
    try {
      await sides.bravo.operator.stop();
      await startSideFromFlags(sides.bravo, bravoTls, workDir);
      await eventually(async () => sides.bravo.metrics!.metrics(), (text) => /threatmesh_exchange_halted\{reason="fork"\} 1\b/.test(text), 15_000);
      const text = await sides.bravo.metrics!.metrics();
      assert.match(text, /threatmesh_exchange_halted\{reason="fork"\} 1\b/);
      assert.match(text, /threatmesh_exchange_applied_total 0\b/);
      // The new operator's own status write: the halt it read back from the database, without the peer (the old message named charlie).
      const rewritten = (c: { message?: string } | undefined): boolean => /^replication halted \(fork\): /.test(c?.message ?? '') && !(c?.message ?? '').includes('gossiped by charlie');
      const cond = await eventually(async () => (await pn('bravo', 'sequencer'))?.status?.conditions?.find((c) => c.type === 'Replicating'), rewritten, 30_000);
      assert.ok(rewritten(cond), `bravo's new operator did not write its Replicating condition within 30 s; it shows ${JSON.stringify(cond)}`);
      assert.deepEqual([cond?.status, cond?.reason], ['False', 'Fork'], cond?.message);
    } finally {
      seen.stop();
    }
    assert.deepEqual(seen.conditions.filter((c) => c.status !== 'False' || c.reason !== 'Fork'), [], 'every Replicating condition written across the restart says Fork');
  });
});

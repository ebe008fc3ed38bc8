/**
 * The API request rate of an idle partner (`threatmesh operator --exchange`) holding N
 * ThreatIndicators (default 10,000; argv or BENCH_IDLE_COUNT), side by side in one run: the
 * partner exchange reading PartnerNodes and ThreatIndicators by listing from the API server
 * every sync period (as before issue 10), then reading them through the operator's informer
 * caches. Real kube-apiserver (its own apiserver_request_total counts the requests), real
 * FerretDB, a real sequencer over mTLS; nothing is proposed or voted during the measurement.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { startControlPlane, type ControlPlane } from '../e2e/harness/controlplane.ts';
import { startTestSequencer, type TestSequencer } from '../e2e/harness/sequencer.ts';
import { PARTNER_NODES, THREAT_INDICATORS } from '../operator/src/api/schemas/index.ts';
import type { PartnerNode, ThreatIndicator } from '../operator/src/api/types.ts';
import { indicatorDigest, indicatorObjectName } from '../operator/src/domain/canonical.ts';
import { signVote } from '../operator/src/domain/quorum.ts';
import { startOperator } from '../operator/src/controllers/setup.ts';
import { InProcessExecutor } from '../operator/src/controllers/inprocess.ts';
import { startPartnerService } from '../operator/src/exchange/partner/service.ts';
import { partnerRunnable } from '../operator/src/exchange/partner/startup.ts';
import { createLogger } from '../operator/src/log.ts';
import { KubeHttpClient } from '../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../operator/src/runtime/types.ts';

/** What `npm run bench -- idle --help` prints. */
const USAGE: BenchUsage = {
  name: 'idle',
  args: '[N]',
  measures: 'API requests per minute of an idle partner (`threatmesh operator --exchange`) holding N ThreatIndicators, listing from the API server every sync period against reading through informer caches, side by side, on a real kube-apiserver (its apiserver_request_total), FerretDB and sequencer over mTLS.',
  knobs: [
    ['N', 'ThreatIndicators held (or BENCH_IDLE_COUNT; default 10000)'],
    ['KUBECONFIG, MONGODB_URI', 'use this API server / MongoDB instead of starting the local control plane'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const nsRef: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const count = Number(process.argv[2] ?? process.env['BENCH_IDLE_COUNT'] ?? 10_000);
const SETTLE_MS = 20_000;
const WINDOW_MS = 60_000;
const VOTERS = ['acme', 'globex', 'initech'] as const;

/** Sum of apiserver_request_total by verb, and the bytes LIST responses carried (key `listBytes`, apiserver_response_sizes_sum), from the API server's own metrics. */
async function requestCounts(cp: ControlPlane): Promise<Map<string, number>> {
  const reply = await cp.kube.get('/metrics');
  const raw = (reply.body as { text?: unknown }).text;
  const text = typeof raw === 'string' ? raw : '';
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$/gm)) {
    const verb = /verb="([A-Z]+)"/.exec(m[1]!)?.[1] ?? '?';
    counts.set(verb, (counts.get(verb) ?? 0) + Number(m[2]));
  }
  // Objects served from the watch cache never reach the storage counters: response sizes count every LIST.
  for (const m of text.matchAll(/^apiserver_response_sizes_sum\{([^}]*)\} ([0-9.e+]+)$/gm)) {
    if (/verb="LIST"/.test(m[1]!)) counts.set('listBytes', (counts.get('listBytes') ?? 0) + Number(m[2]));
  }
  return counts;
}

/** Rates per second of every count over one measurement window. */
async function window(cp: ControlPlane): Promise<Map<string, number>> {
  const before = await requestCounts(cp);
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const after = await requestCounts(cp);
  return new Map([...after].map(([k, n]) => [k, ((n - (before.get(k) ?? 0)) * 1000) / WINDOW_MS]));
}

function indicator(ns: string, i: number, signedAt: string, seq: TestSequencer): ThreatIndicator {
  const value = `${11 + (i % 89)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
  const ind = { type: 'ipv4' as const, value };
  const votes = VOTERS.map((id) => {
    const v = signVote(seq.partners.get(id)!.key, { partnerId: id, digest: indicatorDigest(ind), decision: 'approve', signedAt });
    return { partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature };
  });
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName(ind), namespace: ns }, spec: { type: 'ipv4', value, provenance: { partner: 'globex', proposedAt: signedAt } }, status: { votes } };
}

async function populate(client: KubeHttpClient, ns: string, seq: TestSequencer): Promise<void> {
  const signedAt = new Date(Date.now() - 60_000).toISOString();
  let next = 0;
  let created = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const ti = indicator(ns, next++, signedAt, seq);
      await client.create(THREAT_INDICATORS, { ...ti, status: undefined });
      await client.patchStatus(THREAT_INDICATORS, ti.metadata.name, ns, { status: ti.status });
      if (++created % 1000 === 0) progress(`${created}/${count} ThreatIndicators created`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** Runs the operator with the partner exchange (reading through its caches or not) and measures requests/s once idle. */
/** What every measurement runs against. */
interface Setup {
  readonly cp: ControlPlane;
  readonly client: KubeHttpClient;
  readonly mongo: MongoClient;
  readonly ns: string;
  readonly seq: TestSequencer;
}

async function measure({ cp, client, mongo, ns, seq }: Setup, cached: boolean): Promise<Map<string, number>> {
  const me = seq.partners.get('acme')!;
  const op = await startOperator({
    client, log: quiet, executor: new InProcessExecutor({ module: new URL('../operator/src/controllers/ingest-entry.ts', import.meta.url) }, () => new Date()), watchJobs: false, namespace: ns, concurrency: 4, policy: { quorum: 2 },
    extras: (parts) => [partnerRunnable(() => startPartnerService({
      client, ...(cached ? { cache: parts.cache } : {}), db: mongo.db(`idle_${ns}_${cached ? 'cache' : 'list'}`), namespace: ns, partnerId: 'acme', key: me.key, tls: me.tls,
      votingPolicy: { mode: 'manual', warningLists: false }, registry: parts.registry, admission: { quorum: 2 }, metrics: parts.metrics.registry, log: quiet,
      gossipBind: { host: '127.0.0.1', port: 0 },
    }), { log: quiet })],
  });
  try {
    const tis = op.manager.informer<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns });
    while (tis.list().filter((t) => t.status?.phase === 'Approved').length < count) await new Promise((r) => setTimeout(r, 1000));
    progress(`${cached ? 'informer caches' : 'API listing'}: all ${count} Approved; settling ${SETTLE_MS / 1000} s, then measuring ${WINDOW_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    return await window(cp);
  } finally {
    await op.stop();
  }
}

async function main(): Promise<void> {
  const cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongodbUri: process.env['MONGODB_URI'], cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  const client = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 60_000 });
  const mongo = new MongoClient(cp.mongoUri);
  await mongo.connect();
  const ns = `bench-idle-${randomBytes(3).toString('hex')}`;
  const seq = await startTestSequencer(mongo.db(`idle_seq_${ns}`), { acme: ['contributor', 'voter'], globex: ['contributor', 'voter'], initech: ['voter'] }, 2);
  try {
    const crdDir = fileURLToPath(new URL('../crds/', import.meta.url));
    const crds: KubeObject[] = [];
    for (const f of ['threatmesh.io_feeds.yaml', 'threatmesh.io_partnernodes.yaml', 'threatmesh.io_threatindicators.yaml']) crds.push(...parseManifests(await readFile(join(crdDir, f), 'utf8'), f));
    await applyManifests(client, crds, 'bench');
    await client.create(nsRef, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const node = (name: string, partnerId: string, endpoint: string, publicKey: string, roles: PartnerNode['spec']['roles']): PartnerNode => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name, namespace: ns }, spec: { partnerId, organization: partnerId, endpoint, publicKey, roles } });
    await client.create(PARTNER_NODES, node('sequencer', 'sequencer', `localhost:${seq.server.port}`, seq.key.publicKey.toRawBase64(), ['sequencer']));
    for (const id of VOTERS) await client.create(PARTNER_NODES, node(id, id, `${id}.example:8444`, seq.partners.get(id)!.key.publicKey.toRawBase64(), ['contributor', 'voter']));
    progress(`creating ${count} Approved ThreatIndicators (3 signed votes each)`);
    await populate(client, ns, seq);
    const setup = { cp, client, mongo, ns, seq };
    progress(`no operator running: measuring the control plane's own background requests for ${WINDOW_MS / 1000} s`);
    const background = await window(cp);
    const listing = await measure(setup, false);
    const caching = await measure(setup, true);
    const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
    const results: BenchResult[] = [];
    for (const [how, m] of [['no partner (control plane background)', background], ['idle partner, API listing (before)', listing], ['idle partner, informer caches (after)', caching]] as const) {
      const { listBytes, ...verbs } = Object.fromEntries(m);
      results.push({ metric: `${count} indicators, ${how}: all requests`, value: round(total(new Map(Object.entries(verbs)))), unit: 'req/s' });
      for (const verb of ['LIST', 'GET', 'PATCH']) results.push({ metric: `${count} indicators, ${how}: ${verb}`, value: round(m.get(verb) ?? 0), unit: 'req/s' });
      results.push({ metric: `${count} indicators, ${how}: bytes returned by LIST`, value: round(listBytes ?? 0), unit: 'B/s' });
    }
    emit(results);
  } finally {
    await seq.stop();
    await client.delete(nsRef, ns).catch(() => undefined);
    client.close();
    await mongo.close();
    await cp.stop();
  }
}

if (!helpAsked(USAGE)) await main();

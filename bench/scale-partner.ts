/**
 * Partner stage of `npm run bench -- scale`: a new partner joins a network whose log holds N
 * admitted indicators and catches up. Real parts: one local control plane instance (kube-apiserver
 * with embedded etcd, FerretDB), the log served by the real exchange endpoint over gRPC with
 * mutual TLS (every entry genuinely signed: proposer + 2 voters of 3, quorum 2; votes as protocol
 * v2 batches unless BENCH_SCALE_VOTES=v1; proposals batched too with v2p), the partner's
 * real replica (tree head, consistency, inclusion proof, quorum certificate, proposer signature,
 * per-indicator history) writing its MongoDB, the working-set materializer writing
 * ThreatIndicators into the real API server (budget as the operator's default), and the aggregated
 * API (serve/replicaapi.ts) registered with the API server.
 *
 * Measured: catch-up time (first entry requested → all N applied in MongoDB), signature
 * verifications per entry, the time until the last indicator is readable through the cluster
 * API (GET through the kube-apiserver to the aggregated API), the growth of the partner's real
 * etcd database (the bbolt file and etcd's own in-use figure) divided by N, and, for reference,
 * the etcd bytes of one full ThreatIndicator object as written before (a sample of objects).
 */
import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:https';
import { Writable } from 'node:stream';
import { Session } from 'node:inspector/promises';
import { MongoClient } from 'mongodb';
import { indicatorDigest, indicatorObjectName } from '../operator/src/domain/canonical.ts';
import { roundSubject, signProposal, type EntryBody } from '../operator/src/domain/entry.ts';
import { signProposalBatch, type ProposalProof } from '../operator/src/domain/proposalbatch.ts';
import { signVote, signVoteBatch, type Vote } from '../operator/src/domain/quorum.ts';
import { DEFAULT_VOTE_BATCH_SIZE } from '../operator/src/exchange/partner/voter.ts';
import { SigningKey } from '../operator/src/domain/signature.ts';
import type { VerifiedEntry } from '../operator/src/domain/stores.ts';
import { createLogger } from '../operator/src/log.ts';
import { ExchangeClient } from '../operator/src/exchange/protocol/client.ts';
import type { PartnerEntry, TlsMaterial } from '../operator/src/exchange/protocol/tls.ts';
import { KubeIndicatorSink } from '../operator/src/exchange/partner/kubesink.ts';
import { Materializer } from '../operator/src/exchange/partner/materializer.ts';
import { PARTNER_DEFAULTS } from '../operator/src/exchange/partner/defaults.ts';
import { PartnerReplica } from '../operator/src/exchange/partner/replica.ts';
import { startExchangeServer } from '../operator/src/exchange/sequencer/server.ts';
import { replicaApiObjects } from '../operator/src/api/replicaapiservice.ts';
import { LocalCa, readTlsMaterial } from '../operator/src/dev/sandbox/pki.ts';
import { startInstance, type Binaries, type FerretBackend } from '../operator/src/dev/controlplane/instance.ts';
import { systemClock } from '../operator/src/runtime/clock.ts';
import { KubeHttpClient } from '../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../operator/src/runtime/manifest.ts';
import { AccessReviewer, loadRequestHeaderConfig } from '../operator/src/serve/replicaauth.ts';
import { startReplicaApi } from '../operator/src/serve/replicaapi.ts';
import { MongoCursorStore } from '../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../operator/src/store/indicators.ts';
import { NamedIndicatorPages } from '../operator/src/store/indicatornames.ts';
import { MongoLeafStore } from '../operator/src/store/leaves.ts';
import { HostileLog } from '../e2e/harness/hostile.ts';
import { progress } from './lib.ts';
import { ApplyStats, type ApplyStatsResult } from './scale-applystats.ts';
import { databaseCpuMs } from './proccpu.ts';

const CONTROL_PLANE = ['threatmesh-cont', 'kube-apiserver', 'etcd'];

const NS = 'threatmesh';
const IDS = ['alpha', 'bravo', 'charlie'] as const;
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');

/** What the partner stage measured. */
export interface PartnerStageResult {
  readonly entries: number;
  readonly buildSeconds: number;
  readonly catchUpSeconds: number;
  readonly verificationsPerEntry: number;
  readonly clusterReadableSeconds: number;
  readonly etcdFileGrowthBytes: number;
  readonly etcdInUseGrowthBytes: number | undefined;
  readonly workingSetObjects: number;
  readonly fullObjectBytes: number;
  readonly fullObjectSample: number;
  /** The restart of a partner over the caught-up database (bench/scale-restart.ts, own process). */
  readonly restart: RestartResult;
  /** Commands, CPU and write time of the catch-up (bench/scale-applystats.ts). */
  readonly apply: ApplyStatsResult;
}

/** What bench/scale-restart.ts measured. */
export interface RestartResult {
  readonly openMs: number;
  readonly readyMs: number;
  readonly knownDigests: number;
  readonly workingSet: number;
  readonly rssAtReadyMb: number;
  readonly heapAtReadyMb: number;
  readonly firstRepairQueryMs: number;
  readonly firstRepairRecords: number;
  readonly peakRssMb: number;
}

// A fresh process, so the figures are a restarted operator's and not this bench's (which holds the log).
function restartPartner(uri: string, kubeconfig: string, treeSize: number): RestartResult {
  const r = spawnSync(process.execPath, [new URL('./scale-restart.ts', import.meta.url).pathname, uri, 'threatmesh_partner', kubeconfig, NS, String(treeSize)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`scale-restart.ts exited with ${String(r.status)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as RestartResult;
}

function indicator(i: number): { type: 'domain'; value: string } {
  return { type: 'domain', value: `h${i.toString(36)}.scale-bench.example` };
}

// BENCH_SCALE_VOTES: `v2` (default) signs the log's votes as batches of the voter's default size
// (protocol version 2, domain/votebatch.ts); `v2p` its proposals too (domain/proposalbatch.ts);
// `v1` one signature per vote and per proposal, as logs written before.
// BENCH_SCALE_CHECKPOINT: entries per applied batch of the catch-up (default: the operator's).
const CHECKPOINT = process.env['BENCH_SCALE_CHECKPOINT'] === undefined ? {} : { checkpointEvery: Number(process.env['BENCH_SCALE_CHECKPOINT']) };
const SCALE_VOTES = process.env['BENCH_SCALE_VOTES'] ?? 'v2';
const BATCH_VOTES = SCALE_VOTES === 'v2' || SCALE_VOTES === 'v2p';
const BATCH_PROPOSALS = SCALE_VOTES === 'v2p';

/** A log of `n` genuinely signed ADD entries (alpha proposes, alpha and bravo approve). */
function buildLog(n: number, keys: Record<(typeof IDS)[number], SigningKey>): HostileLog {
  const log = new HostileLog();
  const opensAt = Date.now() - 3_600_000;
  const window = { opensAt: new Date(opensAt).toISOString(), closesAt: new Date(opensAt + 72 * 3_600_000).toISOString() };
  const signedAt = new Date(opensAt + 1000).toISOString();
  const step = BATCH_VOTES ? DEFAULT_VOTE_BATCH_SIZE : 1;
  for (let first = 0; first < n; first += step) {
    const inds = Array.from({ length: Math.min(step, n - first) }, (_, k) => indicator(first + k));
    const votes = (['alpha', 'bravo'] as const).map((v) => {
      const fields = inds.map((ind) => ({ partnerId: v, digest: roundSubject('add', ind), decision: 'approve' as const, signedAt }));
      return BATCH_VOTES ? signVoteBatch(keys[v], fields) : fields.map((f) => signVote(keys[v], f));
    });
    const proposals: ProposalProof[] = BATCH_PROPOSALS ? signProposalBatch(keys.alpha, inds.map((indicator) => ({ indicator }))) : inds.map((ind) => ({ signature: signProposal(keys.alpha, 'add', ind) }));
    inds.forEach((ind, k) => {
      const { signature, batch } = proposals[k]!;
      const body: EntryBody = { kind: 'add', indicator: ind, proposerId: 'alpha', proposalSignature: signature, ...(batch !== undefined ? { proposalBatch: batch } : {}), window, votes: votes.map((vs): Vote => vs[k]!) };
      log.append(body);
      if ((first + k + 1) % 100_000 === 0) progress(`signed ${first + k + 1} of ${n} log entries`);
    });
  }
  return log;
}

// BENCH_SCALE_CPUPROF=FILE: a V8 CPU profile of this process during the catch-up only (node --cpu-prof would also take in the log's signing).
async function startProfile(): Promise<(() => Promise<void>) | undefined> {
  const file = process.env['BENCH_SCALE_CPUPROF'];
  if (file === undefined || file === '') return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
    progress(`catch-up CPU profile written to ${file}`);
  };
}

// What the control plane burns with nothing to write (aggregated API probes, controllers): the part of its catch-up CPU that is per second, not per entry.
async function controlPlaneAtRest(ms: number): Promise<number> {
  const before = databaseCpuMs(process.pid, CONTROL_PLANE) ?? 0;
  await new Promise((r) => setTimeout(r, ms));
  return ((databaseCpuMs(process.pid, CONTROL_PLANE) ?? 0) - before) / (ms / 1000);
}

async function etcdFileBytes(dir: string): Promise<number> {
  return (await stat(join(dir, 'etcd', 'member', 'snap', 'db'))).size;
}

// etcd's own in-use figure, from its /metrics on the client URL the apiserver log names.
async function etcdInUseBytes(dir: string): Promise<number | undefined> {
  const url = /embedded etcd ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(await readFile(join(dir, 'apiserver.log'), 'utf8'))?.[1];
  if (url === undefined) return undefined;
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^etcd_mvcc_db_total_size_in_use_in_bytes (\S+)$/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}

function getThroughApiServer(server: string, creds: { caPem: string; certPem: string; keyPem: string }, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server), { ca: creds.caPem, cert: creds.certPem, key: creds.keyPem, headers: { accept: 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** How the partner stage runs. */
export interface PartnerStageOptions {
  readonly n: number;
  /** Full objects written for the reference figure. */
  readonly sample: number;
  readonly dir: string;
  readonly binaries: Binaries;
  /** The process's signature verifications so far. */
  readonly verifications: () => Promise<number>;
  readonly backend: FerretBackend;
}

/** Runs the partner stage. */
export async function partnerStage(o: PartnerStageOptions): Promise<PartnerStageResult> {
  const { n, sample, dir, binaries, verifications, backend } = o;
  const inst = await startInstance({ name: 'scale', dir, binaries, controllers: false, log: quiet, backend });
  const closers: Array<() => Promise<unknown> | void> = [() => inst.stop()];
  try {
    const admin = new KubeHttpClient(await loadKubeconfig(inst.kubeconfigPath), { requestTimeoutMs: 60_000 });
    closers.unshift(() => admin.close());
    const crds = parseManifests(await readFile(new URL('../crds/threatmesh.io_threatindicators.yaml', import.meta.url), 'utf8'), 'crd');
    await applyManifests(admin, [...crds, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'before' } }], 'scale-bench');
    const keys = { alpha: SigningKey.generate(), bravo: SigningKey.generate(), charlie: SigningKey.generate() };
    const partners: PartnerEntry[] = IDS.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter'] }));
    const voters = partners.map((p) => ({ ...p, key: `${NS}/${p.partnerId}` }));
    const t0 = performance.now();
    const log = buildLog(n, keys);
    const buildSeconds = (performance.now() - t0) / 1000;
    progress(`log of ${n} signed entries built in ${buildSeconds.toFixed(1)} s`);

    // Reference: what the old design stored per indicator, one full object each (own namespace).
    const fileBefore = await etcdFileBytes(dir);
    const useBefore = await etcdInUseBytes(dir);
    const old = new KubeIndicatorSink({ client: admin, namespace: 'before', voters: () => voters, policy: { quorum: 2 }, now: () => new Date(), log: quiet, concurrency: 8 });
    const sampleEntries: VerifiedEntry[] = [];
    for await (const { entry } of log.entries(0, Math.min(sample, n))) sampleEntries.push({ ...entry, digest: indicatorDigest(entry.indicator) });
    await old.applyMany(sampleEntries);
    await new Promise((r) => setTimeout(r, 3000));
    const useSample = await etcdInUseBytes(dir);
    const fileSample = await etcdFileBytes(dir);
    const fullObjectBytes = useSample !== undefined && useBefore !== undefined ? (useSample - useBefore) / sampleEntries.length : (fileSample - fileBefore) / sampleEntries.length;
    progress(`reference: ${sampleEntries.length} full ThreatIndicator objects cost ${Math.round(fullObjectBytes)} etcd bytes each`);

    const ca = await LocalCa.open(join(dir, 'scale-pki'), 'scale-bench-ca', 2);
    const tls = {} as Record<(typeof IDS)[number] | 'sequencer', TlsMaterial>;
    for (const id of [...IDS, 'sequencer'] as const) tls[id] = await readTlsMaterial(await ca.issue(id));
    const server = await startExchangeServer({ sequencer: log, directory: new Map(partners.map((p) => [p.partnerId, p])), tls: tls.sequencer, address: '127.0.0.1:0', log: quiet });
    closers.unshift(() => server.stop());
    const client = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: tls.charlie, serverName: 'localhost', deadlineMs: 120_000, retry: { attempts: 3, baseMs: 100, capMs: 1000 } });
    closers.unshift(() => client.close());
    const mongo = await MongoClient.connect(inst.mongoUri ?? '', { monitorCommands: true });
    const stats = new ApplyStats(mongo);
    closers.unshift(() => mongo.close());
    const db = mongo.db('threatmesh_partner');
    const sink = await MongoIndicatorSink.open(db);
    const kube = new KubeIndicatorSink({ client: admin, namespace: NS, voters: () => voters, policy: { quorum: 2 }, now: () => new Date(), log: quiet });
    const materializer = new Materializer({ sink: kube, budget: PARTNER_DEFAULTS.materializeBudget, log: quiet });
    const both = { apply: (e: VerifiedEntry) => both.applyMany([e]), applyMany: async (es: readonly VerifiedEntry[]) => { await stats.timed(() => sink.applyMany(es, { treeSize: n })); materializer.offer(es, n); } };
    const replica = new PartnerReplica({ sourceId: 'sequencer', source: client, sink: both, history: sink, cursors: new MongoCursorStore(db), anchors: { sequencerKey: log.key.publicKey, partners, quorum: 2, votingWindowMs: 72 * 3_600_000 }, now: () => new Date(), log: quiet, leaves: new MongoLeafStore(db), ...CHECKPOINT });

    const serving = await readTlsMaterial(await ca.issue('threatmesh-replica-api', 'server', '', [`DNS:threatmesh-replica-api.${NS}.svc`]));
    const pages = new NamedIndicatorPages(db, { clock: systemClock });
    closers.unshift(() => pages.close());
    const api = await startReplicaApi({ records: pages, namespace: NS, requestHeader: await loadRequestHeaderConfig(admin), reviewer: new AccessReviewer(admin, () => Date.now()), cert: serving.certPem, key: serving.keyPem, now: () => new Date(), log: quiet }, '127.0.0.1', 0);
    closers.unshift(() => api.stop());
    await applyManifests(admin, replicaApiObjects({ namespace: NS, caPem: serving.caPem, backend: { kind: 'loopback', port: api.port } }), 'scale-bench');

    const v0 = await verifications();
    const profiler = await startProfile();
    stats.start();
    const t1 = performance.now();
    let done = 0;
    const ticker = setInterval(() => { void replica.cursor().then((c) => { done = c.nextIndex; progress(`catch-up: ${done} of ${n} applied (${Math.round(done / ((performance.now() - t1) / 1000))}/s)`); }); }, 10_000);
    let applied = 0;
    try {
      // One stream carries at most 10,000 entries (attack 6); the partner goes on from its cursor.
      while (applied < n) {
        const r = await replica.sync(0);
        if (r.applied === 0) throw new Error(`catch-up stalled at ${applied} of ${n}`);
        applied += r.applied;
      }
    } finally {
      clearInterval(ticker);
    }
    const catchUpSeconds = (performance.now() - t1) / 1000;
    const apply = stats.stop();
    await profiler?.();
    progress(`catch-up CPU per 1,000 entries: partner ${Math.round(apply.partnerCpuMs * 1000 / n)} ms, FerretDB + PostgreSQL ${Math.round(apply.databaseCpuMs * 1000 / n)} ms, control plane ${Math.round(apply.controlPlaneCpuMs * 1000 / n)} ms; sink writes in flight ${(apply.sinkBusyMs / 1000).toFixed(1)} of ${catchUpSeconds.toFixed(1)} s (${apply.sinkBatches} batches)`);
    progress(`catch-up commands: ${JSON.stringify(apply.commands)}`);
    const verificationsPerEntry = ((await verifications()) - v0) / n;
    const last = `/apis/replica.threatmesh.io/v1alpha1/namespaces/${NS}/threatindicators/${indicatorObjectName(indicator(n - 1))}`;
    const creds = { caPem: inst.caPem, certPem: inst.certPem, keyPem: inst.keyPem };
    for (let code = 0; code !== 200;) {
      code = await getThroughApiServer(inst.server, creds, last);
      if (code !== 200) await new Promise((r) => setTimeout(r, 500));
      if (performance.now() - t1 > 3_600_000) throw new Error(`the last indicator is not readable through the cluster API (HTTP ${code})`);
    }
    const clusterReadableSeconds = (performance.now() - t1) / 1000;
    progress(`caught up on ${n} in ${catchUpSeconds.toFixed(1)} s; readable through the cluster API after ${clusterReadableSeconds.toFixed(1)} s; materializing the working set`);
    await materializer.idle();
    const controlPlaneIdleMsPerS = await controlPlaneAtRest(3000);
    progress(`control plane at rest: ${controlPlaneIdleMsPerS.toFixed(1)} ms CPU per s (over the ${catchUpSeconds.toFixed(1)} s catch-up: ${Math.round(controlPlaneIdleMsPerS * catchUpSeconds * 1000 / n)} of its ${Math.round(apply.controlPlaneCpuMs * 1000 / n)} ms per 1,000 entries)`);
    const workingSetObjects = (await admin.list({ group: 'threatmesh.io', version: 'v1alpha1', plural: 'threatindicators', kind: 'ThreatIndicator', namespaced: true }, { namespace: NS, limit: 1 })) as unknown as { metadata: { remainingItemCount?: number } };
    const useAfter = await etcdInUseBytes(dir);
    const fileAfter = await etcdFileBytes(dir);
    progress('restart: a fresh process opens the partner stores and lists the working set');
    const restart = restartPartner(inst.mongoUri ?? '', inst.kubeconfigPath, n);
    progress(`restart: ready in ${(restart.readyMs / 1000).toFixed(1)} s, RSS ${restart.rssAtReadyMb} MB; first repair query ${(restart.firstRepairQueryMs / 1000).toFixed(1)} s`);
    return {
      entries: n, buildSeconds, catchUpSeconds, verificationsPerEntry, clusterReadableSeconds,
      etcdFileGrowthBytes: fileAfter - fileSample, etcdInUseGrowthBytes: useAfter !== undefined && useSample !== undefined ? useAfter - useSample : undefined,
      workingSetObjects: (workingSetObjects.metadata.remainingItemCount ?? 0) + 1, fullObjectBytes, fullObjectSample: sampleEntries.length, restart, apply,
    };
  } finally {
    for (const c of closers) await c();
  }
}

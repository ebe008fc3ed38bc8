/**
 * `npm run bench -- clusterwrite`: what one partner's writes of its working set cost on a real
 * kube-apiserver (issue 14; exchange/partner/kubesink.ts): objects/s, requests per object as the
 * API server counts them (`apiserver_request_total`), CPU of this process and of the control
 * plane (kube-apiserver + etcd) per 1,000 objects. Real parts: one dev/controlplane instance with
 * the generated CRDs and a ThreatIndicator informer on each namespace, as the operator runs it.
 *
 * N = BENCH_CLUSTERWRITE_OBJECTS (default 2,000) genuinely signed ADD entries (2 of 3 votes) go
 * through the Kubernetes sink in the materializer's batches of 256, in four passes:
 * - `others`: entries of other partners' proposals, into an empty namespace (create path);
 * - `replay`: the same entries again (a restart's resume, a retried batch): nothing to write;
 * - `own`: entries of this partner's proposals, whose local proposal objects exist (status path);
 * - `repair`: a drift repair of the intact `own` namespace from the records.
 *
 * BENCH_CLUSTERWRITE_BEFORE=DIR also runs an older checkout's sink (DIR holds its operator/, e.g.
 * `git archive <commit> operator | tar -x -C bench/.baseline-x`), in namespaces of its own on the
 * same API server, alternating pass by pass with this checkout's: before and after in one run.
 * BENCH_CLUSTERWRITE_AFTER_FIRST=1 runs this checkout's pass first (the API server's tail of the
 * previous pass falls on the other side). BENCH_CLUSTERWRITE_CONCURRENCY sets the sink's pool
 * (default: the checkout's default).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { emit, helpAsked, progress, round, type BenchResult, type BenchUsage } from './lib.ts';
import { CLOCK_TICKS_PER_S, livePids, readStat } from './procfs.ts';
import { THREAT_INDICATORS } from '../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../operator/src/api/types.ts';
import { apiRequestCounts, countsSince, type MetricsTarget } from '../operator/src/dev/controlplane/apimetrics.ts';
import { ensureBinaries } from '../operator/src/dev/controlplane/build.ts';
import { startInstance } from '../operator/src/dev/controlplane/instance.ts';
import { indicatorDigest, indicatorObjectName } from '../operator/src/domain/canonical.ts';
import { signProposal, type EntryWindow } from '../operator/src/domain/entry.ts';
import { roundSubject } from '../operator/src/domain/entry.ts';
import { signVote } from '../operator/src/domain/quorum.ts';
import { SigningKey } from '../operator/src/domain/signature.ts';
import type { VerifiedEntry } from '../operator/src/domain/stores.ts';
import { specOf } from '../operator/src/exchange/partner/kubesink.ts';
import { createLogger } from '../operator/src/log.ts';
import { Informer } from '../operator/src/runtime/informer.ts';
import { KubeHttpClient } from '../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../operator/src/runtime/manifest.ts';
import type { IndicatorRecord } from '../operator/src/store/indicators.ts';
import type { PartnerEntry } from '../operator/src/api/partners.ts';

const N = Number(process.env['BENCH_CLUSTERWRITE_OBJECTS'] ?? 2000);
const BEFORE = process.env['BENCH_CLUSTERWRITE_BEFORE'];
const CONCURRENCY = process.env['BENCH_CLUSTERWRITE_CONCURRENCY'];
const AFTER_FIRST = process.env['BENCH_CLUSTERWRITE_AFTER_FIRST'] === '1';
const BATCH = 256;
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const IDS = ['alpha', 'bravo', 'charlie'] as const;

const USAGE: BenchUsage = {
  name: 'clusterwrite',
  measures: 'A partner\'s ThreatIndicator writes on a real kube-apiserver: objects/s, requests per object as the API server counts them, CPU of the writer and of kube-apiserver + etcd per 1,000 objects, in four passes (new objects, a replay, own proposals, a drift repair).',
  knobs: [
    ['BENCH_CLUSTERWRITE_OBJECTS', 'objects per pass (default 2000)'],
    ['BENCH_CLUSTERWRITE_BEFORE=DIR', 'also run an older checkout\'s sink (DIR holds its operator/), pass by pass: before and after in one run'],
    ['BENCH_CLUSTERWRITE_AFTER_FIRST=1', 'this checkout\'s pass first'],
    ['BENCH_CLUSTERWRITE_CONCURRENCY', 'the sink\'s write pool (default: the checkout\'s default)'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};
if (helpAsked(USAGE)) process.exit(0);

/** The sink of one checkout, loaded from its operator/ tree. */
interface SinkOf {
  readonly label: string;
  make(client: KubeHttpClient, namespace: string, cache: Informer<ThreatIndicator>, voters: ReturnType<typeof clusterVoters>): {
    applyMany(entries: readonly VerifiedEntry[]): Promise<void>;
    repair(records: readonly IndicatorRecord[]): Promise<unknown>;
  };
}

async function sinkOf(root: string, label: string): Promise<SinkOf> {
  const mod = await import(join(root, 'operator', 'src', 'exchange', 'partner', 'kubesink.ts')) as typeof import('../operator/src/exchange/partner/kubesink.ts');
  return {
    label,
    make: (client, namespace, cache, voters) => new mod.KubeIndicatorSink({ client, cache, namespace, voters: () => voters, policy: { quorum: 2 }, now: () => new Date(), log: quiet, ...(CONCURRENCY !== undefined ? { concurrency: Number(CONCURRENCY) } : {}) }),
  };
}

const keys = Object.fromEntries(IDS.map((id) => [id, SigningKey.generate()])) as Record<(typeof IDS)[number], SigningKey>;
function clusterVoters(namespace: string): PartnerEntry[] {
  return IDS.map((id) => ({ key: `${namespace}/${id}`, partnerId: id, publicKey: keys[id].publicKey, roles: ['voter'] }));
}

/** Entry i admits one domain proposed by `proposer`, approved by alpha and bravo. */
function buildEntries(n: number, proposer: 'alpha' | 'charlie'): { entries: VerifiedEntry[]; records: IndicatorRecord[]; window: EntryWindow } {
  const opensAt = Date.now() - 600_000;
  const window = { opensAt: new Date(opensAt).toISOString(), closesAt: new Date(opensAt + 72 * 3_600_000).toISOString() };
  const signedAt = new Date(opensAt + 60_000).toISOString();
  const entries: VerifiedEntry[] = [];
  const records: IndicatorRecord[] = [];
  for (let i = 0; i < n; i++) {
    const indicator = { type: 'domain' as const, value: `h${i.toString(36)}.${proposer}.clusterwrite-bench.example` };
    const digest = indicatorDigest(indicator);
    const votes = (['alpha', 'bravo'] as const).map((v) => signVote(keys[v], { partnerId: v, digest: roundSubject('add', indicator), decision: 'approve', signedAt }));
    const entry: VerifiedEntry = { kind: 'add', index: i, digest, indicator, proposerId: proposer, proposalSignature: signProposal(keys[proposer], 'add', indicator), window, votes };
    entries.push(entry);
    records.push({ digest, type: indicator.type, value: indicator.value, state: 'active', logIndex: i, proposerId: proposer, window, proposalSignature: entry.proposalSignature, votes: votes.map((v) => ({ ...v })) });
  }
  return { entries, records, window };
}

/** CPU ms so far of the kube-apiserver and etcd below this process (the instance's control plane). */
function controlPlaneCpuMs(): number {
  let ticks = 0;
  const children = new Map<number, Array<{ pid: number; comm: string; t: number }>>();
  for (const pid of livePids()) {
    const s = readStat(pid);
    if (s !== undefined) children.set(s.ppid, [...(children.get(s.ppid) ?? []), { pid, comm: s.comm, t: s.utime + s.stime + s.cutime + s.cstime }]);
  }
  const stack = [...(children.get(process.pid) ?? [])];
  for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
    if (['threatmesh-cont', 'kube-apiserver', 'etcd'].some((c) => p.comm.startsWith(c))) ticks += p.t;
    stack.push(...(children.get(p.pid) ?? []));
  }
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

interface Pass { wallMs: number; nodeCpuMs: number; planeCpuMs: number; requests: Record<string, number> }

async function measured(target: MetricsTarget, work: () => Promise<unknown>): Promise<Pass> {
  const r0 = await apiRequestCounts(target, 'threatindicators');
  const c0 = process.cpuUsage();
  const p0 = controlPlaneCpuMs();
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const planeCpuMs = controlPlaneCpuMs() - p0;
  // The counter is read after the last answer; the informer's own LIST/WATCH are not the writer's.
  const { LIST: _l, WATCH: _w, ...requests } = countsSince(r0, await apiRequestCounts(target, 'threatindicators'));
  return { wallMs, nodeCpuMs: (c.user + c.system) / 1000, planeCpuMs, requests };
}

async function inBatches(entries: readonly VerifiedEntry[], write: (batch: readonly VerifiedEntry[]) => Promise<void>): Promise<void> {
  for (let i = 0; i < entries.length; i += BATCH) await write(entries.slice(i, i + BATCH));
}

const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: process.stderr });
const dir = await mkdtemp(join(tmpdir(), 'threatmesh-bench-clusterwrite-'));
const inst = await startInstance({ name: 'clusterwrite', dir, binaries, controllers: false, mongo: false, log: quiet });
const target: MetricsTarget = { server: inst.server, ca: inst.caPem, cert: inst.certPem, key: inst.keyPem };
const client = new KubeHttpClient(await loadKubeconfig(inst.kubeconfigPath), { requestTimeoutMs: 60_000 });
const informers: Array<Informer<ThreatIndicator>> = [];
try {
  const sinks = [await sinkOf(resolve(new URL('..', import.meta.url).pathname), 'after')];
  if (BEFORE !== undefined) sinks.unshift(await sinkOf(resolve(BEFORE), 'before'));
  const crds = parseManifests(await readFile(new URL('../crds/threatmesh.io_threatindicators.yaml', import.meta.url), 'utf8'), 'crd');
  await applyManifests(client, [...crds, ...sinks.flatMap((s) => ['others', 'own'].map((p) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `${s.label}-${p}` } })))], 'clusterwrite-bench');
  progress(`signing ${N} entries twice (others' and own proposals)`);
  const others = buildEntries(N, 'charlie');
  const own = buildEntries(N, 'alpha');
  const results: BenchResult[] = [];
  const passes: Record<string, Pass> = {};
  const ready = await Promise.all(sinks.map(async (s) => {
    const made: Record<string, ReturnType<SinkOf['make']>> = {};
    for (const p of ['others', 'own']) {
      const namespace = `${s.label}-${p}`;
      const inf = new Informer<ThreatIndicator>({ client, ref: THREAT_INDICATORS, log: quiet, namespace });
      inf.start();
      informers.push(inf);
      await inf.waitForSync();
      made[p] = s.make(client, namespace, inf, clusterVoters(namespace));
    }
    return { s, made };
  }));
  // This partner's ingest created its proposals before the log admitted them (not measured).
  for (const s of sinks) {
    const namespace = `${s.label}-own`;
    await inBatches(own.entries, async (batch) => { await Promise.all(batch.map((e) => client.create(THREAT_INDICATORS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName(e.indicator), namespace }, spec: { ...specOf({ ...e, window: { ...e.window, opensAt: new Date(Date.parse(e.window.opensAt) + 5_000).toISOString() } }), provenance: { partner: 'alpha', feed: 'bench/feed', proposedAt: new Date(Date.parse(e.window.opensAt) + 5_000).toISOString() } } }))); });
  }
  await new Promise((r) => setTimeout(r, 2000));
  const steps: Array<[string, (m: Record<string, ReturnType<SinkOf['make']>>) => Promise<unknown>]> = [
    ['others', (m) => inBatches(others.entries, (b) => m['others']!.applyMany(b))],
    ['replay', (m) => inBatches(others.entries, (b) => m['others']!.applyMany(b))],
    ['own', (m) => inBatches(own.entries, (b) => m['own']!.applyMany(b))],
    ['repair', (m) => m['own']!.repair(own.records)],
  ];
  for (const [step, run] of steps) {
    for (const { s, made } of AFTER_FIRST ? [...ready].reverse() : ready) {
      // The informers see the previous pass's writes before this one starts.
      await new Promise((r) => setTimeout(r, 2000));
      const pass = await measured(target, () => run(made));
      passes[`${s.label} ${step}`] = pass;
      const total = Object.values(pass.requests).reduce((a, b) => a + b, 0);
      progress(`${s.label} ${step}: ${Math.round(N / (pass.wallMs / 1000))} objects/s, ${(total / N).toFixed(2)} requests/object ${JSON.stringify(pass.requests)}, CPU per 1,000: this process ${Math.round(pass.nodeCpuMs * 1000 / N)} ms, kube-apiserver + etcd ${Math.round(pass.planeCpuMs * 1000 / N)} ms; load ${loadavg()[0]!.toFixed(1)}`);
      results.push(
        { metric: `${s.label} ${step}: objects per second (wall)`, value: round(N / (pass.wallMs / 1000), 4), unit: 'objects/s' },
        { metric: `${s.label} ${step}: requests per object (kube-apiserver count, writer only)`, value: round(total / N, 3), unit: 'requests' },
        { metric: `${s.label} ${step}: CPU of the writer per 1,000 objects`, value: round(pass.nodeCpuMs * 1000 / N, 4), unit: 'ms' },
        { metric: `${s.label} ${step}: CPU of kube-apiserver + etcd per 1,000 objects`, value: round(pass.planeCpuMs * 1000 / N, 4), unit: 'ms' },
      );
    }
  }
  for (const s of sinks) {
    const objs = (await client.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: `${s.label}-own` })).items;
    const approved = objs.filter((o) => o.status?.phase === 'Approved').length;
    if (approved !== N) throw new Error(`${s.label}: ${approved} of ${N} own objects Approved`);
  }
  results.push({ metric: 'objects per pass', value: N, unit: 'count' }, { metric: 'load average (1 min) at the end', value: round(loadavg()[0]!, 3), unit: 'load' });
  emit(results);
} finally {
  for (const inf of informers) await inf.stop();
  client.close();
  await inst.stop();
  await rm(dir, { recursive: true, force: true });
}

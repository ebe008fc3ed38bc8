/**
 * Enforcement at scale: for 100k and 1M replicated indicators (70% IPv4, 10% /24 networks, 5%
 * IPv6, 15% domains), the time to build the artifacts (read and select every record, index one
 * entry per key, shard into CiliumCIDRGroups, fill the map content), to update them for one
 * admission, and to apply them: every shard created on a real kube-apiserver with the upstream
 * Cilium CRDs (the API server validates each one), both maps swapped into a real HAProxy through
 * its runtime API (prepare/add/commit map), then one admission as a delta (one shard update, one
 * `add map`). Also the MongoDB part at the smaller
 * size: insert into and full scan of FerretDB (the local MongoDB-wire server). Sizes: CIDRs,
 * groups, largest group bytes, map entries. Counts: argv (e.g. `20000,100000`) or
 * BENCH_ENFORCE_COUNTS; default 100000,1000000. Uses KUBECONFIG / MONGODB_URI when set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { cpuMillis, emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { startControlPlane, type ControlPlane } from '../e2e/harness/controlplane.ts';
import { startHaproxy, type TestHaproxy } from '../e2e/harness/haproxy.ts';
import { upstreamCrds } from '../e2e/harness/upstream.ts';
import { createLogger } from '../operator/src/log.ts';
import { KubeHttpClient } from '../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../operator/src/runtime/kubeconfig.ts';
import { applyManifests, waitForCrds } from '../operator/src/runtime/manifest.ts';
import { loadShippedLists } from '../operator/src/feeds/warninglists.ts';
import { ArtifactIndex, type Entry } from '../operator/src/enforce/artifacts.ts';
import { CIDR_GROUPS, CLUSTERWIDE_POLICIES, CidrShards, type ShardSettings } from '../operator/src/enforce/cilium.ts';
import { applyCilium, removeCilium, type CiliumState } from '../operator/src/enforce/ciliumapply.ts';
import { buildGuard } from '../operator/src/enforce/guard.ts';
import { mapContent } from '../operator/src/enforce/haproxytarget.ts';
import { syncMap, type KeyChange } from '../operator/src/enforce/haproxy/maps.ts';
import { SocketRuntimeApi } from '../operator/src/enforce/haproxy/runtime.ts';
import { Selection } from '../operator/src/enforce/selection.ts';
import { MongoIndicatorSource } from '../operator/src/enforce/source.ts';
import { publicIpv4, resolved, storedRecord } from '../operator/src/enforce/testing.ts';
import type { IndicatorType } from '../operator/src/domain/indicator.ts';

/** What `npm run bench -- enforce --help` prints. */
const USAGE: BenchUsage = {
  name: 'enforce',
  args: '[COUNTS]',
  measures: 'Enforcement at scale: for each count of replicated indicators, building the artifacts (CiliumCIDRGroup shards, HAProxy map content), updating them for one admission, and applying them to a real kube-apiserver (with the upstream Cilium CRDs) and a real HAProxy (runtime API), plus FerretDB insert and scan at the smallest count.',
  knobs: [
    ['COUNTS', 'comma-separated indicator counts (or BENCH_ENFORCE_COUNTS; default 100000,1000000)'],
    ['KUBECONFIG, MONGODB_URI', 'use this API server / MongoDB instead of starting the local control plane'],
    ['THREATMESH_SHARED_DIR', 'where the upstream Cilium CRDs are looked up'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};

const counts = (process.argv[2] ?? process.env['BENCH_ENFORCE_COUNTS'] ?? '100000,1000000').split(',').map(Number);
const label = (n: number): string => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`);
const results: BenchResult[] = [];
const put = (metric: string, value: number, unit: string): void => {
  results.push({ metric, value: round(value), unit });
  progress(`${metric}: ${round(value)} ${unit}`);
};

/** The i-th record of the synthetic replicated set. */
function record(i: number): Record<string, unknown> {
  const k = i % 20;
  const [type, value]: [IndicatorType, string] = k < 14 ? ['ipv4', publicIpv4(i)]
    : k < 16 ? ['cidr', `${publicIpv4(i * 256).replace(/\.\d+$/, '.0')}/24`]
      : k < 17 ? ['ipv6', `2a0${i % 10}:ffff:${((i >>> 15) + 1).toString(16)}::${((i & 0x7fff) + 1).toString(16)}`]
        : ['domain', `h${i.toString(36)}.bad${i % 97}.xyz`];
  return storedRecord(type, value, { logIndex: i, meta: { confidence: i % 101 } });
}

/** Runs `fn`; returns its result, wall ms and this process's CPU ms (the machine is shared: CPU time is the steadier figure). */
function timeMs<T>(fn: () => T): [T, number, number] {
  const t = performance.now();
  const c = cpuMillis();
  const r = fn();
  return [r, performance.now() - t, cpuMillis() - c];
}

function putTimed(metric: string, wallMs: number, cpuMs: number): void {
  put(`${metric} (wall)`, wallMs, 'ms');
  put(`${metric} (CPU)`, cpuMs, 'ms');
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

interface Built {
  readonly index: ArtifactIndex;
  readonly cidrs: readonly Entry[];
  readonly domains: readonly Entry[];
}

const SETTINGS = (n: number): ShardSettings => ({ base: `bench-${label(n).toLowerCase()}`, id: `bench${n}`, owner: 'bench/p', matchLabels: {}, maxCidrsPerGroup: 20_000, maxGroupBytes: 512 * 1024 });

async function build(n: number): Promise<Built> {
  const policy = resolved();
  const selection = new Selection({ selector: policy.selector, guard: buildGuard(await loadShippedLists(), []) });
  const now = Date.now();
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let selectMs = 0;
  let selectCpu = 0;
  for (let i = 0; i < n; i += 10_000) {
    // Generating the synthetic records (and their digests) is not part of the measurement.
    const batch = Array.from({ length: Math.min(10_000, n - i) }, (_, j) => record(i + j));
    const [, w, c] = timeMs(() => { for (const d of batch) selection.apply(d, now); });
    selectMs += w;
    selectCpu += c;
  }
  putTimed(`${label(n)}: read + select every record (shape, canonical value, digest check, policy, allowlists)`, selectMs, selectCpu);
  const [index, artMs, artCpu] = timeMs(() => ArtifactIndex.from(selection.candidates()));
  putTimed(`${label(n)}: artifact index (one entry per key)`, artMs, artCpu);
  const cidrs = index.entries('cidr');
  const domains = index.entries('domain');
  const [, mapMs, mapCpu] = timeMs(() => mapContent(domains, cidrs, 10_000_000));
  putTimed(`${label(n)}: HAProxy map content, full`, mapMs, mapCpu);
  global.gc?.();
  put(`${label(n)}: selection + index heap`, (process.memoryUsage().heapUsed - heap0) / 1048576, 'MiB');
  put(`${label(n)}: CIDRs`, cidrs.length, 'CIDRs');
  put(`${label(n)}: domains`, domains.length, 'domains');
  return { index, cidrs, domains };
}

function shard(n: number, b: Built): CidrShards {
  const [shards, ms, cpu] = timeMs(() => CidrShards.build(SETTINGS(n), b.cidrs.map((e) => e.key)));
  const p = shards.plan(true);
  putTimed(`${label(n)}: shard into CiliumCIDRGroups, full (measured sizes, content hashes)`, ms, cpu);
  put(`${label(n)}: CiliumCIDRGroups`, p.groups.length, 'objects');
  put(`${label(n)}: largest CiliumCIDRGroup`, Math.max(...p.groups.map((g) => g.bytes)) / 1024, 'KiB');
  put(`${label(n)}: all CiliumCIDRGroups`, p.groups.reduce((s, g) => s + g.bytes, 0) / 1048576, 'MiB');
  return shards;
}

/** What one admission costs after the full build: index update, the touched shard rebuilt, the plan. */
function oneChange(n: number, b: Built, shards: CidrShards): void {
  const c = { digest: 'f'.repeat(64), kind: 'cidr' as const, key: '99.99.99.99/32', confidence: 50, logIndex: n + 1, validUntil: undefined };
  const [, ms, cpu] = timeMs(() => {
    b.index.apply([{ before: undefined, after: c }]);
    const dirty = b.index.takeDirty('cidr');
    shards.update(dirty.map((k) => [k, b.index.entry('cidr', k) !== undefined] as const));
    shards.plan(true);
  });
  putTimed(`${label(n)}: one admission, artifacts updated incrementally (index, one shard, plan)`, ms, cpu);
}

async function applyKube(n: number, admin: KubeHttpClient, shards: CidrShards): Promise<void> {
  const id = `bench${n}`;
  const state: CiliumState = {};
  const [, ms] = await timeAsync(() => applyCilium(admin, id, shards.plan(true), state));
  put(`${label(n)}: create every shard + deny policy on the API server`, ms, 'ms');
  shards.update([['99.99.99.98/32', true]]);
  const [r, oneMs] = await timeAsync(() => applyCilium(admin, id, shards.plan(true), state));
  put(`${label(n)}: one admission on the API server (${r.updated} shard updated, ${r.unchanged} unchanged)`, oneMs, 'ms');
  await removeCilium(admin, id);
}

async function applyHaproxy(n: number, h: TestHaproxy, b: Built): Promise<void> {
  const api = new SocketRuntimeApi(h.unixApi, { timeoutMs: 60_000 });
  const content = mapContent(b.domains, b.cidrs, 10_000_000);
  put(`${label(n)}: HAProxy address-map entries`, content.ips.size, 'entries');
  put(`${label(n)}: HAProxy hosts-map entries`, content.hosts.size, 'entries');
  const none = new Map<string, KeyChange>();
  const [ips, ipsMs] = await timeAsync(() => syncMap(api, h.ipsMap, content.ips, { known: undefined, pending: none }));
  const [, hostsMs] = await timeAsync(() => syncMap(api, h.hostsMap, content.hosts, { known: undefined, pending: none }));
  put(`${label(n)}: HAProxy versioned swap of both maps (prepare/add/commit)`, ipsMs + hostsMs, 'ms');
  const plusOne = new Map(content.ips).set('99.99.99.99', '0123456789abcdef');
  const pending = new Map<string, KeyChange>([['99.99.99.99', { before: undefined, after: '0123456789abcdef' }]]);
  const [, deltaMs] = await timeAsync(() => syncMap(api, h.ipsMap, plusOne, { known: ips.state, pending }));
  put(`${label(n)}: HAProxy one admission as a delta (add map)`, deltaMs, 'ms');
  await syncMap(api, h.hostsMap, new Map(), { known: undefined, pending: none });
  await syncMap(api, h.ipsMap, new Map(), { known: undefined, pending: none });
}

async function mongoScan(n: number, uri: string): Promise<void> {
  const mongo = new MongoClient(uri);
  await mongo.connect();
  const db = mongo.db(`bench_enforce_${n}`);
  try {
    const col = db.collection('indicators');
    const [, insMs] = await timeAsync(async () => {
      for (let i = 0; i < n; i += 5000) await col.insertMany(Array.from({ length: Math.min(5000, n - i) }, (_, j) => record(i + j)));
    });
    put(`${label(n)}: MongoDB insert (bench setup, FerretDB unless MONGODB_URI)`, insMs, 'ms');
    const src = await MongoIndicatorSource.open(db);
    const [scanned, scanMs] = await timeAsync(() => src.scan(() => undefined));
    put(`${label(n)}: MongoDB full scan of ${scanned} records (FerretDB unless MONGODB_URI)`, scanMs, 'ms');
    await db.collection('replica_cursors').insertOne({ _id: 'sequencer' as never, nextIndex: n });
    const [, signalMs] = await timeAsync(() => src.progress());
    put(`${label(n)}: MongoDB idle poll (replica cursors, the change signal)`, signalMs, 'ms');
    const [, pollMs] = await timeAsync(() => src.changedSince(n - 2));
    put(`${label(n)}: MongoDB changed-records query by high-water mark (2 changed; FerretDB scans, MongoDB uses the indexes)`, pollMs, 'ms');
  } finally {
    await db.dropDatabase();
    await mongo.close();
  }
}

/** Waits until the new Cilium resources are served (429 "storage is (re)initializing" right after the CRDs are Established). */
async function storageReady(admin: KubeHttpClient): Promise<void> {
  for (const ref of [CIDR_GROUPS, CLUSTERWIDE_POLICIES]) {
    for (let i = 0; ; i++) {
      try {
        await admin.list(ref, { limit: 1 });
        break;
      } catch (err) {
        if (i > 300) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

async function main(): Promise<void> {
  const cacheDir = process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh');
  const cp: ControlPlane = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongodbUri: process.env['MONGODB_URI'], cacheDir });
  const admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 120_000 });
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-bench-enforce-'));
  const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
  let h: TestHaproxy | undefined;
  try {
    const cilium = await upstreamCrds('cilium', process.env['THREATMESH_SHARED_DIR']);
    await applyManifests(admin, cilium, 'bench');
    await waitForCrds(admin, cilium.map((c) => c.metadata.name));
    await storageReady(admin);
    h = await startHaproxy(dir);
    quiet.info('started');
    for (const n of counts) {
      progress(`== ${label(n)} indicators`);
      const b = await build(n);
      const shards = shard(n, b);
      oneChange(n, b, shards);
      await applyKube(n, admin, shards);
      if (h) await applyHaproxy(n, h, b);
      global.gc?.();
    }
    await mongoScan(Math.min(...counts), cp.mongoUri);
  } finally {
    await h?.stop();
    admin.close();
    await rm(dir, { recursive: true, force: true });
    await cp.stop();
  }
  emit(results);
}

if (!helpAsked(USAGE)) await main();

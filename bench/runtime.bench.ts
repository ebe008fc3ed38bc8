/**
 * Controller runtime on a real kube-apiserver with 10,000 and 50,000 ThreatIndicators
 * (CRD from crds/): create rate through KubeHttpClient, informer initial sync rate (paginated
 * list) and heap per 10,000 cached objects, and reconcile throughput through the work queue
 * (a reconciler that only reads the cache, i.e. the runtime's own overhead, and one that also
 * does a live GET per key, i.e. API-bound, on the smallest count only). Counts: argv or BENCH_RUNTIME_COUNTS
 * (default "10000,50000"). Uses KUBECONFIG when set, else starts the local control plane.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { cpuMillis, emit, progress, round, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import { startControlPlane } from '../e2e/harness/controlplane.ts';
import { createLogger } from '../operator/src/log.ts';
import { Controller } from '../operator/src/runtime/controller.ts';
import { Informer } from '../operator/src/runtime/informer.ts';
import { KubeHttpClient } from '../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../operator/src/runtime/manifest.ts';
import { RuntimeMetrics } from '../operator/src/runtime/metrics.ts';
import { BucketRateLimiter } from '../operator/src/runtime/ratelimit.ts';
import { systemClock } from '../operator/src/runtime/clock.ts';
import type { KubeObject, ObjectKey, ResourceRef } from '../operator/src/runtime/types.ts';

/** What `npm run bench -- runtime --help` prints. */
const USAGE: BenchUsage = {
  name: 'runtime',
  args: '[COUNTS...]',
  measures: 'The controller runtime on a real kube-apiserver with 10,000 and 50,000 ThreatIndicators: create rate through KubeHttpClient, informer initial sync rate and heap per 10,000 cached objects, and reconcile throughput through the work queue (cache-only, and with a live GET per key at the smallest count).',
  knobs: [
    ['COUNTS', 'ThreatIndicator counts, comma- or space-separated (or BENCH_RUNTIME_COUNTS; default 10000,50000)'],
    ['KUBECONFIG', 'use this API server instead of starting the local control plane'],
    ['THREATMESH_CACHE', 'control-plane binaries (default ~/.cache/threatmesh)'],
  ],
};

const log = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const tiRef: ResourceRef = { group: 'threatmesh.io', version: 'v1alpha1', plural: 'threatindicators', kind: 'ThreatIndicator', namespaced: true };
const nsRef: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

function indicator(ns: string, i: number): KubeObject {
  const value = `${11 + (i % 89)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
  const name = `ipv4-${createHash('sha1').update(value).digest('hex')}`;
  return {
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator',
    metadata: { name, namespace: ns, labels: { 'threatmesh.io/bench': 'runtime' } },
    spec: {
      type: 'ipv4', value, pattern: `[ipv4-addr:value = '${value}']`, confidence: 80, tlp: 'green', labels: ['botnet-c2'],
      validFrom: '2026-11-01T00:00:00Z', validUntil: '2027-11-01T00:00:00Z', provenance: { feed: 'bench/feed', partner: 'acme' },
    },
  };
}

async function createRange(client: KubeHttpClient, ns: string, from: number, to: number, concurrency = 16): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      await client.create(tiRef, indicator(ns, i));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function heapMB(): number {
  const g = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) g?.();
  return process.memoryUsage().heapUsed / (1 << 20);
}

async function syncInformer(client: KubeHttpClient, ns: string, n: number, out: BenchResult[]): Promise<Informer<KubeObject>> {
  const before = heapMB();
  const t0 = performance.now();
  const inf = new Informer<KubeObject>({ client, ref: tiRef, log, namespace: ns, pageSize: 500 });
  inf.start();
  await inf.waitForSync();
  const secs = (performance.now() - t0) / 1000;
  const after = heapMB();
  if (inf.size() !== n) throw new Error(`informer cached ${inf.size()} objects, expected ${n}`);
  progress(`${n}: informer synced in ${secs.toFixed(2)} s, heap +${(after - before).toFixed(1)} MB`);
  out.push({ metric: `informer_sync_${n}`, value: round(n / secs), unit: 'objects/s' });
  out.push({ metric: `informer_heap_per_10k_at_${n}`, value: round(((after - before) * 10_000) / n), unit: 'MB' });
  return inf;
}

async function reconcileAll(inf: Informer<KubeObject>, n: number, label: string, work: (key: ObjectKey, obj: KubeObject | undefined) => Promise<void>): Promise<{ perSec: number; cpuPerObjMs: number }> {
  let done = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => { finish = r; });
  const metrics = new RuntimeMetrics();
  const t0 = performance.now();
  const c0 = cpuMillis();
  const controller = new Controller<KubeObject>({
    name: label, informer: inf, metrics, log, concurrency: 8,
    // No global token bucket here: it would cap retries, and first passes are not rate-limited anyway.
    rateLimiter: new BucketRateLimiter(systemClock, 1e9, 1e9),
    context: { log, now: () => new Date(), recorder: { event: () => Promise.resolve() } },
    reconciler: { reconcile: async (_ctx, key, obj) => {
      await work(key, obj);
      done += 1;
      if (done === n) finish();
      return {};
    } },
  });
  controller.start();
  await finished;
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuMillis() - c0;
  await controller.stop(10_000);
  return { perSec: n / secs, cpuPerObjMs: cpu / n };
}

async function main(): Promise<void> {
  const counts = (process.argv.slice(2).join(',') || process.env['BENCH_RUNTIME_COUNTS'] || '10000,50000').split(',').map(Number).filter((x) => x > 0).sort((a, b) => a - b);
  const cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  const client = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { maxSockets: 32 });
  const ns = `bench-${randomBytes(3).toString('hex')}`;
  const out: BenchResult[] = [];
  try {
    const crdPath = fileURLToPath(new URL('../crds/threatmesh.io_threatindicators.yaml', import.meta.url));
    await applyManifests(client, parseManifests(await readFile(crdPath, 'utf8'), crdPath), 'threatmesh-bench');
    await client.create(nsRef, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    let created = 0;
    for (const n of counts) {
      const t0 = performance.now();
      await createRange(client, ns, created, n);
      const secs = (performance.now() - t0) / 1000;
      progress(`${n}: created ${n - created} in ${secs.toFixed(1)} s`);
      out.push({ metric: `create_to_${n}`, value: round((n - created) / secs), unit: 'objects/s' });
      created = n;
      const inf = await syncInformer(client, ns, n, out);
      const cached = await reconcileAll(inf, n, `cache-${n}`, () => Promise.resolve());
      progress(`${n}: cache-only reconcile ${cached.perSec.toFixed(0)}/s`);
      out.push({ metric: `reconcile_cache_only_${n}`, value: round(cached.perSec), unit: 'objects/s' });
      out.push({ metric: `reconcile_cache_only_cpu_${n}`, value: round(cached.cpuPerObjMs * 1000), unit: 'µs CPU/object' });
      // API-bound rate does not depend on the object count; measure it once, on the smallest set.
      if (n === counts[0]) {
        const live = await reconcileAll(inf, n, `live-${n}`, async (_key, obj) => {
          if (obj) await client.get(tiRef, obj.metadata.name, obj.metadata.namespace);
        });
        progress(`${n}: reconcile with a live GET ${live.perSec.toFixed(0)}/s`);
        out.push({ metric: `reconcile_live_get_${n}`, value: round(live.perSec), unit: 'objects/s' });
      }
      await inf.stop();
    }
  } finally {
    if (!cp.local) await client.delete(nsRef, ns).catch(() => undefined);
    client.close();
    await cp.stop();
  }
  emit(out);
}

if (!helpAsked(USAGE)) await main();

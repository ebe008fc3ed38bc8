/**
 * Memory of a Feed run's "already exists" step (feeds/knownset.ts) against N existing
 * indicators (argv or BENCH_KNOWNSET_COUNTS, default 10000,100000,1000000), in process, with
 * the API server's answers generated in memory (what is measured is the run's heap, not the
 * server):
 * - `objects`: every existing indicator is a ThreatIndicator object and the run lists them all
 *   into a set of names (`knownDigests`, the only check before issue 14's fix; still the
 *   working-set half of the check);
 * - `full set select` / `get` / `list`: N indicators in the partner database, a working set of
 *   10,000 objects (the materializer's default budget) and 100,000 candidates checked against
 *   the full set through the replica API (`KnownFilterSink`): by the name selector, one list per
 *   500 candidates (the default), or, as against an older replica API, by a `get` each (the
 *   threshold lifted to force this path) or by listing the N names in pages of 500 (built per
 *   page) into the compact set (that API's path for 100,000 candidates). Answers are made in
 *   memory; each mode also reports the API requests it made, which is what the server pays
 *   for (a proxied request, and on the get path a SubjectAccessReview, each).
 * Figures: heap (JS heap plus ArrayBuffers) retained after the step (after a full GC) and the
 * peak sampled during it (garbage not yet collected included), above the baseline before it;
 * CPU time of each full-set step. Runs with --expose-gc (bench/run.ts passes it).
 */
import { Writable } from 'node:stream';
import { emit, progress, type BenchResult, helpAsked, type BenchUsage } from './lib.ts';
import type { ThreatIndicator } from '../operator/src/api/types.ts';
import { indicatorDigest, indicatorObjectName } from '../operator/src/domain/canonical.ts';
import type { IngestSink } from '../operator/src/feeds/ingest.ts';
import { KnownFilterSink, knownSet, type FullSetReader } from '../operator/src/feeds/knownset.ts';
import { emptyReport, type IngestedIndicator } from '../operator/src/feeds/pipeline.ts';
import { createLogger } from '../operator/src/log.ts';
import type { KubeReader, ObjectList } from '../operator/src/runtime/client.ts';

/** What `npm run bench -- knownset --help` prints. */
const USAGE: BenchUsage = {
  name: 'knownset',
  args: '[COUNTS]',
  measures: 'Heap of a Feed run\'s known-set step against COUNTS existing indicators.',
  knobs: [['COUNTS', 'comma-separated counts (or BENCH_KNOWNSET_COUNTS; default 10000,100000,1000000)']],
};

const counts = (process.argv[2] ?? process.env['BENCH_KNOWNSET_COUNTS'] ?? '10000,100000,1000000').split(',').map(Number);
const WORKING_SET = 10_000;
const CANDIDATES = 100_000;
const MB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => { throw new Error('run with --expose-gc (npm run bench -- knownset does)'); });
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');

const name = (i: number): string => indicatorObjectName({ type: 'domain', value: `h${i}.bench.example` });

/** A KubeReader listing `objects` ThreatIndicators in pages (built per page, as the API server streams them) and serving the replica probe. */
function reader(objects: number, onPage: () => void): KubeReader {
  const list = (ref: { group: string }, opts: { limit?: number; continue?: string } = {}): Promise<ObjectList<ThreatIndicator>> => {
    onPage();
    if (ref.group === 'replica.threatmesh.io') return Promise.resolve({ items: [], metadata: { resourceVersion: '1' } });
    const from = Number(opts.continue ?? '0');
    const to = Math.min(objects, from + (opts.limit ?? 500));
    const items = Array.from({ length: to - from }, (_, k) => ({ apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: name(from + k), namespace: 'tm' }, spec: {} }) as unknown as ThreatIndicator);
    return Promise.resolve({ items, metadata: { resourceVersion: '1', continue: to < objects ? String(to) : '' } });
  };
  return { get: () => Promise.resolve(undefined), list, watch: () => { throw new Error('no watch'); } } as unknown as KubeReader;
}

/** JS heap plus ArrayBuffer memory (the DigestSet's table is an ArrayBuffer, outside heapUsed). */
function heap(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Runs `step` and returns [retained, peak] heap above the baseline, in MB. */
async function measure(step: (sample: () => void) => Promise<unknown>): Promise<[number, number]> {
  gc();
  const base = heap();
  let peak = 0;
  const sample = (): void => { peak = Math.max(peak, heap() - base); };
  const kept = await step(sample);
  gc();
  // ArrayBuffer backing stores are released after the collection that finds them dead.
  await new Promise((r) => setImmediate(r));
  gc();
  const retained = heap() - base;
  if (kept === undefined) throw new Error('step kept nothing');
  const mb = (b: number): number => Math.round((b / MB) * 10) / 10;
  return [mb(retained), mb(Math.max(peak, retained))];
}

async function objectsStep(n: number): Promise<[number, number]> {
  return measure(async (sample) => (await knownSet(reader(n, sample), 'tm', quiet)).known);
}

type Mode = 'select' | 'get' | 'list';

/** The full set of `n` records (held by the database, not by the run): every other candidate exists; its names listed in pages built on demand. Counts the requests in `requests`. */
function fullSet(n: number, mode: Mode, sample: () => void, requests: { count: number }): FullSetReader {
  let asked = 0;
  const held = (name: string): boolean => n > 0 && cnameIndex.get(name)! % 2 === 0;
  return {
    ...(mode === 'select' ? {
      existing: (names: readonly string[]) => {
        sample();
        requests.count++;
        return Promise.resolve(new Set(names.filter(held)));
      },
    } : {}),
    exists: () => { sample(); requests.count++; return Promise.resolve(n > 0 && asked++ % 2 === 0); },
    pages: async function* (pageSize) {
      for (let at = 0; at < n; at += pageSize) {
        sample();
        requests.count++;
        yield await Promise.resolve(Array.from({ length: Math.min(pageSize, n - at) }, (_, k) => (at + k) % 2 === 0 ? cname(at + k) : name(at + k)));
      }
    },
  };
}

const cname = (i: number): string => indicatorObjectName({ type: 'domain', value: `c${i}.bench.example` });
// The candidates' names and their index (what the in-memory server looks up).
const cnameIndex = new Map(Array.from({ length: CANDIDATES }, (_, i) => [cname(i), i]));

async function fullSetStep(n: number, mode: Mode, requests: { count: number }): Promise<[number, number]> {
  return measure(async (sample) => {
    const ks = await knownSet(reader(WORKING_SET, sample), 'tm', quiet);
    const sink: IngestSink = { add: () => undefined, commit: () => Promise.resolve(), abort: () => Promise.resolve() };
    const filter = new KnownFilterSink(sink, fullSet(n, mode, sample, requests), mode === 'get' ? { listThreshold: Infinity } : {});
    for (let i = 0; i < CANDIDATES; i++) {
      const value = `c${i}.bench.example`;
      const ind: IngestedIndicator = { type: 'domain', value, pattern: `[domain-name:value = '${value}']`, digest: indicatorDigest({ type: 'domain', value }) };
      await filter.add(ind);
      if (i % 1000 === 0) sample();
    }
    await filter.commit(emptyReport());
    if (filter.mode !== mode) throw new Error(`expected the ${mode} path, took ${String(filter.mode)}`);
    return ks.known;
  });
}

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  for (const n of counts) {
    const [retained, peak] = await objectsStep(n);
    progress(`objects, ${n} existing: retained ${retained} MB, peak ${peak} MB`);
    results.push({ metric: `objects ${n}: retained heap`, value: retained, unit: 'MB' }, { metric: `objects ${n}: peak heap`, value: peak, unit: 'MB' });
    for (const mode of ['select', 'get', 'list'] as const) {
      const requests = { count: 0 };
      const t0 = process.cpuUsage();
      const [r2, p2] = await fullSetStep(n, mode, requests);
      const cpu = process.cpuUsage(t0);
      const cpuS = Math.round((cpu.user + cpu.system) / 1e4) / 100;
      progress(`full set ${mode}, ${n} existing (working set ${WORKING_SET}, ${CANDIDATES} candidates): retained ${r2} MB, peak ${p2} MB, ${cpuS} CPU-s, ${requests.count} API requests`);
      results.push({ metric: `full set ${mode} ${n}: retained heap`, value: r2, unit: 'MB' }, { metric: `full set ${mode} ${n}: peak heap`, value: p2, unit: 'MB' },
        { metric: `full set ${mode} ${n}: CPU time (in-memory API)`, value: cpuS, unit: 's' }, { metric: `full set ${mode} ${n}: API requests`, value: requests.count, unit: 'requests' });
    }
  }
  emit(results);
}

if (!helpAsked(USAGE)) await main();

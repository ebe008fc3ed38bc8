/**
 * Memory of a Feed run's "already exists" step (feeds/knownset.ts) against N existing
 * indicators (argv or BENCH_KNOWNSET_COUNTS, default 10000,100000,1000000), in process, with
 * the API server's answers generated in memory (what is measured is the run's heap, not the
 * server):
 * - `objects`: every existing indicator is a ThreatIndicator object and the run lists them all
 *   into a set of names (`knownDigests`, the only check before issue 14's fix; still the
 *   working-set half of the check);
 * - `full set`: N indicators in the partner database, a working set of 10,000 objects (the
 *   materializer's default budget) and 100,000 candidates checked against the full set through
 *   the replica API in batches (`KnownFilterSink`, `get`s answered in memory).
 * Figures: heap retained after the step (after a full GC) and the peak heap sampled during it
 * (garbage not yet collected included), above the baseline before it. Runs with --expose-gc (bench/run.ts passes it).
 */
import { Writable } from 'node:stream';
import { emit, progress, type BenchResult } from './lib.ts';
import type { ThreatIndicator } from '../operator/src/api/types.ts';
import { indicatorDigest, indicatorObjectName } from '../operator/src/domain/canonical.ts';
import type { IngestSink } from '../operator/src/feeds/ingest.ts';
import { KnownFilterSink, knownSet } from '../operator/src/feeds/knownset.ts';
import { emptyReport, type IngestedIndicator } from '../operator/src/feeds/pipeline.ts';
import { createLogger } from '../operator/src/log.ts';
import type { KubeReader, ObjectList } from '../operator/src/runtime/client.ts';

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

function heap(): number {
  return process.memoryUsage().heapUsed;
}

/** Runs `step` and returns [retained, peak] heap above the baseline, in MB. */
async function measure(step: (sample: () => void) => Promise<unknown>): Promise<[number, number]> {
  gc();
  const base = heap();
  let peak = 0;
  const sample = (): void => { peak = Math.max(peak, heap() - base); };
  const kept = await step(sample);
  gc();
  const retained = heap() - base;
  if (kept === undefined) throw new Error('step kept nothing');
  const mb = (b: number): number => Math.round((b / MB) * 10) / 10;
  return [mb(retained), mb(Math.max(peak, retained))];
}

async function objectsStep(n: number): Promise<[number, number]> {
  return measure(async (sample) => (await knownSet(reader(n, sample), 'tm', quiet)).known);
}

async function fullSetStep(n: number): Promise<[number, number]> {
  return measure(async (sample) => {
    const ks = await knownSet(reader(WORKING_SET, sample), 'tm', quiet);
    const sink: IngestSink = { add: () => undefined, commit: () => Promise.resolve(), abort: () => Promise.resolve() };
    // The full set (n records, held by the database, not by the run) answers: every other candidate exists.
    let asked = 0;
    const filter = new KnownFilterSink(sink, () => { sample(); return Promise.resolve(n > 0 && asked++ % 2 === 0); });
    for (let i = 0; i < CANDIDATES; i++) {
      const value = `c${i}.bench.example`;
      const ind: IngestedIndicator = { type: 'domain', value, pattern: `[domain-name:value = '${value}']`, digest: indicatorDigest({ type: 'domain', value }) };
      await filter.add(ind);
      if (i % 1000 === 0) sample();
    }
    await filter.commit(emptyReport());
    return ks.known;
  });
}

async function main(): Promise<void> {
  const results: BenchResult[] = [];
  for (const n of counts) {
    const [retained, peak] = await objectsStep(n);
    progress(`objects, ${n} existing: retained ${retained} MB, peak ${peak} MB`);
    results.push({ metric: `objects ${n}: retained heap`, value: retained, unit: 'MB' }, { metric: `objects ${n}: peak heap`, value: peak, unit: 'MB' });
    const [r2, p2] = await fullSetStep(n);
    progress(`full set, ${n} existing (working set ${WORKING_SET}, ${CANDIDATES} candidates): retained ${r2} MB, peak ${p2} MB`);
    results.push({ metric: `full set ${n}: retained heap`, value: r2, unit: 'MB' }, { metric: `full set ${n}: peak heap`, value: p2, unit: 'MB' });
  }
  emit(results);
}

if (process.argv.includes('--help')) process.stdout.write('npm run bench -- knownset [COUNTS]: heap of a Feed run\'s known-set step against COUNTS existing indicators (comma-separated; BENCH_KNOWNSET_COUNTS; default 10000,100000,1000000)\n');
else await main();

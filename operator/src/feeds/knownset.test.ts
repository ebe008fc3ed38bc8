import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { indicatorDigest, indicatorObjectName } from '../domain/canonical.ts';
import { createLogger } from '../log.ts';
import { ApiError, type KubeReader } from '../runtime/client.ts';
import type { IngestSink } from './ingest.ts';
import { KnownFilterSink, knownSet } from './knownset.ts';
import { emptyReport, type IngestedIndicator, type RunReport } from './pipeline.ts';

function ind(i: number): IngestedIndicator {
  const value = `h${i}.known.example`;
  return { type: 'domain', value, pattern: `[domain-name:value = '${value}']`, digest: indicatorDigest({ type: 'domain', value }) };
}

/** An inner sink that records what reaches it. */
function recorder(): IngestSink & { added: string[]; committed: RunReport[]; aborted: number } {
  const r = { added: [] as string[], committed: [] as RunReport[], aborted: 0 };
  return Object.assign(r, {
    add: (x: IngestedIndicator): void => { r.added.push(x.value); },
    commit: (rep: RunReport): Promise<void> => { r.committed.push(rep); return Promise.resolve(); },
    abort: (): Promise<void> => { r.aborted++; return Promise.resolve(); },
  });
}

const TABLE: ReadonlyArray<{ name: string; count: number; held: (i: number) => boolean; batchSize: number; concurrency: number }> = [
  { name: 'nothing held', count: 10, held: () => false, batchSize: 4, concurrency: 2 },
  { name: 'everything held', count: 10, held: () => true, batchSize: 4, concurrency: 2 },
  { name: 'every third held, one batch', count: 30, held: (i) => i % 3 === 0, batchSize: 256, concurrency: 16 },
  { name: 'every other held, batch of one', count: 7, held: (i) => i % 2 === 1, batchSize: 1, concurrency: 4 },
  { name: 'empty run', count: 0, held: () => true, batchSize: 4, concurrency: 2 },
];

for (const row of TABLE) {
  test(`KnownFilterSink: ${row.name}: held candidates dropped and counted as duplicates, the rest passed on in order`, async () => {
    const names = new Map(Array.from({ length: row.count }, (_, i) => [indicatorObjectName(ind(i)), i]));
    let inFlight = 0;
    let peak = 0;
    let calls = 0;
    const exists = async (name: string): Promise<boolean> => {
      calls++;
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return row.held(names.get(name)!);
    };
    const inner = recorder();
    const sink = new KnownFilterSink(inner, exists, { batchSize: row.batchSize, concurrency: row.concurrency });
    const report = { ...emptyReport(), new: row.count, duplicate: 5 };
    for (let i = 0; i < row.count; i++) await sink.add(ind(i));
    await sink.commit(report);
    const expected = Array.from({ length: row.count }, (_, i) => i).filter((i) => !row.held(i));
    assert.deepEqual(inner.added, expected.map((i) => ind(i).value));
    assert.equal(calls, row.count);
    assert.ok(peak <= row.concurrency, `${peak} gets in flight, more than ${row.concurrency}`);
    assert.equal(report.new, expected.length);
    assert.equal(report.duplicate, 5 + row.count - expected.length);
    assert.equal(inner.committed.length, 1);
  });
}

async function spools(): Promise<number> {
  return (await readdir(tmpdir())).filter((f) => f.startsWith('threatmesh-candidates-')).length;
}

test('KnownFilterSink: a failing check fails the commit, passes nothing on, and leaves no spool; abort after it is harmless', async () => {
  const before = await spools();
  const inner = recorder();
  const sink = new KnownFilterSink(inner, () => Promise.reject(new ApiError(503, 'ServiceUnavailable', 'down')), { batchSize: 2 });
  for (let i = 0; i < 5; i++) await sink.add(ind(i));
  assert.equal(await spools(), before + 1);
  await assert.rejects(sink.commit(emptyReport()), /down/);
  assert.equal(await spools(), before);
  await sink.abort(emptyReport());
  assert.deepEqual(inner.added, []);
  assert.deepEqual([inner.committed.length, inner.aborted], [0, 1]);
});

test('KnownFilterSink: abort of a failed run checks nothing and removes the spool', async () => {
  const before = await spools();
  const inner = recorder();
  let calls = 0;
  const sink = new KnownFilterSink(inner, () => { calls++; return Promise.resolve(false); });
  await sink.add(ind(0));
  await sink.abort(emptyReport());
  assert.deepEqual([calls, inner.added.length, inner.aborted, await spools()], [0, 0, 1, before]);
});

/** A KubeReader whose ThreatIndicator list holds `objects` and whose replica probe answers `probe`. */
function reader(objects: string[], probe: () => Promise<void>): KubeReader {
  return {
    get: () => Promise.resolve(undefined),
    list: (ref) => (ref.group === 'replica.threatmesh.io'
      ? probe().then(() => ({ items: [], metadata: { resourceVersion: '1' } }))
      : Promise.resolve({ items: objects.map((name) => ({ metadata: { name } })), metadata: { resourceVersion: '1' } })) as never,
    watch: () => { throw new Error('no watch'); },
  };
}

const PROBES: ReadonlyArray<{ name: string; probe: () => Promise<void>; fullSet: boolean; fix?: RegExp }> = [
  { name: 'served', probe: () => Promise.resolve(), fullSet: true },
  { name: 'not installed (404)', probe: () => Promise.reject(new ApiError(404, 'NotFound', 'the server could not find the requested resource')), fullSet: false, fix: /install the replica API/ },
  { name: 'forbidden (403)', probe: () => Promise.reject(new ApiError(403, 'Forbidden', 'no')), fullSet: false, fix: /grant get and list on threatindicators\.replica\.threatmesh\.io in tm/ },
  { name: 'unavailable (503)', probe: () => Promise.reject(new ApiError(503, 'ServiceUnavailable', 'no endpoints')), fullSet: false, fix: /kubectl get apiservice/ },
];

for (const row of PROBES) {
  test(`knownSet: replica API ${row.name}: full-set check ${row.fullSet ? 'on' : 'off, with a warning saying how to fix it'}; the working set is known either way`, async () => {
    const lines: string[] = [];
    const out = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(chunk.toString()); cb(); } });
    const ks = await knownSet(reader([indicatorObjectName(ind(1))], row.probe), 'tm', createLogger(out, 'info'));
    assert.equal(ks.fullSet, row.fullSet);
    assert.equal(ks.known(ind(1).digest), true);
    assert.equal(ks.known(ind(2).digest), false);
    const inner = recorder();
    assert.equal(ks.wrap(inner) === inner, !row.fullSet);
    if (row.fix === undefined) assert.equal(lines.length, 0);
    else assert.match((JSON.parse(lines[0]!) as { fix: string }).fix, row.fix);
  });
}

test('knownSet: an error that is not an API answer (the API server unreachable) is not hidden by the fallback', async () => {
  await assert.rejects(knownSet(reader([], () => Promise.reject(new Error('ECONNREFUSED'))), 'tm', createLogger(new Writable({ write: (_c, _e, cb) => cb() }))), /ECONNREFUSED/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { indicatorDigest, indicatorObjectName } from '../domain/canonical.ts';
import { createLogger } from '../log.ts';
import { ApiError, type KubeReader } from '../runtime/client.ts';
import type { IngestSink } from './ingest.ts';
import { OnceNotices } from './notices.ts';
import { DEFAULT_LIST_THRESHOLD, DEFAULT_SELECT_SIZE, KnownFilterSink, knownSet, nameSelector, replicaReader, type FullSetReader } from './knownset.ts';
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

/** A full set that holds candidate `i` when `held(i)`, plus `extra` names of indicators that are no candidates and one name of another form. */
function fullSet(count: number, held: (i: number) => boolean, exists: (name: string) => Promise<boolean>, extra = 3): FullSetReader & { pageSizes: number[] } {
  const names = [
    ...Array.from({ length: count }, (_, i) => i).filter(held).map((i) => indicatorObjectName(ind(i))),
    ...Array.from({ length: extra }, (_, i) => indicatorObjectName(ind(1_000_000 + i))),
    'not-an-indicator-name',
  ];
  const pageSizes: number[] = [];
  return {
    exists, pageSizes,
    pages: async function* (pageSize) {
      for (let at = 0; at < names.length; at += pageSize) {
        pageSizes.push(pageSize);
        await new Promise((r) => setImmediate(r));
        yield names.slice(at, at + pageSize);
      }
    },
  };
}

const TABLE: ReadonlyArray<{ name: string; count: number; held: (i: number) => boolean; batchSize: number; concurrency: number; listThreshold?: number; mode: 'get' | 'list' | undefined }> = [
  { name: 'nothing held', count: 10, held: () => false, batchSize: 4, concurrency: 2, mode: 'get' },
  { name: 'everything held', count: 10, held: () => true, batchSize: 4, concurrency: 2, mode: 'get' },
  { name: 'every third held, one batch', count: 30, held: (i) => i % 3 === 0, batchSize: 256, concurrency: 16, mode: 'get' },
  { name: 'every other held, batch of one', count: 7, held: (i) => i % 2 === 1, batchSize: 1, concurrency: 4, mode: 'get' },
  { name: 'empty run', count: 0, held: () => true, batchSize: 4, concurrency: 2, mode: undefined },
  { name: 'at the threshold: a get each', count: 8, held: (i) => i % 3 === 0, batchSize: 4, concurrency: 2, listThreshold: 8, mode: 'get' },
  { name: 'one above the threshold: the listed set', count: 9, held: (i) => i % 3 === 0, batchSize: 4, concurrency: 2, listThreshold: 8, mode: 'list' },
  { name: 'listed set, nothing held', count: 12, held: () => false, batchSize: 5, concurrency: 2, listThreshold: 0, mode: 'list' },
  { name: 'listed set, everything held', count: 12, held: () => true, batchSize: 5, concurrency: 2, listThreshold: 0, mode: 'list' },
  { name: 'listed set, every other held, many pages', count: 40, held: (i) => i % 2 === 0, batchSize: 7, concurrency: 2, listThreshold: 10, mode: 'list' },
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
    const full = fullSet(row.count, row.held, exists);
    const inner = recorder();
    const sink = new KnownFilterSink(inner, full, { batchSize: row.batchSize, concurrency: row.concurrency, listThreshold: row.listThreshold, pageSize: 3 });
    const report = { ...emptyReport(), new: row.count, duplicate: 5 };
    for (let i = 0; i < row.count; i++) await sink.add(ind(i));
    await sink.commit(report);
    const expected = Array.from({ length: row.count }, (_, i) => i).filter((i) => !row.held(i));
    assert.deepEqual(inner.added, expected.map((i) => ind(i).value));
    assert.equal(sink.mode, row.mode);
    // One path only: gets, or the listing (in pages of the configured size) and no get.
    assert.equal(calls, row.mode === 'get' ? row.count : 0);
    assert.equal(full.pageSizes.length > 0, row.mode === 'list');
    assert.ok(full.pageSizes.every((n) => n === 3));
    assert.ok(peak <= row.concurrency, `${peak} gets in flight, more than ${row.concurrency}`);
    assert.equal(report.new, expected.length);
    assert.equal(report.duplicate, 5 + row.count - expected.length);
    assert.equal(inner.committed.length, 1);
  });
}

test(`KnownFilterSink: the default threshold is ${DEFAULT_LIST_THRESHOLD} candidates`, async () => {
  for (const [count, mode] of [[DEFAULT_LIST_THRESHOLD, 'get'], [DEFAULT_LIST_THRESHOLD + 1, 'list']] as const) {
    const sink = new KnownFilterSink(recorder(), fullSet(count, () => false, () => Promise.resolve(false), 0));
    for (let i = 0; i < count; i++) await sink.add(ind(i));
    await sink.commit(emptyReport());
    assert.equal(sink.mode, mode, `${count} candidates`);
  }
});

async function spools(): Promise<number> {
  return (await readdir(tmpdir())).filter((f) => f.startsWith('threatmesh-candidates-')).length;
}

const down = (): Promise<never> => Promise.reject(new ApiError(503, 'ServiceUnavailable', 'down'));
const FAILURES: ReadonlyArray<{ name: string; full: FullSetReader; listThreshold: number }> = [
  { name: 'a get', full: { exists: down, pages: () => { throw new Error('listed on the get path'); } }, listThreshold: 10 },
  { name: 'the first page of the list', full: { exists: down, pages: async function* () { yield await down(); } }, listThreshold: 0 },
  { name: 'a later page of the list', full: { exists: down, pages: async function* () { yield [indicatorObjectName(ind(0))]; yield await down(); } }, listThreshold: 0 },
];

for (const row of FAILURES) {
  test(`KnownFilterSink: a failing check (${row.name}) fails the commit, passes nothing on, and leaves no spool; abort after it is harmless`, async () => {
    const before = await spools();
    const inner = recorder();
    const sink = new KnownFilterSink(inner, row.full, { batchSize: 2, listThreshold: row.listThreshold });
    for (let i = 0; i < 5; i++) await sink.add(ind(i));
    assert.equal(await spools(), before + 1);
    await assert.rejects(sink.commit(emptyReport()), /down/);
    assert.equal(await spools(), before);
    await sink.abort(emptyReport());
    assert.deepEqual(inner.added, []);
    assert.deepEqual([inner.committed.length, inner.aborted], [0, 1]);
  });
}

test('KnownFilterSink: abort of a failed run checks nothing and removes the spool', async () => {
  const before = await spools();
  const inner = recorder();
  let calls = 0;
  const sink = new KnownFilterSink(inner, { exists: () => { calls++; return Promise.resolve(false); }, pages: async function* () { calls++; yield await Promise.resolve([]); } });
  await sink.add(ind(0));
  await sink.abort(emptyReport());
  assert.deepEqual([calls, inner.added.length, inner.aborted, await spools()], [0, 0, 1, before]);
});

test('KnownFilterSink: a spool that cannot be made fails the add with an error naming the place and the fix, and abort leaves nothing', async () => {
  const inner = recorder();
  const sink = new KnownFilterSink(inner, { exists: () => Promise.resolve(false), pages: async function* () { yield await Promise.resolve([]); } }, { spoolDir: '/nonexistent/threatmesh-tmp' });
  await assert.rejects(Promise.resolve(sink.add(ind(0))), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'spool-failed');
    assert.match(err.message, /\/nonexistent\/threatmesh-tmp\/threatmesh-candidates-.*the directory does not exist \(ENOENT\).*point TMPDIR at a writable directory/);
    return true;
  });
  await sink.abort(emptyReport());
  assert.deepEqual([inner.added.length, inner.aborted], [0, 1]);
});

test('KnownFilterSink: abort after spooled writes removes the spool, and nothing is added after it', async () => {
  const before = await spools();
  const inner = recorder();
  const sink = new KnownFilterSink(inner, { exists: () => Promise.resolve(false), pages: async function* () { yield await Promise.resolve([]); } });
  // Past several 64 KiB buffers, so writes are queued when abort comes.
  for (let i = 0; i < 3000; i++) await sink.add(ind(i));
  await sink.abort(emptyReport());
  assert.equal(await spools(), before);
  await assert.rejects(Promise.resolve(sink.add(ind(1))), /aborted or committed/);
  assert.deepEqual([inner.added.length, inner.aborted], [0, 1]);
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
  { name: 'older, without the name selector (400)', probe: () => Promise.reject(new ApiError(400, 'BadRequest', 'label selector "threatmesh.io/name in (x)" is not supported')), fullSet: true, fix: /upgrade the replica API/ },
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

test('replicaReader: lists the replica API page by page, following continue tokens, with the page size as limit', async () => {
  const calls: Array<{ limit?: number; continue?: string; namespace?: string; group: string }> = [];
  const pagesOf: Record<string, { names: string[]; next: string }> = { '': { names: ['a', 'b'], next: 't1' }, t1: { names: ['c', 'd'], next: 't2' }, t2: { names: ['e'], next: '' } };
  const kube = {
    get: () => Promise.resolve(undefined),
    list: (ref: { group: string }, opts: { limit?: number; continue?: string; namespace?: string }) => {
      calls.push({ ...opts, group: ref.group });
      const p = pagesOf[opts.continue ?? '']!;
      return Promise.resolve({ items: p.names.map((name) => ({ metadata: { name } })), metadata: { resourceVersion: '1', continue: p.next } });
    },
    watch: () => { throw new Error('no watch'); },
  } as unknown as KubeReader;
  const seen: string[][] = [];
  for await (const page of replicaReader(kube, 'tm').pages(2)) seen.push([...page]);
  assert.deepEqual(seen, [['a', 'b'], ['c', 'd'], ['e']]);
  assert.deepEqual(calls, [
    { namespace: 'tm', limit: 2, group: 'replica.threatmesh.io' },
    { namespace: 'tm', limit: 2, continue: 't1', group: 'replica.threatmesh.io' },
    { namespace: 'tm', limit: 2, continue: 't2', group: 'replica.threatmesh.io' },
  ]);
});

const SELECT_TABLE: ReadonlyArray<{ name: string; count: number; held: (i: number) => boolean; selectSize?: number; inFlight?: number; requests: number }> = [
  { name: 'nothing held, one request', count: 10, held: () => false, requests: 1 },
  { name: 'everything held, batches of 4', count: 10, held: () => true, selectSize: 4, requests: 3 },
  { name: 'every third held, exact batches', count: 12, held: (i) => i % 3 === 0, selectSize: 4, requests: 3 },
  { name: 'every other held, one request at a time', count: 20, held: (i) => i % 2 === 0, selectSize: 3, inFlight: 1, requests: 7 },
  { name: 'every other held, 4 requests in flight, answers applied in order', count: 40, held: (i) => i % 2 === 1, selectSize: 3, inFlight: 4, requests: 14 },
  { name: 'empty run: no request', count: 0, held: () => true, requests: 0 },
  { name: `more candidates than the old threshold: still one request per ${DEFAULT_SELECT_SIZE}`, count: DEFAULT_LIST_THRESHOLD + 1, held: (i) => i % 5 === 0, requests: Math.ceil((DEFAULT_LIST_THRESHOLD + 1) / DEFAULT_SELECT_SIZE) },
];

for (const row of SELECT_TABLE) {
  test(`KnownFilterSink, name selector: ${row.name}: one request per batch, no get, no listing`, async () => {
    const names = new Map(Array.from({ length: row.count }, (_, i) => [indicatorObjectName(ind(i)), i]));
    const asked: number[] = [];
    let inFlight = 0;
    let peak = 0;
    const full: FullSetReader = {
      exists: () => Promise.reject(new Error('a get on the select path')),
      pages: () => { throw new Error('listed on the select path'); },
      existing: async (batch) => {
        asked.push(batch.length);
        peak = Math.max(peak, ++inFlight);
        // Later requests answer sooner, so out-of-order answers would show in the order passed on.
        for (let k = 0; k < 20 - asked.length % 5; k++) await new Promise((r) => setImmediate(r));
        inFlight--;
        // The server answers only names it holds; an extra name it holds but nobody asked for must not matter.
        return new Set([...batch.filter((n) => row.held(names.get(n)!)), indicatorObjectName(ind(9_999_999))]);
      },
    };
    const inner = recorder();
    const sink = new KnownFilterSink(inner, full, { ...(row.selectSize !== undefined ? { selectSize: row.selectSize } : {}), ...(row.inFlight !== undefined ? { selectInFlight: row.inFlight } : {}), listThreshold: 0 });
    for (let i = 0; i < row.count; i++) await sink.add(ind(i));
    const report = { ...emptyReport(), new: row.count };
    await sink.commit(report);
    const expected = Array.from({ length: row.count }, (_, i) => i).filter((i) => !row.held(i));
    assert.deepEqual(inner.added, expected.map((i) => ind(i).value));
    assert.equal(sink.mode, row.count === 0 ? undefined : 'select');
    assert.equal(asked.length, row.requests);
    assert.ok(asked.every((n) => n <= (row.selectSize ?? DEFAULT_SELECT_SIZE)));
    assert.ok(peak <= (row.inFlight ?? 2), `${peak} requests in flight`);
    if (row.requests > (row.inFlight ?? 2)) assert.equal(peak, row.inFlight ?? 2, 'requests overlap up to the bound');
    assert.deepEqual([report.new, report.duplicate], [expected.length, row.count - expected.length]);
  });
}

test('KnownFilterSink, name selector: a failing request fails the commit and passes nothing on, with requests in flight and no unhandled rejection', async () => {
  const inner = recorder();
  const sink = new KnownFilterSink(inner, { exists: down, pages: () => { throw new Error('listed'); }, existing: down }, { selectSize: 2, selectInFlight: 3 });
  for (let i = 0; i < 5; i++) await sink.add(ind(i));
  await assert.rejects(sink.commit(emptyReport()), /down/);
  assert.deepEqual(inner.added, []);
});

test('replicaReader: a set of names is one list with the name selector, following continue tokens; without select it has no set query', async () => {
  const calls: Array<Record<string, unknown>> = [];
  const kube = {
    get: () => Promise.resolve(undefined),
    list: (_ref: unknown, opts: { continue?: string }) => {
      calls.push({ ...opts });
      return Promise.resolve(opts.continue === undefined
        ? { items: [{ metadata: { name: 'a' } }], metadata: { resourceVersion: '', continue: 'n.YQ' } }
        : { items: [{ metadata: { name: 'c' } }], metadata: { resourceVersion: '' } });
    },
    watch: () => { throw new Error('no watch'); },
  } as unknown as KubeReader;
  const held = await replicaReader(kube, 'tm').existing!(['a', 'b', 'c']);
  assert.deepEqual([...held], ['a', 'c']);
  assert.deepEqual(calls, [
    { namespace: 'tm', labelSelector: 'threatmesh.io/name in (a,b,c)' },
    { namespace: 'tm', labelSelector: 'threatmesh.io/name in (a,b,c)', continue: 'n.YQ' },
  ]);
  assert.equal(nameSelector(['x']), 'threatmesh.io/name in (x)');
  assert.equal(replicaReader(kube, 'tm', false).existing, undefined);
});

test('knownSet: a replica API that is not installed warns on the first run of a process only; later runs log it at debug', async () => {
  const lines: Array<{ level: string; msg: string; status?: number }> = [];
  const out = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(...chunk.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { level: string; msg: string })); cb(); } });
  const log = createLogger(out, 'debug');
  const notInstalled = (): Promise<void> => Promise.reject(new ApiError(404, 'NotFound', 'the server could not find the requested resource'));
  const forbidden = (): Promise<void> => Promise.reject(new ApiError(403, 'Forbidden', 'no'));
  const notices = new OnceNotices();
  for (let run = 0; run < 3; run++) assert.equal((await knownSet(reader([], notInstalled), 'tm', log, { notices })).fullSet, false);
  // Another status is another story: warned once too.
  await knownSet(reader([], forbidden), 'tm', log, { notices });
  await knownSet(reader([], forbidden), 'tm', log, { notices });
  const said = lines.filter((l) => l.msg.startsWith('the replica API cannot be read')).map((l) => `${l.level}:${l.status ?? ''}`);
  assert.deepEqual(said, ['warn:404', 'debug:404', 'debug:404', 'warn:403', 'debug:403']);
  assert.deepEqual(notices.given(), ['replica-api-unreadable:404', 'replica-api-unreadable:403']);
  // Without notices (a Job: one process per run) every call warns, as before.
  await knownSet(reader([], notInstalled), 'tm', log);
  assert.equal(lines.at(-1)?.level, 'warn');
});

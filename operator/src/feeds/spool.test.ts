import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NdjsonSpool, spoolError } from './spool.ts';
import { FeedError } from './types.ts';
import { ProposalSink } from './propose.ts';
import type { IngestedIndicator } from './pipeline.ts';
import type { KubeWriter } from '../runtime/client.ts';
import { emptyReport } from './pipeline.ts';

const FILL = fileURLToPath(new URL('testdata/spoolfill.ts', import.meta.url));

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-spool-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function indicator(i: number): IngestedIndicator {
  const value = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return { type: 'ipv4', value, pattern: `[ipv4-addr:value = '${value}']`, digest: i.toString(16).padStart(64, '0'), fields: undefined, where: `line ${i}` };
}

/** Records whose spooled lines must read back as JSON.stringify wrote them, in order, across many 64 KiB buffers. */
const ROUND_TRIP: ReadonlyArray<{ name: string; records: () => object[] }> = [
  { name: 'flat lines over 40 buffers', records: () => Array.from({ length: 20_000 }, (_, i) => ({ type: 'ipv4', value: indicator(i).value, digest: indicator(i).digest, extra: {} })) },
  { name: 'escapes, non-ASCII, numbers and arrays (JSON.stringify path) mixed with flat lines', records: () => Array.from({ length: 3_000 }, (_, i) => (i % 3 === 0 ? { value: `a"b\\c ${i} ✓ 😀 \u0001`, extra: { labels: ['x', `y${i}`], confidence: i % 100 } } : { value: `v${i}` })) },
  { name: 'lines longer than one buffer between short ones', records: () => [{ v: 'a' }, { v: 'x'.repeat(200_000) }, { v: 'b' }, { v: 'é'.repeat(70_000), n: 1 }, { v: 'c' }] },
];

for (const c of ROUND_TRIP) {
  test(`a spool reads back what JSON.stringify writes: ${c.name}`, async (t) => {
    const dir = await scratch(t);
    const spool = await NdjsonSpool.create('threatmesh-proposals-', dir);
    const records = c.records();
    for (const r of records) await spool.append(r);
    await spool.finish();
    assert.equal(await readFile(spool.path, 'utf8'), records.map((r) => JSON.stringify(r) + '\n').join(''));
    const lines: string[] = [];
    for await (const l of spool.lines()) lines.push(l);
    assert.equal(lines.length, records.length);
    await spool.discard();
    assert.deepEqual(await readdir(dir), [], 'discard removes the spool directory');
  });
}

/** Messages of spool errors: each names the file, the cause and what to do. */
const MESSAGES: ReadonlyArray<{ code: string; has: readonly string[] }> = [
  { code: 'ENOSPC', has: ['/t/s.ndjson', 'the disk is full (ENOSPC)', 'nothing was proposed', 'make room on the file system of /t'] },
  { code: 'EFBIG', has: ['/t/s.ndjson', 'RLIMIT_FSIZE', 'make room'] },
  { code: 'EDQUOT', has: ['quota', 'make room'] },
  { code: 'EROFS', has: ['read-only (EROFS)', 'point TMPDIR at a writable directory instead of /t'] },
  { code: 'EIO', has: ['boom (EIO)', 'make room'] },
];

for (const c of MESSAGES) {
  test(`spoolError names the file and the fix: ${c.code}`, () => {
    const e = spoolError('/t/s.ndjson', '/t', Object.assign(new Error('boom'), { code: c.code }));
    assert.ok(e instanceof FeedError && e.code === 'spool-failed');
    for (const h of c.has) assert.ok(e.message.includes(h), `${JSON.stringify(h)} in ${e.message}`);
  });
}

test('a spool takes nothing after finish or discard, and says so', async (t) => {
  const spool = await NdjsonSpool.create('threatmesh-proposals-', await scratch(t));
  await spool.finish();
  await assert.rejects(Promise.resolve(spool.append({ a: 'b' })), /is finished: nothing more can be added/);
  await spool.discard();
  await assert.rejects(Promise.resolve(spool.append({ a: 'b' })), /is discarded/);
});

test('a file size limit (ulimit -f, EFBIG) fails the spool with a clear error, no crash, nothing left', async (t) => {
  const dir = await scratch(t);
  // 64 blocks of 1 KiB; 5,000 lines are about 800 KB. Node ignores SIGXFSZ, so the write fails with EFBIG.
  const out = await new Promise<string>((resolve, reject) => {
    execFile('sh', ['-c', 'ulimit -f 64 && exec "$0" "$@"', process.execPath, FILL, dir, '5000'], { encoding: 'utf8' }, (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${err.message}\n${stderr}`))));
  });
  const r = JSON.parse(out) as { ok: boolean; code?: string; message?: string; left?: string[] };
  assert.equal(r.ok, false, 'the spool must fail past the limit');
  assert.equal(r.code, 'spool-failed');
  assert.match(r.message ?? '', new RegExp(`cannot write the proposal spool ${dir}/threatmesh-proposals-\\w+/spool\\.ndjson: the file size limit is reached .*\\(EFBIG\\).*make room on the file system of ${dir}`));
  assert.deepEqual(r.left, [], 'the spool directory is removed');
});

/** A KubeWriter that must never be called: the runs below never commit. */
function noCreates(): KubeWriter & { calls: number } {
  const w = { calls: 0 } as KubeWriter & { calls: number };
  const refuse = (): Promise<never> => {
    w.calls++;
    return Promise.reject(new Error('nothing may be created'));
  };
  return Object.assign(w, { create: refuse, patch: refuse, delete: refuse, update: refuse, apply: refuse });
}

const CTX = { namespace: 'ns', feed: 'ns/f', feedName: 'f', now: () => new Date(0) };

test('abort with the spool still opening: waits for it, removes it, and the sink takes nothing after', async (t) => {
  const dir = await scratch(t);
  const kube = noCreates();
  const sink = new ProposalSink(kube, CTX, 8, dir);
  const first = sink.add(indicator(1));
  assert.ok(first instanceof Promise, 'the first add opens the spool');
  await sink.abort(emptyReport());
  await first;
  assert.deepEqual(await readdir(dir), [], 'no spool left behind');
  await assert.rejects(Promise.resolve(sink.add(indicator(2))), /aborted or committed/);
  assert.equal(kube.calls, 0);
});

test('abort with writes pending: no unhandled error, the spool is removed, nothing is proposed', async (t) => {
  const dir = await scratch(t);
  const kube = noCreates();
  const unhandled: unknown[] = [];
  const onErr = (e: unknown): void => { unhandled.push(e); };
  process.on('uncaughtException', onErr);
  process.on('unhandledRejection', onErr);
  t.after(() => {
    process.off('uncaughtException', onErr);
    process.off('unhandledRejection', onErr);
  });
  const sink = new ProposalSink(kube, CTX, 8, dir);
  await sink.add(indicator(0));
  // Add until a buffer is handed to the disk; abort at once, with that write in flight and more lines buffered.
  let pending: Promise<void> | undefined;
  for (let i = 1; pending === undefined; i++) pending = sink.add(indicator(i)) ?? undefined;
  const aborted = sink.abort(emptyReport());
  const late = assert.rejects(Promise.resolve(sink.add(indicator(999_999))), /aborted or committed/);
  await aborted;
  await Promise.allSettled([pending]);
  await late;
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(unhandled, []);
  assert.deepEqual(await readdir(dir), [], 'no spool left behind');
  assert.equal(kube.calls, 0);
});

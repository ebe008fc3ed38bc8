import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indicatorDigest } from '../domain/canonical.ts';
import { DigestSet } from '../domain/digestset.ts';
import { parsePayload, runIngestion, type IngestSink } from './ingest.ts';
import { unpack } from './decompress.ts';
import { runPipeline, total, type IngestedIndicator, type RunReport } from './pipeline.ts';
import { fixture } from './testing.ts';
import { FeedError, type ParseBatch } from './types.ts';
import { buildWarningList, loadWarningLists, type WarningList } from './warninglists.ts';

async function* batches(list: ParseBatch[], failWith?: Error): AsyncGenerator<ParseBatch> {
  for (const b of list) yield await Promise.resolve(b);
  if (failWith !== undefined) throw failWith;
}

const noLists: WarningList = buildWarningList({ reservedCidrs: ['10.0.0.0/8'], resolvers: [], specialDomains: [], topDomains: ['google.com'], knownGoodHashes: [] });

describe('runPipeline', () => {
  test('every entry lands in exactly one bucket; duplicates within the run and known ones are not new', async () => {
    const out: IngestedIndicator[] = [];
    const knownOne = indicatorDigest({ type: 'domain', value: 'known.example.net' });
    const r = await runPipeline(batches([
      { records: [{ value: '1.2.3.4' }, { value: '1.2.3.4' }, { value: 'EVIL.example.net.' }, { value: 'known.example.net' }, { value: '10.1.2.3' }, { value: 'mail.google.com' }], rejections: [], skips: [] },
      { records: [{ value: '???' }, { value: '1.2.3.999', type: 'ipv4' }, { value: 'evil.example.net' }], rejections: [{ reason: 'missing-column', message: 'm', input: 'i' }], skips: ['stix-not-indicator'] },
    ]), { warningList: noLists, known: (d) => d === knownOne, sink: (i) => { out.push(i); } });
    assert.deepEqual(out.map((i) => `${i.type}:${i.value}`), ['ipv4:1.2.3.4', 'domain:evil.example.net']);
    assert.equal(out[0]?.digest, indicatorDigest({ type: 'ipv4', value: '1.2.3.4' }));
    assert.equal(out[0]?.pattern, "[ipv4-addr:value = '1.2.3.4']");
    assert.deepEqual({ fetched: r.fetched, parsed: r.parsed, new: r.new, duplicate: r.duplicate, dropped: r.droppedByWarningList }, { fetched: 11, parsed: 7, new: 2, duplicate: 3, dropped: 2 });
    assert.deepEqual(r.rejected, { 'unknown-type': 1, 'invalid-ipv4': 1, 'missing-column': 1 });
    assert.deepEqual(r.warningLists, { 'reserved-ip': 1, 'top-domain': 1 });
    assert.equal(r.fetched, r.parsed + total(r.rejected) + total(r.skipped));
    assert.equal(r.parsed, r.new + r.duplicate + r.droppedByWarningList);
  });

  test('a trailing dot in a URL host neither makes a second identity nor slips past URL warning lists and allowlists (trust model)', async () => {
    const out: IngestedIndicator[] = [];
    const wl = await loadWarningLists(['http://partner-portal.net/login']);
    const r = await runPipeline(batches([{ records: [
      { value: 'http://malware-drop.net./a', type: 'url' }, { value: 'http://malware-drop.net/a', type: 'url' },
      { value: 'http://localhost./admin', type: 'url' }, { value: 'http://partner-portal.net./login', type: 'url' },
    ], rejections: [], skips: [] }]), { warningList: wl, sink: (i) => { out.push(i); } });
    assert.deepEqual(out.map((i) => i.value), ['http://malware-drop.net/a']);
    assert.equal(r.duplicate, 1, 'the dotted spelling is the same indicator');
    assert.deepEqual(r.warningLists, { 'special-domain': 1, allowlist: 1 });
  });

  test('async known() and an async sink are awaited; at most 3 examples per reason', async () => {
    const out: string[] = [];
    const recs = Array.from({ length: 5 }, (_, i) => ({ value: `bad_${i}`, type: 'domain' as const }));
    const r = await runPipeline(batches([{ records: [...recs, { value: 'a.example.net' }], rejections: [], skips: [] }]), {
      known: async () => { await new Promise((res) => setImmediate(res)); return false; },
      sink: async (i) => { await new Promise((res) => setImmediate(res)); out.push(i.value); },
    });
    assert.deepEqual(out, ['a.example.net']);
    assert.equal(r.rejected['invalid-domain'], 5);
    assert.equal(r.examples['invalid-domain']?.length, 3);
  });

  test('a sink error propagates and closes the source at once (its download and timers end, not at their timeouts)', async () => {
    let closed = false;
    async function* source(): AsyncGenerator<ParseBatch> {
      try {
        for (let i = 0; ; i++) yield await Promise.resolve({ records: [{ value: `11.0.0.${i % 250}` }], rejections: [], skips: [] });
      } finally {
        closed = true;
      }
    }
    const full = new FeedError('spool-failed', 'cannot write the proposal spool /t/s.ndjson: the disk is full (ENOSPC)');
    await assert.rejects(runPipeline(source(), { sink: () => Promise.reject(full) }), full);
    assert.equal(closed, true, 'the source was closed');
  });

  test('a sink error closes a payload source through sniffing and text preparation (a download would otherwise wait for its 10-minute timer)', async () => {
    let closed = false;
    async function* body(): AsyncGenerator<Buffer> {
      try {
        for (let i = 0; ; i++) yield await Promise.resolve(Buffer.from(`11.0.${i % 250}.1\n11.1.${i % 250}.2\n`));
      } finally {
        closed = true;
      }
    }
    const full = new FeedError('spool-failed', 'the disk is full (ENOSPC)');
    const batches = parsePayload({ format: 'lines', lines: {} }, unpack(body(), { maxBytes: 1 << 20, maxDecompressedBytes: 1 << 20 }));
    await assert.rejects(runPipeline(batches, { sink: () => Promise.reject(full) }), full);
    assert.equal(closed, true, 'the payload source was closed');
  });

  test('a parser fault ends the run as failed with the error, counts so far kept for the report', async () => {
    const r = await runPipeline(batches([{ records: [{ value: '1.2.3.4' }], rejections: [], skips: [] }], new FeedError('truncated', 'cut')), { sink: () => undefined });
    assert.equal(r.outcome, 'failed');
    assert.deepEqual(r.error, { code: 'truncated', message: 'cut' });
  });
});

describe('runIngestion rolls back on a fatal fault', () => {
  function recordingSink(): IngestSink & { added: number; committed: RunReport[]; aborted: RunReport[] } {
    const s = { added: 0, committed: [] as RunReport[], aborted: [] as RunReport[], add: () => { s.added++; }, commit: (r: RunReport) => { s.committed.push(r); return Promise.resolve(); }, abort: (r: RunReport) => { s.aborted.push(r); return Promise.resolve(); } };
    return s;
  }

  test('good file: commit; missing file and truncated JSON: abort and failed report', async () => {
    const ok = recordingSink();
    const r1 = await runIngestion({ source: { kind: 'file', path: fixture('openphish-feed.txt') }, parser: { format: 'lines', lines: { type: 'url' } } }, { sink: ok, warningList: await loadWarningLists() });
    assert.equal(r1.report.outcome, 'succeeded');
    assert.equal(ok.committed.length, 1);
    assert.equal(ok.added, 5);

    const missing = recordingSink();
    const r2 = await runIngestion({ source: { kind: 'file', path: fixture('does-not-exist.csv') }, parser: { format: 'lines', lines: {} } }, { sink: missing });
    assert.equal(r2.report.error?.code, 'unreadable');
    assert.deepEqual([missing.committed.length, missing.aborted.length], [0, 1]);
  });
});

test('the de-dup table is bounded: past maxDedupSlots, new indicators still reach the sink and the report says how many were not remembered', async () => {
  const values = Array.from({ length: 5000 }, (_, i) => ({ value: `192.0.${i >> 8}.${i & 255}` }));
  let added = 0;
  const r = await runPipeline(batches([{ records: values, rejections: [], skips: [] }, { records: values, rejections: [], skips: [] }]), { sink: () => { added++; }, maxDedupSlots: 4096 });
  assert.deepEqual({ new: r.new, duplicate: r.duplicate, notRemembered: r.notRemembered, added }, { new: 5000 + 1928, duplicate: 3072, notRemembered: 2 * 1928, added: 5000 + 1928 });
  assert.equal(r.parsed, r.new + r.duplicate + r.droppedByWarningList);
  const small = await runPipeline(batches([{ records: values.slice(0, 10), rejections: [], skips: [] }]), { sink: () => undefined });
  assert.equal(small.notRemembered, undefined, 'the field is absent when everything was remembered');
});

describe('DigestSet', () => {
  test('adds each digest once, across growth', () => {
    const s = new DigestSet();
    const digests = Array.from({ length: 20_000 }, (_, i) => indicatorDigest({ type: 'domain', value: `h${i}.example.net` }));
    assert.ok(digests.every((d) => s.add(d)));
    assert.ok(digests.every((d) => !s.add(d)));
    assert.equal(s.size, 20_000);
    assert.equal(s.add('0'.repeat(64)), true);
    assert.equal(s.add('0'.repeat(64)), false);
  });

  test('a bounded set stops growing, never calls a new digest a duplicate, and counts what it could not remember', () => {
    const s = new DigestSet(undefined, 4096);
    const digests = Array.from({ length: 5000 }, (_, i) => indicatorDigest({ type: 'ipv4', value: `192.0.${i >> 8}.${i & 255}` }));
    assert.ok(digests.every((d) => s.add(d)), 'every first sighting is new');
    assert.equal(s.size, 3072, 'full at 3/4 of 4096 slots');
    assert.equal(s.bytes, 4096 * 12);
    assert.equal(s.overflow, 5000 - 3072);
    assert.deepEqual(digests.map((d) => s.add(d)).filter((isNew) => !isNew).length, 3072, 'repeats of remembered digests are caught');
    assert.equal(s.overflow, 2 * (5000 - 3072));
    assert.ok(digests.slice(0, 3072).every((d) => s.has(d)));
    assert.ok(digests.slice(3072).every((d) => !s.has(d)));
  });

  test('upper- and lower-case hex digits are the same digest; only the first 96 bits count', () => {
    const s = new DigestSet();
    const cases: Array<[string, boolean]> = [
      ['abcdef0123456789abcdef01' + 'f'.repeat(40), true],
      ['ABCDEF0123456789ABCDEF01' + '0'.repeat(40), false],
      ['abcdef0123456789abcdef02' + 'f'.repeat(40), true],
      ['ffffffffffffffffffffffff' + 'f'.repeat(40), true],
      ['FFFFFFFFFFFFFFFFFFFFFFFF' + 'e'.repeat(40), false],
    ];
    for (const [digest, isNew] of cases) assert.equal(s.add(digest), isNew, digest);
  });
});

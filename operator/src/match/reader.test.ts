/** Line-boundary shards, chunking, decompression and its errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import fc from 'fast-check';
import { ScanError } from './errors.ts';
import { loadIndicatorFile } from './indicatorfile.ts';
import { feedLines } from './lines.ts';
import { scanInput } from './scan.ts';
import { lineRange, openRaw } from './source.ts';
import { ScanStats } from './stats.ts';
import type { LogParser } from './formats/parser.ts';

const dir = fileURLToPath(new URL('./testdata/', import.meta.url));

async function* chunked(buf: Buffer, size: number, from = 0): AsyncGenerator<Buffer> {
  for (let i = from; i < buf.length; i += size) {
    await Promise.resolve();
    yield buf.subarray(i, Math.min(buf.length, i + size));
  }
}

/** A parser that records the lines it sees. */
function recorder(out: string[]): LogParser {
  return {
    parse(buf, start, end) {
      for (const l of buf.toString('latin1', start, end).split('\n').slice(0, -1)) out.push(l);
    },
  };
}

test('shards at any byte offsets own every line exactly once', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.string({ unit: fc.constantFrom('a', 'b', ' '), maxLength: 12 }), { minLength: 1, maxLength: 30 }),
    fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), fc.integer({ min: 1, max: 9 }),
    async (lines, cuts, finalNewline, chunk) => {
      const text = lines.join('\n') + (finalNewline ? '\n' : '');
      const buf = Buffer.from(text, 'latin1');
      const bounds = [...new Set([0, ...cuts.map((c) => c % (buf.length + 1)), buf.length])].sort((a, b) => a - b);
      const seen: string[] = [];
      for (let k = 0; k + 1 < bounds.length; k++) {
        const stats = new ScanStats();
        await feedLines(lineRange((from) => chunked(buf, chunk, from), { start: bounds[k] ?? 0, end: bounds[k + 1] }), recorder(seen), stats);
      }
      // A line is the text up to each newline, plus what follows the last newline when non-empty.
      const want = text.split('\n');
      if (want[want.length - 1] === '') want.pop();
      assert.deepEqual(seen, want);
    },
  ), { numRuns: 300 });
});

test('a file read into reused buffers yields exactly the bytes of the range, across many chunks', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'tm-reuse-'));
  try {
    // Bytes that differ from chunk to chunk, so a chunk read into the wrong buffer, or yielded twice, shows.
    const data = Buffer.alloc(700_001);
    for (let i = 0; i < data.length; i++) data[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
    const path = join(tmp, 'data');
    await writeFile(path, data);
    const cases: Array<{ start: number; end?: number }> = [
      { start: 0 }, { start: 1 }, { start: 131_071, end: 131_073 }, { start: 5, end: 400_000 }, { start: 262_144, end: 700_001 },
      { start: 699_999 }, { start: 700_001 }, { start: 10, end: 10 }, { start: 0, end: 9_000_000 },
    ];
    for (const range of cases) {
      const parts: Buffer[] = [];
      // Copied on receipt: a reused chunk is valid only until the next one is asked for.
      for await (const c of openRaw({ kind: 'file', path }, range, { reuseBuffers: true })) parts.push(Buffer.from(c));
      assert.ok(Buffer.concat(parts).equals(data.subarray(range.start, range.end)), JSON.stringify(range));
    }
    await assert.rejects(async () => { for await (const c of openRaw({ kind: 'file', path: join(tmp, 'missing') }, undefined, { reuseBuffers: true })) void c; }, (e: unknown) => e instanceof ScanError && e.code === 'unreadable');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('a long line is rejected and skipped, not buffered; the lines around it survive', async () => {
  const text = `short\n${'x'.repeat(5000)}\nafter\nlast`;
  const seen: string[] = [];
  const stats = new ScanStats();
  await feedLines(chunked(Buffer.from(text), 7), recorder(seen), stats, { maxLineBytes: 1000 });
  assert.deepEqual(seen, ['short', 'after', 'last']);
  assert.deepEqual(stats.rejected, { 'line-too-long': 1 });
});

test('a Zeek log scanned as byte-range shards counts what the whole file counts (the #fields preamble is read for every shard)', async () => {
  const { snapshot } = await loadIndicatorFile(`${dir}indicators.ndjson`);
  const path = `${dir}zeek-dns.log`;
  const whole = await scanInput({ kind: 'file', path }, undefined, { format: 'zeek', snapshot: () => snapshot });
  const size = (await stat(path)).size;
  for (const parts of [2, 3, 7]) {
    const counts = new Map<string, number>();
    let rejected = 0;
    for (let k = 0; k < parts; k++) {
      const range = { start: Math.floor((size * k) / parts), end: Math.floor((size * (k + 1)) / parts) };
      const r = await scanInput({ kind: 'file', path }, range, { format: 'zeek', snapshot: () => snapshot });
      for (const e of r.tally.entries()) counts.set(e.value, (counts.get(e.value) ?? 0) + e.count);
      rejected += r.stats.rejectedTotal;
    }
    assert.deepEqual(Object.fromEntries(counts), Object.fromEntries(whole.tally.entries().map((e) => [e.value, e.count])), `${parts} shards`);
    assert.equal(rejected, whole.stats.rejectedTotal);
  }
});

test('gzip (several members) and zstd (several frames) inputs are read; a truncated one names the byte offset; garbage is corrupt', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'match-z-'));
  try {
    const { snapshot } = await loadIndicatorFile(`${dir}indicators.ndjson`);
    const plain = await readFile(`${dir}zeek-conn.log`);
    const half = plain.indexOf('\n', plain.length >> 1) + 1;
    const gz = Buffer.concat([gzipSync(plain.subarray(0, half)), gzipSync(plain.subarray(half))]);
    const cases: Array<[string, Buffer, string | undefined]> = [
      ['two-members.gz', gz, undefined],
      ['log.zst', zstdCompressSync(plain), undefined],
      // Two frames, as `pzstd` or `cat a.zst b.zst` write them: node's decoder alone kept the first.
      ['two-frames.zst', Buffer.concat([zstdCompressSync(plain.subarray(0, half)), zstdCompressSync(plain.subarray(half))]), undefined],
      ['trailing.zst', Buffer.concat([zstdCompressSync(plain), Buffer.from('not a frame')]), 'corrupt'],
      ['cut.gz', gz.subarray(0, gz.length - 30), 'truncated'],
      ['cut.zst', zstdCompressSync(plain).subarray(0, 100), 'truncated'],
      ['bad.gz', Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(200, 7)]), 'corrupt'],
    ];
    for (const [name, bytes, code] of cases) {
      await writeFile(join(tmp, name), bytes);
      const run = scanInput({ kind: 'file', path: join(tmp, name) }, undefined, { format: 'zeek', snapshot: () => snapshot });
      if (code === undefined) {
        const r = await run;
        assert.equal(r.tally.matchedRecords, 6, name);
        continue;
      }
      await assert.rejects(run, (err: unknown) => {
        assert.ok(err instanceof ScanError, name);
        assert.equal(err.code, code, `${name}: ${err.message}`);
        if (code === 'truncated') assert.match(err.message, new RegExp(`offset ${bytes.length}\\b`), name);
        return true;
      });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

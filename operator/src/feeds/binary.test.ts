import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { parseLines } from './lines.ts';
import { parseJson } from './json.ts';
import { runIngestion, type IngestSink } from './ingest.ts';
import type { IngestedIndicator, RunReport } from './pipeline.ts';
import { chunked, drain, values } from './testing.ts';

const TEXT = 'evil.example.net\n203.0.113.7\nhttp://bad.example.org/x\n';
let dir = '';
before(async () => { dir = await mkdtemp(join(tmpdir(), 'tm-binary-')); });
after(() => rm(dir, { recursive: true, force: true }));

async function file(name: string, data: Buffer): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, data);
  return p;
}

/** A preview run of a local lines feed: what it would propose and its report. */
async function ingestFile(path: string): Promise<{ values: string[]; report: RunReport }> {
  const got: string[] = [];
  const sink: IngestSink = { add: (i: IngestedIndicator) => { got.push(i.value); return undefined; }, commit: () => Promise.resolve(), abort: () => Promise.resolve() };
  const { report } = await runIngestion({ source: { kind: 'file', path }, parser: { format: 'lines', lines: {} }, fetch: {} }, { sink, warningList: undefined });
  return { values: got, report };
}

const ustar = (): Buffer => {
  const b = Buffer.alloc(1024);
  b.write('iocs.txt', 0);
  b.write('ustar', 257);
  return b;
};

describe('binary input is refused as a whole', () => {
  const cases: Array<{ name: string; data: () => Buffer; says: RegExp }> = [
    { name: 'an executable (/bin/ls)', data: () => readFileSync('/bin/ls'), says: /is an executable \(ELF\), not a text feed/ },
    { name: 'xz-compressed text', data: () => Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04]), Buffer.from(TEXT)]), says: /is xz-compressed, not a text feed: decompress it \(xz -d\)/ },
    { name: 'bzip2-compressed text', data: () => Buffer.concat([Buffer.from('BZh91AY&SY'), Buffer.from(TEXT)]), says: /is bzip2-compressed/ },
    { name: 'a 7-Zip archive', data: () => Buffer.concat([Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]), Buffer.from(TEXT)]), says: /is a 7-Zip archive/ },
    { name: 'a tar archive', data: () => Buffer.concat([ustar(), Buffer.from(TEXT)]), says: /is a tar archive, not a text feed: extract the feed file/ },
    { name: 'a PNG image', data: () => Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(TEXT)]), says: /is a PNG image/ },
    { name: 'text with NUL bytes near the start', data: () => Buffer.from(`evil.example.net\n\0\0\0\x01\x02${TEXT}`), says: /is binary data \(it holds NUL bytes\)/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await ingestFile(await file(`${c.name.replace(/\W+/g, '-')}.txt`, c.data()));
      assert.equal(r.report.outcome, 'failed');
      assert.equal(r.report.error?.code, 'binary-data');
      assert.match(r.report.error?.message ?? '', c.says);
      assert.deepEqual(r.values, [], 'no scrap of text becomes an indicator');
    });
  }

  test('UTF-16 without a byte-order mark keeps its own message', async () => {
    const r = await ingestFile(await file('utf16.txt', Buffer.from(TEXT, 'utf16le')));
    assert.equal(r.report.error?.code, 'invalid-encoding');
    assert.match(r.report.error?.message ?? '', /UTF-16 without a byte-order mark/);
  });
});

describe('NUL is never part of a value', () => {
  test('a line holding NUL past the sniffed start is rejected, the others are read', async () => {
    const data = Buffer.concat([Buffer.from(`${'a.example.net\n'.repeat(100)}`), Buffer.from('https://gnu.org/licenses/gpl.html\0\0\0Written\n'), Buffer.from(TEXT)]);
    for (const size of [7, 1 << 16]) {
      const d = await drain(parseLines(chunked(data, size)));
      assert.deepEqual(d.rejections.map((r) => [r.reason, r.where]), [['binary-data', 'line 101']]);
      assert.ok(values(d).every((v) => !v.includes('\0')));
      assert.ok(values(d).includes('http://bad.example.org/x'));
    }
  });

  test('a JSON string with \\u0000 is not an indicator (control-characters)', async () => {
    const got: string[] = [];
    const rejected: string[] = [];
    const sink: IngestSink = { add: (i: IngestedIndicator) => { got.push(i.value); return undefined; }, commit: () => Promise.resolve(), abort: () => Promise.resolve() };
    const path = await file('nul.json', Buffer.from(JSON.stringify([{ v: 'https://gnu.org/x\u0000y' }, { v: 'evil.example.net' }])));
    const { report } = await runIngestion({ source: { kind: 'file', path }, parser: { format: 'json', json: { valueField: 'v' } }, fetch: {} }, { sink, warningList: undefined });
    rejected.push(...Object.keys(report.rejected));
    assert.deepEqual(got, ['evil.example.net']);
    assert.deepEqual(rejected, ['control-characters']);
    // The parser itself still hands the value on: the refusal is normalization's.
    const d = await drain(parseJson(chunked(readFileSync(path)), { valueField: 'v' }));
    assert.equal(d.records.length, 2);
  });
});

describe('local files are unpacked by their magic bytes, whatever their name', () => {
  const cases: Array<{ name: string; data: () => Buffer }> = [
    { name: 'gzip named .txt', data: () => gzipSync(TEXT) },
    { name: 'gzip named .gz', data: () => gzipSync(TEXT) },
    { name: 'zstd named .txt', data: () => zstdCompressSync(TEXT) },
    { name: 'zstd named .zst', data: () => zstdCompressSync(TEXT) },
    { name: 'plain named .gz', data: () => Buffer.from(TEXT) },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const r = await ingestFile(await file(c.name.replace(/ named /, '.').replace(/\W(?=\w+$)/, '-x.'), c.data()));
      assert.equal(r.report.outcome, 'succeeded', JSON.stringify(r.report.error));
      assert.deepEqual(r.values.sort(), ['203.0.113.7', 'evil.example.net', 'http://bad.example.org/x']);
    });
  }

  test('a truncated zstd file fails as truncated, proposing nothing', async () => {
    const whole = zstdCompressSync(TEXT.repeat(50));
    const r = await ingestFile(await file('cut.zst', whole.subarray(0, Math.floor(whole.length / 2))));
    assert.equal(r.report.error?.code, 'truncated');
    assert.deepEqual(r.values, []);
  });

});

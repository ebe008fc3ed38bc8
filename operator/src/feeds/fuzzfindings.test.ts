/**
 * Regression tests for what `npm run fuzz` found in the feed parsers (fuzz/targets/): each row
 * names the target, the property that broke and the smallest input that showed it. Every case
 * parses the input whole and in 1-byte chunks: a streaming parser must not depend on where the
 * network cut the payload.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDelimited } from './delimited.ts';
import { parseJson, parseJsonLines } from './json.ts';
import { parseLines } from './lines.ts';
import { runPipeline, type IndicatorSink } from './pipeline.ts';
import { parseStixBundle } from './stix.ts';
import { chunked, drain, type Drained } from './testing.ts';
import { FeedError, SHOWN_INPUT, type ByteSource, type ParseBatch } from './types.ts';

type Parse = (src: ByteSource) => AsyncIterable<ParseBatch>;

async function both(parse: Parse, text: string | Buffer): Promise<Drained> {
  const whole = await drain(parse(chunked(text)));
  assert.deepEqual(await drain(parse(chunked(text, 1))), whole, 'the same in 1-byte chunks');
  return whole;
}

async function failsBoth(parse: Parse, text: string, code: string, message: RegExp): Promise<void> {
  for (const size of [1 << 16, 1]) {
    await assert.rejects(drain(parse(chunked(text, size))), (err: unknown) => err instanceof FeedError && err.code === code && message.test(err.message), `chunk size ${size}`);
  }
}

const stix = (id: string): string => `{"type":"bundle","id":"${id}","objects":[{"type":"indicator","id":"indicator--1","pattern_type":"stix","pattern":"[domain-name:value = 'evil.example']"}]}`;

describe('JSON documents JSON.parse refuses are refused, also outside the selected values (fuzz: stix accepts-invalid-json)', () => {
  const cases: Array<[string, string]> = [
    ['a raw control character in a string', stix('bundle--1\u001b')],
    ['a raw line break in a string', stix('bundle--1\r\n0')],
    ['a bad escape in a string', stix('bundle--\\x41')],
    ['a short \\u escape in a string', stix('bundle--\\u12')],
    ['a raw control character in a key', '{"type":"bundle","i\td":"x","objects":[]}'],
  ];
  for (const [name, text] of cases) {
    test(name, async () => {
      assert.throws(() => JSON.parse(text) as unknown);
      await failsBoth((src) => parseStixBundle(src), text, 'invalid-json', /control character|bad escape/);
    });
  }

  test('valid escapes outside the selected values still pass', async () => {
    const d = await both((src) => parseStixBundle(src), stix('bundle--\\u0041\\n\\t\\"\\\\\\/'));
    assert.deepEqual(d.records.map((r) => r.value), ['evil.example']);
  });
});

describe('a JSON feed whose items path names no container of the right kind is a configuration error, not an empty feed (fuzz: json missing-items)', () => {
  const cases: Array<[string, string]> = [['a number', '1e400'], ['a string', '"rate limited"'], ['an error object', '{"error":"rate limited"}'], ['null', 'null']];
  for (const [name, text] of cases) {
    test(`${name} for [*]`, async () => {
      await failsBoth((src) => parseJson(src, { itemsPath: '[*]' }), text, 'bad-config', /matched nothing/);
    });
  }

  test('an empty array is an empty feed', async () => {
    assert.deepEqual(await both((src) => parseJson(src, { itemsPath: '[*]' }), '[]'), { records: [], rejections: [], skips: [] });
  });
});

describe('over-long lines are judged and shown the same in any chunking (fuzz: lines/csv chunking)', () => {
  test('the limit counts bytes, so a line of multi-byte characters is too long whole and in chunks', async () => {
    const d = await both((src) => parseLines(src, { maxLineBytes: 16 }), 'ok.example\n' + 'é'.repeat(10) + '\nlast.example\n');
    assert.deepEqual(d.records.map((r) => r.value), ['ok.example', 'last.example']);
    assert.deepEqual(d.rejections.map((r) => [r.reason, r.where, r.input]), [['line-too-long', 'line 2', 'é'.repeat(8)]]);
  });

  test('an over-long line that is not UTF-8 is too long (not invalid-encoding) whole and in chunks', async () => {
    const d = await both((src) => parseLines(src, { maxLineBytes: 12 }), Buffer.concat([Buffer.from('a.example\n'), Buffer.alloc(20, 0xff), Buffer.from('\nb.example\n')]));
    assert.deepEqual(d.rejections.map((r) => r.reason), ['line-too-long']);
  });

  test('the preview is the line\'s first bytes, cut at a character boundary', async () => {
    const d = await both((src) => parseLines(src, { maxLineBytes: 100 }), 'ü'.repeat(80) + '\n');
    assert.equal(d.rejections[0]?.input, 'ü'.repeat(32));
  });
});

describe('rejections stay in feed order when a parser rejects records itself (fuzz: csv chunking)', () => {
  test('CSV: a record-too-long before a line-too-long in the same batch', async () => {
    const text = 'a,"' + 'x'.repeat(5) + '\n' + 'y'.repeat(5) + '"\nb,c\n' + 'z'.repeat(40) + '\nd,e\n';
    const d = await both((src) => parseDelimited(src, { value: 0, maxRecordBytes: 10 }), text);
    assert.deepEqual(d.rejections.map((r) => [r.reason, r.where]), [['record-too-long', 'line 1'], ['line-too-long', 'line 4']]);
  });

  test('JSON lines: an invalid line before a line-too-long', async () => {
    const d = await both((src) => parseJsonLines(src, { valueField: 'v', maxLineBytes: 20 }), '{"v":"a.example"}\n{bad\n' + '"' + 'q'.repeat(30) + '"\n');
    assert.deepEqual(d.rejections.map((r) => [r.reason, r.where]), [['invalid-json', 'line 2'], ['line-too-long', 'line 3']]);
  });
});

describe('a column or key named __proto__ stays a field (fuzz: json/jsonl chunking)', () => {
  test('JSON item', async () => {
    const d = await both((src) => parseJson(src, { valueField: 'v' }), '[{"__proto__":"p","constructor":"c","v":"a.example"}]');
    const f = d.records[0]?.fields;
    assert.equal(Object.getPrototypeOf(f), Object.prototype);
    assert.deepEqual(Object.entries(f ?? {}), [['__proto__', 'p'], ['constructor', 'c']]);
  });

  test('CSV header', async () => {
    const d = await both((src) => parseDelimited(src, { header: true, value: 'v' }), '__proto__,v\np,a.example\n');
    assert.deepEqual(Object.entries(d.records[0]?.fields ?? {}), [['__proto__', 'p']]);
  });
});

describe(`a rejection shows at most ${SHOWN_INPUT} characters of input (fuzz: stix rejection-shape)`, () => {
  const long = 'a'.repeat(300);
  test('an unusable STIX pattern', async () => {
    const d = await both((src) => parseStixBundle(src), `{"objects":[{"type":"indicator","id":"indicator--1","pattern_type":"stix","pattern":"[x-unknown:value = '${long}']"}]}`);
    assert.equal(d.rejections.length, 1);
    assert.ok(d.rejections[0]!.input.length <= SHOWN_INPUT, `${d.rejections[0]!.input.length} characters`);
  });

  test('a value the normalizer refuses', async () => {
    const sink: IndicatorSink = () => Promise.resolve();
    const report = await runPipeline((async function* () { yield await Promise.resolve({ records: [{ value: `${long}.example`, type: 'ipv4' as const }], rejections: [], skips: [] }); })(), { sink });
    const samples = Object.values(report.examples).flat();
    assert.ok(samples.length > 0 && samples.every((r) => r.input.length <= SHOWN_INPUT), JSON.stringify(samples.map((r) => r.input.length)));
  });
});

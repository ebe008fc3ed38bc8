import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getPath, parseJson, parseJsonLines } from './json.ts';
import { JsonScanner, parsePath } from './jsonscan.ts';
import { chunked, drain, values } from './testing.ts';
import { FeedError } from './types.ts';

function scanAll(text: string, paths: string[], size: number): unknown[] {
  const s = new JsonScanner(paths.map(parsePath));
  const out: unknown[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...s.push(text.slice(i, i + size)).matches.map((m) => m.value));
  out.push(...s.end().matches.map((m) => m.value));
  return out;
}

describe('JsonScanner', () => {
  const doc = '{"meta":{"x":[1,2,{"objects":[99]}]},"objects":[{"a":"q\\"}]{[","n":-1.5e3},"s",true,null,[1,[2]],{}],"tail":"}"}';
  test('finds the same values at every chunk size', () => {
    const want = (JSON.parse(doc) as { objects: unknown[] }).objects;
    for (const size of [1, 2, 3, 5, 8, 13, 1000]) assert.deepEqual(scanAll(doc, ['objects[*]'], size), want, `chunk ${size}`);
  });

  test('paths: keyed by id (*[*]), nested keys, whole document', () => {
    assert.deepEqual(scanAll('{"1":[{"v":1}],"2":[{"v":2},{"v":3}]}', ['*[*]'], 4), [{ v: 1 }, { v: 2 }, { v: 3 }]);
    assert.deepEqual(scanAll('{"Event":{"Attribute":[{"v":1}],"Object":[{"Attribute":[]}]}}', ['Event.Attribute[*]', 'Event.Object[*]'], 3), [{ v: 1 }, { Attribute: [] }]);
    assert.deepEqual(scanAll(' [1, 2] ', [''], 1), [[1, 2]]);
    assert.deepEqual(scanAll('42', ['$'], 1), [42]);
  });

  const invalid: Array<[string, string]> = [
    ['{"a":[1,2,}', 'invalid-json'],
    ['{"a" 1}', 'invalid-json'],
    ['[1 2]', 'invalid-json'],
    ['[tru]', 'invalid-json'],
    ['[01]', 'invalid-json'],
    ['[1] [2]', 'invalid-json'],
    ['{"objects":[{"a":1},{"a":', 'truncated'],
    ['', 'truncated'],
    ['[{"a":"unterminated', 'truncated'],
  ];
  for (const [text, code] of invalid) {
    test(`invalid: ${JSON.stringify(text)} → ${code}`, () => {
      assert.throws(() => scanAll(text, ['[*]'], 2), (e: unknown) => e instanceof FeedError && e.code === code);
    });
  }

  describe('one long token costs linear work, whatever the chunking (trust model: no quadratic scan)', () => {
    const MiB = 1 << 20;
    const CHUNK = 64 * 1024;
    // Each document holds one token of about 6 MiB: a selected string, a key, a number, escapes split across chunks.
    const cases: Array<[string, string, string[], (v: unknown[]) => void]> = [
      ['a selected string value', `[{"v":"${'a'.repeat(6 * MiB)}"},1]`, ['[*]'], (v) => assert.equal((v[0] as { v: string }).v.length, 6 * MiB)],
      ['an object key', `{"${'k'.repeat(6 * MiB)}":1,"objects":[2]}`, ['objects[*]'], (v) => assert.deepEqual(v, [2])],
      ['a number', `[${'9'.repeat(6 * MiB)},3]`, ['[*]'], (v) => assert.deepEqual(v.slice(1), [3])],
      ['a string of escapes', `["${'\\\\\\"'.repeat(2 * MiB)}",4]`, ['[*]'], (v) => assert.deepEqual([(v[0] as string).length, v[1]], [4 * MiB, 4])],
    ];
    for (const [name, doc, paths, check] of cases) {
      test(name, () => {
        const s = new JsonScanner(paths.map(parsePath), 16 * MiB, 16 * MiB);
        const out: unknown[] = [];
        for (let i = 0; i < doc.length; i += CHUNK) out.push(...s.push(doc.slice(i, i + CHUNK)).matches.map((m) => m.value));
        out.push(...s.end().matches.map((m) => m.value));
        check(out);
        // A handful of passes over the text; the quadratic scanner did about doc.length / CHUNK / 2 passes (48 here).
        assert.ok(s.work <= 6 * doc.length, `work ${s.work} for ${doc.length} characters (${(s.work / doc.length).toFixed(1)} per character)`);
      });
    }
    test('escapes split at every position by 1- and 2-character chunks still end the string where it ends', () => {
      const doc = '["a\\\\","b\\"c","\\\\\\"",5]';
      const want = JSON.parse(doc) as unknown[];
      for (const size of [1, 2, 3]) assert.deepEqual(scanAll(doc, ['[*]'], size), want, `chunk ${size}`);
    });
  });

  test('an oversized element is reported and skipped, the rest is read', () => {
    const s = new JsonScanner([parsePath('[*]')], 20);
    const r = s.push(`[{"v":"${'x'.repeat(50)}"},{"v":"ok"}]`);
    s.end();
    assert.deepEqual(r.matches.map((m) => m.value), [{ v: 'ok' }]);
    assert.equal(r.oversize.length, 1);
  });
});

describe('parseJson / parseJsonLines', () => {
  test('items at a path, value and type fields, ThreatFox id kept as key', async () => {
    const doc = JSON.stringify({ '77': [{ ioc_value: '94.131.107.12:443', ioc_type: 'ip:port', malware: 'x' }], '78': [{ ioc_value: 'a.example.net', ioc_type: 'domain' }] });
    const d = await drain(parseJson(chunked(doc, 7), { itemsPath: '*[*]', valueField: 'ioc_value', typeField: 'ioc_type', vocabulary: 'threatfox' }));
    assert.deepEqual(d.records.map((r) => [r.type, r.value]), [['ipv4', '94.131.107.12'], ['domain', 'a.example.net']]);
    assert.equal(d.records[0]?.fields?.['key'], '77');
    assert.equal(d.records[0]?.fields?.['malware'], 'x');
  });

  test('a bare array of strings, and missing values as counted rejections', async () => {
    assert.deepEqual(values(await drain(parseJson(chunked('["a.example.net","1.2.3.4"]'), {}))), ['a.example.net', '1.2.3.4']);
    const d = await drain(parseJson(chunked('{"data":{"items":[{"attributes":{"value":"x.example.net"}},{"other":1}]}}'), { itemsPath: 'data.items[*]', valueField: 'attributes.value' }));
    assert.deepEqual(values(d), ['x.example.net']);
    assert.deepEqual(d.rejections.map((r) => r.reason), ['missing-value']);
  });

  test('invalid JSON in the middle of a document fails the run; a wrong path is a configuration error', async () => {
    await assert.rejects(drain(parseJson(chunked('[{"v":"a.example.net"},{"v": oops}]', 5), { valueField: 'v' })), (e: unknown) => e instanceof FeedError && e.code === 'invalid-json');
    await assert.rejects(drain(parseJson(chunked('{"items":[]}'), { itemsPath: 'objects[*]' })), (e: unknown) => e instanceof FeedError && e.code === 'bad-config');
    await assert.rejects(drain(parseJson(chunked(Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d])), {})), (e: unknown) => e instanceof FeedError && e.code === 'invalid-encoding');
  });

  test('JSON lines: a bad line is a counted rejection (lines are independent)', async () => {
    const d = await drain(parseJsonLines(chunked('{"cidr":"1.10.16.0/20","sblid":"SBL1"}\n{oops\n\n{"cidr":"2.56.192.0/22"}\r\n{"type":"metadata"}\n', 3), { valueField: 'cidr', type: 'cidr' }));
    assert.deepEqual(values(d), ['1.10.16.0/20', '2.56.192.0/22']);
    assert.deepEqual(d.rejections.map((r) => [r.reason, r.where]), [['invalid-json', 'line 2'], ['missing-value', 'line 5']]);
  });

  test('getPath', () => {
    assert.equal(getPath({ a: { b: { c: 1 } } }, 'a.b.c'), 1);
    assert.equal(getPath({ a: 1 }, 'a.b'), undefined);
  });
});

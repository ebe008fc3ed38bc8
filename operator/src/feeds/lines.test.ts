import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseLines, splitValue } from './lines.ts';
import { chunked, drain, fixture, values } from './testing.ts';
import { openFile } from './fetch.ts';

describe('splitValue', () => {
  const cases: Array<[string, string, string]> = [
    ['1.10.16.0/20 ; SBL256894', '1.10.16.0/20', 'SBL256894'],
    ['1.2.3.4;SBL1', '1.2.3.4', 'SBL1'],
    ['1.2.3.4 # seen twice', '1.2.3.4', 'seen twice'],
    ['http://a.example.net/x#frag;y', 'http://a.example.net/x#frag;y', ''],
    ['evil.example.net\tcomment here', 'evil.example.net', 'comment here'],
    ['a.example#x://y', 'a.example#x://y', ''],
    ['http://a.example/;x y', 'http://a.example/;x', 'y'],
    ['a.example :// x', 'a.example', ':// x'],
    ['1.2.3.4', '1.2.3.4', ''],
    ['1.2.3.4;', '1.2.3.4', ''],
  ];
  for (const [line, value, remark] of cases) test(line, () => assert.deepEqual(splitValue(line), { value, remark }));

  // The rule as first written (several scans), the yardstick of the one-pass version.
  function reference(line: string): { value: string; remark: string } {
    const m = /[ \t]/.exec(line);
    let value = m === null ? line : line.slice(0, m.index);
    let rest = m === null ? '' : line.slice(m.index);
    if (!value.includes('://')) {
      const cut = [value.indexOf(';'), value.indexOf('#')].filter((i) => i >= 0).sort((a, b) => a - b)[0];
      if (cut !== undefined) {
        rest = value.slice(cut) + rest;
        value = value.slice(0, cut);
      }
    }
    return { value, remark: rest.replace(/^[ \t;#]*/, '').trimEnd() };
  }

  test('agrees with the rule on any line of value characters, separators and remarks', () => {
    const unit = fc.constantFrom('a', '1', '.', ':', '/', ';', '#', ' ', '\t', 'é');
    fc.assert(fc.property(fc.string({ unit, maxLength: 24 }).map((s) => s.trim()), (line) => {
      assert.deepEqual(splitValue(line), reference(line));
    }), { numRuns: 5000 });
  });
});

describe('parseLines', () => {
  test('Spamhaus DROP layout: ; comments, trailing SBL remark kept as a field', async () => {
    const d = await drain(parseLines((await openFile(fixture('spamhaus-drop.txt'))).body, { type: 'cidr' }));
    assert.deepEqual(values(d), ['1.10.16.0/20', '1.19.0.0/16', '2.56.192.0/22', '5.134.128.0/19', '45.11.116.0/22']);
    assert.deepEqual(d.records[0]?.fields, { remark: 'SBL256894' });
    assert.equal(d.records[0]?.where, 'line 5');
    assert.equal(d.records[0]?.type, 'cidr');
  });

  test('white space, CRLF, blank lines and # comments, at every chunk size', async () => {
    const text = '# header\r\n\r\n  1.2.3.4  \r\n\t# indented comment\r\nevil.example.net\r\nlast.example.net';
    for (const size of [1, 5, 1000]) {
      assert.deepEqual(values(await drain(parseLines(chunked(text, size)))), ['1.2.3.4', 'evil.example.net', 'last.example.net']);
    }
  });

  test('an over-long line and an invalid UTF-8 line are counted, the rest is read', async () => {
    const buf = Buffer.concat([Buffer.from(`a.example.net\n${'x'.repeat(5000)}\n`), Buffer.from([0xc3, 0x28, 0x0a]), Buffer.from('b.example.net\n')]);
    const d = await drain(parseLines(chunked(buf, 100), { maxLineBytes: 1000 }));
    assert.deepEqual(values(d), ['a.example.net', 'b.example.net']);
    assert.deepEqual(d.rejections.map((r) => [r.reason, r.where]), [['line-too-long', 'line 2'], ['invalid-encoding', 'line 3']]);
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { refang } from './refang.ts';

describe('refang', () => {
  const rows: readonly (readonly [string, string])[] = [
    ['example[.]com', 'example.com'],
    ['example(.)com', 'example.com'],
    ['example{.}com', 'example.com'],
    ['example[dot]com', 'example.com'],
    ['example[DOT]com', 'example.com'],
    ['1.2.3[.]4', '1.2.3.4'],
    ['user[at]example[.]com', 'user@example.com'],
    ['user(AT)example.com', 'user@example.com'],
    ['user[@]example.com', 'user@example.com'],
    ['hxxp://example.com', 'http://example.com'],
    ['HXXPS://example.com', 'https://example.com'],
    ['hxxp[:]//example[.]com', 'http://example.com'],
    ['http[://]example.com', 'http://example.com'],
    ['fxp://files.example', 'ftp://files.example'],
    ['http://example.com[/]path', 'http://example.com/path'],
    ['[.[.]', '[..'],
    // left alone
    ['example.com', 'example.com'],
    ['[::1]', '[::1]'],
    ['http://[2001:db8::1]/', 'http://[2001:db8::1]/'],
    ['http://example.com/a(b)c', 'http://example.com/a(b)c'],
    ['[dots]', '[dots]'],
    ['[.', '[.'],
    ['hxxpx://a', 'hxxpx://a'],
    ['mhxxp://a', 'mhxxp://a'],
    ['', ''],
  ];
  for (const [raw, expected] of rows) test(`${JSON.stringify(raw)} → ${JSON.stringify(expected)}`, () => assert.equal(refang(raw), expected));

  test('returns the same string object when nothing changes', () => {
    const s = 'plain.example.com';
    assert.equal(refang(s), s);
  });
});

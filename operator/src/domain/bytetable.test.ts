import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteTable, KeyArena } from './bytetable.ts';
import { longestSuffix, longestSuffixBytes } from './suffixtable.ts';

function tableOf(keys: readonly string[], fold: boolean): ByteTable {
  const arena = new KeyArena();
  for (const k of keys) arena.add(k);
  return new ByteTable(arena.bytes(), arena.starts(), keys.map((_, i) => i), keys.length, fold);
}

test('exact lookups by bytes and by string; case folding only when asked', () => {
  const keys = ['example.com', 'd41d8cd98f00b204e9800998ecf8427e', 'http://example.com/A', 'x'];
  const folded = tableOf(keys, true);
  const exact = tableOf(keys, false);
  const cases: Array<[string, number, number]> = [
    ['example.com', 0, 0], ['EXAMPLE.com', 0, -1], ['D41D8CD98F00B204E9800998ECF8427E', 1, -1],
    ['http://example.com/A', -1, 2], ['http://example.com/a', -1, -1], ['example.co', -1, -1], ['', -1, -1], ['x', 3, 3],
  ];
  for (const [s, f, e] of cases) {
    // A folding table stores lower case keys: 'http://example.com/A' is not one of them.
    assert.equal(folded.getString(s), f, `folded ${s}`);
    assert.equal(exact.getString(s), e, `exact ${s}`);
    const buf = Buffer.from(`##${s}##`, 'latin1');
    assert.equal(folded.getBytes(buf, 2, 2 + s.length), f, `folded bytes ${s}`);
    assert.equal(exact.getBytes(buf, 2, 2 + s.length), e, `exact bytes ${s}`);
  }
});

test('duplicates keep the first id; thousands of keys all found', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `host${i}.example.org`);
  const t = tableOf([...keys, 'host7.example.org'], true);
  assert.equal(t.size, 5000);
  for (let i = 0; i < keys.length; i++) assert.equal(t.getString(keys[i] ?? ''), i);
});

test('longest listed suffix on label boundaries', () => {
  const t = tableOf(['example.com', 'evil.example.com', 'co.uk', 'ample.com'], true);
  const cases: Array<[string, number]> = [
    ['example.com', 0], ['www.example.com', 0], ['a.b.evil.example.com', 1], ['evil.example.com.', 1],
    ['WWW.EXAMPLE.COM', 0], ['notexample.com', -1], ['example.org', -1], ['com', -1], ['bbc.co.uk', 2], ['', -1], ['.', -1],
  ];
  for (const [name, want] of cases) {
    assert.equal(longestSuffix(t, name), want, name);
    const buf = Buffer.from(` ${name} `, 'latin1');
    assert.equal(longestSuffixBytes(t, buf, 1, 1 + name.length), want, `bytes ${name}`);
  }
});

test('suffix lookups agree with a parent-by-parent walk of a Map for names of every length, case and offset (word-at-a-time hash)', () => {
  let seed = 7;
  const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const label = (): string => Array.from({ length: 1 + rnd(9) }, () => 'abcdefghijklmnopqrstuvwxyz0123456789-_'[rnd(38)]).join('');
  const keys = Array.from({ length: 400 }, () => Array.from({ length: 1 + rnd(4) }, label).join('.'));
  const t = tableOf(keys, true);
  const first = new Map<string, number>();
  keys.forEach((k, i) => { if (!first.has(k)) first.set(k, i); });
  for (let n = 0; n < 5000; n++) {
    const base = rnd(3) === 0 ? Array.from({ length: 1 + rnd(5) }, label).join('.') : `${rnd(2) ? `${label()}.` : ''}${keys[rnd(keys.length)] ?? ''}`;
    const name = [...base].map((c) => (rnd(3) === 0 ? c.toUpperCase() : c)).join('') + (rnd(8) === 0 ? '.' : '');
    const labels = name.toLowerCase().replace(/\.$/, '').split('.');
    let want = -1;
    for (let i = labels.length - 1; i >= 0; i--) want = first.get(labels.slice(i).join('.')) ?? want;
    const pad = rnd(4);
    const buf = Buffer.from(`${'#'.repeat(pad)}${name}##`, 'latin1');
    assert.equal(longestSuffixBytes(t, buf, pad, pad + name.length), want, name);
  }
});

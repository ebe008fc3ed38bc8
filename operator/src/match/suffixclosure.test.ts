/**
 * The suffix closure (suffixclosure.ts): every label-aligned proper suffix of a listed domain
 * has its bit (the exact guarantee the prefilter's early stop rests on), case folded like the
 * domain table; suffixes of no listed domain mostly do not; the size follows the suffix count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyArena, finish, hashBytes } from '../domain/bytetable.ts';
import { suffixClosure } from './suffixclosure.ts';

function closureOf(domains: readonly string[]): Uint8Array {
  const a = new KeyArena();
  for (const d of domains) a.add(d);
  return suffixClosure(a.bytes(), a.starts(), domains.keys());
}

function has(bits: Uint8Array, name: string): boolean {
  const b = Buffer.from(name, 'latin1');
  const h = finish(hashBytes(b, 0, b.length, true)) & (bits.length * 8 - 1);
  return ((bits[h >>> 3] as number) & (1 << (h & 7))) !== 0;
}

const LISTED = ['evil.com', 'deep.sub.example.co.uk', 'xn--80ak6aa92e.com', 'a.b.c.d.e.f.g.h', 'abcdefghijklmnop.net', 'x.io', 'trailing.dot.org.'];

test('every proper label-aligned suffix of a listed domain is in the closure, in any case', () => {
  const bits = closureOf(LISTED);
  const cases: ReadonlyArray<readonly [string, boolean]> = [
    ['com', true], ['COM', true], ['uk', true], ['co.uk', true], ['example.co.uk', true], ['SUB.Example.CO.uk', true],
    ['b.c.d.e.f.g.h', true], ['h', true], ['g.h', true], ['net', true], ['io', true], ['dot.org.', true], ['org.', true],
    // The trailing dot is part of that listed value: its suffix after the last dot is empty.
    ['', true],
  ];
  for (const [name, want] of cases) assert.equal(has(bits, name), want, name);
});

test('suffixes of no listed domain are mostly outside the closure', () => {
  const bits = closureOf(LISTED);
  const outside = Array.from({ length: 2000 }, (_, i) => `n${i}.example.com`);
  const inside = outside.filter((n) => has(bits, n)).length;
  assert.ok(inside < 2000 / 8, `${inside} of 2000 unrelated suffixes pass`);
  // A listed domain that is no proper suffix of another one is not needed in the closure.
  assert.ok(['evil.com', 'x.io', 'deep.sub.example.co.uk'].filter((n) => has(bits, n)).length < 3);
});

test('the closure holds 16 bits per distinct suffix, at least 512', () => {
  const cases: ReadonlyArray<readonly [readonly string[], number]> = [
    [[], 64], [['nodot'], 64], [LISTED, 64],
    // 101 suffixes (com and s0.com..s99.com): 1,616 bits, rounded up to 2,048.
    [Array.from({ length: 100 }, (_, i) => `a.s${i}.com`), 256],
  ];
  for (const [domains, bytes] of cases) assert.equal(closureOf(domains).length, bytes, domains.slice(0, 2).join(','));
});

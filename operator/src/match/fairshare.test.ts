import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fairShare, type Claim } from './fairshare.ts';

const c = (key: string, weight: number, demand: number, since = 0): Claim => ({ key, weight, demand, since });

test('weighted fair share: table', () => {
  const cases: Array<[string, Claim[], number, Record<string, number>]> = [
    ['equal weights split evenly', [c('a', 10, 100), c('b', 10, 100)], 4, { a: 2, b: 2 }],
    ['twice the weight, twice the slots', [c('a', 20, 100), c('b', 10, 100)], 6, { a: 4, b: 2 }],
    ['a satisfied scan leaves its rest to the others', [c('a', 10, 1), c('b', 10, 100)], 4, { a: 1, b: 3 }],
    ['no demand, no slots', [c('a', 10, 0), c('b', 10, 5)], 4, { a: 0, b: 4 }],
    ['first come does not take all: a newcomer gets its share', [c('old', 10, 50, 1), c('new', 10, 50, 2)], 2, { old: 1, new: 1 }],
    ['more scans than slots: earliest waiting first', [c('a', 10, 5, 3), c('b', 10, 5, 1), c('c', 10, 5, 2)], 2, { a: 0, b: 1, c: 1 }],
    ['capacity beyond demand', [c('a', 1, 2), c('b', 100, 1)], 10, { a: 2, b: 1 }],
    ['low priority still gets a slot', [c('a', 1000, 100), c('b', 1, 100)], 3, { a: 2, b: 1 }],
  ];
  for (const [name, claims, cap, want] of cases) assert.deepEqual(Object.fromEntries(fairShare(claims, cap)), want, name);
});

test('fair share never exceeds capacity or demand, and uses all capacity it can', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ weight: fc.integer({ min: 1, max: 1000 }), demand: fc.integer({ min: 0, max: 20 }), since: fc.nat() }), { maxLength: 8 }),
    fc.integer({ min: 0, max: 40 }),
    (raw, cap) => {
      const claims = raw.map((r, i) => ({ key: `s${i}`, ...r }));
      const got = fairShare(claims, cap);
      const total = [...got.values()].reduce((a, b) => a + b, 0);
      assert.ok(total <= cap);
      for (const cl of claims) assert.ok((got.get(cl.key) ?? 0) <= cl.demand);
      assert.equal(total, Math.min(cap, claims.reduce((a, b) => a + b.demand, 0)));
    },
  ), { numRuns: 500 });
});

/**
 * Keeps the fuzz harness honest in `npm test`: every target runs a few hundred cases of a fixed
 * seed without a finding (the million-case runs are `npm run fuzz`), cases are replayable (the
 * same seed and index give the same input), and a broken property is reported as a Finding.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from './rng.ts';
import { Finding, same } from './target.ts';
import { TARGETS } from './targets/index.ts';

const CASES = 150;

describe('fuzz targets: a short fixed-seed run of each finds nothing', () => {
  for (const t of TARGETS) {
    test(t.name, async () => {
      await t.setup?.();
      try {
        for (let i = 0; i < CASES; i++) await t.run(Rng.forCase(20261201, t.name, i));
      } finally {
        await t.teardown?.();
      }
    });
  }
});

describe('fuzz harness', () => {
  test('a case is replayable: the same seed, target and index give the same draws; others differ', () => {
    const draw = (seed: number, name: string, i: number): number[] => { const r = Rng.forCase(seed, name, i); return [r.u32(), r.u32(), r.int(1000)]; };
    assert.deepEqual(draw(7, 'csv', 12345), draw(7, 'csv', 12345));
    assert.notDeepEqual(draw(7, 'csv', 12345), draw(7, 'csv', 12346));
    assert.notDeepEqual(draw(7, 'csv', 12345), draw(7, 'lines', 12345));
    assert.notDeepEqual(draw(7, 'csv', 12345), draw(8, 'csv', 12345));
  });

  test('a difference is reported as a Finding naming the first differing path', () => {
    assert.throws(() => same({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] }, 'p', 'in'), (e: unknown) => e instanceof Finding && /\$\.a\[1\]\.b: 2 ≠ 3/.test(e.message) && e.input === 'in');
  });
});

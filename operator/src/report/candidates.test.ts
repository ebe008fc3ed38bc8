import { test } from 'node:test';
import assert from 'node:assert/strict';
import { candidateLine, estimateTokens, selectCandidates, significance } from './candidates.ts';
import { candidate } from './fixtures.ts';

const w = { since: new Date('2026-11-01T00:00:00Z'), until: new Date('2026-11-29T00:00:00Z') };

test('significance: sightings dominate, then confidence and novelty; a revocation in the window is news', () => {
  const base = candidate({ value: 'base.example', confidence: 50, admittedAt: '2026-11-15T00:00:00.000Z' });
  const cases: Array<[string, Parameters<typeof candidate>[0], 'higher' | 'lower']> = [
    ['sighted 15 times', { ...base, value: 'x.example', sightings: 15 }, 'higher'],
    ['confidence 100', { ...base, value: 'x.example', confidence: 100 }, 'higher'],
    ['admitted at the end of the window', { ...base, value: 'x.example', admittedAt: '2026-11-28T00:00:00.000Z' }, 'higher'],
    ['admitted before the window', { ...base, value: 'x.example', admittedAt: '2026-10-01T00:00:00.000Z' }, 'lower'],
    ['revoked inside the window', { ...base, value: 'x.example', state: 'revoked', revokedAt: '2026-11-20T00:00:00.000Z' }, 'higher'],
    ['confidence 10', { ...base, value: 'x.example', confidence: 10 }, 'lower'],
  ];
  for (const [name, c, want] of cases) {
    const d = significance(candidate(c), w) - significance(base, w);
    assert.ok(want === 'higher' ? d > 0 : d < 0, `${name}: ${d}`);
  }
});

test('selection: TLP ceiling first, then significance within the token and item budgets, deterministic', () => {
  const amber = candidate({ value: 'amber.example', tlp: 'amber', sightings: 1000 });
  const hot = candidate({ value: 'hot.example', sightings: 40 });
  const warm = candidate({ value: 'warm.example', sightings: 4 });
  const longUrl = candidate({ type: 'url', value: `https://long.example/${'a'.repeat(600)}`, sightings: 10 });
  const cold = candidate({ value: 'cold.example' });
  const all = [cold, warm, amber, longUrl, hot];
  const lineCost = (c: typeof hot): number => estimateTokens(candidateLine(c)) + 1;
  const cases: Array<[string, Parameters<typeof selectCandidates>[2], string[], number]> = [
    ['green ceiling keeps amber out', { ceiling: 'green', tokenBudget: 10_000, maxItems: 10 }, ['hot.example', longUrl.value, 'warm.example', 'cold.example'], 1],
    ['amber ceiling lets it in first', { ceiling: 'amber', tokenBudget: 10_000, maxItems: 10 }, ['amber.example', 'hot.example', longUrl.value, 'warm.example', 'cold.example'], 0],
    ['a line too long for the budget is skipped, smaller ones still fit', { ceiling: 'green', tokenBudget: lineCost(hot) + lineCost(warm) + lineCost(cold), maxItems: 10 }, ['hot.example', 'warm.example', 'cold.example'], 1],
    ['item limit', { ceiling: 'green', tokenBudget: 10_000, maxItems: 2 }, ['hot.example', longUrl.value], 1],
    ['zero budget', { ceiling: 'red', tokenBudget: 0, maxItems: 10 }, [], 0],
  ];
  for (const [name, limits, want, above] of cases) {
    const s = selectCandidates(all, w, limits);
    assert.deepEqual(s.selected.map((c) => c.value), want, name);
    assert.equal(s.aboveCeiling, above, name);
    assert.ok(s.tokens <= limits.tokenBudget, name);
    assert.deepEqual(selectCandidates([...all].reverse(), w, limits).selected, s.selected, `${name}: order of input does not matter`);
  }
});

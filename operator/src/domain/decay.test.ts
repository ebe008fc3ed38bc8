import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { corroboratedLastSeen, decayReference, decaysBelowAt, effectiveConfidence, parseDecayDuration, type DecayRule } from './decay.ts';

const DAY = 86_400_000;
const rule = (floor = 0, minSightingParties = 1): DecayRule => ({ halfLifeMs: 30 * DAY, floor, minSightingParties });

describe('effective confidence halves every half-life, never below the floor', () => {
  const cases: Array<[string, number, number, DecayRule, number]> = [
    // name, stated confidence, age, rule, expected
    ['fresh', 80, 0, rule(), 80],
    ['one half-life', 80, 30 * DAY, rule(), 40],
    ['two half-lives', 80, 60 * DAY, rule(), 20],
    ['half a half-life', 100, 15 * DAY, rule(), 100 / Math.SQRT2],
    ['a negative age (a clock ahead) counts as 0', 80, -10 * DAY, rule(), 80],
    ['the floor holds', 80, 300 * DAY, rule(30), 30],
    ['a floor above the stated confidence leaves the stated one', 20, 300 * DAY, rule(50), 20],
    ['zero stays zero', 0, 5 * DAY, rule(10), 0],
  ];
  for (const [name, c, age, r, want] of cases) test(name, () => assert.ok(Math.abs(effectiveConfidence(c, age, r) - want) < 1e-9, `${effectiveConfidence(c, age, r)} != ${want}`));
});

describe('when the effective confidence falls below the minimum', () => {
  const cases: Array<[string, number, number, DecayRule, number]> = [
    // name, stated confidence, minimum, rule, expected time (since = 0)
    ['80 falls below 40 just after one half-life', 80, 40, rule(), 30 * DAY + 1],
    ['80 falls below 20 just after two half-lives', 80, 20, rule(), 60 * DAY + 1],
    ['already below: at once', 30, 40, rule(), 0],
    ['minimum 0: never', 80, 0, rule(), Number.POSITIVE_INFINITY],
    ['floor at the minimum: never', 80, 40, rule(40), Number.POSITIVE_INFINITY],
    ['floor below the minimum: as without floor', 80, 40, rule(39), 30 * DAY + 1],
  ];
  for (const [name, c, min, r, want] of cases) {
    test(name, () => {
      const at = decaysBelowAt(c, 0, min, r);
      assert.equal(at, want);
      if (Number.isFinite(at) && at > 0) {
        assert.ok(effectiveConfidence(c, at, r) < min, 'below at the time');
        assert.ok(effectiveConfidence(c, at - 1, r) >= min, 'not below a millisecond earlier');
      }
    });
  }
});

describe('corroborated last sighting: the minSightingParties-th latest party, capped at now', () => {
  const now = 1000 * DAY;
  const cases: Array<[string, number[], number, number | undefined]> = [
    ['one party, one needed', [now - DAY], 1, now - DAY],
    ['the latest of several', [now - 9 * DAY, now - DAY, now - 5 * DAY], 1, now - DAY],
    ['two needed: the second latest', [now - 9 * DAY, now - DAY, now - 5 * DAY], 2, now - 5 * DAY],
    ['two needed, one party (a lone peer): none', [now - DAY], 2, undefined],
    ['nobody', [], 1, undefined],
    ['a time in the future counts as now', [now + 365 * DAY], 1, now],
    ['a future time does not lift the second party', [now + 365 * DAY, now - 20 * DAY], 2, now - 20 * DAY],
    ['non-finite times are ignored', [Number.NaN, now - DAY], 2, undefined],
    // Not the voting policy's question: its sightingCorroboration counts parties within a window
    // (default 30d); decay has none, so old corroborated sightings still set the clock.
    ['no window: two parties 45 and 40 days ago restart the clock 45 days ago', [now - 45 * DAY, now - 40 * DAY], 2, now - 45 * DAY],
    ['no window: a year-old corroboration still counts', [now - 400 * DAY, now - 365 * DAY, now - DAY], 3, now - 400 * DAY],
  ];
  for (const [name, times, minParties, want] of cases) test(name, () => assert.equal(corroboratedLastSeen(times, minParties, now), want));
});

describe('decay reference', () => {
  const cases: Array<[string, number, number | undefined, number]> = [
    ['never sighted: the admission', 100, undefined, 100],
    ['sighted after the admission', 100, 500, 500],
    ['sighted only before the admission: the admission', 100, 50, 100],
  ];
  for (const [name, admitted, seen, want] of cases) test(name, () => assert.equal(decayReference(admitted, seen), want));
});

describe('durations', () => {
  const cases: Array<[string, number | undefined]> = [
    ['30d', 30 * DAY], ['72h', 72 * 3_600_000], ['90m', 90 * 60_000], ['0d', undefined], ['30', undefined], ['1w', undefined], ['-3d', undefined], ['', undefined],
  ];
  for (const [text, want] of cases) test(JSON.stringify(text), () => assert.equal(parseDecayDuration(text), want));
});

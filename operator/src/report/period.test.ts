import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoWeek, parseSince, weekStart, weeksOf } from './period.ts';
import { lowerTlp, parseTlp, tlpAllows, tlpsUpTo } from './tlp.ts';

test('parseSince reads w/d/h/m and refuses everything else with the format', () => {
  const cases: Array<[string, number | RegExp]> = [
    ['30d', 30 * 86_400_000], ['2w', 14 * 86_400_000], ['12h', 12 * 3_600_000], ['1d12h', 36 * 3_600_000], ['90m', 90 * 60_000],
    ['30', /use whole numbers with units w, d, h, m/], ['-1d', /not a duration/], ['0d', /is zero/], ['107w', /longer than 106 weeks/], ['1y', /not a duration/],
  ];
  for (const [text, want] of cases) {
    if (typeof want === 'number') assert.equal(parseSince(text), want, text);
    else assert.throws(() => parseSince(text), want, text);
  }
});

test('ISO weeks: Monday starts, the Thursday rule at year ends', () => {
  const cases: Array<[string, string, string]> = [
    ['2026-11-25T12:00:00Z', '2026-W48', '2026-11-23'],
    ['2026-11-23T00:00:00Z', '2026-W48', '2026-11-23'],
    ['2026-11-22T23:59:59Z', '2026-W47', '2026-11-16'],
    ['2027-01-01T00:00:00Z', '2026-W53', '2026-12-28'],
    ['2025-12-29T00:00:00Z', '2026-W01', '2025-12-29'],
    ['2021-01-03T00:00:00Z', '2020-W53', '2020-12-28'],
  ];
  for (const [at, week, monday] of cases) {
    assert.equal(isoWeek(new Date(at)), week, at);
    assert.equal(weekStart(new Date(at)).toISOString().slice(0, 10), monday, at);
  }
});

test('weeksOf clips the first and last week to the window', () => {
  const w = weeksOf({ since: new Date('2026-11-11T06:00:00Z'), until: new Date('2026-11-25T06:00:00Z') });
  assert.deepEqual(w.map((b) => b.week), ['2026-W46', '2026-W47', '2026-W48']);
  assert.equal(w[0]?.start.toISOString(), '2026-11-11T06:00:00.000Z');
  assert.equal(w[2]?.end.toISOString(), '2026-11-25T06:00:00.000Z');
  assert.equal(w[1]?.start.toISOString(), '2026-11-16T00:00:00.000Z');
});

test('TLP order, ceilings and parsing', () => {
  const allows: Array<[Parameters<typeof tlpAllows>[0], Parameters<typeof tlpAllows>[1], boolean]> = [
    ['green', 'clear', true], ['green', 'green', true], ['green', 'amber', false], ['amber', 'amber+strict', false], ['red', 'amber+strict', true], ['clear', 'green', false],
  ];
  for (const [ceiling, tlp, want] of allows) assert.equal(tlpAllows(ceiling, tlp), want, `${ceiling} allows ${tlp}`);
  assert.equal(lowerTlp('amber', 'green'), 'green');
  assert.equal(lowerTlp('clear', 'red'), 'clear');
  assert.deepEqual(tlpsUpTo('amber'), ['clear', 'green', 'amber']);
  assert.equal(parseTlp('TLP:AMBER'), 'amber');
  assert.equal(parseTlp('amber+strict'), 'amber+strict');
  assert.throws(() => parseTlp('white', '--max-tlp'), /--max-tlp "white" is not a TLP 2.0 marking; use one of clear, green, amber, amber\+strict, red/);
});

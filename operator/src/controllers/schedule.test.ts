import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ScheduleError, describeSchedule, nextCronTime, nextRunTime, parseCron, parseDuration, parseSchedule, formatDuration } from './schedule.ts';

describe('parseDuration', () => {
  const ok: Array<[string, number]> = [['30s', 30_000], ['15m', 900_000], ['1h', 3_600_000], ['1h30m', 5_400_000], ['2d', 172_800_000]];
  for (const [text, ms] of ok) test(`${text} = ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  for (const bad of ['', '1', 'h', '1.5h', 'hourly', '0s', '-1h']) test(`"${bad}" refused`, () => assert.throws(() => parseDuration(bad), ScheduleError));
});

describe('nextCronTime', () => {
  const cases: Array<[string, string, string]> = [
    ['* * * * *', '2026-01-01T00:00:30Z', '2026-01-01T00:01:00.000Z'],
    ['0 * * * *', '2026-01-01T00:00:00Z', '2026-01-01T01:00:00.000Z'],
    ['15 */6 * * *', '2026-01-01T06:15:00Z', '2026-01-01T12:15:00.000Z'],
    ['0 0 1 * *', '2026-01-31T12:00:00Z', '2026-02-01T00:00:00.000Z'],
    ['0 0 29 2 *', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['30 9 * * mon-fri', '2026-11-27T10:00:00Z', '2026-11-30T09:30:00.000Z'],
    ['0 12 * * 7', '2026-11-25T00:00:00Z', '2026-11-29T12:00:00.000Z'],
    ['0 0 13 * 5', '2026-11-25T00:00:00Z', '2026-11-27T00:00:00.000Z'],
    ['5,10-12/2 1 * jan *', '2026-12-31T23:59:00Z', '2027-01-01T01:05:00.000Z'],
    ['59 23 31 12 *', '2026-12-31T23:59:00Z', '2027-12-31T23:59:00.000Z'],
  ];
  for (const [expr, after, want] of cases) {
    test(`${expr} after ${after}`, () => assert.equal(nextCronTime(parseCron(expr), new Date(after))?.toISOString(), want));
  }
  test('an impossible date never fires', () => assert.equal(nextCronTime(parseCron('0 0 31 2 *'), new Date('2026-01-01T00:00:00Z')), undefined));
});

describe('parseCron refusals name the field', () => {
  const bad: Array<[string, RegExp]> = [
    ['* * * *', /has 4 fields/], ['60 * * * *', /minute 60 is outside 0-59/], ['* 24 * * *', /hour 24/],
    ['* * 0 * *', /day-of-month 0/], ['* * * 13 *', /month 13/], ['* * * * 8', /day-of-week 8/],
    ['*/0 * * * *', /step "0"/], ['5-1 * * * *', /runs backwards/], ['a * * * *', /minute "a" is not a number/], ['1,,2 * * * *', /empty list item/],
  ];
  for (const [expr, re] of bad) test(expr, () => assert.throws(() => parseCron(expr), re));
});

describe('parseSchedule and nextRunTime', () => {
  const now = new Date('2026-11-25T10:07:00Z');
  test('interval: due now without a last run, last start + interval otherwise', () => {
    const s = parseSchedule({ interval: '1h' });
    assert.equal(nextRunTime(s, undefined, now)?.toISOString(), now.toISOString());
    assert.equal(nextRunTime(s, new Date('2026-11-25T09:30:00Z'), now)?.toISOString(), '2026-11-25T10:30:00.000Z');
    assert.equal(describeSchedule(s), 'every 1h');
  });
  test('cron: first match after the last run', () => {
    const s = parseSchedule({ cron: '0 * * * *' });
    assert.equal(nextRunTime(s, undefined, now)?.toISOString(), '2026-11-25T11:00:00.000Z');
    assert.equal(nextRunTime(s, new Date('2026-11-25T08:00:00Z'), now)?.toISOString(), '2026-11-25T09:00:00.000Z');
    assert.equal(describeSchedule(s), 'cron 0 * * * *');
  });
  test('both or neither refused', () => {
    assert.throws(() => parseSchedule({}), /exactly one/);
    assert.throws(() => parseSchedule({ interval: '1h', cron: '* * * * *' }), /exactly one/);
  });
});

describe('formatDuration', () => {
  const cases: ReadonlyArray<[number, string]> = [[259_200_000, '72h'], [300_000, '5m'], [2_000, '2s'], [5_400_000, '1h30m'], [3_661_000, '1h1m1s']];
  for (const [ms, text] of cases) test(`${ms} ms = ${text}, and parseDuration reads it back`, () => {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  });
  for (const bad of [0, -1000, 1500, Number.NaN]) test(`${bad} refused`, () => assert.throws(() => formatDuration(bad), ScheduleError));
});

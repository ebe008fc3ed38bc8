import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isCalendarDate, isIsoTimestamp, isRfc3339DateTime, timestampMillis } from './time.ts';

describe('ISO 8601 timestamps', () => {
  const cases: Array<[unknown, boolean]> = [
    ['2026-01-02T03:04:05Z', true], ['2026-01-02T03:04:05.123456789Z', true], ['2026-01-02T03:04:05+02:00', true],
    ['2026-01-02T03:04:05', false], ['2026-01-02', false], ['2026-01-02T25:04:05Z', false], ['tomorrow', false], [1767225600000, false],
  ];
  for (const [value, ok] of cases) {
    test(`${String(value)}: ${ok}`, () => {
      assert.equal(isIsoTimestamp(value), ok);
      assert.equal(Number.isFinite(timestampMillis(value)), ok);
    });
  }
  test('Dates are accepted by timestampMillis', () => assert.equal(timestampMillis(new Date(5)), 5));
});

describe('impossible dates and times are refused, not rolled over (trust model: one spelling per instant)', () => {
  // Date.parse accepts the first five and rolls them over to another day.
  const cases: Array<[string, boolean, boolean]> = [
    // value, protocol form (isIsoTimestamp), RFC 3339 (isRfc3339DateTime)
    ['2026-04-31T00:00:00Z', false, false],
    ['2026-01-01T24:00:00Z', false, false],
    ['2026-02-29T12:00:00Z', false, false],
    ['2026-02-30T00:00:00Z', false, false],
    ['2026-06-31T00:00:00Z', false, false],
    ['2026-13-01T00:00:00Z', false, false],
    ['2026-00-10T00:00:00Z', false, false],
    ['2026-01-00T00:00:00Z', false, false],
    ['2026-01-01T23:60:00Z', false, false],
    ['2026-12-31T23:59:60Z', false, false],
    ['2026-01-01T00:00:00+24:00', false, false],
    ['2026-01-01T00:00:00+05:60', false, false],
    ['2028-02-29T12:00:00Z', true, true],
    ['2000-02-29T12:00:00Z', true, true],
    ['1900-02-29T12:00:00Z', false, false],
    ['2026-12-31T23:59:59.999999999-23:59', true, true],
    ['2026-12-31t23:59:59z', false, true],
    ['2026-12-31T23:59:59.1234567891Z', false, true],
  ];
  for (const [value, iso, rfc] of cases) {
    test(`${value}: protocol ${iso}, RFC 3339 ${rfc}`, () => {
      assert.equal(isIsoTimestamp(value), iso);
      assert.equal(isRfc3339DateTime(value), rfc);
      assert.equal(Number.isFinite(timestampMillis(value)), iso);
    });
  }
  test('calendar dates', () => {
    assert.deepEqual([isCalendarDate(2024, 2, 29), isCalendarDate(2023, 2, 29), isCalendarDate(2026, 11, 31), isCalendarDate(2026, 12, 31)], [true, false, false, true]);
  });
});

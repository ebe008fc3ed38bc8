import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isIsoTimestamp, timestampMillis } from './time.ts';

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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, kindOfStatus, parseRetryAfter, retryable, DEFAULT_RETRY } from './retry.ts';

test('which failures are retried', () => {
  const cases: Array<[number, string, boolean]> = [[429, 'rate-limited', true], [500, 'server', true], [503, 'server', true], [408, 'timeout', true], [400, 'client', false], [401, 'client', false], [422, 'client', false]];
  for (const [status, kind, again] of cases) {
    assert.equal(kindOfStatus(status), kind, String(status));
    assert.equal(retryable(kindOfStatus(status)), again, String(status));
  }
  assert.equal(retryable('malformed'), false);
  assert.equal(retryable('connection'), true);
});

test('backoff: full jitter under an exponential ceiling; Retry-After wins, capped', () => {
  const cases: Array<[number, number | undefined, number]> = [[1, undefined, 250], [2, undefined, 500], [3, undefined, 1000], [10, undefined, 4000], [1, 3000, 3000], [1, 60_000, 8000], [1, Number.NaN, 250]];
  for (const [attempt, retryAfter, want] of cases) assert.equal(backoffMs(DEFAULT_RETRY, attempt, () => 0.5, retryAfter), want, `attempt ${attempt}, retry-after ${retryAfter}`);
});

test('Retry-After in seconds, as an HTTP date, or retry-after-ms', () => {
  const now = Date.parse('2026-11-25T00:00:00Z');
  assert.equal(parseRetryAfter('2', null, now), 2000);
  assert.equal(parseRetryAfter('Wed, 25 Nov 2026 00:00:05 GMT', null, now), 5000);
  assert.equal(parseRetryAfter('2', '150', now), 150);
  assert.equal(parseRetryAfter(null, null, now), undefined);
  assert.equal(parseRetryAfter('soon', null, now), undefined);
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from './clock.ts';
import { BucketRateLimiter, ExponentialFailureRateLimiter, MaxOfRateLimiter, defaultControllerRateLimiter, failureBackoffMs, jitteredBackoff } from './ratelimit.ts';

describe('ExponentialFailureRateLimiter', () => {
  test('doubles from the base per failure and stops at the cap', () => {
    const rl = new ExponentialFailureRateLimiter(5, 1000);
    const delays = Array.from({ length: 10 }, () => rl.when('k'));
    assert.deepEqual(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    assert.equal(rl.retries('k'), 10);
  });

  test('keys back off independently and forget resets one key', () => {
    const rl = new ExponentialFailureRateLimiter(5, 1000);
    rl.when('a');
    rl.when('a');
    assert.equal(rl.when('b'), 5);
    rl.forget('a');
    assert.equal(rl.retries('a'), 0);
    assert.equal(rl.when('a'), 5);
    assert.equal(rl.when('b'), 10);
  });

  test('huge failure counts stay at the cap instead of overflowing', () => {
    const rl = new ExponentialFailureRateLimiter(5, 1_000_000);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = rl.when('k');
    assert.equal(last, 1_000_000);
  });

  test('rejects nonsense settings', () => {
    assert.throws(() => new ExponentialFailureRateLimiter(0, 10), /baseMs/);
    assert.throws(() => new ExponentialFailureRateLimiter(10, 5), /baseMs/);
  });
});

describe('BucketRateLimiter', () => {
  test('lets a burst through, then spaces calls at 1/qps, and refills over time', async () => {
    const clock = new ManualClock(0);
    const rl = new BucketRateLimiter(clock, 10, 3);
    assert.deepEqual([rl.when('a'), rl.when('b'), rl.when('c')], [0, 0, 0]);
    assert.deepEqual([rl.when('d'), rl.when('e')], [100, 200]);
    await clock.advance(1000);
    assert.equal(rl.when('f'), 0, 'after a second the bucket has refilled (10 tokens, capped at 3)');
    assert.deepEqual([rl.when('g'), rl.when('h'), rl.when('i')], [0, 0, 100]);
  });

  test('is global: forget does not give tokens back', () => {
    const rl = new BucketRateLimiter(new ManualClock(0), 1, 1);
    assert.equal(rl.when('a'), 0);
    rl.forget('a');
    assert.equal(rl.when('a'), 1000);
  });
});

describe('MaxOfRateLimiter', () => {
  test('answers the longest delay of its limiters', () => {
    const clock = new ManualClock(0);
    const rl = new MaxOfRateLimiter(new ExponentialFailureRateLimiter(5, 1000), new BucketRateLimiter(clock, 10, 2));
    assert.equal(rl.when('a'), 5);
    assert.equal(rl.when('a'), 10);
    assert.equal(rl.when('b'), 100, 'the bucket is empty, so the global limit dominates');
    assert.equal(rl.retries('a'), 2);
    rl.forget('a');
    assert.equal(rl.retries('a'), 0);
  });

  test('the default matches controller-runtime: 5 ms first retry, 100-call burst', () => {
    const rl = defaultControllerRateLimiter(new ManualClock(0));
    assert.equal(rl.when('x'), 5);
    for (let i = 0; i < 99; i++) rl.when(`k${i}`);
    assert.equal(rl.when('y'), 100);
  });
});

describe('jitteredBackoff', () => {
  const table = [
    { attempt: 1, random: 0, want: 400 },
    { attempt: 1, random: 0.999, want: 800 },
    { attempt: 3, random: 0, want: 1600 },
    { attempt: 10, random: 0, want: 15000 },
    { attempt: 10, random: 0.99999, want: 30000 },
    { attempt: 500, random: 0.5, want: 22500 },
  ];
  for (const t of table) {
    test(`attempt ${t.attempt}, random ${t.random} → ${t.want} ms`, () => {
      assert.equal(jitteredBackoff(t.attempt, 800, 30_000, () => t.random), t.want);
    });
  }
});

describe('failureBackoffMs', () => {
  test('none without failures, then doubles from the base up to the cap', () => {
    assert.deepEqual([0, 1, 2, 3, 10, 40].map((n) => failureBackoffMs(n, 60_000, 3_600_000)), [0, 60_000, 120_000, 240_000, 3_600_000, 3_600_000]);
  });

  test('a zero base stays zero however many failures (no NaN)', () => {
    assert.equal(failureBackoffMs(5_000, 0, 1_000), 0);
  });
});

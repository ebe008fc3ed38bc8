import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIMER_MS, systemClock } from './clock.ts';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('systemClock: a delay beyond node\'s 2^31-1 ms limit does not fire early', async () => {
  let fired = 0;
  const handle = systemClock.setTimer(() => { fired++; }, MAX_TIMER_MS + 86_400_000);
  await tick(50);
  handle.cancel();
  assert.equal(fired, 0, 'node fires over-long timeouts after 1 ms unless the clock re-arms them');
});

test('systemClock: short timers fire and cancelled ones do not', async () => {
  const fired: string[] = [];
  systemClock.setTimer(() => fired.push('a'), 1);
  systemClock.setTimer(() => fired.push('b'), 5).cancel();
  await tick(40);
  assert.deepEqual(fired, ['a']);
});

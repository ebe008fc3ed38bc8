import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { ManualClock, MAX_TIMER_MS, settleWithin, systemClock } from './clock.ts';

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

// A child process is the only way to observe whether a timer holds the event loop open.
function runScript(body: string): Promise<{ code: number | null; stdout: string }> {
  const clockUrl = new URL('./clock.ts', import.meta.url).href;
  const script = `import { sleep, systemClock } from ${JSON.stringify(clockUrl)};\n${body}`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout });
    });
  });
}

test('sleep keeps the process alive: a script whose only pending work is an awaited sleep finishes it', async () => {
  const r = await runScript(`await sleep(systemClock, 200);\nprocess.stdout.write('slept');`);
  assert.deepEqual(r, { code: 0, stdout: 'slept' }, 'an unref\'d wait would end the process with exit code 13 before "slept"');
});

test('sleep aborted by its signal releases the process at once', { timeout: 30_000 }, async () => {
  const r = await runScript(`const a = new AbortController();\nconst p = sleep(systemClock, 3_600_000, a.signal);\na.abort();\nawait p;\nprocess.stdout.write('woke');`);
  assert.deepEqual(r, { code: 0, stdout: 'woke' });
});

test('systemClock: a background timer does not keep the process alive', { timeout: 30_000 }, async () => {
  const r = await runScript(`systemClock.setTimer(() => process.stdout.write('fired'), 3_600_000);\nprocess.stdout.write('exited');`);
  assert.deepEqual(r, { code: 0, stdout: 'exited' });
});

test('settleWithin: the value when it comes in time, the stand-in when it does not, a rejection in time rejects', async () => {
  const clock = new ManualClock(0);
  const soon = Promise.withResolvers<string>();
  const first = settleWithin(soon.promise, 1000, 'late', clock);
  soon.resolve('done');
  assert.equal(await first, 'done');
  assert.equal(clock.timers(), 0, 'the timer is cancelled once the promise settles');

  const never = settleWithin(new Promise<string>(() => undefined), 1000, 'late', clock);
  await clock.advance(999);
  const early = await Promise.race([never, tick(10).then(() => 'not yet')]);
  assert.equal(early, 'not yet');
  await clock.advance(1);
  assert.equal(await never, 'late');

  await assert.rejects(settleWithin(Promise.reject(new Error('boom')), 1000, 'late', clock), /boom/);
});

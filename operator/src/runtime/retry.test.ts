import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, flushMicrotasks } from './clock.ts';
import { FatalStartError, retryWithBackoff } from './retry.ts';

const down = new Error('connect ECONNREFUSED 127.0.0.1:27017');
const badUri = new Error('Invalid scheme');

/** Attempts that fail with each listed error in turn, then succeed with 'up'. */
function attempts(errors: readonly Error[]): { run: () => Promise<string>; calls: () => number } {
  let n = 0;
  return {
    run: () => {
      const err = errors[n++];
      return err === undefined ? Promise.resolve('up') : Promise.reject(err);
    },
    calls: () => n,
  };
}

const cases: ReadonlyArray<{ name: string; errors: readonly Error[]; want: string | RegExp; delays: readonly number[] }> = [
  { name: 'succeeds at once', errors: [], want: 'up', delays: [] },
  { name: 'waits out a database that is down, with growing capped delays', errors: [down, down, down, down], want: 'up', delays: [1000, 2000, 4000, 5000] },
  { name: 'a configuration error ends the wait with the fix', errors: [down, badUri], want: /fix the URI/, delays: [1000] },
];

for (const c of cases) {
  test(`retryWithBackoff: ${c.name}`, async () => {
    const clock = new ManualClock();
    const a = attempts(c.errors);
    const delays: number[] = [];
    const seen: number[] = [];
    const result = retryWithBackoff(a.run, {
      signal: new AbortController().signal, clock, baseMs: 1000, capMs: 5000, random: () => 1,
      fatal: (err) => (err === badUri ? 'fix the URI' : undefined),
      onFailure: (_err, attempt, delayMs) => { seen.push(attempt); delays.push(delayMs); },
    });
    const settled = result.then((v) => v, (err: unknown) => err);
    for (let i = 0; i < 10; i++) await clock.advance(5000);
    const out = await settled;
    if (typeof c.want === 'string') assert.equal(out, c.want);
    else {
      assert.ok(out instanceof FatalStartError);
      assert.match(out.message, c.want);
      assert.equal(out.cause, badUri);
    }
    assert.deepEqual(delays, c.delays, 'random 1 gives the full delay: base·2^(n-1), capped');
    assert.deepEqual(seen, c.delays.map((_, i) => i + 1), 'each failed attempt heard once, numbered');
  });
}

test('retryWithBackoff: an abort during the wait resolves undefined without another attempt', async () => {
  const clock = new ManualClock();
  const abort = new AbortController();
  const a = attempts([down, down, down]);
  const result = retryWithBackoff(a.run, { signal: abort.signal, clock, fatal: () => undefined, onFailure: () => undefined });
  await flushMicrotasks();
  assert.equal(a.calls(), 1);
  abort.abort();
  assert.equal(await result, undefined);
  assert.equal(a.calls(), 1);
});

test('retryWithBackoff: jitter keeps each delay within [d/2, d]', async () => {
  const clock = new ManualClock();
  const delays: number[] = [];
  const a = attempts([down, down, down]);
  const result = retryWithBackoff(a.run, { signal: new AbortController().signal, clock, baseMs: 1000, capMs: 30_000, random: () => 0, fatal: () => undefined, onFailure: (_e, _n, d) => delays.push(d) });
  for (let i = 0; i < 5; i++) await clock.advance(5000);
  assert.equal(await result, 'up');
  assert.deepEqual(delays, [500, 1000, 2000]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../log.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { describeStep, StartSteps } from './prepare.ts';

function logged(): { log: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter((l) => l !== '')));
  return { log: createLogger(out, 'info'), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('the start\'s steps: the one under way and for how long, a slow one logged every slowMs, each logged once when done or failed', async () => {
  const { log, lines } = logged();
  const clock = new ManualClock(0);
  const steps = new StartSteps(log, clock, 15_000);
  assert.equal(steps.current(), undefined);
  let finish: () => void = () => undefined;
  const run = steps.run('database connection', () => new Promise<void>((res) => { finish = res; }));
  await clock.advance(40_000);
  assert.deepEqual(steps.current(), { step: 'database connection', forMs: 40_000 });
  assert.equal(describeStep(steps.current()!), 'waiting on "database connection" for 40 s');
  assert.deepEqual(lines().map((l) => [l['msg'], l['step'], l['waitedMs']]), [
    ['partner exchange start slow: waiting on one step', 'database connection', 15_000],
    ['partner exchange start slow: waiting on one step', 'database connection', 30_000],
  ]);
  finish();
  await run;
  assert.equal(steps.current(), undefined);
  // Sub-steps: the step a run is in is renamed; entering the same name again changes nothing.
  const open = steps.run('replica indexes', async () => {
    steps.enter('replica indexes');
    await clock.advance(1000);
    steps.enter('stored digests');
    await clock.advance(2000);
    throw new Error('the database went away');
  });
  await assert.rejects(open, /went away/);
  await clock.advance(60_000);
  assert.deepEqual(lines().slice(2).map((l) => [l['msg'], l['step'], l['ms']]), [
    ['partner exchange start step done', 'database connection', 40_000],
    ['partner exchange start step done', 'replica indexes', 1000],
    ['partner exchange start step failed', 'stored digests', 2000],
  ], 'no slow-step line once nothing runs');
});

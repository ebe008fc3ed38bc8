import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from '../log.ts';
import type { OperatorOptions, RunningOperator } from '../controllers/setup.ts';
import { runTerms } from './terms.ts';

/** A term that loses its Lease as `lose` says, or runs until stopped; records what happened to it. */
function terms(plan: ReadonlyArray<{ clean: boolean } | 'runs'>): { start: (o: OperatorOptions) => Promise<RunningOperator>; events: string[] } {
  const events: string[] = [];
  let n = 0;
  const start = (o: OperatorOptions): Promise<RunningOperator> => {
    const term = ++n;
    const how = plan[term - 1] ?? 'runs';
    events.push(`start ${term}`);
    if (how !== 'runs') setImmediate(() => o.onLostLeadership?.(how));
    return Promise.resolve({
      stop: async (s: { nextTerm?: boolean } = {}) => {
        events.push(`stop ${term}${s.nextTerm === true ? ' for a next term' : ''}`);
        if (s.nextTerm !== true) await o.processScoped?.close();
      },
    } as unknown as RunningOperator);
  };
  return { start, events };
}

const quiet = createLogger(new PassThrough(), 'error');

function options(events: string[]): OperatorOptions {
  return { processScoped: { close: () => { events.push('process-scoped closed'); return Promise.resolve(); } } } as unknown as OperatorOptions;
}

test('a Lease lost with every runnable stopped in time starts a new term in the process, keeping what outlasts a term; a signal ends it', async () => {
  const t = terms([{ clean: true }, { clean: true }, 'runs']);
  let signal: (why: string) => void = () => undefined;
  const stopped = new Promise<string>((res) => { signal = res; });
  const done = runTerms(options(t.events), stopped, quiet, t.start);
  while (!t.events.includes('start 3')) await new Promise((r) => setImmediate(r));
  signal('SIGTERM');
  assert.equal(await done, 'SIGTERM');
  assert.deepEqual(t.events, ['start 1', 'stop 1 for a next term', 'start 2', 'stop 2 for a next term', 'start 3', 'stop 3', 'process-scoped closed']);
});

test('a Lease lost while a runnable was cut off or still runs ends the process (its leader work must not overlap a next term)', async () => {
  const t = terms([{ clean: true }, { clean: false }]);
  assert.equal(await runTerms(options(t.events), new Promise<string>(() => undefined), quiet, t.start), 'lost leadership');
  assert.deepEqual(t.events, ['start 1', 'stop 1 for a next term', 'start 2', 'stop 2', 'process-scoped closed']);
});

test('a term that cannot start ends the process with why', async () => {
  const events: string[] = [];
  const why = await runTerms(options(events), new Promise<string>(() => undefined), quiet, () => Promise.reject(new Error('caches did not sync')));
  assert.equal(why, 'start failed: caches did not sync');
  assert.deepEqual(events, ['process-scoped closed'], 'what outlasts a term is closed even when no term ran');
});

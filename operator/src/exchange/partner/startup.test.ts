import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../log.ts';
import { partnerRunnable, type StoppablePartner } from './startup.ts';

function mongoError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

const down = mongoError('MongoServerSelectionError', 'Server selection timed out after 15000 ms');
const badUri = mongoError('MongoParseError', 'Invalid scheme');

function logged(): { log: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter((l) => l !== '')));
  return { log: createLogger(out, 'info'), lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition not reached in time');
}

const fine: StoppablePartner = { stop: () => Promise.resolve() };

test('a start that fails while the database is down is retried, logged once per attempt, not ready until it runs; onError never hears it', async () => {
  const { log, lines } = logged();
  const errors: unknown[] = [];
  let calls = 0;
  const r = partnerRunnable(() => (++calls <= 2 ? Promise.reject(down) : Promise.resolve(fine)), { log, onError: (e) => errors.push(e), backoff: { baseMs: 5, capMs: 10 } });
  assert.equal(r.ready?.(), 'partner exchange starting');
  r.start();
  await until(() => r.ready?.() === true);
  assert.equal(calls, 3);
  assert.deepEqual(errors, []);
  const retries = lines().filter((l) => l['msg'] === 'partner exchange cannot start; retrying with backoff');
  assert.deepEqual(retries.map((l) => l['attempt']), [1, 2]);
  assert.ok(retries.every((l) => typeof l['retryInMs'] === 'number'));
  assert.equal(await r.stop(1000), true);
});

test('readiness names the failing attempt while it retries', async () => {
  const { log } = logged();
  const r = partnerRunnable(() => Promise.reject(down), { log, backoff: { baseMs: 10_000, capMs: 10_000 } });
  r.start();
  await until(() => r.ready?.() !== 'partner exchange starting');
  assert.match(String(r.ready?.()), /^partner exchange not started \(attempt 1 failed\); retrying$/);
  const t0 = Date.now();
  assert.equal(await r.stop(30_000), true, 'a stop during the wait ends the retries');
  assert.ok(Date.now() - t0 < 1000, 'without waiting out the backoff');
});

test('readiness names the start\'s step under way and for how long, in the first attempt and in a retry', async () => {
  const { log } = logged();
  let step: { step: string; forMs: number } | undefined = { step: 'stored digests', forMs: 42_400 };
  let fail: (err: unknown) => void = () => undefined;
  const r = partnerRunnable(() => new Promise((_resolve, reject) => { fail = reject; }), { log, backoff: { baseMs: 10_000, capMs: 10_000 }, step: () => step });
  r.start();
  assert.equal(r.ready?.(), 'partner exchange starting: waiting on "stored digests" for 42 s');
  step = undefined;
  fail(down);
  await until(() => r.ready?.() !== 'partner exchange starting');
  assert.equal(r.ready?.(), 'partner exchange not started (attempt 1 failed); retrying', 'between attempts no step runs');
  step = { step: 'database connection', forMs: 3000 };
  assert.equal(r.ready?.(), 'partner exchange not started (attempt 1 failed); retrying: waiting on "database connection" for 3 s');
  assert.equal(await r.stop(1000), true);
  assert.equal(r.ready?.(), 'partner exchange stopped', 'a stopped exchange waits on nothing');
});

test('a configuration error fails fast through onError, with the fix', async () => {
  const { log } = logged();
  const errors: unknown[] = [];
  let calls = 0;
  const r = partnerRunnable(() => { calls++; return Promise.reject(badUri); }, { log, onError: (e) => errors.push(e) });
  r.start();
  await until(() => errors.length === 1);
  assert.equal(calls, 1, 'not retried');
  assert.match((errors[0] as Error).message, /--mongodb-uri is not a valid MongoDB connection string/);
  assert.match(String(r.ready?.()), /not a valid MongoDB connection string/);
  assert.equal(await r.stop(1000), true);
});

test('a stop gives the launch signal, so an attempt in flight ends', async () => {
  const { log } = logged();
  let seen: AbortSignal | undefined;
  const r = partnerRunnable((signal) => {
    seen = signal;
    return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(mongoError('MongoClientClosedError', 'client was closed')), { once: true }));
  }, { log });
  r.start();
  await until(() => seen !== undefined);
  assert.equal(await r.stop(1000), true);
  assert.equal(seen?.aborted, true);
});

const stops: ReadonlyArray<{ name: string; partner: (interrupted: () => void) => StoppablePartner; want: boolean; maxMs: number }> = [
  { name: 'a quick stop returns true at once', partner: () => fine, want: true, maxMs: 200 },
  {
    name: 'a stop stuck on the database is interrupted halfway and returns false within the deadline',
    partner: (interrupted) => {
      let release: () => void = () => undefined;
      const stuck = new Promise<void>((resolve) => { release = resolve; });
      return { stop: () => stuck, interrupt: () => { interrupted(); release(); } };
    },
    want: false, maxMs: 900,
  },
  { name: 'a stop that never ends, even interrupted, is cut off at the deadline', partner: (interrupted) => ({ stop: () => new Promise<void>(() => undefined), interrupt: interrupted }), want: false, maxMs: 1200 },
];

for (const c of stops) {
  test(`bounded stop: ${c.name}`, async () => {
    const { log } = logged();
    let interrupts = 0;
    const r = partnerRunnable(() => Promise.resolve(c.partner(() => interrupts++)), { log });
    r.start();
    await until(() => r.ready?.() === true);
    const t0 = Date.now();
    assert.equal(await r.stop(1000), c.want);
    const ms = Date.now() - t0;
    assert.ok(ms < c.maxMs, `stop took ${ms} ms`);
    assert.equal(interrupts, c.want ? 0 : 1);
  });
}

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, flushMicrotasks, systemClock } from './clock.ts';
import { ExponentialFailureRateLimiter } from './ratelimit.ts';
import { WorkQueue, type QueueMetrics } from './workqueue.ts';

function newQueue(clock = new ManualClock(0), metrics?: QueueMetrics): WorkQueue {
  return new WorkQueue({ clock, rateLimiter: new ExponentialFailureRateLimiter(5, 1000), metrics });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {};
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

describe('WorkQueue de-duplication', () => {
  test('a waiting key is queued once', async () => {
    const q = newQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.len(), 0);
  });

  test('a key added while in flight is queued again only after done()', async () => {
    const q = newQueue();
    q.add('a');
    assert.equal(await q.get(), 'a');
    q.add('a');
    q.add('a');
    assert.equal(q.len(), 0, 'not handed out while in flight');
    q.done('a');
    assert.equal(q.len(), 1, 'queued once again after done');
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.len(), 0);
  });

  test('get waits for the next add', async () => {
    const q = newQueue();
    const next = q.get();
    q.add('late');
    assert.equal(await next, 'late');
    assert.equal(q.inFlight(), 1);
  });
});

describe('WorkQueue order', () => {
  test('stays FIFO across internal compaction of a long queue', async () => {
    const q = newQueue();
    const want: string[] = [];
    for (let i = 0; i < 3000; i++) {
      q.add(`k${i}`);
      want.push(`k${i}`);
    }
    const got: string[] = [];
    for (let i = 0; i < 6000; i++) {
      const k = await q.get();
      if (k === undefined) break;
      got.push(k);
      q.done(k);
      if (i < 3000 && i % 2 === 0) {
        q.add(`x${i}`);
        want.push(`x${i}`);
      }
      if (q.len() === 0) break;
    }
    assert.deepEqual(got, want);
    assert.equal(q.len(), 0);
  });
});

describe('WorkQueue workers', () => {
  test('never process one key concurrently, but different keys in parallel', async () => {
    const q = newQueue();
    const active = new Map<string, number>();
    let maxPerKey = 0;
    let maxTotal = 0;
    let total = 0;
    const runs: string[] = [];
    const gates: (() => void)[] = [];
    q.run(4, async (key) => {
      runs.push(key);
      active.set(key, (active.get(key) ?? 0) + 1);
      total += 1;
      maxPerKey = Math.max(maxPerKey, active.get(key) ?? 0);
      maxTotal = Math.max(maxTotal, total);
      await new Promise<void>((r) => gates.push(r));
      active.set(key, (active.get(key) ?? 0) - 1);
      total -= 1;
    }, () => {});
    for (const k of ['x', 'y', 'x', 'z']) q.add(k);
    await flushMicrotasks();
    q.add('x');
    q.add('x');
    await flushMicrotasks();
    while (gates.length > 0) {
      for (const g of gates.splice(0)) g();
      await flushMicrotasks();
    }
    assert.equal(maxPerKey, 1);
    assert.equal(maxTotal, 3, 'x, y and z ran side by side');
    assert.deepEqual(runs.filter((k) => k === 'x').length, 2, 'x ran again once for the adds made while it was in flight');
    await q.shutdown();
  });

  test('handler errors go to onError and the key is marked done', async () => {
    const q = newQueue();
    const errors: string[] = [];
    q.run(1, (key) => Promise.reject(new Error(`boom ${key}`)), (key, err) => errors.push(`${key}: ${(err as Error).message}`));
    q.add('a');
    await flushMicrotasks();
    assert.deepEqual(errors, ['a: boom a']);
    assert.equal(q.inFlight(), 0);
    await q.shutdown();
  });

  test('rejects a pool of zero workers', () => {
    assert.throws(() => newQueue().run(0, () => Promise.resolve(), () => {}), /concurrency/);
  });
});

describe('WorkQueue delays', () => {
  test('addAfter hands keys out in due-time order', async () => {
    const clock = new ManualClock(0);
    const q = newQueue(clock);
    q.addAfter('c', 300);
    q.addAfter('a', 100);
    q.addAfter('b', 200);
    q.addAfter('now', 0);
    assert.equal(q.len(), 1);
    assert.equal(await q.get(), 'now');
    const order: string[] = [];
    for (const step of [100, 100, 100]) {
      await clock.advance(step);
      const k = await q.get();
      if (k) order.push(k);
    }
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.equal(q.delayedCount(), 0);
  });

  test('a pending addAfter keeps the earlier time', async () => {
    const clock = new ManualClock(0);
    const q = newQueue(clock);
    q.addAfter('k', 500);
    q.addAfter('k', 100);
    q.addAfter('k', 900);
    await clock.advance(100);
    assert.equal(q.len(), 1);
    assert.equal(await q.get(), 'k');
    q.done('k');
    await clock.advance(1000);
    assert.equal(q.len(), 0, 'the later requests were folded into the first');
  });

  test('addRateLimited backs off per key and forget resets it', async () => {
    const clock = new ManualClock(0);
    const retried: number[] = [];
    const q = newQueue(clock, { depth: () => {}, added: () => {}, retried: () => retried.push(1) });
    q.addRateLimited('k');
    q.addRateLimited('k');
    assert.equal(q.numRequeues('k'), 2);
    await clock.advance(4);
    assert.equal(q.len(), 0);
    await clock.advance(1);
    assert.equal(q.len(), 1, 'first retry after the 5 ms base delay');
    q.forget('k');
    assert.equal(q.numRequeues('k'), 0);
    assert.equal(retried.length, 2);
  });
});

describe('WorkQueue metrics hooks', () => {
  test('report depth and adds', async () => {
    const depths: number[] = [];
    let adds = 0;
    const q = newQueue(new ManualClock(0), { depth: (n) => depths.push(n), added: () => { adds += 1; }, retried: () => {} });
    q.add('a');
    q.add('b');
    q.add('a');
    await q.get();
    assert.equal(adds, 2);
    assert.deepEqual(depths, [1, 2, 1]);
  });
});

describe('WorkQueue shutdown', () => {
  test('stops handing out work, ignores new adds and waits for in-flight handlers', async () => {
    const q = newQueue();
    const gate = deferred();
    const started: string[] = [];
    q.run(1, async (key) => {
      started.push(key);
      await gate.promise;
    }, () => {});
    q.add('a');
    q.add('b');
    await flushMicrotasks();
    let drained = false;
    const stopping = q.shutdown().then((ok) => { drained = ok; });
    q.add('c');
    await flushMicrotasks();
    assert.equal(drained, false, 'still waiting for a');
    gate.resolve();
    await stopping;
    assert.equal(drained, true);
    assert.deepEqual(started, ['a'], 'b and c were never handed out');
    assert.equal(await q.get(), undefined);
  });

  test('gives up after the deadline and says so', async () => {
    const clock = new ManualClock(0);
    const q = newQueue(clock);
    q.run(1, () => new Promise<void>(() => {}), () => {});
    q.add('stuck');
    await flushMicrotasks();
    let result: boolean | undefined;
    const stopping = q.shutdown(1000).then((ok) => { result = ok; });
    await clock.advance(999);
    assert.equal(result, undefined);
    await clock.advance(1);
    await stopping;
    assert.equal(result, false);
  });

  test('drops delayed keys', async () => {
    const clock = new ManualClock(0);
    const q = newQueue(clock);
    q.addAfter('later', 100);
    await q.shutdown();
    await clock.advance(200);
    assert.equal(q.len(), 0);
    assert.equal(clock.timers(), 0);
  });
});

describe('WorkQueue and the event loop', () => {
  // Handlers that need no I/O settle in microtasks; without a yield, a timer due meanwhile (the
  // Lease renewal) waits for the whole queue. 600 handlers of 1 ms each would hold it for 0.6 s.
  test('a timer due while handlers need no I/O fires before the queue is drained', async () => {
    const q = new WorkQueue({ clock: systemClock, rateLimiter: new ExponentialFailureRateLimiter(5, 1000) });
    const keys = 600;
    for (let i = 0; i < keys; i++) q.add(`k${i}`);
    let handled = 0;
    let handledWhenTimerFired = -1;
    const timerFired = new Promise<void>((resolve) => setTimeout(() => { handledWhenTimerFired = handled; resolve(); }, 0));
    let drained = (): void => {};
    const allHandled = new Promise<void>((resolve) => { drained = resolve; });
    q.run(2, () => {
      const until = performance.now() + 1;
      while (performance.now() < until);
      handled += 1;
      if (handled === keys) drained();
      return Promise.resolve();
    }, () => {});
    await Promise.all([timerFired, allHandled]);
    await q.shutdown();
    assert.ok(handledWhenTimerFired >= 0 && handledWhenTimerFired < keys / 2, `the timer fired after ${handledWhenTimerFired} of ${keys} handlers (the workers never yielded)`);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../log.ts';
import { ManualClock, flushMicrotasks } from './clock.ts';
import { ApiError } from './client.ts';
import { Controller } from './controller.ts';
import { Informer } from './informer.ts';
import { KubeHttpClient } from './kube.ts';
import { RuntimeMetrics } from './metrics.ts';
import { ExponentialFailureRateLimiter } from './ratelimit.ts';
import { TerminalError, type Context, type KubeObject, type ObjectKey, type Reconciler, type ResourceRef, type Result } from './types.ts';

const ref: ResourceRef = { group: 'threatmesh.io', version: 'v1alpha1', plural: 'feeds', kind: 'Feed', namespaced: true };
const sink = new Writable({ write: (_c, _e, cb) => cb() });
const log = createLogger(sink, 'error');

/** A reconciler whose outcome per call is scripted by the test. */
class Scripted implements Reconciler<KubeObject> {
  readonly calls: (KubeObject | undefined)[] = [];
  private readonly outcomes: (() => Result)[];
  constructor(outcomes: (() => Result)[]) {
    this.outcomes = outcomes;
  }
  reconcile(_ctx: Context, _key: ObjectKey, obj: KubeObject | undefined): Promise<Result> {
    this.calls.push(obj);
    const next = this.outcomes.shift();
    return next ? Promise.resolve().then(next) : Promise.resolve({});
  }
}

function setup(outcomes: (() => Result)[], onTerminal?: (key: ObjectKey, obj: KubeObject | undefined, err: TerminalError) => Promise<void>) {
  const clock = new ManualClock(0);
  const metrics = new RuntimeMetrics();
  // The informer is never started: the controller only reads its (empty) cache.
  const client = new KubeHttpClient({ server: 'https://127.0.0.1:1', source: 'unused' });
  const informer = new Informer<KubeObject>({ client, ref, log, clock });
  const reconciler = new Scripted(outcomes);
  const controller = new Controller<KubeObject>({
    name: 'feed', informer, reconciler, metrics, log, clock,
    context: { log, now: () => new Date(clock.now()), recorder: { event: () => Promise.resolve() } },
    rateLimiter: new ExponentialFailureRateLimiter(5, 1000),
    onTerminal,
  });
  return { clock, metrics, controller, reconciler };
}

async function count(metrics: RuntimeMetrics, result: string): Promise<number> {
  const m = await metrics.reconcileTotal.get();
  return m.values.find((v) => v.labels.controller === 'feed' && v.labels.result === result)?.value ?? 0;
}

describe('Controller.reconcileKey', () => {
  test('success forgets the key and counts success', async () => {
    const { controller, metrics, reconciler } = setup([() => ({})]);
    assert.equal(await controller.reconcileKey('ns/a'), 'success');
    assert.equal(await count(metrics, 'success'), 1);
    assert.deepEqual(reconciler.calls, [undefined], 'an uncached key reconciles with obj undefined');
    assert.equal(controller.queue.delayedCount(), 0);
  });

  test('an error requeues with growing backoff', async () => {
    const boom = (): Result => { throw new Error('transient'); };
    const { controller, metrics, clock } = setup([boom, boom]);
    assert.equal(await controller.reconcileKey('ns/a'), 'error');
    assert.equal(await controller.reconcileKey('ns/a'), 'error');
    assert.equal(controller.queue.numRequeues('ns/a'), 2);
    assert.equal(await count(metrics, 'error'), 2);
    await clock.advance(5);
    assert.equal(controller.queue.len(), 1, 'due after the first (5 ms) delay; the second request folded into it');
    const errors = await metrics.reconcileErrors.get();
    assert.equal(errors.values[0]?.value, 2);
  });

  test('requeueAfterMs schedules the key and resets backoff', async () => {
    const boom = (): Result => { throw new Error('transient'); };
    const { controller, metrics, clock } = setup([boom, () => ({ requeueAfterMs: 60_000 })]);
    await controller.reconcileKey('ns/a');
    await clock.advance(10);
    assert.equal(await controller.reconcileKey('ns/a'), 'requeue_after');
    assert.equal(controller.queue.numRequeues('ns/a'), 0);
    assert.equal(await count(metrics, 'requeue_after'), 1);
    await clock.advance(59_999);
    assert.equal(controller.queue.len(), 1, 'only the earlier error retry is queued');
    assert.equal(controller.queue.delayedCount(), 1);
  });

  test('requeue: true is a rate-limited requeue without an error', async () => {
    const { controller, metrics } = setup([() => ({ requeue: true })]);
    assert.equal(await controller.reconcileKey('ns/a'), 'requeue');
    assert.equal(await count(metrics, 'requeue'), 1);
    assert.equal(controller.queue.delayedCount(), 1);
  });

  const apiErrors: Array<[string, ApiError, 'requeue' | 'error']> = [
    ['409 Conflict (the object changed after the cache read it) is a requeue, not an error', new ApiError(409, 'Conflict', 'the object has been modified'), 'requeue'],
    ['404 Not Found (deleted after the cache read it) is a requeue: the next visit sees it gone', new ApiError(404, 'NotFound', 'threatindicators.threatmesh.io "x" not found'), 'requeue'],
    ['500 from the API server stays an error', new ApiError(500, 'InternalError', 'etcdserver: request timed out'), 'error'],
  ];
  for (const [name, err, want] of apiErrors) {
    test(name, async () => {
      const { controller, metrics } = setup([() => { throw err; }]);
      assert.equal(await controller.reconcileKey('ns/a'), want);
      assert.equal(await count(metrics, want), 1);
      assert.equal(controller.queue.delayedCount(), 1, 'retried after the rate limiter\'s delay');
      const errors = (await metrics.reconcileErrors.get()).values[0]?.value ?? 0;
      assert.equal(errors, want === 'error' ? 1 : 0);
    });
  }

  test('a TerminalError is not retried and reaches onTerminal', async () => {
    const seen: string[] = [];
    const { controller, metrics } = setup(
      [() => { throw new TerminalError('InvalidSpec', 'spec.url must be https'); }],
      (key, _obj, err) => { seen.push(`${key} ${err.reason}: ${err.message}`); return Promise.resolve(); },
    );
    assert.equal(await controller.reconcileKey('ns/a'), 'terminal');
    assert.deepEqual(seen, ['ns/a InvalidSpec: spec.url must be https']);
    assert.equal(controller.queue.delayedCount(), 0);
    assert.equal(controller.queue.len(), 0);
    assert.equal(await count(metrics, 'terminal'), 1);
  });

  test('when onTerminal fails, the key is retried so the condition gets written eventually', async () => {
    const { controller } = setup(
      [() => { throw new TerminalError('InvalidSpec', 'bad'); }],
      () => Promise.reject(new Error('status write failed')),
    );
    assert.equal(await controller.reconcileKey('ns/a'), 'terminal');
    assert.equal(controller.queue.delayedCount(), 1);
  });

  test('reconcile time is observed per controller', async () => {
    const { controller, metrics } = setup([() => ({})]);
    await controller.reconcileKey('ns/a');
    const text = await metrics.registry.metrics();
    assert.match(text, /controller_runtime_reconcile_time_seconds_count\{controller="feed"\} 1/);
    assert.match(text, /workqueue_depth|workqueue_adds_total/);
  });
});

describe('Controller workers', () => {
  test('start processes queued keys; stop drains and ignores later adds', async () => {
    const { controller, reconciler } = setup([]);
    controller.enqueue('ns/a');
    controller.enqueue('ns/b');
    controller.start();
    assert.equal(controller.isRunning(), true);
    await flushMicrotasks();
    assert.equal(reconciler.calls.length, 2);
    assert.equal(await controller.stop(1000), true);
    controller.enqueue('ns/c');
    assert.equal(controller.queue.len(), 0);
    assert.throws(() => controller.start(), /already started/);
  });
});

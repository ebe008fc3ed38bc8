/**
 * A Controller wires an informer (plus optional secondary informers), a work queue and a
 * Reconciler: events enqueue keys; workers fetch the object from the cache and reconcile it.
 * An error requeues with rate limiting, a TerminalError stops retries and calls `onTerminal`
 * (where the owner sets Ready=False), `requeueAfterMs` schedules the next visit. A 409 Conflict
 * or 404 Not Found on a write (the object changed or was deleted after the cache read it) is a
 * requeue, not an error: the next visit reads the newer version, or sees it gone.
 */
import type { Logger } from '../log.ts';
import { ApiError } from './client.ts';
import { systemClock, type Clock } from './clock.ts';
import { enqueueMapped, enqueueObject, enqueueOwner } from './handlers.ts';
import type { Informer } from './informer.ts';
import type { ReconcileResult, RuntimeMetrics } from './metrics.ts';
import { defaultControllerRateLimiter, type RateLimiter } from './ratelimit.ts';
import { TerminalError, type Context, type KubeObject, type ObjectKey, type Reconciler } from './types.ts';
import { WorkQueue } from './workqueue.ts';

/** Options of a Controller. */
export interface ControllerOptions<T extends KubeObject> {
  /** Controller name: metric label, queue name, log field. */
  readonly name: string;
  /** The informer of the reconciled kind; its events enqueue the objects' own keys. */
  readonly informer: Informer<T>;
  readonly reconciler: Reconciler<T>;
  /** Base context; each reconcile gets a copy whose logger carries controller and key. */
  readonly context: Context;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  /** Parallel reconciles (never two for one key). @default 1 */
  readonly concurrency?: number;
  /** @default defaultControllerRateLimiter (5 ms…1000 s per key, 10 qps burst 100 overall) */
  readonly rateLimiter?: RateLimiter;
  readonly clock?: Clock;
  /**
   * Called after a reconcile threw TerminalError, with the cached object; typically writes
   * Ready=False with the error's reason and message. Its own errors are logged and the key is
   * retried with backoff.
   */
  readonly onTerminal?: (key: ObjectKey, obj: T | undefined, err: TerminalError) => Promise<void>;
}

/** One controller: queue plus workers around a Reconciler. */
export class Controller<T extends KubeObject> {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions<T>;
  private readonly clock: Clock;
  private started = false;

  constructor(opts: ControllerOptions<T>) {
    this.opts = opts;
    this.name = opts.name;
    this.clock = opts.clock ?? systemClock;
    opts.metrics.initController(opts.name);
    this.queue = new WorkQueue({
      clock: this.clock,
      rateLimiter: opts.rateLimiter ?? defaultControllerRateLimiter(this.clock),
      metrics: opts.metrics.queueMetrics(opts.name),
    });
    opts.informer.addHandler(enqueueObject((k) => this.queue.add(k)));
  }

  /** Also reconcile when objects of `informer` change: `map` names the keys to enqueue. */
  watchMapped<U extends KubeObject>(informer: Informer<U>, map: (obj: U) => ObjectKey[]): void {
    informer.addHandler(enqueueMapped((k) => this.queue.add(k), map));
  }

  /** Also reconcile the controller owner (of kind `ownerKind` in `ownerGroup`) of objects of `informer`. */
  watchOwned<U extends KubeObject>(informer: Informer<U>, ownerKind: string, ownerGroup: string): void {
    informer.addHandler(enqueueOwner((k) => this.queue.add(k), ownerKind, ownerGroup));
  }

  /** Enqueues `key` by hand (for example from a timer or another controller). */
  enqueue(key: ObjectKey): void {
    this.queue.add(key);
  }

  /** True once start() ran and stop() did not. */
  isRunning(): boolean {
    return this.started && !this.queue.isShuttingDown();
  }

  /** Starts the workers. Keys queued before start (the warm cache) are processed now. */
  start(): void {
    if (this.started) throw new Error(`controller ${this.name} already started`);
    this.started = true;
    this.opts.log.info('starting controller', { controller: this.name, workers: this.opts.concurrency ?? 1 });
    this.queue.run(this.opts.concurrency ?? 1, async (key) => { await this.reconcileKey(key); }, (key, err) => {
      this.opts.log.error('reconcile worker failed', { controller: this.name, key, err });
    });
  }

  /** Stops taking work and waits up to `deadlineMs` for in-flight reconciles; false if some were cut off. */
  async stop(deadlineMs = 30_000): Promise<boolean> {
    const ok = await this.queue.shutdown(deadlineMs);
    this.opts.log.info('controller stopped', { controller: this.name, drained: ok });
    return ok;
  }

  /** Reconciles one key now and applies the outcome to the queue; returns the metric result. */
  async reconcileKey(key: ObjectKey): Promise<ReconcileResult> {
    const obj = this.opts.informer.get(key);
    const log = this.opts.context.log.child({ controller: this.name, key });
    const ctx: Context = { ...this.opts.context, log };
    const started = this.clock.now();
    let result: ReconcileResult;
    try {
      const res = await this.opts.reconciler.reconcile(ctx, key, obj);
      result = this.onSuccess(key, res.requeueAfterMs, res.requeue === true);
    } catch (err) {
      result = await this.onFailure(key, obj, err, log);
    }
    this.opts.metrics.observeReconcile(this.name, result, Math.max(0, this.clock.now() - started) / 1000);
    return result;
  }

  private onSuccess(key: ObjectKey, requeueAfterMs: number | undefined, requeue: boolean): ReconcileResult {
    if (requeueAfterMs !== undefined && requeueAfterMs > 0) {
      this.queue.forget(key);
      this.queue.addAfter(key, requeueAfterMs);
      return 'requeue_after';
    }
    if (requeue) {
      this.queue.addRateLimited(key);
      return 'requeue';
    }
    this.queue.forget(key);
    return 'success';
  }

  private async onFailure(key: ObjectKey, obj: T | undefined, err: unknown, log: Logger): Promise<ReconcileResult> {
    if (err instanceof TerminalError) {
      log.warn('reconcile failed permanently; not retrying until the object changes', { reason: err.reason, message: err.message });
      this.queue.forget(key);
      try {
        await this.opts.onTerminal?.(key, obj, err);
      } catch (hookErr) {
        if (isStale(hookErr)) log.info('object changed since the cache read it; reporting the terminal error on the newer version', { reason: hookErr.reason });
        else log.error('could not report terminal error; retrying', { err: hookErr });
        this.queue.addRateLimited(key);
      }
      return 'terminal';
    }
    if (isStale(err)) {
      log.info('object changed since the cache read it; reconciling the newer version', { reason: err.reason });
      this.queue.addRateLimited(key);
      return 'requeue';
    }
    log.error('reconcile failed; retrying with backoff', { err, retries: this.queue.numRequeues(key) });
    this.queue.addRateLimited(key);
    return 'error';
  }
}

/**
 * The cached copy is stale: 409 Conflict (a write conditional on its resourceVersion met a newer
 * version) or 404 Not Found (the object was deleted since; the delete event follows).
 */
function isStale(err: unknown): err is ApiError {
  return err instanceof ApiError && (err.status === 409 || err.status === 404);
}

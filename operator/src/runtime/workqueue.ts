/**
 * A keyed work queue after client-go's rate-limiting delaying workqueue: a key waits at most once
 * (de-duplication), is never handed to two workers at once (a key added while it is processed is
 * queued again when that processing finishes), can be delayed (`addAfter`) or rate-limited
 * (`addRateLimited`), and is served by a bounded pool of workers.
 */
import { monotonicNow, type Clock, type TimerHandle } from './clock.ts';
import type { RateLimiter } from './ratelimit.ts';

/** Observes queue activity; RuntimeMetrics.queueMetrics(name) implements it. */
export interface QueueMetrics {
  depth(n: number): void;
  added(): void;
  retried(): void;
}

/** Options of a WorkQueue. */
export interface WorkQueueOptions {
  readonly clock: Clock;
  readonly rateLimiter: RateLimiter;
  /** @default no metrics */
  readonly metrics?: QueueMetrics;
  /**
   * Longest stretch (ms, on the clock's monotonic time) the workers run handlers back to back
   * before they let the event loop turn. @default WORK_SLICE_MS
   */
  readonly sliceMs?: number;
}

/**
 * How long workers may keep the event loop before yielding to it. A handler that needs no I/O
 * (an object already as it should be) settles in microtasks only, so a long queue would otherwise
 * run to its end before any timer or socket is served: a resync of 14,000 ThreatIndicators held
 * the loop for 24 s, and the leader's Lease renewal, due every 2 s, missed its 10 s deadline on
 * every term (chaos run, 2026-12-07).
 */
export const WORK_SLICE_MS = 20;

/** Processes one key; the queue marks it done when the promise settles. */
export type KeyHandler = (key: string) => Promise<void>;

/** A de-duplicating, rate-limited, delaying work queue with a worker pool. */
export class WorkQueue {
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly metrics: QueueMetrics | undefined;
  /** FIFO of waiting keys from index `head` on (Array.shift is O(n) on large arrays). */
  private queue: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: TimerHandle }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly workers: Promise<void>[] = [];
  private shuttingDown = false;
  private readonly sliceMs: number;
  /** When the workers last let the event loop turn (monotonic ms). */
  private sliceStart: number;

  constructor(opts: WorkQueueOptions) {
    this.clock = opts.clock;
    this.limiter = opts.rateLimiter;
    this.metrics = opts.metrics;
    this.sliceMs = opts.sliceMs ?? WORK_SLICE_MS;
    this.sliceStart = monotonicNow(this.clock);
  }

  /** Queues `key` unless it is already waiting; ignored after shutdown. */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics?.added();
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /**
   * Queues `key` after `ms`. When the key is already scheduled, the earlier time wins
   * (as in client-go), so a later, longer request never postpones a pending one.
   */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Queues `key` after the rate limiter's delay and counts a retry. */
  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    this.metrics?.retried();
    this.addAfter(key, this.limiter.when(key));
  }

  /** Clears the backoff history of `key`. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** Failures counted for `key` since it was last forgotten. */
  numRequeues(key: string): number {
    return this.limiter.retries(key);
  }

  /** Keys waiting to be handed out (not counting delayed or in-flight keys). */
  len(): number {
    return this.queue.length - this.head;
  }

  /** Keys scheduled by addAfter/addRateLimited and not yet due. */
  delayedCount(): number {
    return this.delayed.size;
  }

  /** Keys currently being processed. */
  inFlight(): number {
    return this.processing.size;
  }

  /** True once shutdown() was called. */
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Waits for the next key and marks it in-flight; undefined once the queue shuts down.
   * Every key returned must be passed to done().
   */
  get(): Promise<string | undefined> {
    const key = this.take();
    if (key !== undefined || this.shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` finished; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) this.push(key);
  }

  /** Starts `concurrency` workers that call `handler` for each key; handler errors are passed to `onError`. */
  run(concurrency: number, handler: KeyHandler, onError: (key: string, err: unknown) => void): void {
    if (!(concurrency >= 1)) throw new Error(`work queue: concurrency must be at least 1, got ${concurrency}`);
    for (let i = 0; i < concurrency; i++) this.workers.push(this.worker(handler, onError));
  }

  /**
   * Stops handing out keys, drops delayed keys, and resolves when every in-flight handler has
   * finished, or after `deadlineMs` (returns false then).
   */
  async shutdown(deadlineMs = Infinity): Promise<boolean> {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) d.timer.cancel();
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
    const drained = Promise.all(this.workers).then(() => true);
    if (!Number.isFinite(deadlineMs)) return drained;
    let timer: TimerHandle | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = this.clock.setTimer(() => resolve(false), deadlineMs);
    });
    const ok = await Promise.race([drained, expired]);
    timer?.cancel();
    return ok;
  }

  private async worker(handler: KeyHandler, onError: (key: string, err: unknown) => void): Promise<void> {
    for (;;) {
      const key = await this.get();
      if (key === undefined) return;
      try {
        await handler(key);
      } catch (err) {
        onError(key, err);
      } finally {
        this.done(key);
      }
      await this.yieldWhenSliceIsUsed();
    }
  }

  // setImmediate runs after the poll phase, so due timers and socket reads are served before the
  // next handler. One extra turn per slice costs nothing when handlers await I/O anyway.
  private async yieldWhenSliceIsUsed(): Promise<void> {
    if (monotonicNow(this.clock) - this.sliceStart < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.sliceStart = monotonicNow(this.clock);
  }

  private push(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.metrics?.depth(this.len());
  }

  private take(): string | undefined {
    if (this.shuttingDown || this.head >= this.queue.length) return undefined;
    const key = this.queue[this.head] as string;
    this.head += 1;
    if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.metrics?.depth(this.len());
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }
}

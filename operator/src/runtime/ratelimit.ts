/**
 * Rate limiters for the work queue, after client-go's workqueue package: a per-key exponential
 * failure backoff, a global token bucket, and the maximum of several limiters.
 */
import type { Clock } from './clock.ts';

/** Decides how long a key waits before it is handed out again. */
export interface RateLimiter {
  /** Delay in ms before `key` may be processed again; counts one more failure for per-key limiters. */
  when(key: string): number;
  /** Clears the failure history of `key` (call after a successful reconcile). */
  forget(key: string): void;
  /** Failures counted for `key` since the last forget. */
  retries(key: string): number;
}

/**
 * Per-key exponential backoff: base·2^failures ms, capped at `maxMs`
 * (client-go ItemExponentialFailureRateLimiter).
 */
export class ExponentialFailureRateLimiter implements RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  /** @param baseMs first delay, default 5 ms; @param maxMs cap, default 1000 s. */
  constructor(baseMs = 5, maxMs = 1_000_000) {
    if (!(baseMs > 0) || !(maxMs >= baseMs)) throw new Error(`rate limiter: need 0 < baseMs <= maxMs, got ${baseMs}, ${maxMs}`);
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // Exponents past ~60 overflow to Infinity; the cap makes that harmless.
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/**
 * A global token bucket of `qps` tokens per second holding at most `burst`. Each `when` reserves
 * one token and returns how long until that token exists (golang.org/x/time/rate Reserve), so a
 * burst of retries is spread out instead of hammering the API server.
 */
export class BucketRateLimiter implements RateLimiter {
  private readonly clock: Clock;
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;

  /** @param qps refill rate, default 10/s; @param burst bucket size, default 100. */
  constructor(clock: Clock, qps = 10, burst = 100) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`bucket rate limiter: need qps > 0 and burst >= 1, got ${qps}, ${burst}`);
    this.clock = clock;
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.last = clock.now();
  }

  when(_key: string): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }

  forget(_key: string): void {}

  retries(_key: string): number {
    return 0;
  }
}

/** The largest delay of several limiters; every limiter sees every call. */
export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: readonly RateLimiter[];

  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.when(key)));
  }

  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  retries(key: string): number {
    return Math.max(0, ...this.limiters.map((l) => l.retries(key)));
  }
}

/**
 * controller-runtime's default: per-key backoff from 5 ms to 1000 s, and a global 10 qps bucket
 * with a burst of 100.
 */
export function defaultControllerRateLimiter(clock: Clock): RateLimiter {
  return new MaxOfRateLimiter(new ExponentialFailureRateLimiter(5, 1_000_000), new BucketRateLimiter(clock, 10, 100));
}

/**
 * Capped exponential backoff with "equal jitter" for reconnect loops: attempt n (from 1) waits
 * between d/2 and d where d = min(capMs, baseMs·2^(n-1)). `random` returns [0, 1).
 */
export function jitteredBackoff(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const d = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + random() * (d / 2));
}

/**
 * Delay after `failures` consecutive failures: none for 0, then `baseMs` doubling per further
 * failure up to `capMs` (no jitter: for schedules kept in status or a loop's own period, where
 * one waiter retries, not a crowd).
 */
export function failureBackoffMs(failures: number, baseMs: number, capMs: number): number {
  if (failures <= 0) return 0;
  // Clamped: past 1023 failures 2^n is Infinity, and a 0 base times Infinity is NaN.
  return Math.min(capMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

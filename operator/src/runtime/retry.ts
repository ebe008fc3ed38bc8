/**
 * Retrying a start (a database connection, a service that opens its stores) with capped,
 * jittered exponential backoff, as a kubelet restarts a container but without losing the
 * process: a dependency that is down is waited for, and only an error the caller calls fatal (a
 * configuration error a retry cannot fix) ends the wait.
 */
import { sleep, systemClock, type Clock } from './clock.ts';
import { jitteredBackoff } from './ratelimit.ts';

/** Options of {@link retryWithBackoff}. */
export interface RetryOptions {
  /** Ends the wait between attempts; the attempt in flight is given the same signal. */
  readonly signal: AbortSignal;
  /** Why `err` cannot be fixed by retrying (a bad URL, credentials, certificate), or undefined to retry. */
  readonly fatal: (err: unknown) => string | undefined;
  /** Hears each failed attempt (1-based) and the wait before the next; log and count here. */
  readonly onFailure: (err: unknown, attempt: number, delayMs: number) => void;
  /** First wait. @default 1000 */
  readonly baseMs?: number;
  /** Longest wait. @default 30000 */
  readonly capMs?: number;
  readonly clock?: Clock;
  /** @default Math.random */
  readonly random?: () => number;
}

/** A failure a retry cannot fix: the error and what to do about it. */
export class FatalStartError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'FatalStartError';
  }
}

/**
 * Runs `attempt` until it succeeds; resolves with its result, or undefined when `signal` aborts
 * first. Throws {@link FatalStartError} (with the fix in its message) when `fatal` says a failure
 * cannot be retried.
 */
export async function retryWithBackoff<T>(attempt: (signal: AbortSignal) => Promise<T>, o: RetryOptions): Promise<T | undefined> {
  const clock = o.clock ?? systemClock;
  for (let n = 1; !o.signal.aborted; n++) {
    try {
      return await attempt(o.signal);
    } catch (err) {
      if (o.signal.aborted) return undefined;
      const why = o.fatal(err);
      if (why !== undefined) throw new FatalStartError(why, err);
      const delayMs = jitteredBackoff(n, o.baseMs ?? 1000, o.capMs ?? 30_000, o.random ?? Math.random);
      o.onFailure(err, n, delayMs);
      await sleep(clock, delayMs, o.signal);
    }
  }
  return undefined;
}

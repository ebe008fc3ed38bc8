/**
 * Retries of model calls, pure: which failures are worth another try, and how long to wait
 * (exponential backoff with full jitter, a server's Retry-After honoured up to the cap).
 */

/** How a model call failed, as the client classifies it. */
export type FailureKind = 'timeout' | 'connection' | 'rate-limited' | 'server' | 'client' | 'malformed';

/** Retry policy of a model endpoint. */
export interface RetryPolicy {
  /** Tries in all, the first included. @default 3 */
  readonly attempts: number;
  /** First delay. @default 500 */
  readonly baseMs: number;
  /** Longest delay. @default 8000 */
  readonly capMs: number;
}

/** The default {@link RetryPolicy}. */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseMs: 500, capMs: 8000 };

/** True for failures another try may cure: timeouts, lost connections, 429 and 5xx. */
export function retryable(kind: FailureKind): boolean {
  return kind === 'timeout' || kind === 'connection' || kind === 'rate-limited' || kind === 'server';
}

/** Failure kind of an HTTP status. */
export function kindOfStatus(status: number): FailureKind {
  if (status === 408) return 'timeout';
  if (status === 429) return 'rate-limited';
  return status >= 500 ? 'server' : 'client';
}

/**
 * Delay before try `attempt` + 1 (attempt counts from 1): a uniformly random share of
 * min(cap, base·2^(attempt-1)), or the server's Retry-After when it gave one, capped.
 */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) return Math.min(policy.capMs, retryAfterMs);
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Milliseconds of a Retry-After header (seconds or an HTTP date) or retry-after-ms; undefined when absent or bad. */
export function parseRetryAfter(retryAfter: string | null | undefined, retryAfterMs: string | null | undefined, now: number): number | undefined {
  const ms = Number(retryAfterMs ?? '');
  if (retryAfterMs && Number.isFinite(ms)) return ms;
  if (!retryAfter) return undefined;
  const s = Number(retryAfter);
  if (Number.isFinite(s)) return s * 1000;
  const at = Date.parse(retryAfter);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

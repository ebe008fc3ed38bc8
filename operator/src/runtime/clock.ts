/**
 * Time as a dependency: the runtime reads the time and schedules timers only through a Clock,
 * so tests can drive backoff, delays and lease expiry with a ManualClock instead of waiting.
 */

/** Handle of a scheduled timer. */
export interface TimerHandle {
  cancel(): void;
}

/** How a timer relates to the process's lifetime. */
export interface TimerOptions {
  /**
   * Keep the process alive while the timer is pending: someone awaits it (see `sleep`).
   * Background timers (requeues, resyncs) leave this off so they never hold a process open.
   * @default false
   */
  readonly keepAlive?: boolean;
}

/** Wall-clock time in milliseconds and one-shot timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /**
   * Milliseconds on a clock that never steps (only differences mean anything): what deadlines and
   * elapsed times are measured on, so a wall clock set forward or back (NTP, a skewed node) does
   * not end or stretch them. @default now()
   */
  monotonic?(): number;
  /** Runs `fn` once after `ms` milliseconds unless cancelled. */
  setTimer(fn: () => void, ms: number, opts?: TimerOptions): TimerHandle;
}

/** Longest delay node's setTimeout honours; longer ones fire after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `clock.monotonic()`, or its wall clock for a clock without one. */
export function monotonicNow(clock: Clock): number {
  return clock.monotonic?.() ?? clock.now();
}

/**
 * The real clock: Date.now, performance.now (monotonic) and node timers (monotonic: a 2 s
 * timer fires after 2 s even when the wall clock is set back 30 s). Timers do not keep the
 * process alive unless `keepAlive` is set. Delays beyond MAX_TIMER_MS (about 24.8 days, e.g. an
 * indicator's validUntil) are waited in re-armed steps until the wall-clock deadline, because
 * node would otherwise fire them at once.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(fn, ms, opts) {
    const deadline = Date.now() + Math.max(0, ms);
    let t: NodeJS.Timeout;
    const arm = (wait: number): void => {
      t = setTimeout(() => {
        // Only a wait longer than node's timers can hold is measured on the wall clock.
        const left = deadline - Date.now();
        if (wait >= MAX_TIMER_MS && left > 0) arm(left);
        else fn();
      }, Math.min(Math.max(0, wait), MAX_TIMER_MS));
      if (opts?.keepAlive !== true) t.unref();
    };
    arm(ms);
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * Resolves after `ms` on `clock`, or early (without rejecting) when `signal` aborts. The wait
 * keeps the process alive, as node's own promise timers do: the caller awaits it, so a script
 * whose only pending work is this wait must not exit mid-way (Node's exit code 13). Loops that
 * sleep in the background must therefore pass a `signal` and abort it when they stop.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      resolve();
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms, { keepAlive: true });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `p`'s value, or `late` when `p` has not settled after `ms` on `clock` (it goes on in the
 * background); a rejection of `p` within `ms` rejects. The timer keeps the process alive while
 * it runs, as `sleep` does, and is cancelled as soon as `p` settles.
 */
export async function settleWithin<T, L>(p: Promise<T>, ms: number, late: L, clock: Clock = systemClock): Promise<T | L> {
  let timer: TimerHandle | undefined;
  const expired = new Promise<L>((resolve) => {
    timer = clock.setTimer(() => resolve(late), ms, { keepAlive: true });
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    timer?.cancel();
  }
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires due timers in time order (ties in
 * scheduling order) and lets promise callbacks run between them.
 */
export class ManualClock implements Clock {
  private current: number;
  private wallStep = 0;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current + this.wallStep;
  }

  /** Timers and monotonic time: moved by `advance` only. */
  monotonic(): number {
    return this.current;
  }

  /** Sets the wall clock forward (or back, negative) by `ms`, as NTP or a skewed node does: `monotonic()` and timers do not move. */
  stepWall(ms: number): void {
    this.wallStep += ms;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const p: Pending = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.pending.push(p);
    return { cancel: () => { p.cancelled = true; } };
  }

  /** Number of timers scheduled and not yet fired or cancelled. */
  timers(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.nextDue(target);
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.current = next.at;
      next.fn();
    }
    this.current = target;
    await flushMicrotasks();
  }

  private nextDue(target: number): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending) {
      if (p.cancelled || p.at > target) continue;
      if (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    }
    this.pending = this.pending.filter((p) => !p.cancelled);
    return best;
  }
}

/** Lets every queued promise callback (and the ones they queue) run. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

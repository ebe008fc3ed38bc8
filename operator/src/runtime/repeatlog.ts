/**
 * How a step that fails every period is logged: one warning when it starts failing or its cause
 * changes, a reminder at most every `remindMs` while the same cause lasts (with how many failures
 * it folded), and one info line when it succeeds again. A peer that is unreachable for an hour
 * thus writes a handful of lines, not one per second (a metric still counts every failure, e.g.
 * threatmesh_exchange_failures_total). Keys name the step and, for a call to a peer, the peer:
 * each peer's silence is its own story. Used by the partner exchange's loop
 * (exchange/partner/service.ts) and the replica API's database ping (serve/replicametrics.ts). */
import type { Logger } from '../log.ts';

/** How often a failure that lasts with the same cause is logged again. */
export const FAILURE_REMINDER_MS = 5 * 60_000;

interface Failing {
  readonly cause: string;
  readonly since: number;
  loggedAt: number;
  /** Failures since the last line. */
  folded: number;
}

/** Logs a repeating failure once per cause change (see the file header); instance state only. */
export class RepeatedFailureLog {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #remindMs: number;
  readonly #failing = new Map<string, Failing>();

  /** @param remindMs @default FAILURE_REMINDER_MS */
  constructor(log: Logger, now: () => number, remindMs = FAILURE_REMINDER_MS) {
    this.#log = log;
    this.#now = now;
    this.#remindMs = remindMs;
  }

  /** `key` failed with `cause`: logs `msg` (warn) when the cause is new or a reminder is due, else only counts it. */
  failed(key: string, cause: string, msg: string, fields: Record<string, unknown>): void {
    const now = this.#now();
    const was = this.#failing.get(key);
    if (was === undefined || was.cause !== cause) {
      this.#failing.set(key, { cause, since: now, loggedAt: now, folded: 0 });
      this.#log.warn(msg, { ...fields, ...(was !== undefined ? { previousCause: was.cause } : {}) });
      return;
    }
    was.folded++;
    if (now - was.loggedAt < this.#remindMs) return;
    this.#log.warn(msg, { ...fields, reminder: true, failingForMs: now - was.since, failuresSinceLastLine: was.folded });
    was.loggedAt = now;
    was.folded = 0;
  }

  /** `key` succeeded: one info line `msg` if it was failing, else nothing. */
  recovered(key: string, msg: string, fields: Record<string, unknown> = {}): void {
    const was = this.#failing.get(key);
    if (was === undefined) return;
    this.#failing.delete(key);
    this.#log.info(msg, { ...fields, cause: was.cause, failedForMs: this.#now() - was.since });
  }
}

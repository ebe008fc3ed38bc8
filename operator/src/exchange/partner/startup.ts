/**
 * The partner exchange as a leader-only Runnable of the operator's manager, with a start that
 * waits for its database instead of ending the operator. A start that fails (the partner
 * database down or out of reach, the gossip port still held) is retried with capped, jittered
 * exponential backoff; each failed attempt is logged once with its cause and fix
 * (failures.ts), counted in threatmesh_exchange_failures_total{loop="start"}, shown by the
 * threatmesh_exchange_replication_failing gauge and by Replicating=False on the sequencer's
 * PartnerNode (the exchange's status surface), with one Warning Event per new cause; readiness
 * says "not ready" until the start succeeds, naming the start's step under way and for how long
 * (prepare.ts: the steps that need no leadership are kept across terms). Only a configuration error (bad URI, credentials,
 * certificate) fails fast, through `onError`. A stop is bounded by its deadline: after
 * GRACEFUL_STOP_MS (at most half of it), the running exchange's database work in flight is interrupted.
 */
import { PARTNER_NODES } from '../../api/schemas/index.ts';
import type { PartnerNode } from '../../api/types.ts';
import type { Logger } from '../../log.ts';
import { listFrom, type KubeClient } from '../../runtime/client.ts';
import { settleWithin, systemClock, type Clock } from '../../runtime/clock.ts';
import { KubeEventRecorder } from '../../runtime/events.ts';
import type { Runnable } from '../../runtime/manager.ts';
import { retryWithBackoff } from '../../runtime/retry.ts';
import type { CacheReader } from '../../runtime/types.ts';
import { mongoConfigError } from '../../store/connect.ts';
import { FailureReporter, type ClassifiedFailure } from './failures.ts';
import type { PartnerMetrics } from './metrics.ts';
import { KubePartnerStatus } from './status.ts';
import { describeStep, type StartStep } from './prepare.ts';

/** A running partner exchange, as the runnable stops it. */
export interface StoppablePartner {
  /** Stops every loop, closes channels and the gossip endpoint. */
  stop(): Promise<void>;
  /** Ends work in flight (the exchange's period, its database client) so a stop stuck on an unreachable database returns. @default none */
  interrupt?(): Promise<void> | void;
}

/** Where a failing start is reported, besides the log. */
export interface StartReporting {
  readonly metrics: PartnerMetrics;
  readonly client: KubeClient;
  /** The operator's PartnerNode informer. @default list from the API server */
  readonly cache?: CacheReader<PartnerNode>;
  /** The exchange namespace (its PartnerNodes). */
  readonly namespace: string;
  readonly partnerId: string;
  readonly clock?: Clock;
}

/** Backoff of the start's retries. */
export interface StartBackoff {
  /** @default 1000 */
  readonly baseMs?: number;
  /** @default 30000 */
  readonly capMs?: number;
}

const START = 'start';

// Replicating=False with the cause on every sequencer PartnerNode, and one Warning Event per new cause.
class StartReporter {
  readonly #r: StartReporting;
  readonly #failures: FailureReporter;
  readonly #status: KubePartnerStatus;
  readonly #events: KubeEventRecorder;

  constructor(r: StartReporting, log: Logger) {
    this.#r = r;
    const now = (): Date => new Date((r.clock ?? systemClock).now());
    this.#failures = new FailureReporter(r.metrics);
    this.#status = new KubePartnerStatus(r.client, now, r.cache);
    this.#events = new KubeEventRecorder({ writer: r.client, log, component: 'threatmesh-exchange', instance: r.partnerId, now });
  }

  failed(err: unknown): ClassifiedFailure {
    return this.#failures.failed(START, err);
  }

  recovered(): void {
    this.#failures.recovered(START);
  }

  /** Writes the condition (and an Event when the cause is new); a cluster that fails too only loses the report. */
  async report(f: ClassifiedFailure): Promise<void> {
    const nodes = await listFrom<PartnerNode>(this.#r.cache, this.#r.client, PARTNER_NODES, { namespace: this.#r.namespace });
    const message = `the partner exchange cannot start: ${f.message}`;
    const evented = this.#failures.eventDue() !== undefined;
    for (const pn of nodes.filter((n) => n.spec.roles.includes('sequencer'))) {
      await this.#status.write(pn, {}, { status: 'False', reason: f.reason, message });
      if (evented) await this.#events.event(pn, 'Warning', f.reason, message);
    }
  }
}

/** Options of {@link partnerRunnable} beyond the launch. */
export interface PartnerRunnableOptions {
  readonly log: Logger;
  /** Hears a configuration error (the operator exits with it). */
  readonly onError?: (err: unknown) => void;
  /** Where failed starts are reported; without it they are only logged. */
  readonly reporting?: StartReporting;
  readonly backoff?: StartBackoff;
  /** The start's step under way (prepare.ts StartSteps), named by readiness until the exchange runs. @default none */
  readonly step?: () => StartStep | undefined;
}

type State = { readonly phase: 'starting' | 'stopped' | 'running' } | { readonly phase: 'retrying'; readonly why: string } | { readonly phase: 'failed'; readonly why: string };

/**
 * The partner exchange as a Runnable: `start` launches it, retrying with backoff until it runs
 * (see the file header); `ready` is true only once it runs; `stop` ends the retries, then stops
 * the exchange within the deadline.
 */
export function partnerRunnable(launch: (signal: AbortSignal) => Promise<StoppablePartner>, opts: PartnerRunnableOptions): Runnable {
  const { log } = opts;
  const abort = new AbortController();
  const reporter = opts.reporting ? new StartReporter(opts.reporting, log) : undefined;
  let state: State = { phase: 'starting' };
  let running: Promise<StoppablePartner | undefined> = Promise.resolve(undefined);
  const onFailure = (err: unknown, attempt: number, delayMs: number): void => {
    const f = reporter?.failed(err);
    log.error('partner exchange cannot start; retrying with backoff', { cause: f?.cause, detail: f?.message, attempt, retryInMs: delayMs, err });
    state = { phase: 'retrying', why: `partner exchange not started (attempt ${attempt} failed${f ? `: ${f.cause}` : ''}); retrying` };
    if (f !== undefined) void reporter!.report(f).catch((e: unknown) => log.warn('cannot report the failed start on the PartnerNode', { err: e }));
  };
  const loop = async (): Promise<StoppablePartner | undefined> => {
    try {
      const p = await retryWithBackoff(launch, { signal: abort.signal, fatal: (err) => mongoConfigError(err), onFailure, ...opts.backoff, ...(opts.reporting?.clock ? { clock: opts.reporting.clock } : {}) });
      if (p !== undefined) {
        reporter?.recovered();
        state = { phase: 'running' };
      }
      return p;
    } catch (err) {
      state = { phase: 'failed', why: err instanceof Error ? err.message : String(err) };
      log.error('partner exchange failed to start', { err });
      opts.onError?.(err);
      return undefined;
    }
  };
  return {
    name: 'partner-exchange',
    start: () => { running = loop(); },
    ready: () => {
      if (state.phase === 'running') return true;
      const why = 'why' in state ? state.why : `partner exchange ${state.phase}`;
      const step = state.phase === 'stopped' || state.phase === 'failed' ? undefined : opts.step?.();
      return step === undefined ? why : `${why}: ${describeStep(step)}`;
    },
    stop: async (deadlineMs) => {
      abort.abort();
      state = { phase: 'stopped' };
      const p = await running;
      return p === undefined ? true : boundedStop(p, deadlineMs, log);
    },
  };
}

/** How long a stop waits for the exchange's loops before interrupting their database work (at most half the deadline). */
export const GRACEFUL_STOP_MS = 5000;

// The exchange's loops get GRACEFUL_STOP_MS to end; then their database work in flight is
// interrupted (nothing is lost: the cursor moves only past written entries) and they get the rest.
async function boundedStop(p: StoppablePartner, deadlineMs: number, log: Logger): Promise<boolean> {
  const stopped = p.stop().then(() => true, (err: unknown) => {
    log.warn('partner exchange stop failed', { err });
    return true;
  });
  const graceMs = Math.min(deadlineMs / 2, GRACEFUL_STOP_MS);
  if (await settleWithin(stopped, graceMs, false)) return true;
  if (p.interrupt === undefined) return settleWithin(stopped, deadlineMs - graceMs, false);
  log.warn('partner exchange stop waits on its database; closing the database client', { afterMs: Math.round(graceMs) });
  void Promise.resolve().then(() => p.interrupt?.()).catch(() => undefined);
  await settleWithin(stopped, deadlineMs - graceMs, false);
  return false;
}

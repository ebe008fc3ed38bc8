/**
 * Feed reconciler: validates the Feed, starts ingestion runs on its interval or cron schedule
 * through a FeedRunExecutor (never two at once per Feed, backing off after failures), records the
 * last and next run, outcome counts and conditions in status, and requeues at the next due time.
 * A finalizer stops an in-flight run before the Feed goes away.
 */
import type { Feed, FeedRunStatus, FeedStatus } from '../api/types.ts';
import { FEEDS } from '../api/schemas/index.ts';
import type { KindValidator } from '../api/validate.ts';
import type { KubeWriter, StatusWriter } from '../runtime/client.ts';
import { finalize } from '../runtime/finalizer.ts';
import { failureBackoffMs } from '../runtime/ratelimit.ts';
import { rfc3339, setCondition } from '../runtime/status.ts';
import { TerminalError, type Condition, type Context, type ObjectKey, type Reconciler, type Result } from '../runtime/types.ts';
import { countsOf, runIdFor, type FeedRunExecutor, type RunState } from './executor.ts';
import { CONDITION, FEED_FINALIZER, REASON } from '../api/reasons.ts';
import { ScheduleError, describeSchedule, nextRunTime, parseSchedule, type Schedule } from './schedule.ts';
import { writeStatus } from './status.ts';

/** Tuning of the Feed controller. */
export interface FeedControllerConfig {
  /** How often a running run is checked when no event arrives. @default 15000 */
  readonly pollMs?: number;
  /** Delay after the first failure; doubles per consecutive failure. @default 60000 */
  readonly backoffBaseMs?: number;
  /** Longest failure backoff. @default 3600000 */
  readonly backoffCapMs?: number;
}

/** What the Feed reconciler needs. */
export interface FeedDeps {
  readonly writer: KubeWriter;
  readonly status: StatusWriter;
  readonly executor: FeedRunExecutor;
  readonly validator: KindValidator;
  readonly config?: FeedControllerConfig;
}

const date = (s: string | undefined): Date | undefined => (s === undefined ? undefined : new Date(s));

/** Reconciles Feeds into ingestion runs. */
export class FeedReconciler implements Reconciler<Feed> {
  private readonly deps: FeedDeps;

  constructor(deps: FeedDeps) {
    this.deps = deps;
  }

  /** Level-based: computes the whole status from the spec, the recorded runs and the executor. */
  async reconcile(ctx: Context, _key: ObjectKey, obj: Feed | undefined): Promise<Result> {
    if (!obj) return {};
    return finalize(this.deps.writer, FEEDS, obj, FEED_FINALIZER, {
      apply: (feed) => this.apply(ctx, feed),
      cleanup: (feed) => this.cleanup(ctx, feed),
    });
  }

  private schedule(feed: Feed): Schedule {
    const checked = this.deps.validator.validate(feed);
    if (!checked.ok) throw new TerminalError(REASON.InvalidSpec, `invalid Feed: ${checked.errors.join('; ')}`);
    try {
      return parseSchedule(feed.spec.schedule);
    } catch (err) {
      if (err instanceof ScheduleError) throw new TerminalError(REASON.InvalidSpec, `invalid Feed: spec.schedule: ${err.message}`);
      throw err;
    }
  }

  private async apply(ctx: Context, feed: Feed): Promise<Result> {
    const schedule = this.schedule(feed);
    const now = ctx.now();
    const poll = this.deps.config?.pollMs ?? 15_000;
    const st: FeedStatus = { ...feed.status, schedule: describeSchedule(schedule) };
    delete st.nextRun;
    await this.settleActive(ctx, feed, st);
    let requeueAfterMs: number | undefined;
    if (st.activeRun) {
      requeueAfterMs = poll;
    } else if (!feed.spec.suspend) {
      const due = this.dueTime(feed, schedule, st);
      if (due === undefined) throw new TerminalError(REASON.NeverFires, `spec.schedule.cron "${feed.spec.schedule.cron ?? ''}" never matches a real date; fix the expression`);
      if (due.getTime() <= now.getTime()) {
        await this.startRun(ctx, feed, st, due);
        requeueAfterMs = poll;
      } else {
        st.nextRun = rfc3339(due);
        requeueAfterMs = due.getTime() - now.getTime();
      }
    }
    const keep = { successful: feed.spec.historyLimits?.successful ?? 3, failed: feed.spec.historyLimits?.failed ?? 1 };
    await this.deps.executor.prune(feed, keep);
    st.conditions = this.conditions(feed, st, now);
    st.observedGeneration = feed.metadata.generation;
    await writeStatus(this.deps.status, FEEDS, feed, st as Record<string, unknown>);
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  /** Checks the active run (or adopts one the status lost) and records it when it finished. */
  private async settleActive(ctx: Context, feed: Feed, st: FeedStatus): Promise<void> {
    const ex = this.deps.executor;
    let active = st.activeRun;
    if (!active?.runId) {
      const found = await ex.active(feed);
      if (!found) return;
      active = { runId: found.runId, ...(found.jobName ? { jobName: found.jobName } : {}), startTime: rfc3339(ctx.now()), outcome: 'Running' };
      st.activeRun = active;
    }
    const state = await ex.status(feed, { runId: active.runId ?? '', ...(active.jobName ? { jobName: active.jobName } : {}) });
    if (state.phase === 'Running') return;
    const last = this.finishedRun(active, state, ctx.now());
    st.lastRun = last;
    delete st.activeRun;
    st.consecutiveFailures = last.outcome === 'Succeeded' ? 0 : (st.consecutiveFailures ?? 0) + 1;
    const ok = last.outcome === 'Succeeded';
    await ctx.recorder.event(feed, ok ? 'Normal' : 'Warning', ok ? REASON.RunSucceeded : (state.phase === 'Lost' ? REASON.RunLost : REASON.RunFailed), `run ${last.runId ?? ''}: ${last.message ?? ''}`);
  }

  private finishedRun(active: FeedRunStatus, state: Exclude<RunState, { phase: 'Running' }>, now: Date): FeedRunStatus {
    const completionTime = rfc3339('completedAt' in state && state.completedAt ? state.completedAt : now);
    const report = 'report' in state ? state.report : undefined;
    const counts = report ? countsOf(report) : undefined;
    const summary = counts ? `${counts.fetched}/${counts.new}` : undefined;
    const message = state.phase === 'Succeeded'
      ? (counts ? `fetched ${counts.fetched}, new ${counts.new}, duplicate ${counts.duplicate}, rejected ${counts.rejected}` : 'succeeded (no report)')
      : state.message;
    return { ...active, completionTime, outcome: state.phase === 'Succeeded' ? 'Succeeded' : 'Failed', ...(counts ? { counts, summary } : {}), message };
  }

  /** When the next run is due: the schedule's time after the last start, delayed by failure backoff. */
  private dueTime(feed: Feed, schedule: Schedule, st: FeedStatus): Date | undefined {
    const lastStart = date(st.lastRun?.startTime);
    const created = date(feed.metadata.creationTimestamp) ?? new Date(0);
    // The first interval run is due at creation; ids derive from due times, so they must not depend on "now".
    const scheduled = schedule.kind === 'interval' && !lastStart ? created : nextRunTime(schedule, lastStart ?? created, created);
    if (!scheduled) return undefined;
    const backoff = failureBackoffMs(st.consecutiveFailures ?? 0, this.deps.config?.backoffBaseMs ?? 60_000, this.deps.config?.backoffCapMs ?? 3_600_000);
    const finished = date(st.lastRun?.completionTime);
    return backoff > 0 && finished ? new Date(Math.max(scheduled.getTime(), finished.getTime() + backoff)) : scheduled;
  }

  private async startRun(ctx: Context, feed: Feed, st: FeedStatus, due: Date): Promise<void> {
    const handle = await this.deps.executor.start(feed, runIdFor(feed, due));
    st.activeRun = { runId: handle.runId, ...(handle.jobName ? { jobName: handle.jobName } : {}), startTime: rfc3339(ctx.now()), outcome: 'Running' };
    await ctx.recorder.event(feed, 'Normal', REASON.RunStarted, `started run ${handle.runId}${handle.jobName ? ` as Job ${handle.jobName}` : ''}`);
  }

  private conditions(feed: Feed, st: FeedStatus, now: Date): Condition[] {
    const gen = feed.metadata.generation;
    const ready = feed.spec.suspend
      ? { status: 'True' as const, reason: REASON.Suspended, message: 'spec.suspend is true: no new runs are started' }
      : st.activeRun
        ? { status: 'True' as const, reason: REASON.RunStarted, message: `run ${st.activeRun.runId ?? ''} in progress since ${st.activeRun.startTime ?? ''}` }
        : { status: 'True' as const, reason: REASON.Scheduled, message: `${st.schedule ?? ''}; next run at ${st.nextRun ?? ''}` };
    let conditions = setCondition(st.conditions, { type: CONDITION.Ready, ...ready, observedGeneration: gen }, now);
    const failures = st.consecutiveFailures ?? 0;
    conditions = setCondition(conditions, failures > 0
      ? { type: CONDITION.Degraded, status: 'True', reason: REASON.RunFailed, message: `${failures} consecutive failed run(s); last: ${st.lastRun?.message ?? ''}`, observedGeneration: gen }
      : { type: CONDITION.Degraded, status: 'False', reason: REASON.RunsHealthy, message: 'the last run succeeded or none has run yet', observedGeneration: gen }, now);
    return conditions;
  }

  private async cleanup(ctx: Context, feed: Feed): Promise<void> {
    const ex = this.deps.executor;
    const active = st(feed).activeRun;
    const found = active?.runId ? { runId: active.runId, ...(active.jobName ? { jobName: active.jobName } : {}) } : await ex.active(feed);
    if (found) {
      await ex.cancel(feed, found);
      ctx.log.info('cancelled the active run of a deleted Feed', { runId: found.runId });
    }
  }
}

function st(feed: Feed): FeedStatus {
  return feed.status ?? {};
}

/**
 * ThreatReport reconciler: validates the report, writes one when it is due (at creation, then on
 * its cron schedule, backing off after failures) through a {@link ThreatReportGenerator} (the
 * report/ room implements it), keeps the latest report in a ConfigMap it owns (summary.md,
 * summary.html, summary.json), records the last run, the next one and conditions in status, and
 * requeues at the next due time. The full report lives in MongoDB and the HTTP API; the status
 * stays short. Deleting the ThreatReport deletes its ConfigMap (owner reference).
 */
import { CONFIGMAPS } from '../feeds/allowlists.ts';
import { SECRETS } from '../feeds/feedrun.ts';
import { THREAT_REPORTS } from '../api/schemas/index.ts';
import type { ThreatReport, ThreatReportRun, ThreatReportSpec, ThreatReportStatus } from '../api/types.ts';
import type { KindValidator } from '../api/validate.ts';
import type { KubeReader, KubeWriter, StatusWriter } from '../runtime/client.ts';
import type { ConfigMap, Secret } from '../runtime/kinds.ts';
import { withControllerReference } from '../runtime/owner.ts';
import { failureBackoffMs } from '../runtime/ratelimit.ts';
import { rfc3339, setCondition } from '../runtime/status.ts';
import { TerminalError, type Condition, type Context, type ObjectKey, type Reconciler, type Result } from '../runtime/types.ts';
import { CONDITION, REASON } from '../api/reasons.ts';
import { ScheduleError, nextCronTime, parseCron, type CronSchedule } from './schedule.ts';
import { writeStatus } from './status.ts';
import { ApiError } from '../runtime/client.ts';
import { REPORT_CREDENTIALS_LABEL, REPORT_CREDENTIALS_ROLE } from '../api/schemas/threatreport.ts';

/** What one run is asked to do. */
export interface ReportRunInput {
  /** namespace/name of the ThreatReport. */
  readonly key: string;
  readonly spec: ThreatReportSpec;
  /** The model endpoint's key, read from spec.model.apiKeySecretRef. */
  readonly apiKey: string | undefined;
  readonly now: Date;
}

/** What one run wrote. */
export interface ReportRunResult {
  readonly reportId: string;
  readonly generator: 'model' | 'extractive';
  readonly headline: string;
  readonly citations: number;
  readonly offered: number;
  readonly attempts: number;
  readonly fallbackReason: string | undefined;
  readonly markdown: string;
  readonly html: string;
  /** The summary as JSON text. */
  readonly json: string;
}

/** Writes reports; implemented by report/service.ts over the partner's MongoDB. */
export interface ThreatReportGenerator {
  run(input: ReportRunInput): Promise<ReportRunResult>;
  /** Forgets what it keeps about a deleted ThreatReport (its gauges). */
  forget(key: string): void;
}

/** Tuning of the ThreatReport controller. */
export interface ThreatReportControllerConfig {
  /** Delay after the first failure; doubles per consecutive failure. @default 60000 */
  readonly backoffBaseMs?: number;
  /** Longest failure backoff. @default 3600000 */
  readonly backoffCapMs?: number;
}

/** What the ThreatReport reconciler needs. */
export interface ThreatReportDeps {
  readonly reader: Pick<KubeReader, 'get'>;
  readonly writer: Pick<KubeWriter, 'apply'>;
  readonly status: StatusWriter;
  readonly generator: ThreatReportGenerator;
  readonly validator: KindValidator;
  readonly config?: ThreatReportControllerConfig;
}

/** Field manager of the ConfigMaps the controller applies. */
export const REPORT_FIELD_MANAGER = 'threatmesh-threatreport';

/** The ConfigMap that holds the latest report of `tr`. */
export function configMapName(tr: ThreatReport): string {
  return tr.spec.configMapName ?? `${tr.metadata.name}-report`;
}

const date = (s: string | undefined): Date | undefined => (s === undefined ? undefined : new Date(s));

/** Reconciles ThreatReports into reports. */
export class ThreatReportReconciler implements Reconciler<ThreatReport> {
  private readonly deps: ThreatReportDeps;

  constructor(deps: ThreatReportDeps) {
    this.deps = deps;
  }

  /** Level-based: writes a report when one is due, then the whole status. */
  async reconcile(ctx: Context, key: ObjectKey, obj: ThreatReport | undefined): Promise<Result> {
    if (!obj || obj.metadata.deletionTimestamp) {
      this.deps.generator.forget(key);
      return {};
    }
    const cron = this.schedule(obj);
    const now = ctx.now();
    const st: ThreatReportStatus = { ...obj.status };
    delete st.nextRun;
    if (!obj.spec.suspend) {
      const due = this.dueTime(obj, cron, st);
      if (due === undefined) throw new TerminalError(REASON.NeverFires, `spec.schedule "${obj.spec.schedule}" never matches a real date; fix the expression`);
      if (due.getTime() <= now.getTime()) await this.runOnce(ctx, obj, st);
      const next = this.dueTime(obj, cron, st);
      if (next !== undefined) st.nextRun = rfc3339(next);
    }
    st.conditions = this.conditions(obj, st, now);
    st.observedGeneration = obj.metadata.generation;
    await writeStatus(this.deps.status, THREAT_REPORTS, obj, st as Record<string, unknown>);
    const next = date(st.nextRun);
    return next === undefined ? {} : { requeueAfterMs: Math.max(1000, next.getTime() - ctx.now().getTime()) };
  }

  private schedule(tr: ThreatReport): CronSchedule {
    const checked = this.deps.validator.validate(tr);
    if (!checked.ok) throw new TerminalError(REASON.InvalidSpec, `invalid ThreatReport: ${checked.errors.join('; ')}`);
    try {
      return parseCron(tr.spec.schedule);
    } catch (err) {
      if (err instanceof ScheduleError) throw new TerminalError(REASON.InvalidSpec, `invalid ThreatReport: spec.schedule: ${err.message}`);
      throw err;
    }
  }

  /** The first report is due at creation; later ones at the cron time after the last start, delayed by failure backoff. */
  private dueTime(tr: ThreatReport, cron: CronSchedule, st: ThreatReportStatus): Date | undefined {
    const lastStart = date(st.lastRun?.startTime);
    const scheduled = lastStart === undefined ? (date(tr.metadata.creationTimestamp) ?? new Date(0)) : nextCronTime(cron, lastStart);
    if (scheduled === undefined) return undefined;
    const backoff = failureBackoffMs(st.consecutiveFailures ?? 0, this.deps.config?.backoffBaseMs ?? 60_000, this.deps.config?.backoffCapMs ?? 3_600_000);
    const finished = date(st.lastRun?.completionTime);
    return backoff > 0 && finished ? new Date(Math.max(scheduled.getTime(), finished.getTime() + backoff)) : scheduled;
  }

  private async runOnce(ctx: Context, tr: ThreatReport, st: ThreatReportStatus): Promise<void> {
    const startTime = rfc3339(ctx.now());
    const key = `${tr.metadata.namespace ?? ''}/${tr.metadata.name}`;
    try {
      const apiKey = await this.apiKey(tr);
      const r = await this.deps.generator.run({ key, spec: tr.spec, apiKey, now: ctx.now() });
      await this.writeConfigMap(tr, r);
      st.configMap = configMapName(tr);
      st.lastRun = {
        reportId: r.reportId, startTime, completionTime: rfc3339(ctx.now()), outcome: 'Succeeded', generator: r.generator, headline: r.headline.slice(0, 256),
        citations: r.citations, offered: r.offered, attempts: r.attempts, ...(r.fallbackReason ? { fallbackReason: r.fallbackReason.slice(0, 1024) } : {}),
      };
      st.consecutiveFailures = 0;
      await ctx.recorder.event(tr, 'Normal', REASON.RunSucceeded, `report ${r.reportId} (${r.generator}): ${r.headline.slice(0, 200)}`);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      st.lastRun = { startTime, completionTime: rfc3339(ctx.now()), outcome: 'Failed', message: message.slice(0, 4096) } satisfies ThreatReportRun;
      st.consecutiveFailures = (st.consecutiveFailures ?? 0) + 1;
      ctx.log.warn('report run failed', { err: message });
      await ctx.recorder.event(tr, 'Warning', REASON.RunFailed, message.slice(0, 1024));
    }
  }

  // Opt-in label a model key Secret must carry, and the Role that grants the operator its name (docs/reports.md).
  private async apiKey(tr: ThreatReport): Promise<string | undefined> {
    const ref = tr.spec.model?.apiKeySecretRef;
    if (ref === undefined) return undefined;
    const ns = tr.metadata.namespace ?? '';
    let secret: Secret | undefined;
    try {
      secret = await this.deps.reader.get<Secret>(SECRETS, ref.name, ns);
    } catch (err) {
      // The operator holds no cluster-wide Secret access (least privilege): each key Secret is granted by name.
      if (!(err instanceof ApiError && err.status === 403)) throw err;
      throw new Error(`spec.model.apiKeySecretRef: the operator may not read Secret ${ns}/${ref.name}; grant it by name: kubectl -n ${ns} create role ${REPORT_CREDENTIALS_ROLE} --verb=get --resource=secrets --resource-name=${ref.name} && kubectl -n ${ns} create rolebinding ${REPORT_CREDENTIALS_ROLE} --role=${REPORT_CREDENTIALS_ROLE} --serviceaccount=<operator namespace>:threatmesh-operator`, { cause: err });
    }
    if (secret !== undefined && secret.metadata.labels?.[REPORT_CREDENTIALS_LABEL] !== 'true') {
      throw new Error(`spec.model.apiKeySecretRef: Secret ${ns}/${ref.name} is not labelled for model credentials; a ThreatReport sends only Secrets meant for it: kubectl -n ${ns} label secret ${ref.name} ${REPORT_CREDENTIALS_LABEL}=true`);
    }
    const name = ref.key ?? 'apiKey';
    const value = secret?.data?.[name];
    if (value === undefined) {
      const create = `kubectl -n ${ns} create secret generic ${ref.name} --from-literal=${name}=KEY && kubectl -n ${ns} label secret ${ref.name} ${REPORT_CREDENTIALS_LABEL}=true`;
      throw new Error(`spec.model.apiKeySecretRef: ${secret === undefined ? `Secret ${ref.name} not found; create it with its label (a ThreatReport sends only Secrets labelled for it)` : `Secret ${ref.name} has no key ${name}; recreate it`}: ${create}`);
    }
    return Buffer.from(value, 'base64').toString('utf8').trim();
  }

  private async writeConfigMap(tr: ThreatReport, r: ReportRunResult): Promise<void> {
    const cm = withControllerReference<ConfigMap>({
      apiVersion: 'v1', kind: 'ConfigMap',
      metadata: { name: configMapName(tr), namespace: tr.metadata.namespace, labels: { 'app.kubernetes.io/managed-by': 'threatmesh', 'threatmesh.io/threatreport': tr.metadata.name }, annotations: { 'threatmesh.io/report-id': r.reportId } },
      data: { 'summary.md': r.markdown, 'summary.html': r.html, 'summary.json': r.json },
    }, tr);
    await this.deps.writer.apply(CONFIGMAPS, cm, REPORT_FIELD_MANAGER);
  }

  private conditions(tr: ThreatReport, st: ThreatReportStatus, now: Date): Condition[] {
    const gen = tr.metadata.generation;
    const last = st.lastRun;
    const ready = tr.spec.suspend
      ? { status: 'True' as const, reason: REASON.Suspended, message: 'spec.suspend is true: no new reports are written' }
      : { status: 'True' as const, reason: REASON.Scheduled, message: `cron ${tr.spec.schedule}; next report at ${st.nextRun ?? ''}` };
    let conditions = setCondition(st.conditions, { type: CONDITION.Ready, ...ready, observedGeneration: gen }, now);
    const failures = st.consecutiveFailures ?? 0;
    conditions = setCondition(conditions, failures > 0
      ? { type: CONDITION.Degraded, status: 'True', reason: REASON.RunFailed, message: `${failures} consecutive failed run(s); last: ${last?.message ?? ''}`, observedGeneration: gen }
      : last?.fallbackReason
        ? { type: CONDITION.Degraded, status: 'True', reason: REASON.ModelFallback, message: `the last report is extractive: ${last.fallbackReason}`, observedGeneration: gen }
        : { type: CONDITION.Degraded, status: 'False', reason: REASON.RunsHealthy, message: 'the last report was written as configured, or none has been written yet', observedGeneration: gen }, now);
    return conditions;
  }
}

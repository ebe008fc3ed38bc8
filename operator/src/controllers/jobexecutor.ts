/**
 * Runs Feed ingestion as batch/v1 Jobs owned by the Feed: `<command> ingest --feed ns/name
 * --run-id ID` in the configured image. The Job name is the run id, so creating it twice is
 * harmless (409 → adopt). The ingest process reports its counts in the RUN_REPORT_ANNOTATION of
 * its own Job.
 */
import type { Feed } from '../api/types.ts';
import { INGEST_NAME } from '../api/manifests.ts';
import { ApiError, type KubeReader, type KubeWriter } from '../runtime/client.ts';
import { controllerRef } from '../runtime/owner.ts';
import { FEED_LABEL, RUN_ID_LABEL, RUN_REPORT_ANNOTATION } from '../api/reasons.ts';
import type { FeedRunExecutor, IngestionReport, RunHandle, RunState } from './executor.ts';

import { JOBS, type Job } from '../runtime/kinds.ts';

export { JOBS, type Job };

/**
 * V8 flag of the ingestion container: a small young generation (8 MB semi-spaces instead of
 * V8's default, which grows to 16-32 MB each) keeps a million-line feed's peak RSS at
 * 162-173 MB instead of 200-205 MB (`npm run bench feeds`, docs/feeds.md), well inside
 * INGEST_RESOURCES' memory limit, at no measurable throughput cost.
 */
export const INGEST_NODE_OPTIONS = '--max-semi-space-size=8';

/**
 * Requests and limits of the ingestion container: the request covers the measured peak
 * (~170 MB with INGEST_NODE_OPTIONS), the limit leaves headroom for the de-dup tables of
 * large namespaces; no CPU limit, so a run is never throttled, only scheduled by its request.
 */
export const INGEST_RESOURCES = { requests: { cpu: '250m', memory: '192Mi' }, limits: { memory: '256Mi' } } as const;

/**
 * Size limit of the ingestion Job's /tmp (an emptyDir; the root file system is read-only). The
 * run spools each new indicator there (about 150 bytes; with the replica API's check, about
 * 300 bytes more per candidate) until it commits: room for several million lines.
 */
export const INGEST_SPOOL_SIZE = '2Gi';

/** Operator configuration for ingestion Jobs. */
export interface JobExecutorConfig {
  /** Container image holding the threatmesh CLI. */
  readonly image: string;
  /** Command that runs the CLI. @default ['threatmesh'] */
  readonly command?: readonly string[];
  /**
   * ServiceAccount of the ingestion pods; it must exist in each Feed's namespace, bound to the
   * ingest ClusterRole (config/rbac/ingest.yaml). @default 'threatmesh-ingest'
   */
  readonly serviceAccountName?: string;
  /** Pod retries within one run. @default 1 */
  readonly backoffLimit?: number;
  /** Hard limit of one run, unless the Feed sets limits.timeoutSeconds. @default 3600 */
  readonly activeDeadlineSeconds?: number;
  /** Safety net for Jobs the history limits missed. @default 604800 (7 days) */
  readonly ttlSecondsAfterFinished?: number;
  /** Internal CIDRs feeds may be fetched from, passed as `--allow-internal-feeds`. @default [] */
  readonly allowInternalFeeds?: readonly string[];
}

function finished(job: Job): 'Complete' | 'Failed' | undefined {
  const c = job.status?.conditions?.find((x) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  return c?.type as 'Complete' | 'Failed' | undefined;
}

function reportOf(job: Job): IngestionReport | undefined {
  const raw = job.metadata.annotations?.[RUN_REPORT_ANNOTATION];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as IngestionReport;
  } catch {
    return undefined;
  }
}

/** The run state a Job's status shows. */
export function jobState(job: Job): RunState {
  const done = finished(job);
  if (!done) return { phase: 'Running' };
  const c = job.status?.conditions?.find((x) => x.type === done && x.status === 'True');
  const at = job.status?.completionTime ?? c?.lastTransitionTime;
  const completedAt = at ? new Date(at) : undefined;
  if (done === 'Complete') return { phase: 'Succeeded', report: reportOf(job), completedAt };
  return { phase: 'Failed', message: `Job ${job.metadata.name} failed: ${c?.reason ?? 'Failed'}: ${c?.message ?? 'see the pod logs'}`, report: reportOf(job), completedAt };
}

function allowArgs(cidrs: readonly string[] | undefined): string[] {
  return cidrs === undefined || cidrs.length === 0 ? [] : ['--allow-internal-feeds', cidrs.join(',')];
}

/** The Job executor. */
export class JobExecutor implements FeedRunExecutor {
  private readonly client: KubeReader & KubeWriter;
  private readonly config: JobExecutorConfig;

  constructor(client: KubeReader & KubeWriter, config: JobExecutorConfig) {
    this.client = client;
    this.config = config;
  }

  /** The Job manifest of run `runId` of `feed`. */
  jobFor(feed: Feed, runId: string): Job {
    const ns = feed.metadata.namespace ?? 'default';
    const c = this.config;
    const deadline = feed.spec.limits?.timeoutSeconds !== undefined ? feed.spec.limits.timeoutSeconds + 60 : (c.activeDeadlineSeconds ?? 3600);
    const labels = { 'app.kubernetes.io/name': 'threatmesh', 'app.kubernetes.io/component': 'ingest', [FEED_LABEL]: feed.metadata.name, [RUN_ID_LABEL]: runId };
    return {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: runId, namespace: ns, labels, ownerReferences: [controllerRef(feed)] },
      spec: {
        backoffLimit: c.backoffLimit ?? 1,
        activeDeadlineSeconds: deadline,
        ttlSecondsAfterFinished: c.ttlSecondsAfterFinished ?? 604800,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: 'Never',
            serviceAccountName: c.serviceAccountName ?? INGEST_NAME,
            containers: [{
              name: 'ingest',
              image: c.image,
              command: [...(c.command ?? ['threatmesh']), 'ingest', '--feed', `${ns}/${feed.metadata.name}`, '--run-id', runId, ...allowArgs(c.allowInternalFeeds)],
              env: [{ name: 'NODE_OPTIONS', value: INGEST_NODE_OPTIONS }],
              resources: { requests: { ...INGEST_RESOURCES.requests }, limits: { ...INGEST_RESOURCES.limits } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
              // The root file system is read-only: the run spools its new indicators (feeds/spool.ts) to this volume.
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            }],
            volumes: [{ name: 'tmp', emptyDir: { sizeLimit: INGEST_SPOOL_SIZE } }],
          },
        },
      },
    };
  }

  async start(feed: Feed, runId: string): Promise<RunHandle> {
    try {
      await this.client.create(JOBS, this.jobFor(feed, runId));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
    return { runId, jobName: runId };
  }

  async status(feed: Feed, handle: RunHandle): Promise<RunState> {
    const job = await this.client.get<Job>(JOBS, handle.jobName ?? handle.runId, feed.metadata.namespace);
    if (!job) return { phase: 'Lost', message: `Job ${handle.jobName ?? handle.runId} no longer exists` };
    return jobState(job);
  }

  private async jobsOf(feed: Feed): Promise<Job[]> {
    const list = await this.client.list<Job>(JOBS, { namespace: feed.metadata.namespace, labelSelector: `${FEED_LABEL}=${feed.metadata.name}` });
    return list.items.filter((j) => j.metadata.ownerReferences?.some((o) => o.uid === feed.metadata.uid) ?? false);
  }

  async active(feed: Feed): Promise<RunHandle | undefined> {
    const running = (await this.jobsOf(feed)).filter((j) => !finished(j));
    const job = running.sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''))[0];
    return job ? { runId: job.metadata.labels?.[RUN_ID_LABEL] ?? job.metadata.name, jobName: job.metadata.name } : undefined;
  }

  async cancel(feed: Feed, handle: RunHandle): Promise<void> {
    await this.deleteJob(feed, handle.jobName ?? handle.runId);
  }

  async prune(feed: Feed, keep: { readonly successful: number; readonly failed: number }): Promise<number> {
    const jobs = await this.jobsOf(feed);
    const newestFirst = (a: Job, b: Job) => (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? '') || b.metadata.name.localeCompare(a.metadata.name);
    const doomed = [
      ...jobs.filter((j) => finished(j) === 'Complete').sort(newestFirst).slice(keep.successful),
      ...jobs.filter((j) => finished(j) === 'Failed').sort(newestFirst).slice(keep.failed),
    ];
    for (const j of doomed) await this.deleteJob(feed, j.metadata.name);
    return doomed.length;
  }

  private async deleteJob(feed: Feed, name: string): Promise<void> {
    try {
      await this.client.delete(JOBS, name, feed.metadata.namespace, { propagationPolicy: 'Background' });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
  }
}

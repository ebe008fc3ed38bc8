/**
 * How LogScan shards run: an executor runs the ready shards of a scan with at most its allotted
 * slots at once. Two implementations: one Kubernetes Indexed Job per scan (this file; its
 * parallelism follows the scan's fair share) and in-process worker threads for the local
 * sandbox (logscaninprocess.ts). Either way the checkpoint of a shard is its record in the
 * partner database (store/sightings.ts), so an executor may run a shard again at any time.
 */
import type { LogScan } from '../api/types.ts';
import { SCAN_NAME } from '../api/manifests.ts';
import { ApiError, type KubeReader, type KubeWriter } from '../runtime/client.ts';
import { controllerRef } from '../runtime/owner.ts';
import { JOBS, type Job } from './jobexecutor.ts';

/** Runs the shards of LogScans. Every method is idempotent. */
export interface ScanShardExecutor {
  /** Runs shards from `ready` (indexes not done) so that at most `slots` of `scan` run at once; `total` is the plan size. */
  ensure(scan: LogScan, ready: readonly number[], slots: number, total: number): Promise<void>;
  /** Shard indexes with a live worker now, or undefined when the executor cannot tell (then the store's view is used). */
  running(scan: LogScan): Promise<ReadonlySet<number> | undefined>;
  /** Stops everything of `scan` (deleted). */
  cancel(scan: LogScan): Promise<void>;
}

/** Label on the Jobs of LogScans: the LogScan's name. */
export const LOGSCAN_LABEL = 'threatmesh.io/logscan';
/** Attempts of a shard (Job pods per index, or in-process runs) before it fails for good. */
export const SHARD_ATTEMPTS = 3;

/** Operator configuration of LogScan Jobs. */
export interface ScanJobConfig {
  /** Container image holding the threatmesh CLI. */
  readonly image: string;
  /** @default ['threatmesh'] */
  readonly command?: readonly string[];
  /** @default 'threatmesh-scan' (config/rbac/scan.yaml) */
  readonly serviceAccountName?: string;
  /** Secret (in the LogScan's namespace) holding the partner MongoDB URI, passed to pods as MONGODB_URI. */
  readonly mongodbUriSecret: { readonly name: string; readonly key: string };
  /** @default 'threatmesh_partner' */
  readonly database?: string;
  /** @default 86400 */
  readonly activeDeadlineSeconds?: number;
}

/** Requests and limits of a scan pod: one core's worth of matching and the snapshot (about 100 MB per million indicators). */
export const SCAN_RESOURCES = { requests: { cpu: '1', memory: '512Mi' }, limits: { memory: '1Gi' } } as const;

/** The Job name of a LogScan: `logscan-<name>-<uid prefix>` (a DNS label). */
export function scanJobName(scan: LogScan): string {
  const base = scan.metadata.name.replaceAll('.', '-').slice(0, 44).replace(/-+$/, '');
  return `logscan-${base}-${(scan.metadata.uid ?? 'x').slice(0, 8)}`;
}

/** The Indexed Job of `scan`: `total` completions, `slots` at once, each pod `scan --logscan NS/NAME --shard <index>`. */
export function scanJob(scan: LogScan, slots: number, total: number, c: ScanJobConfig): Job {
  const ns = scan.metadata.namespace ?? 'default';
  const labels = { 'app.kubernetes.io/name': 'threatmesh', 'app.kubernetes.io/component': 'scan', [LOGSCAN_LABEL]: scan.metadata.name };
  const claim = scan.spec.source.file?.claimName;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: scanJobName(scan), namespace: ns, labels, ownerReferences: [controllerRef(scan)] },
    spec: {
      completionMode: 'Indexed', completions: total, parallelism: slots,
      backoffLimitPerIndex: SHARD_ATTEMPTS - 1, maxFailedIndexes: total,
      activeDeadlineSeconds: c.activeDeadlineSeconds ?? 86_400,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: c.serviceAccountName ?? SCAN_NAME,
          ...(claim !== undefined ? { volumes: [{ name: 'logs', persistentVolumeClaim: { claimName: claim, readOnly: true } }] } : {}),
          containers: [{
            name: 'scan', image: c.image,
            command: [...(c.command ?? ['threatmesh']), 'scan', '--logscan', `${ns}/${scan.metadata.name}`, '--shard', '$(SHARD)', '--database', c.database ?? 'threatmesh_partner'],
            env: [
              { name: 'SHARD', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
              { name: 'MONGODB_URI', valueFrom: { secretKeyRef: { name: c.mongodbUriSecret.name, key: c.mongodbUriSecret.key } } },
            ],
            resources: { requests: { ...SCAN_RESOURCES.requests }, limits: { ...SCAN_RESOURCES.limits } },
            ...(claim !== undefined ? { volumeMounts: [{ name: 'logs', mountPath: '/logs', readOnly: true }] } : {}),
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
          }],
        },
      },
    },
  };
}

/** Runs each LogScan as one Indexed Job whose parallelism is the scan's fair share. */
export class JobScanExecutor implements ScanShardExecutor {
  readonly #client: KubeReader & KubeWriter;
  readonly #config: ScanJobConfig;

  constructor(client: KubeReader & KubeWriter, config: ScanJobConfig) {
    this.#client = client;
    this.#config = config;
  }

  async ensure(scan: LogScan, ready: readonly number[], slots: number, total: number): Promise<void> {
    const name = scanJobName(scan);
    const parallelism = ready.length === 0 ? 0 : slots;
    const job = await this.#client.get<Job>(JOBS, name, scan.metadata.namespace);
    if (job === undefined) {
      if (ready.length === 0) return;
      try {
        await this.#client.create(JOBS, scanJob(scan, parallelism, total, this.#config));
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 409)) throw err;
      }
      return;
    }
    if (job.spec?.parallelism !== parallelism) await this.#client.patch(JOBS, name, scan.metadata.namespace, { spec: { parallelism } });
  }

  running(_scan: LogScan): Promise<ReadonlySet<number> | undefined> {
    return Promise.resolve(undefined);
  }

  async cancel(scan: LogScan): Promise<void> {
    try {
      await this.#client.delete(JOBS, scanJobName(scan), scan.metadata.namespace, { propagationPolicy: 'Background' });
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
  }
}

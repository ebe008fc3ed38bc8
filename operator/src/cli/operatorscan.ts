/**
 * The LogScan part of `threatmesh operator`: with `--exchange` (which gives the partner id and
 * the partner MongoDB), the operator also runs the LogScan controller (controllers/logscansetup.ts).
 * Shards run where Feed runs do: `--executor job` as one Indexed Job per LogScan (pods read the
 * MongoDB URI from `--scan-mongodb-secret` in the LogScan's namespace), `--executor inprocess`
 * as worker threads of the operator (they read the cluster through the operator's kubeconfig).
 * The scan store opens on first use, so a MongoDB that is not up yet delays scans, not the
 * operator's start.
 */
import { addLogScanController } from '../controllers/logscansetup.ts';
import type { LogScanDeps } from '../controllers/logscan.ts';
import { JobScanExecutor, type ScanShardExecutor } from '../controllers/logscanexec.ts';
import { InProcessScanExecutor } from '../controllers/logscaninprocess.ts';
import type { OperatorParts } from '../controllers/setup.ts';
import type { Level } from '../log.ts';
import type { KubeClient } from '../runtime/client.ts';
import type { Runnable } from '../runtime/manager.ts';
import { MongoScanStore } from '../store/sightings.ts';
import { UsageError } from './errors.ts';
import { mongoClient } from '../store/connect.ts';

/** Defaults of the operator's LogScan flags. */
export const SCAN_FLAG_DEFAULTS = {
  /** Secret (name/key, in each LogScan namespace) with the partner MongoDB URI for shard pods: the MongoDB Community operator's connection-string Secret. */
  mongodbSecret: 'threatmesh-mongodb-uri/connectionString.standard',
  /** Shards running at once across every LogScan. */
  capacity: 2,
} as const;

/** The operator flags this module reads. */
export interface OperatorScanFlags {
  readonly executor: string;
  readonly jobImage?: string;
  readonly kubeconfig?: string;
  /** `name/key` of the MongoDB URI Secret for shard pods. @default SCAN_FLAG_DEFAULTS.mongodbSecret */
  readonly scanMongodbSecret?: string;
  /** @default SCAN_FLAG_DEFAULTS.capacity */
  readonly scanCapacity?: string;
}

/** Where scans keep their state: the partner database of the exchange. */
export interface ScanDatabase {
  readonly mongodbUri: string;
  readonly database: string;
  readonly partnerId: string;
}

/** Validated LogScan settings of the operator. */
export interface OperatorScanSettings {
  readonly executor: 'job' | 'inprocess';
  readonly capacity: number;
  readonly jobImage?: string;
  readonly kubeconfig?: string;
  readonly mongodbSecret: { readonly name: string; readonly key: string };
}

/**
 * Checks the LogScan flags (before anything connects); `envKubeconfig` is $KUBECONFIG (--kubeconfig wins).
 * Undefined when `enabled` is false (no --exchange: no partner database, no LogScan controller).
 */
export function checkScanFlags(flags: OperatorScanFlags, envKubeconfig: string | undefined, enabled: boolean): OperatorScanSettings | undefined {
  if (!enabled) return undefined;
  const kubeconfig = flags.kubeconfig ?? envKubeconfig;
  const secret = flags.scanMongodbSecret ?? SCAN_FLAG_DEFAULTS.mongodbSecret;
  const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/([-._a-zA-Z0-9]+)$/.exec(secret);
  if (m === null) throw new UsageError(`--scan-mongodb-secret must be NAME/KEY (a Secret name and one of its keys), got ${JSON.stringify(secret)}`);
  const capText = flags.scanCapacity ?? String(SCAN_FLAG_DEFAULTS.capacity);
  if (!/^[1-9]\d{0,3}$/.test(capText)) throw new Error(`--scan-capacity must be a whole number from 1 to 9999, got ${JSON.stringify(capText)}`);
  const executor = flags.executor === 'inprocess' ? 'inprocess' : 'job';
  if (executor === 'inprocess' && kubeconfig === undefined) {
    throw new UsageError('--executor inprocess runs LogScan shards as worker threads that read the cluster through a kubeconfig: give --kubeconfig (or KUBECONFIG), or use --executor job');
  }
  return {
    executor, capacity: Number(capText), mongodbSecret: { name: m[1] as string, key: m[3] as string },
    ...(flags.jobImage !== undefined ? { jobImage: flags.jobImage } : {}), ...(kubeconfig !== undefined ? { kubeconfig } : {}),
  };
}

/** A scan store that opens (indexes created) on first use and retries the open after a failure. */
function lazyStore(open: () => Promise<MongoScanStore>): LogScanDeps['store'] {
  let opening: Promise<MongoScanStore> | undefined;
  const store = (): Promise<MongoScanStore> => {
    opening ??= open().catch((err: unknown) => {
      opening = undefined;
      throw err;
    });
    return opening;
  };
  return {
    shards: async (planId) => (await store()).shards(planId),
    savePlan: async (planId, shards) => (await store()).savePlan(planId, shards),
    releaseShard: async (planId, index) => (await store()).releaseShard(planId, index),
    rollupShard: async (planId, index, partnerId) => (await store()).rollupShard(planId, index, partnerId),
    deletePlan: async (planId) => (await store()).deletePlan(planId),
  };
}

/** Dependencies of {@link logScanExtras}. */
export interface LogScanExtrasDeps {
  readonly client: KubeClient;
  readonly logLevel: Level;
  /** Watch only this namespace. @default every namespace */
  readonly namespace?: string;
}

/**
 * Adds the LogScan controller to the operator's manager (before it starts) and returns the
 * Runnable that, on stop, ends the shard workers and closes the scan store's MongoDB client.
 */
export function logScanExtras(s: OperatorScanSettings, db: ScanDatabase, deps: LogScanExtrasDeps, parts: OperatorParts): Runnable[] {
  const mongo = mongoClient(db.mongodbUri);
  // The executor's exit callback requeues the scan through the controller built right after it.
  const ref: { controller?: { enqueue(key: string): void } } = {};
  const executor: ScanShardExecutor & { close?: () => Promise<void> } = s.executor === 'inprocess'
    ? new InProcessScanExecutor({ kubeconfig: s.kubeconfig ?? '', mongodbUri: db.mongodbUri, database: db.database, logLevel: deps.logLevel, onExit: (key) => ref.controller?.enqueue(key) })
    : new JobScanExecutor(deps.client, { image: s.jobImage ?? '', mongodbUriSecret: s.mongodbSecret, database: db.database });
  ref.controller = addLogScanController({
    manager: parts.manager, client: deps.client, context: parts.context, store: lazyStore(() => MongoScanStore.open(mongo.db(db.database))),
    executor, partnerId: db.partnerId, metrics: parts.metrics, config: { capacity: s.capacity },
    ...(deps.namespace !== undefined ? { namespace: deps.namespace } : {}),
  });
  return [{
    name: 'logscan-resources',
    start: () => undefined,
    stop: async () => {
      await executor.close?.();
      await mongo.close();
      return true;
    },
  }];
}

/**
 * Wires the LogScan controller into a runtime Manager: the LogScan informer, the reconciler with
 * its store, executor and metrics, and the requeue of a scan when one of its in-process shard
 * workers ends. The operator (and the integration tests) call this next to controllers/setup.ts.
 */
import type { LogScan } from '../api/types.ts';
import { LOG_SCANS } from '../api/schemas/index.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import { secretReader } from '../match/worker.ts';
import type { KubeClient } from '../runtime/client.ts';
import type { Controller } from '../runtime/controller.ts';
import type { Manager } from '../runtime/manager.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import type { Context } from '../runtime/types.ts';
import { LogScanMetrics, LogScanReconciler, type LogScanControllerConfig, type LogScanDeps } from './logscan.ts';
import type { ScanShardExecutor } from './logscanexec.ts';
import { readyFalseOnTerminal } from './status.ts';

/** What the LogScan controller is built from. */
export interface LogScanSetup {
  readonly manager: Manager;
  readonly client: KubeClient;
  readonly context: Context;
  readonly store: LogScanDeps['store'];
  readonly executor: ScanShardExecutor;
  readonly partnerId: string;
  readonly metrics?: RuntimeMetrics;
  /** Watch only this namespace. */
  readonly namespace?: string;
  readonly config?: LogScanControllerConfig;
  readonly planner?: LogScanDeps['planner'];
  /** @default 2 */
  readonly concurrency?: number;
}

/** Adds the LogScan controller to `s.manager` (before it starts); returns it. */
export function addLogScanController(s: LogScanSetup): Controller<LogScan> {
  const informer = s.manager.informer<LogScan>(LOG_SCANS, s.namespace ? { namespace: s.namespace } : {});
  const reconciler = new LogScanReconciler({
    writer: s.client, status: s.client, validator: validatorFor(createValidators(), 'LogScan'),
    store: s.store, executor: s.executor, scans: () => informer.list(), secrets: (ns) => secretReader(s.client, ns),
    partnerId: s.partnerId, ...(s.metrics ? { metrics: new LogScanMetrics(s.metrics.registry) } : {}),
    ...(s.config ? { config: s.config } : {}), ...(s.planner ? { planner: s.planner } : {}),
  });
  return s.manager.controller<LogScan>({
    name: 'logscan', informer, context: s.context, concurrency: s.concurrency ?? 2, reconciler,
    onTerminal: readyFalseOnTerminal<LogScan>(s.client, LOG_SCANS, s.context.now),
  });
}

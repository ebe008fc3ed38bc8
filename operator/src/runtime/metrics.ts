/**
 * Prometheus metrics of the operator, on a Registry of its own (never prom-client's global
 * default registry), with the names controller-runtime operators expose so existing dashboards
 * and alerts work unchanged.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueMetrics } from './workqueue.ts';

/** Reconcile outcomes, the `result` label of controller_runtime_reconcile_total. */
export const RECONCILE_RESULTS = ['success', 'error', 'requeue', 'requeue_after', 'terminal'] as const;
/** One of RECONCILE_RESULTS. */
export type ReconcileResult = typeof RECONCILE_RESULTS[number];

/** HTTP codes of the webhook counter reported from the start, as controller-runtime does (the alert matches 5xx). */
export const WEBHOOK_INITIAL_CODES = ['200', '500'] as const;

/** Every metric the runtime and the controllers write. */
export class RuntimeMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly workqueueDepth: Gauge<'name'>;
  readonly workqueueAdds: Counter<'name'>;
  readonly workqueueRetries: Counter<'name'>;
  readonly leaderStatus: Gauge<'name'>;
  /** ThreatIndicators by status phase; set by the ThreatIndicator controller. */
  readonly indicators: Gauge<'phase'>;
  /** Feeds by state; set by the Feed controller. */
  readonly feeds: Gauge<'state'>;
  /** Admission webhook requests by webhook path and HTTP status code (controller-runtime's name). */
  readonly webhookRequests: Counter<'webhook' | 'code'>;

  /** @param registry where the metrics are registered; a fresh Registry when omitted. */
  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.reconcileTotal = new Counter({ name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'], registers });
    this.reconcileErrors = new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'], registers });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60],
      registers,
    });
    this.workqueueDepth = new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers });
    this.workqueueAdds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registers });
    this.workqueueRetries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registers });
    this.leaderStatus = new Gauge({ name: 'leader_election_master_status', help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master', labelNames: ['name'], registers });
    this.indicators = new Gauge({ name: 'threatmesh_indicators', help: 'ThreatIndicators in the informer cache by phase', labelNames: ['phase'], registers });
    this.feeds = new Gauge({ name: 'threatmesh_feeds', help: 'Feeds by state', labelNames: ['state'], registers });
    this.webhookRequests = new Counter({ name: 'controller_runtime_webhook_requests_total', help: 'Total number of admission requests by HTTP status code', labelNames: ['webhook', 'code'], registers });
  }

  /**
   * Reports controller `controller`'s series at zero before its first reconcile (as
   * controller-runtime does): one per result, its error count and an empty histogram, so
   * dashboards and alerts see the series from the start. prom-client shows a labelled metric
   * only once a label set has a value.
   */
  initController(controller: string): void {
    for (const result of RECONCILE_RESULTS) this.reconcileTotal.inc({ controller, result }, 0);
    this.reconcileErrors.inc({ controller }, 0);
    this.reconcileTime.zero({ controller });
  }

  /** Reports the webhook served at `path` with WEBHOOK_INITIAL_CODES at zero. */
  initWebhook(path: string): void {
    for (const code of WEBHOOK_INITIAL_CODES) this.webhookRequests.inc({ webhook: path, code }, 0);
  }

  /** Queue hooks writing workqueue_* series labelled `name`, reported at zero from now on. */
  queueMetrics(name: string): QueueMetrics {
    this.workqueueDepth.set({ name }, 0);
    this.workqueueAdds.inc({ name }, 0);
    this.workqueueRetries.inc({ name }, 0);
    return {
      depth: (n) => this.workqueueDepth.set({ name }, n),
      added: () => this.workqueueAdds.inc({ name }),
      retried: () => this.workqueueRetries.inc({ name }),
    };
  }

  /** Records one finished reconcile of `controller` that took `seconds`. */
  observeReconcile(controller: string, result: ReconcileResult, seconds: number): void {
    this.reconcileTotal.inc({ controller, result });
    if (result === 'error') this.reconcileErrors.inc({ controller });
    this.reconcileTime.observe({ controller }, seconds);
  }

  /** The text exposition served on /metrics. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/**
 * The ThreatReport controller as one leader-only Runnable with its own informer, so the
 * composition root can add it next to the partner exchange (it needs the partner's MongoDB,
 * which only an exchange partner has) without touching the Manager's wiring.
 */
import { THREAT_REPORTS } from '../api/schemas/index.ts';
import type { ThreatReport } from '../api/types.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import type { Logger } from '../log.ts';
import type { KubeClient } from '../runtime/client.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { Controller } from '../runtime/controller.ts';
import { KubeEventRecorder } from '../runtime/events.ts';
import { Informer } from '../runtime/informer.ts';
import type { Runnable } from '../runtime/manager.ts';
import type { RuntimeMetrics } from '../runtime/metrics.ts';
import { readyFalseOnTerminal } from './status.ts';
import { ThreatReportReconciler, type ThreatReportControllerConfig, type ThreatReportGenerator } from './threatreport.ts';

/** What {@link threatReportRunnable} is built with. */
export interface ThreatReportRunnableOptions {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly metrics: RuntimeMetrics;
  readonly generator: ThreatReportGenerator;
  /** Watch only this namespace. @default all namespaces */
  readonly namespace?: string | undefined;
  readonly clock?: Clock | undefined;
  readonly config?: ThreatReportControllerConfig | undefined;
  /** Called once the controller stopped (close the database here). */
  readonly onStop?: (() => Promise<void>) | undefined;
}

/** The ThreatReport informer and controller (one report at a time) as a Runnable. */
export function threatReportRunnable(opts: ThreatReportRunnableOptions): Runnable {
  const clock = opts.clock ?? systemClock;
  const now = (): Date => new Date(clock.now());
  const log = opts.log.child({ component: 'threatreport' });
  const informer = new Informer<ThreatReport>({ client: opts.client, ref: THREAT_REPORTS, log, clock, ...(opts.namespace ? { namespace: opts.namespace } : {}) });
  const recorder = new KubeEventRecorder({ writer: opts.client, log, component: 'threatmesh-operator', now });
  const controller = new Controller<ThreatReport>({
    name: 'threatreport', informer, metrics: opts.metrics, log, clock, concurrency: 1,
    context: { log, now, recorder },
    reconciler: new ThreatReportReconciler({ reader: opts.client, writer: opts.client, status: opts.client, generator: opts.generator, validator: validatorFor(createValidators(), 'ThreatReport'), ...(opts.config ? { config: opts.config } : {}) }),
    onTerminal: readyFalseOnTerminal<ThreatReport>(opts.client, THREAT_REPORTS, now),
  });
  return {
    name: 'threatreport',
    start: () => {
      informer.start();
      controller.start();
    },
    stop: async (deadlineMs) => {
      const drained = await controller.stop(deadlineMs);
      await informer.stop();
      await opts.onStop?.();
      return drained;
    },
  };
}

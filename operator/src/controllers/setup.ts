/**
 * Wires the three controllers, their informers, the voter registry, metrics gauges and the
 * admission webhook into a runtime Manager. The `operator` command and the integration tests
 * call this; nothing here reads the environment.
 */
import type { Logger } from '../log.ts';
import { FEEDS, GROUP, PARTNER_NODES, THREAT_INDICATORS } from '../api/schemas/index.ts';
import { PHASE_ENUM } from '../api/schemas/threatindicator.ts';
import type { Feed, PartnerNode, ThreatIndicator } from '../api/types.ts';
import { createValidators, validatorFor, type KindValidator } from '../api/validate.ts';
import { WEBHOOK_PATH } from '../api/manifests.ts';
import { startWebhookServer, type WebhookServer } from '../api/webhook.ts';
import type { KubeClient } from '../runtime/client.ts';
import { systemClock, type Clock, type TimerHandle } from '../runtime/clock.ts';
import { KubeEventRecorder } from '../runtime/events.ts';
import { objectKey } from '../runtime/informer.ts';
import type { HealthCheck } from '../runtime/health.ts';
import { Manager, type ManagerLeaderElection, type Runnable } from '../runtime/manager.ts';
import { RuntimeMetrics } from '../runtime/metrics.ts';
import type { CacheReader, Context } from '../runtime/types.ts';
import type { FeedRunExecutor } from './executor.ts';
import { FeedReconciler, type FeedControllerConfig } from './feed.ts';
import { JOBS, type Job } from './jobexecutor.ts';
import { PartnerNodeReconciler } from './partnernode.ts';
import { readyFalseOnTerminal } from './status.ts';
import { ThreatIndicatorReconciler } from './threatindicator.ts';
import type { AdmissionPolicy } from '../api/admission.ts';
import { VoterRegistry, partnerEntry, registryFrom } from '../api/partners.ts';
import { SHARED_SIGNATURES_KEPT, VerifiedSignatures } from '../domain/signature.ts';

/** Everything the operator needs, injected. */
export interface OperatorOptions {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly executor: FeedRunExecutor;
  /** Watch only this namespace; all namespaces when absent. */
  readonly namespace?: string;
  /** True when the executor runs Jobs: the Feed controller then watches its Jobs. */
  readonly watchJobs: boolean;
  readonly clock?: Clock;
  readonly policy?: AdmissionPolicy;
  readonly feedConfig?: FeedControllerConfig;
  readonly leaderElection?: ManagerLeaderElection;
  /** host:port of the metrics, /healthz and /readyz server. */
  readonly health?: { readonly host: string; readonly port: number };
  /** Serve the admission webhook here. */
  readonly webhook?: { readonly host: string; readonly port: number; readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Reconciles per controller in parallel. @default 2 */
  readonly concurrency?: number;
  /** Leadership lost (runtime/manager.ts ManagerOptions.onLostLeadership: `clean` when every runnable stopped in time). */
  readonly onLostLeadership?: (stop: { readonly clean: boolean }) => void;
  /**
   * What outlasts one term of leadership in this process (the partner exchange's preparation,
   * exchange/partner/prepare.ts): closed by {@link RunningOperator.stop} unless that stop is for a
   * next term. @default none
   */
  readonly processScoped?: ProcessScoped;
  /** Event reportingInstance, e.g. the pod name. */
  readonly identity?: string;
  /**
   * The process's memory of verified signatures, shared by every voter key the controllers and
   * the webhook parse: pass one per process (the composition root makes it once), so a new term
   * judges again only what changed (docs/adr/2026-12-07-verified-signatures-outlast-terms.md).
   * @default a new one for this term, of SHARED_SIGNATURES_KEPT
   */
  readonly signatures?: VerifiedSignatures;
  /**
   * Extra leader-only work (the partner exchange), built with the operator's voter registry
   * and metrics and started after the controllers, on the leader only when electing.
   */
  readonly extras?: (parts: OperatorParts) => readonly Runnable[];
}

/** What outlasts a term of leadership in the process ({@link OperatorOptions.processScoped}). */
export interface ProcessScoped {
  /** Closes it, at the end of the process. */
  close(): Promise<void>;
  /** Prepares, at process start and before leading, what needs no leadership (cli/terms.ts calls it once); never rejects. @default none */
  standBy?(): Promise<void>;
  /** Readiness of that preparation: true when done, else why not (an informational check, `/readyz/standby-preparation`). @default always true */
  ready?(): true | string;
}

/** What {@link OperatorOptions.extras} builds on. */
export interface OperatorParts {
  readonly registry: VoterRegistry;
  readonly metrics: RuntimeMetrics;
  /** The operator's informer caches, read-only: extras read through them instead of listing from the API server. */
  readonly cache: { readonly threatIndicators: CacheReader<ThreatIndicator>; readonly partnerNodes: CacheReader<PartnerNode> };
  /** The manager, not started yet: extras may add controllers (the LogScan controller, controllers/logscansetup.ts). */
  readonly manager: Manager;
  readonly context: Context;
}

/** A started operator. */
export interface RunningOperator {
  readonly manager: Manager;
  readonly registry: VoterRegistry;
  readonly webhook: WebhookServer | undefined;
  /**
   * Graceful stop: controllers drain, lease released (unless releaseLease is false, as after a
   * crash), webhook closed, and the process-scoped parts closed unless `nextTerm` (the process
   * campaigns again with the same options, cli/terms.ts).
   */
  stop(opts?: { releaseLease?: boolean; nextTerm?: boolean }): Promise<void>;
}

/** The states of the `threatmesh_feeds` gauge; each is reported, at 0 when no Feed is in it. */
export const FEED_STATES = ['idle', 'running', 'failing', 'suspended'] as const;

function feedState(f: Feed): typeof FEED_STATES[number] {
  if (f.spec.suspend) return 'suspended';
  if (f.status?.activeRun) return 'running';
  return (f.status?.consecutiveFailures ?? 0) > 0 ? 'failing' : 'idle';
}

/**
 * ThreatIndicators by status phase for the `threatmesh_indicators` gauge: every phase of the CRD
 * (Revoked included) appears, at 0 when no object has it, so dashboards always have the series;
 * objects without a phase yet count as Unknown.
 */
export function indicatorPhaseCounts(tis: readonly ThreatIndicator[]): Map<string, number> {
  const byPhase = new Map<string, number>(PHASE_ENUM.map((p) => [p, 0]));
  for (const ti of tis) byPhase.set(ti.status?.phase ?? 'Unknown', (byPhase.get(ti.status?.phase ?? 'Unknown') ?? 0) + 1);
  return byPhase;
}

function gauges(metrics: RuntimeMetrics, feeds: () => Feed[], tis: () => ThreatIndicator[]): void {
  metrics.indicators.reset();
  for (const [phase, n] of indicatorPhaseCounts(tis())) metrics.indicators.set({ phase }, n);
  const byState = new Map<string, number>(FEED_STATES.map((st) => [st, 0]));
  for (const f of feeds()) byState.set(feedState(f), (byState.get(feedState(f)) ?? 0) + 1);
  metrics.feeds.reset();
  for (const [state, n] of byState) metrics.feeds.set({ state }, n);
}

/** Registers every valid PartnerNode of `nodes` in `registry` (what the PartnerNode controller would do); `signatures` as in api/partners.ts partnerEntry. */
export function seedRegistry(registry: VoterRegistry, nodes: readonly PartnerNode[], validator: KindValidator, signatures?: VerifiedSignatures): void {
  for (const pn of nodes) {
    if (pn.metadata.deletionTimestamp || !validator.validate(pn).ok) continue;
    const p = partnerEntry(objectKey(pn), pn, signatures);
    if (p.ok) registry.upsert(p.entry);
  }
}

// Informational: a standby still preparing serves the admission webhook all the same; the check tells how far it got.
function standbyCheck(scoped: ProcessScoped): HealthCheck {
  return { name: 'standby-preparation', informational: true, check: () => scoped.ready?.() ?? true };
}

function addExtras(manager: Manager, extras: OperatorOptions['extras'], parts: OperatorParts): void {
  for (const r of extras?.(parts) ?? []) manager.add(r);
}

// The process's memory when the composition root gave one, else one for this term.
function termSignatures(opts: OperatorOptions): VerifiedSignatures {
  return opts.signatures ?? new VerifiedSignatures(SHARED_SIGNATURES_KEPT);
}

/** Builds and starts the operator; resolves once caches synced and the webhook listens. */
export async function startOperator(opts: OperatorOptions): Promise<RunningOperator> {
  const clock = opts.clock ?? systemClock;
  const now = (): Date => new Date(clock.now());
  const metrics = new RuntimeMetrics();
  const manager = new Manager({ client: opts.client, log: opts.log, metrics, clock, ...(opts.leaderElection ? { leaderElection: opts.leaderElection } : {}), ...(opts.health ? { health: opts.health } : {}), ...(opts.onLostLeadership ? { onLostLeadership: opts.onLostLeadership } : {}), ...(opts.processScoped?.ready ? { readyChecks: [standbyCheck(opts.processScoped)] } : {}) });
  const scope = opts.namespace ? { namespace: opts.namespace } : {};
  const feedInf = manager.informer<Feed>(FEEDS, scope);
  const tiInf = manager.informer<ThreatIndicator>(THREAT_INDICATORS, scope);
  const pnInf = manager.informer<PartnerNode>(PARTNER_NODES, scope);
  const validators = createValidators();
  const registry = new VoterRegistry();
  const signatures = termSignatures(opts);
  const recorder = new KubeEventRecorder({ writer: opts.client, log: opts.log, component: 'threatmesh-operator', ...(opts.identity ? { instance: opts.identity } : {}), now });
  const context: Context = { log: opts.log, now, recorder };
  const concurrency = opts.concurrency ?? 2;
  // Runnables start in order once caches synced: know the voters before the first indicator is judged,
  // or a restart would flip every Approved indicator to Proposed and back.
  manager.add({
    name: 'voter-registry-seed',
    start: () => seedRegistry(registry, pnInf.list(), validatorFor(validators, 'PartnerNode'), signatures),
    stop: () => Promise.resolve(true),
  });

  const feedCtl = manager.controller<Feed>({
    name: 'feed', informer: feedInf, context, concurrency,
    reconciler: new FeedReconciler({ writer: opts.client, status: opts.client, executor: opts.executor, validator: validatorFor(validators, 'Feed'), ...(opts.feedConfig ? { config: opts.feedConfig } : {}) }),
    onTerminal: readyFalseOnTerminal<Feed>(opts.client, FEEDS, now),
  });
  if (opts.watchJobs) feedCtl.watchOwned(manager.informer<Job>(JOBS, { ...scope, labelSelector: 'app.kubernetes.io/component=ingest' }), 'Feed', GROUP);
  const tiCtl = manager.controller<ThreatIndicator>({
    name: 'threatindicator', informer: tiInf, context, concurrency,
    reconciler: new ThreatIndicatorReconciler({ status: opts.client, registry, validator: validatorFor(validators, 'ThreatIndicator'), ...(opts.policy ? { policy: opts.policy } : {}) }),
    onTerminal: readyFalseOnTerminal<ThreatIndicator>(opts.client, THREAT_INDICATORS, now),
  });
  const pnCtl = manager.controller<PartnerNode>({
    name: 'partnernode', informer: pnInf, context, concurrency,
    reconciler: new PartnerNodeReconciler({ status: opts.client, registry, validator: validatorFor(validators, 'PartnerNode'), signatures }),
    onTerminal: readyFalseOnTerminal<PartnerNode>(opts.client, PARTNER_NODES, now),
  });
  // A changed voter set can change every undecided indicator's phase, and duplicate-id verdicts of every partner.
  registry.onChange(() => {
    for (const ti of tiInf.list()) tiCtl.enqueue(objectKey(ti));
    for (const pn of pnInf.list()) pnCtl.enqueue(objectKey(pn));
  });

  addExtras(manager, opts.extras, { registry, metrics, cache: { threatIndicators: tiInf, partnerNodes: pnInf }, manager, context });

  let timer: TimerHandle | undefined;
  const tick = (): void => {
    gauges(metrics, () => feedInf.list(), () => tiInf.list());
    timer = clock.setTimer(tick, 15_000);
  };
  await manager.start();
  tick();
  let webhook: WebhookServer | undefined;
  if (opts.webhook) {
    // Every replica serves the webhook, leader or not, so it judges from the shared PartnerNode cache.
    metrics.initWebhook(WEBHOOK_PATH);
    webhook = await startWebhookServer({ ...opts.webhook, log: opts.log.child({ component: 'webhook' }), onResponse: (webhook, code) => metrics.webhookRequests.inc({ webhook, code: String(code) }), deps: { validator: validatorFor(validators, 'ThreatIndicator'), partners: () => registryFrom(pnInf.list(), signatures).voters(), now, ...(opts.policy ? { policy: opts.policy } : {}) } });
    opts.log.info('serving the admission webhook', { host: opts.webhook.host, port: webhook.port });
  }
  return {
    manager,
    registry,
    webhook,
    stop: async (stopOpts = {}) => {
      timer?.cancel();
      await webhook?.close();
      await manager.stop(stopOpts);
      if (stopOpts.nextTerm !== true) await opts.processScoped?.close();
    },
  };
}

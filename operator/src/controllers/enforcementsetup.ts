/**
 * Wires the EnforcementPolicy controller into its own runtime Manager: informers for policies
 * and ConfigMaps (allowlists), the enforcement metrics on the Manager's registry, the MongoDB
 * source. `threatmesh enforce` and the integration tests call this; nothing here reads the
 * environment.
 */
import type { Db } from 'mongodb';
import type { EnforcementPolicy } from '../api/enforcement.ts';
import { ENFORCEMENT_POLICIES } from '../api/schemas/index.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import { EnforcementMetrics } from '../enforce/metrics.ts';
import { SocketRuntimeApi, type RuntimeApi } from '../enforce/haproxy/runtime.ts';
import { MongoIndicatorSource } from '../enforce/source.ts';
import { CONFIGMAPS } from '../feeds/allowlists.ts';
import { loadShippedLists } from '../feeds/warninglists.ts';
import type { Logger } from '../log.ts';
import type { KubeClient } from '../runtime/client.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { KubeEventRecorder } from '../runtime/events.ts';
import { Manager, type ManagerLeaderElection } from '../runtime/manager.ts';
import { RuntimeMetrics } from '../runtime/metrics.ts';
import { EnforcementPolicyReconciler, policiesUsing, type ConfigMapObject } from './enforcementpolicy.ts';
import { readyFalseOnTerminal } from './status.ts';
import { lastSeenByParty } from '../store/receivedsightings.ts';

/** Everything the enforcement controller needs, injected. */
export interface EnforcementOptions {
  readonly client: KubeClient;
  readonly db: Db;
  readonly log: Logger;
  /** Watch only this namespace; all namespaces when absent. */
  readonly namespace?: string;
  readonly clock?: Clock;
  readonly leaderElection?: ManagerLeaderElection;
  /** host:port of the metrics, /healthz and /readyz server. */
  readonly health?: { readonly host: string; readonly port: number };
  /** Poll period of the replicated set. @default 1000 */
  readonly pollIntervalMs?: number;
  /** Full reload and Cilium drift-check period. @default 600000 */
  readonly fullReloadMs?: number;
  /** Most changed keys per HAProxy map sent as a delta instead of a versioned swap. @default 5000 */
  readonly deltaLimit?: number;
  /** Look for changed records this often even when no replica cursor moved. @default 30000 */
  readonly unsignalledPollMs?: number;
  /** Sightings reload period for policies with confidenceDecay. @default 60000 */
  readonly sightingsRefreshMs?: number;
  /** Runtime API client factory (tests count commands through it). @default SocketRuntimeApi */
  readonly connect?: (address: string) => RuntimeApi;
  readonly onLostLeadership?: () => void;
}

/** A started enforcement controller. */
export interface RunningEnforcement {
  readonly manager: Manager;
  readonly metrics: RuntimeMetrics;
  stop(): Promise<void>;
}

/** Builds and starts the enforcement controller; resolves once the caches synced. */
export async function startEnforcement(opts: EnforcementOptions): Promise<RunningEnforcement> {
  const clock = opts.clock ?? systemClock;
  const now = (): Date => new Date(clock.now());
  const metrics = new RuntimeMetrics();
  const manager = new Manager({ client: opts.client, log: opts.log, metrics, clock, ...(opts.leaderElection ? { leaderElection: opts.leaderElection } : {}), ...(opts.health ? { health: opts.health } : {}), ...(opts.onLostLeadership ? { onLostLeadership: opts.onLostLeadership } : {}) });
  const scope = opts.namespace ? { namespace: opts.namespace } : {};
  const policies = manager.informer<EnforcementPolicy>(ENFORCEMENT_POLICIES, scope);
  const configMaps = manager.informer<ConfigMapObject>(CONFIGMAPS, scope);
  const source = await MongoIndicatorSource.open(opts.db);
  const validator = validatorFor(createValidators(), 'EnforcementPolicy');
  const recorder = new KubeEventRecorder({ writer: opts.client, log: opts.log, component: 'threatmesh-enforcement', now });
  const reconciler = new EnforcementPolicyReconciler({
    writer: opts.client, status: opts.client, validator, policies, configMaps, shipped: await loadShippedLists(),
    ...(opts.pollIntervalMs !== undefined ? { pollIntervalMs: opts.pollIntervalMs } : {}),
    enforcer: {
      source, kube: opts.client, metrics: new EnforcementMetrics(metrics.registry), log: opts.log.child({ component: 'enforcement' }),
      connect: opts.connect ?? ((address) => new SocketRuntimeApi(address)),
      ...(opts.fullReloadMs !== undefined ? { fullReloadMs: opts.fullReloadMs } : {}),
      ...(opts.deltaLimit !== undefined ? { deltaLimit: opts.deltaLimit } : {}),
      ...(opts.unsignalledPollMs !== undefined ? { unsignalledPollMs: opts.unsignalledPollMs } : {}),
      sightings: (since) => lastSeenByParty(opts.db, since),
      ...(opts.sightingsRefreshMs !== undefined ? { sightingsRefreshMs: opts.sightingsRefreshMs } : {}),
    },
  });
  const ctl = manager.controller<EnforcementPolicy>({
    name: 'enforcementpolicy', informer: policies, context: { log: opts.log, now, recorder }, concurrency: 2, reconciler,
    onTerminal: readyFalseOnTerminal<EnforcementPolicy>(opts.client, ENFORCEMENT_POLICIES, now),
  });
  ctl.watchMapped(configMaps, (cm) => policiesUsing(policies.list(), cm));
  // A policy's HAProxy maps may be freed by another policy's change or deletion: look at every policy again.
  policies.addHandler({ onAdd: () => undefined, onUpdate: () => undefined, onDelete: () => { for (const p of policies.list()) ctl.enqueue(`${p.metadata.namespace ?? ''}/${p.metadata.name}`); } });
  await manager.start();
  return { manager, metrics, stop: () => manager.stop() };
}

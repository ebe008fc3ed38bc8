/**
 * The Manager owns what every controller shares: the client, the informers, the controllers,
 * leader election and the metrics/health server. Informers run on every replica (standbys keep
 * warm caches); controllers run only on the leader. stop() is the graceful shutdown the
 * composition root calls on SIGTERM: stop taking work, drain in-flight reconciles within a
 * deadline, release the Lease, close the watches.
 */
import type { Logger } from '../log.ts';
import type { KubeClient } from './client.ts';
import { settleWithin, sleep, systemClock, type Clock } from './clock.ts';
import { Controller, type ControllerOptions } from './controller.ts';
import { HealthServer, type HealthCheck } from './health.ts';
import { Informer, type InformerOptions } from './informer.ts';
import { LeaderElector, type LeaderElectionOptions } from './leader.ts';
import type { RuntimeMetrics } from './metrics.ts';
import type { KubeObject, ResourceRef } from './types.ts';

/**
 * Leader election settings of a Manager: the Lease and timing fields of LeaderElectionOptions.
 * `client`, when given, reads and writes the Lease instead of the Manager's own client: give it
 * its own connections (as controller-runtime does), so a renewal never queues behind the
 * controllers' and the exchange's requests on a shared socket pool.
 */
export type ManagerLeaderElection = Pick<LeaderElectionOptions, 'name' | 'namespace' | 'identity' | 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'> & Partial<Pick<LeaderElectionOptions, 'client'>>;

/** Options of a Manager. */
export interface ManagerOptions {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly metrics: RuntimeMetrics;
  readonly clock?: Clock;
  /** Without it, controllers start as soon as caches sync (single replica). */
  readonly leaderElection?: ManagerLeaderElection;
  /** Serve /metrics, /healthz, /readyz here; omitted means no server. */
  readonly health?: { readonly port: number; readonly host?: string };
  /** How long start() waits for the informers' first list before failing. @default 120000 */
  readonly cacheSyncTimeoutMs?: number;
  /** How long stop() waits for in-flight reconciles. @default 30000 */
  readonly shutdownTimeoutMs?: number;
  /**
   * Called when leadership is lost (not on stop()), once the runnables were stopped: `clean` when
   * every one of them stopped within the shutdown deadline. The composition root then exits so the
   * replica restarts as a clean candidate, as controller-runtime does, or, after a clean stop,
   * campaigns again in a new Manager of the same process (cli/terms.ts). A runnable cut off or
   * still running is leader work a new term must not overlap: only an exit ends it.
   */
  readonly onLostLeadership?: (stop: { readonly clean: boolean }) => void;
  /** More readiness checks after the Manager's own (an informational one never fails /readyz). @default none */
  readonly readyChecks?: readonly HealthCheck[];
}

/** What a Manager runs on the leader; Controller implements it. */
export interface Runnable {
  readonly name: string;
  start(): void;
  /** Stops taking work and waits up to `deadlineMs` for in-flight work; false if cut off. */
  stop(deadlineMs: number): Promise<boolean>;
  /** True once it does its work, else why not (a start still retrying); /readyz/runnables fails while the leader's runnables are not ready (informational: /readyz itself does not). @default always ready */
  ready?(): true | string;
}

interface CacheInformer {
  readonly ref: ResourceRef;
  start(): void;
  stop(): Promise<void>;
  hasSynced(): boolean;
  waitForSync(): Promise<void>;
}

type ManagerState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** How long past the shutdown deadline a runnable's stop may take before the manager goes on without it. */
export const STOP_GRACE_MS = 1000;

/** `r.stop(deadlineMs)`, or 'hung' when it has not returned after `boundMs` (a stop that throws counts as cut off). */
function boundedStop(r: Runnable, deadlineMs: number, boundMs: number): Promise<boolean | 'hung'> {
  return settleWithin(r.stop(deadlineMs).catch(() => false), boundMs, 'hung' as const);
}

/** Runs informers, controllers, leader election and the health server as one unit. */
export class Manager {
  readonly client: KubeClient;
  readonly metrics: RuntimeMetrics;
  readonly log: Logger;
  readonly clock: Clock;
  private readonly opts: ManagerOptions;
  private readonly informers = new Map<string, CacheInformer>();
  private readonly runnables: Runnable[] = [];
  private elector: LeaderElector | undefined;
  private health: HealthServer | undefined;
  private state: ManagerState = 'new';
  private runnablesStarted = false;
  private runnablesStopped: Promise<boolean> | undefined;
  private lost = false;
  /** The port the health server listens on, once started. */
  healthPort: number | undefined;

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.client = opts.client;
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * The shared informer for `ref` (one per resource and namespace), created on first use.
   * Create informers before start().
   */
  informer<T extends KubeObject>(ref: ResourceRef, opts: Omit<InformerOptions, 'client' | 'ref' | 'log'> = {}): Informer<T> {
    const key = `${ref.group}/${ref.version}/${ref.plural}/${opts.namespace ?? ''}/${opts.labelSelector ?? ''}/${opts.fieldSelector ?? ''}`;
    const existing = this.informers.get(key);
    if (existing) return existing as unknown as Informer<T>;
    if (this.state !== 'new') throw new Error(`informer for ${ref.plural} requested after the manager started; create informers before start()`);
    const inf = new Informer<T>({ clock: this.clock, ...opts, client: this.client, ref, log: this.log.child({ informer: ref.plural }) });
    this.informers.set(key, inf);
    return inf;
  }

  /** Creates a controller with the manager's metrics, logger and clock, and registers it. */
  controller<T extends KubeObject>(opts: Omit<ControllerOptions<T>, 'metrics' | 'log' | 'clock'>): Controller<T> {
    const c = new Controller<T>({ ...opts, metrics: this.metrics, log: this.log, clock: this.clock });
    this.add(c);
    return c;
  }

  /** Registers something that runs only on the leader. */
  add(r: Runnable): void {
    if (this.state !== 'new') throw new Error(`${r.name} added after the manager started; add runnables before start()`);
    this.runnables.push(r);
  }

  /** True while this replica runs the controllers. */
  isLeader(): boolean {
    return this.runnablesStarted && this.runnablesStopped === undefined;
  }

  /** Readiness: caches synced and the manager running (leading or standing by). */
  readyChecks(): HealthCheck[] {
    return [
      { name: 'informers', check: () => {
        const pending = [...this.informers.values()].filter((i) => !i.hasSynced()).map((i) => i.ref.plural);
        return pending.length === 0 || `caches not synced: ${pending.join(', ')}`;
      } },
      { name: 'manager', check: () => (this.state === 'running' ? this.lost === false || 'lost leadership; controllers stopped' : `manager is ${this.state}`) },
      // Informational: a leader whose exchange waits for its database still serves the admission webhook.
      { name: 'runnables', informational: true, check: () => {
        if (!this.isLeader()) return true;
        const waiting = this.runnables.map((r) => r.ready?.() ?? true).filter((r) => r !== true);
        return waiting.length === 0 || waiting.join('; ');
      } },
      ...(this.opts.readyChecks ?? []),
    ];
  }

  /**
   * Starts the health server and the informers, waits for the caches to sync, then starts the
   * controllers (without leader election) or begins campaigning for the Lease.
   */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error('manager already started');
    this.state = 'starting';
    if (this.opts.health) {
      this.health = new HealthServer({ metrics: this.metrics, log: this.log, port: this.opts.health.port, host: this.opts.health.host, readyChecks: this.readyChecks() });
      this.healthPort = await this.health.start();
      this.log.info('serving metrics and health', { port: this.healthPort, host: this.opts.health.host ?? '127.0.0.1' });
    }
    for (const inf of this.informers.values()) inf.start();
    await this.waitForCaches();
    if (this.state !== 'starting') return;
    this.log.info('caches synced', { informers: this.informers.size });
    this.state = 'running';
    const le = this.opts.leaderElection;
    if (!le) {
      this.startRunnables();
      return;
    }
    this.elector = new LeaderElector({
      ...le,
      client: le.client ?? this.client,
      log: this.log,
      metrics: this.metrics,
      clock: this.clock,
      onStartedLeading: () => this.startRunnables(),
      onStoppedLeading: () => this.lostLeadership(),
    });
    this.elector.start();
  }

  /**
   * Graceful shutdown: stops the controllers (no new work, in-flight reconciles drained within
   * shutdownTimeoutMs), releases the Lease (unless `releaseLease` is false, which leaves it to
   * expire as after a crash), closes the watches and the health server.
   */
  async stop(opts: { releaseLease?: boolean } = {}): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'stopping';
    this.log.info('shutting down');
    await this.stopRunnables();
    await this.elector?.stop({ release: opts.releaseLease !== false });
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await this.health?.stop();
    this.state = 'stopped';
    this.log.info('shutdown complete');
  }

  private async waitForCaches(): Promise<void> {
    const timeoutMs = this.opts.cacheSyncTimeoutMs ?? 120_000;
    const abort = new AbortController();
    const synced = Promise.all([...this.informers.values()].map((i) => i.waitForSync())).then(() => true);
    const ok = await Promise.race([synced, sleep(this.clock, timeoutMs, abort.signal).then(() => false)]);
    abort.abort();
    if (ok) return;
    const pending = [...this.informers.values()].filter((i) => !i.hasSynced()).map((i) => `${i.ref.plural}.${i.ref.group || 'core'}`);
    await this.stop();
    throw new Error(`caches did not sync within ${timeoutMs} ms: ${pending.join(', ')}; are the CRDs installed (kubectl apply -f crds/) and may this ServiceAccount list and watch them?`);
  }

  private startRunnables(): void {
    if (this.runnablesStarted || this.state !== 'running') return;
    this.runnablesStarted = true;
    for (const r of this.runnables) r.start();
  }

  /** Stops the runnables once; true when every one stopped within the deadline. */
  private stopRunnables(): Promise<boolean> {
    if (!this.runnablesStarted) return Promise.resolve(true);
    this.runnablesStopped ??= (async () => {
      const deadline = this.opts.shutdownTimeoutMs ?? 30_000;
      // A runnable that overruns its deadline must not keep a replica that lost its Lease from
      // exiting and coming back as a candidate (a chaos run saw a partner idle for minutes).
      const drained = await Promise.all(this.runnables.map((r) => boundedStop(r, deadline, deadline + STOP_GRACE_MS)));
      const hung = this.runnables.filter((_, i) => drained[i] === 'hung').map((r) => r.name);
      if (hung.length > 0) this.log.error('runnables did not stop by the shutdown deadline; going on without them', { runnables: hung, deadlineMs: deadline });
      else if (drained.includes(false)) this.log.warn('some reconciles did not finish before the shutdown deadline', { deadlineMs: deadline });
      return drained.every((d) => d === true);
    })();
    return this.runnablesStopped;
  }

  private lostLeadership(): void {
    if (this.state !== 'running') return;
    this.lost = true;
    this.log.error('lost leadership; stopping controllers');
    void this.stopRunnables().then((clean) => this.opts.onLostLeadership?.({ clean }));
  }
}

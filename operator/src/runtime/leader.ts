/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package:
 * candidates try to take the Lease every retry period; a holder renews it and steps down when it
 * could not renew within the renew deadline; others take over once they have seen the record
 * unchanged for a lease duration. Writes use resourceVersion (optimistic concurrency), so two
 * candidates never both win. On a graceful stop the leader releases the Lease (empty holder,
 * 1-second duration) so a successor takes over at once.
 */
import type { Logger } from '../log.ts';
import { ApiError, type KubeReader, type KubeWriter } from './client.ts';
import { monotonicNow, sleep, systemClock, type Clock } from './clock.ts';
import type { RuntimeMetrics } from './metrics.ts';
import type { V1LeaseSpec } from '@kubernetes/client-node';
import { LEASES, type Lease, type Wire } from './kinds.ts';

/** The coordination.k8s.io/v1 leases resource. */
export const leaseResource = LEASES;

/** spec of a Lease (client-node's model; MicroTimes as the strings on the wire). */
export type LeaseSpec = Wire<V1LeaseSpec>;

export type { Lease };

/** Options of a LeaderElector. */
export interface LeaderElectionOptions {
  readonly client: KubeReader & KubeWriter;
  readonly log: Logger;
  /** Lease name and namespace. */
  readonly name: string;
  readonly namespace: string;
  /** Unique per replica, e.g. the pod name. */
  readonly identity: string;
  /** How long non-leaders wait after the last observed change before taking over. @default 15000 */
  readonly leaseDurationMs?: number;
  /** The leader steps down when it could not renew for this long. @default 10000 */
  readonly renewDeadlineMs?: number;
  /** Pause between attempts to acquire or renew. @default 2000 */
  readonly retryPeriodMs?: number;
  readonly onStartedLeading: () => void;
  /** Called once when leadership ends: lost, or given up by stop(). */
  readonly onStoppedLeading: () => void;
  /** Called when the observed holder changes (including to ''). */
  readonly onNewLeader?: (identity: string) => void;
  readonly metrics?: RuntimeMetrics;
  readonly clock?: Clock;
  readonly random?: () => number;
}

const jitterFactor = 1.2;

/** client-go's timings, used for whichever of them LeaderElectionOptions leaves out. */
export const leaderElectionDefaults = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

/**
 * The request timeout of a Lease client for leader election with `renewDeadlineMs` (undefined:
 * the default): half of it, at least 1 s, as client-go's resourcelock.NewFromKubeconfig sets it,
 * so one hung request leaves time for another attempt before the leader must step down.
 */
export function leaseRequestTimeoutMs(renewDeadlineMs: number = leaderElectionDefaults.renewDeadlineMs): number {
  return Math.max(1_000, Math.floor(renewDeadlineMs / 2));
}

/** MicroTime as the API server writes it: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Runs leader election for one identity. */
export class LeaderElector {
  private readonly opts: LeaderElectionOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly abort = new AbortController();
  /** The Lease record last seen, and when it changed (monotonic ms). */
  private observed: { record: string; at: number; holder: string } | undefined;
  private leading = false;
  /** We believe we hold the Lease (may be true before leading is announced). */
  private holds = false;
  private loop: Promise<void> | undefined;

  constructor(opts: LeaderElectionOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.leaseMs = opts.leaseDurationMs ?? leaderElectionDefaults.leaseDurationMs;
    this.renewMs = opts.renewDeadlineMs ?? leaderElectionDefaults.renewDeadlineMs;
    this.retryMs = opts.retryPeriodMs ?? leaderElectionDefaults.retryPeriodMs;
    if (!(this.leaseMs > this.renewMs)) throw new Error(`leader election: lease duration (${this.leaseMs} ms) must be greater than the renew deadline (${this.renewMs} ms)`);
    if (!(this.renewMs > this.retryMs * jitterFactor)) throw new Error(`leader election: renew deadline (${this.renewMs} ms) must be greater than ${jitterFactor} × retry period (${this.retryMs} ms)`);
    if (!opts.identity) throw new Error('leader election: identity must not be empty');
    opts.metrics?.leaderStatus.set({ name: opts.name }, 0);
  }

  /** True while this replica holds the Lease. */
  isLeader(): boolean {
    return this.leading;
  }

  /** The holder last observed on the Lease ('' when released or unknown). */
  currentLeader(): string {
    return this.observed?.holder ?? '';
  }

  /** Starts campaigning in the background; resolves immediately. Call once. */
  start(): void {
    if (this.loop) throw new Error('leader election already started');
    this.loop = this.run();
  }

  /**
   * Stops campaigning or renewing. With `release` (the default) a leader hands the Lease back
   * so another replica takes over at once; without it the Lease simply expires (crash-like).
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (this.holds && opts.release !== false) await this.release();
    this.holds = false;
    this.stepDown();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    if (!(await this.acquire(signal))) return;
    this.leading = true;
    this.opts.metrics?.leaderStatus.set({ name: this.opts.name }, 1);
    this.opts.log.info('became leader', { lease: this.opts.name, identity: this.opts.identity });
    this.opts.onStartedLeading();
    await this.renewLoop(signal);
    if (!signal.aborted) {
      this.holds = false;
      this.stepDown();
    }
  }

  private stepDown(): void {
    if (!this.leading) return;
    this.leading = false;
    this.opts.metrics?.leaderStatus.set({ name: this.opts.name }, 0);
    this.opts.log.info('stopped leading', { lease: this.opts.name, identity: this.opts.identity });
    this.opts.onStoppedLeading();
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (await this.attempt()) {
        this.holds = true;
        return !signal.aborted;
      }
      await sleep(this.clock, this.retryMs * (1 + this.random() * (jitterFactor - 1)), signal);
    }
    return false;
  }

  // Deadlines on the monotonic clock (as client-go's time.Since): a wall clock set forward must
  // not end a term that renewed on time (a chaos run's +30 s skew did), nor one set back stretch it.
  private async renewLoop(signal: AbortSignal): Promise<void> {
    let lastRenew = monotonicNow(this.clock);
    while (!signal.aborted) {
      await sleep(this.clock, this.retryMs, signal);
      if (signal.aborted) return;
      const left = lastRenew + this.renewMs - monotonicNow(this.clock);
      const ok = left > 0 && (await this.withDeadline(this.attempt(), left));
      if (signal.aborted) return;
      if (ok) {
        lastRenew = monotonicNow(this.clock);
      } else if (monotonicNow(this.clock) - lastRenew >= this.renewMs) {
        this.opts.log.warn('failed to renew the lease within the renew deadline; stepping down', { lease: this.opts.name, renewDeadlineMs: this.renewMs });
        return;
      }
    }
  }

  private async withDeadline(p: Promise<boolean>, ms: number): Promise<boolean> {
    const abort = new AbortController();
    const timeout = sleep(this.clock, ms, abort.signal).then(() => false);
    const ok = await Promise.race([p, timeout]);
    abort.abort();
    return ok;
  }

  /** One tryAcquireOrRenew: true when this identity holds the Lease afterwards. */
  private async attempt(): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew();
    } catch (err) {
      this.opts.log.warn('leader election attempt failed', { lease: this.opts.name, err });
      return false;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, name, namespace, identity } = this.opts;
    const now = this.clock.now();
    const lease = await client.get<Lease>(leaseResource, name, namespace);
    if (!lease) return this.create(now);
    const spec = lease.spec ?? {};
    const seen = monotonicNow(this.clock);
    this.observe(spec, seen);
    const holder = spec.holderIdentity ?? '';
    const validMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    // Another holder's term runs from when we saw its record change (monotonic), never from its renewTime (its clock).
    if (holder !== '' && holder !== identity && (this.observed?.at ?? seen) + validMs > seen) return false;
    const mine = holder === identity;
    const next: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    return this.write(() => client.update<Lease>(leaseResource, { ...lease, spec: next }), next);
  }

  private create(now: number): Promise<boolean> {
    const spec: LeaseSpec = { holderIdentity: this.opts.identity, leaseDurationSeconds: Math.ceil(this.leaseMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
    const lease: Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.opts.name, namespace: this.opts.namespace }, spec };
    return this.write(() => this.opts.client.create<Lease>(leaseResource, lease), spec);
  }

  private async write(op: () => Promise<Lease>, spec: LeaseSpec): Promise<boolean> {
    try {
      const written = await op();
      this.observe(written.spec ?? spec, monotonicNow(this.clock));
      return true;
    } catch (err) {
      // Someone else wrote first (409 Conflict / AlreadyExists): we lost this round.
      if (err instanceof ApiError && err.status === 409) return false;
      throw err;
    }
  }

  private observe(spec: LeaseSpec, now: number): void {
    const record = JSON.stringify([spec.holderIdentity ?? '', spec.leaseDurationSeconds, spec.acquireTime, spec.renewTime, spec.leaseTransitions]);
    if (this.observed?.record === record) return;
    const holder = spec.holderIdentity ?? '';
    const changedHolder = this.observed?.holder !== holder;
    this.observed = { record, at: now, holder };
    if (changedHolder) this.opts.onNewLeader?.(holder);
  }

  private async release(): Promise<void> {
    const { client, name, namespace, identity } = this.opts;
    try {
      const lease = await client.get<Lease>(leaseResource, name, namespace);
      if (!lease || lease.spec?.holderIdentity !== identity) return;
      const now = microTime(this.clock.now());
      const spec: LeaseSpec = { leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec.leaseTransitions ?? 0 };
      await client.update<Lease>(leaseResource, { ...lease, spec });
      this.opts.log.info('released the lease', { lease: name, identity });
    } catch (err) {
      this.opts.log.warn('could not release the lease; it will expire instead', { lease: name, err });
    }
  }
}

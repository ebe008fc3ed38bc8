/**
 * Keeps one policy's enforcement artifacts equal to its selection of the replicated set. Each
 * `sync` (the controller calls it every poll interval and on every policy change):
 * 1. reads the replica's cursors (the change signal) and, when they moved, what changed in
 *    MongoDB since the high-water mark (a full load on the first sync, when the rules changed,
 *    when the replica started over, and every `fullReloadMs`);
 *    (with `confidenceDecay`, the sightings are reloaded first, every `sightingsRefreshMs`, and
 *    the indicators whose corroborated last sighting changed are re-decided);
 * 2. applies time-driven changes (validUntil passed, validFrom reached, confidence decayed);
 * 3. brings the artifact index up to date (rebuilt after a full load or a target change, else
 *    key by key from the selection's changes), writes the Cilium shards those keys touch, and
 *    syncs HAProxy (checked on every sync, since it may have restarted; written when its
 *    content changed).
 * Targets fail independently: an unreachable HAProxy does not stop Cilium, and the failure is
 * reported (Degraded) and retried on the next poll.
 */
import type { ResolvedPolicy } from '../api/enforcement.ts';
import type { Logger } from '../log.ts';
import type { KubeReader, KubeWriter } from '../runtime/client.ts';
import { ArtifactIndex, type EntryKind } from './artifacts.ts';
import { policyBaseName, policyId } from './cilium.ts';
import { CiliumTarget, type CiliumOutcome } from './ciliumtarget.ts';
import type { Guard } from './guard.ts';
import type { RuntimeApi } from './haproxy/runtime.ts';
import { HaproxyTarget, type HaproxyOutcome } from './haproxytarget.ts';
import type { EnforcementMetrics } from './metrics.ts';
import { Selection } from './selection.ts';
import { SightingClock, type LoadSightings } from './sightingclock.ts';
import type { IndicatorSource, ReplicaProgress } from './source.ts';

/** What every policy's enforcer shares. */
export interface EnforcerDeps {
  readonly source: IndicatorSource;
  readonly kube: KubeReader & KubeWriter;
  readonly connect: (address: string) => RuntimeApi;
  readonly metrics: EnforcementMetrics;
  readonly log: Logger;
  /** Full reload and Cilium drift check period. @default 600000 */
  readonly fullReloadMs?: number;
  /** Most changed keys per HAProxy map applied as a delta rather than a versioned swap. @default 5000 */
  readonly deltaLimit?: number;
  /** Changed records are also looked for this often without a cursor change (writers that move no cursor). @default 30000 */
  readonly unsignalledPollMs?: number;
  /** Reads the sightings (own and received) for policies with `confidenceDecay`; without it nothing counts as sighted. @default none */
  readonly sightings?: LoadSightings;
  /** Sightings are reloaded this often for policies with `confidenceDecay`. @default 60000 */
  readonly sightingsRefreshMs?: number;
}

function sameProgress(a: ReplicaProgress, b: ReplicaProgress): boolean {
  if (a.cursors.size !== b.cursors.size) return false;
  for (const [id, n] of a.cursors) if (b.cursors.get(id) !== n) return false;
  return true;
}

/** The policy as one sync sees it. */
export interface SyncInput {
  readonly policy: ResolvedPolicy;
  readonly guard: Guard;
  /** Changes whenever the selector or the allowlists change (forces a full re-selection). */
  readonly rulesKey: string;
  /** False when another policy owns the same HAProxy maps. */
  readonly haproxyAllowed: boolean;
}

/** What one sync found and wrote. */
export interface SyncReport {
  readonly highWater: number;
  readonly selected: number;
  readonly skipped: Record<string, number>;
  readonly cilium: CiliumOutcome | undefined;
  readonly haproxy: HaproxyOutcome | undefined;
  readonly errors: readonly string[];
  /** True when an artifact changed during this sync. */
  readonly changed: boolean;
  /** Epoch ms of the next time-driven change, Infinity when none. */
  readonly nextEvent: number;
  /** Indicators left out because their confidence decayed. */
  readonly decayed: number;
}

/** The enforcer of one EnforcementPolicy. */
export class PolicyEnforcer {
  readonly #deps: EnforcerDeps;
  readonly #owner: string;
  readonly #cilium: CiliumTarget;
  readonly #haproxy: HaproxyTarget;
  #selection: Selection | undefined;
  #rulesKey = '';
  #loadedAt = 0;
  #deltaAt = 0;
  #count = 0;
  #progress: ReplicaProgress = { cursors: new Map() };
  /** Query mark lagging one poll behind, so a record that became visible late is still read. */
  #mark = -1;
  #appliedTargets = '';
  #index = new ArtifactIndex();
  #indexStale = true;
  #lastCilium: CiliumOutcome | undefined;
  #ciliumDirty = true;
  #clock: SightingClock | undefined;
  #clockKey = '';

  constructor(namespace: string, name: string, deps: EnforcerDeps) {
    this.#deps = deps;
    this.#owner = `${namespace}/${name}`;
    this.#cilium = new CiliumTarget(deps.kube, deps.metrics, { id: policyId(namespace, name), base: policyBaseName(namespace, name), owner: this.#owner });
    this.#haproxy = new HaproxyTarget(deps.connect, deps.metrics, this.#owner, deps.deltaLimit ?? 5000);
  }

  async #fullLoad(input: SyncInput, now: number, progress: ReplicaProgress): Promise<Selection> {
    const started = performance.now();
    const selection = new Selection({ selector: input.policy.selector, guard: input.guard, lastSeen: (digest) => this.#clock?.lastSeen(digest) });
    let seen = 0;
    this.#count = await this.#deps.source.scan((docs) => {
      for (const d of docs) selection.apply(d, now);
      // A million records take minutes on FerretDB: say how far the load is.
      if (Math.floor((seen + docs.length) / 100_000) > Math.floor(seen / 100_000)) this.#deps.log.info('loading the replicated set', { policy: this.#owner, records: seen + docs.length, selected: selection.selected, ms: Math.round(performance.now() - started) });
      seen += docs.length;
    });
    this.#selection = selection;
    this.#rulesKey = input.rulesKey;
    this.#loadedAt = now;
    this.#deltaAt = now;
    this.#progress = progress;
    // Every entry below the cursor read before the scan was written before it: the scan saw it.
    // Later ones may or may not have been seen; the next delta reads them again (idempotent).
    const applied = progress.cursors.size > 0 ? Math.min(...progress.cursors.values()) - 1 : selection.highWater;
    this.#mark = Math.min(applied, selection.highWater);
    this.#indexStale = true;
    this.#ciliumDirty = true;
    this.#cilium.forget();
    this.#deps.log.info('loaded the replicated set', { policy: this.#owner, records: this.#count, selected: selection.selected, highWater: selection.highWater, ms: Math.round(performance.now() - started) });
    return selection;
  }

  /** True when the replica started over (a cursor moved back or disappeared: `replica rebuild` deletes records). */
  #rebuilt(progress: ReplicaProgress): boolean {
    for (const [id, next] of this.#progress.cursors) {
      const now = progress.cursors.get(id);
      if (now === undefined || now < next) return true;
    }
    return false;
  }

  async #refresh(input: SyncInput, now: number): Promise<Selection> {
    const sel = this.#selection;
    const progress = await this.#deps.source.progress();
    const reloadDue = now - this.#loadedAt >= (this.#deps.fullReloadMs ?? 600_000);
    if (!sel || input.rulesKey !== this.#rulesKey || reloadDue || this.#rebuilt(progress)) return this.#fullLoad(input, now, progress);
    const signalled = !sameProgress(progress, this.#progress);
    if (!signalled && now - this.#deltaAt < (this.#deps.unsignalledPollMs ?? 30_000)) return sel;
    if (!signalled) {
      // Writers that do not move a cursor (by hand): also notice deleted records.
      const count = await this.#deps.source.count();
      if (count < this.#count) return this.#fullLoad(input, now, progress);
      this.#count = count;
    }
    const mark = this.#mark;
    this.#mark = sel.highWater;
    for (const d of await this.#deps.source.changedSince(mark)) sel.apply(d, now);
    this.#progress = progress;
    this.#deltaAt = now;
    return sel;
  }

  #logMalformed(sel: Selection): void {
    const bad = sel.takeMalformed();
    for (const m of bad.slice(0, 20)) this.#deps.log.warn('skipping a malformed indicator record in MongoDB; it is not enforced until the replica rewrites it (threatmesh replica rebuild re-verifies the log)', { policy: this.#owner, record: m.id, why: m.why });
    if (bad.length > 20) this.#deps.log.warn('more malformed indicator records skipped', { policy: this.#owner, count: bad.length - 20 });
  }

  async #applyCilium(policy: ResolvedPolicy, dirty: readonly string[] | 'all', errors: string[]): Promise<boolean> {
    if (dirty !== 'all' && dirty.length === 0 && !this.#ciliumDirty) return false;
    try {
      // After a failed write the shards are already up to date: only the objects need writing again.
      this.#lastCilium = await this.#cilium.apply(this.#index, dirty, policy.cilium, policy.mode === 'Enforce');
      this.#ciliumDirty = false;
      const r = this.#lastCilium.report;
      return r.created + r.updated + r.deleted > 0;
    } catch (err) {
      this.#ciliumDirty = true;
      errors.push(`Cilium: ${err instanceof Error ? err.message : String(err)}`);
      return false;
    }
  }

  /** Brings the index up to date: rebuilt after a full load or a target change, else by the selection's changes. Returns the dirty keys or 'all'. */
  #follow(sel: Selection, targetsChanged: boolean): Record<EntryKind, readonly string[]> | 'all' {
    if (this.#indexStale || targetsChanged) {
      this.#index = ArtifactIndex.from(sel.candidates());
      sel.record();
      this.#indexStale = false;
      return 'all';
    }
    this.#index.apply(sel.takeChanges());
    return { cidr: this.#index.takeDirty('cidr'), domain: this.#index.takeDirty('domain') };
  }

  /**
   * Keeps the policy's sighting clock current; returns the digests whose corroborated last
   * sighting changed. The first load must succeed (without it every indicator would look
   * unsighted); a later failed reload keeps the previous times and is reported.
   */
  async #tickClock(input: SyncInput, now: number, errors: string[]): Promise<readonly string[]> {
    const decay = input.policy.selector.decay;
    if (decay === undefined) {
      this.#clock = undefined;
      this.#clockKey = '';
      return [];
    }
    const key = JSON.stringify([decay, input.policy.selector.minConfidence]);
    if (this.#clock === undefined || key !== this.#clockKey) {
      const load: LoadSightings = this.#deps.sightings ?? (() => Promise.resolve(new Map<string, Map<string, number>>()));
      if (this.#deps.sightings === undefined) this.#deps.log.warn('confidenceDecay is set but this enforcer reads no sightings: every indicator decays from its admission', { policy: this.#owner });
      const clock = new SightingClock({ load, rule: decay, minConfidence: input.policy.selector.minConfidence, refreshMs: this.#deps.sightingsRefreshMs });
      await clock.refresh(now, true);
      this.#clock = clock;
      this.#clockKey = key;
      return [];
    }
    try {
      return (await this.#clock.refresh(now)) ?? [];
    } catch (err) {
      errors.push(`sightings: ${err instanceof Error ? err.message : String(err)} (the previous sighting times are kept)`);
      return [];
    }
  }

  /** One sync at `now` (epoch ms). Throws only when MongoDB cannot be read. */
  async sync(input: SyncInput, now: number): Promise<SyncReport> {
    const errors: string[] = [];
    const resighted = await this.#tickClock(input, now, errors);
    const sel = await this.#refresh(input, now);
    if (resighted.length > 0) sel.resight(resighted, now);
    sel.sweep(now);
    this.#logMalformed(sel);
    const policy = input.policy;
    const haproxyCfg = { ...policy.haproxy, enabled: policy.haproxy.enabled && input.haproxyAllowed };
    const targetsKey = JSON.stringify([policy.mode, policy.cilium, haproxyCfg]);
    const dirty = this.#follow(sel, targetsKey !== this.#appliedTargets);
    this.#appliedTargets = targetsKey;
    const ciliumChanged = await this.#applyCilium(policy, dirty === 'all' ? 'all' : dirty.cidr, errors);
    this.#haproxy.follow(this.#index, dirty, haproxyCfg, policy.mode === 'Enforce');
    const haproxy = await this.#haproxy.sync(haproxyCfg);
    for (const e of haproxy.errors) errors.push(e.message);
    this.#publish(sel);
    return {
      highWater: sel.highWater, selected: sel.selected, skipped: sel.skipped(), cilium: this.#lastCilium, haproxy,
      errors, changed: ciliumChanged || haproxy.changed > 0, nextEvent: sel.nextEvent, decayed: sel.decayed,
    };
  }

  #publish(sel: Selection): void {
    this.#deps.metrics.setOutcomes(this.#owner, sel.selected, sel.skipped());
    this.#deps.metrics.highWater.set({ policy: this.#owner }, sel.highWater);
  }

  /** Removes every artifact of the policy (Cilium objects, HAProxy map entries) and its metrics. */
  async cleanup(policy: ResolvedPolicy): Promise<void> {
    await this.#cilium.apply(new ArtifactIndex(), 'all', { ...policy.cilium, enabled: false }, false);
    await this.#haproxy.clear(policy.haproxy);
    this.#deps.metrics.forget(this.#owner);
  }
}

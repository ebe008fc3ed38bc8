/**
 * The Cilium enforcement point of one policy: keeps the CIDR-group shards of the index within
 * the policy's limits (following changed keys shard by shard; rebuilding when a limit or the
 * settings change), writes them (ciliumapply.ts), publishes sizes and headroom, and removes
 * everything when Cilium is disabled or the policy goes away. LogOnly writes the shards
 * (inert on their own: nothing references them) but no deny policy.
 */
import type { ResolvedCilium } from '../api/enforcement.ts';
import { OBJECT_SIZE_LIMIT } from '../api/schemas/enforcementpolicy.ts';
import type { KubeReader, KubeWriter } from '../runtime/client.ts';
import { takeLimited, type ArtifactIndex } from './artifacts.ts';
import { CidrShards, type CiliumPlan, type ShardSettings } from './cilium.ts';
import { applyCilium, type CiliumApplyReport, type CiliumState } from './ciliumapply.ts';
import type { EnforcementMetrics } from './metrics.ts';

/** Cilium's CIDR-per-group comfort limit from the research in issue 13 (about 100k CIDRs per group identity). */
export const CILIUM_CIDRS_PER_GROUP_LIMIT = 100_000;

/** What the Cilium side wrote. */
export interface CiliumOutcome {
  readonly cidrs: number;
  readonly groups: number;
  readonly largestGroupBytes: number;
  readonly leftOut: number;
  readonly policy: boolean;
  readonly report: CiliumApplyReport;
}

/** Identity of the policy the objects belong to. */
export interface CiliumOwner {
  /** Label value (policyId). */
  readonly id: string;
  /** Object name prefix (policyBaseName). */
  readonly base: string;
  /** namespace/name, also the metrics' policy label. */
  readonly owner: string;
}

/** The Cilium side of one policy; keeps the shard set and the list cache between syncs. */
export class CiliumTarget {
  readonly #kube: KubeReader & KubeWriter;
  readonly #metrics: EnforcementMetrics;
  readonly #who: CiliumOwner;
  #state: CiliumState = {};
  #shards: CidrShards | undefined;
  #settingsKey = '';
  #leftOut = 0;

  constructor(kube: KubeReader & KubeWriter, metrics: EnforcementMetrics, who: CiliumOwner) {
    this.#kube = kube;
    this.#metrics = metrics;
    this.#who = who;
  }

  /** Forgets what was written, so the next apply re-lists the cluster (periodic drift check, after errors). */
  forget(): void {
    this.#state = {};
  }

  #settings(cfg: ResolvedCilium): ShardSettings {
    return { ...this.#who, matchLabels: cfg.matchLabels, maxCidrsPerGroup: cfg.maxCidrsPerGroup, maxGroupBytes: cfg.maxGroupBytes };
  }

  /** Shards every CIDR of `index` within the limits (the lowest-priority ones left out above maxCidrs). */
  #rebuild(index: ArtifactIndex, cfg: ResolvedCilium): void {
    const limited = takeLimited(index.entries('cidr'), cfg.maxCidrs);
    this.#shards = limited.entries.length > 0 ? CidrShards.build(this.#settings(cfg), limited.entries.map((e) => e.key)) : undefined;
    this.#settingsKey = JSON.stringify(this.#settings(cfg));
    this.#leftOut = limited.leftOut;
  }

  /** Follows the changed keys; rebuilds from the index when that is not possible (limits, new settings, no shards yet). */
  #follow(index: ArtifactIndex, dirty: readonly string[] | 'all', cfg: ResolvedCilium): void {
    const incremental = dirty !== 'all' && this.#shards !== undefined && this.#leftOut === 0 && this.#settingsKey === JSON.stringify(this.#settings(cfg)) && index.size('cidr') <= cfg.maxCidrs;
    if (!incremental) return this.#rebuild(index, cfg);
    if (dirty.length === 0) return;
    if (!this.#shards?.update(dirty.map((k) => [k, index.entry('cidr', k) !== undefined] as const))) this.#rebuild(index, cfg);
  }

  /** Makes the cluster hold the index's CIDRs (`dirty`: the keys changed since the last apply, or 'all'), or nothing when `cfg.enabled` is false. */
  async apply(index: ArtifactIndex, dirty: readonly string[] | 'all', cfg: ResolvedCilium, enforce: boolean): Promise<CiliumOutcome> {
    const started = performance.now();
    if (cfg.enabled) this.#follow(index, dirty, cfg);
    else this.#shards = undefined;
    const plan: CiliumPlan = this.#shards?.plan(enforce) ?? { groups: [], policy: undefined };
    const leftOut = cfg.enabled ? this.#leftOut : 0;
    const count = this.#shards?.size ?? 0;
    try {
      const report = await applyCilium(this.#kube, this.#who.id, plan, this.#state);
      this.#publish(plan, cfg, leftOut, count);
      this.#metrics.applySeconds.observe({ policy: this.#who.owner, target: 'cilium' }, (performance.now() - started) / 1000);
      const largest = Math.max(0, ...plan.groups.map((g) => g.bytes));
      return { cidrs: count, groups: plan.groups.length, largestGroupBytes: largest, leftOut, policy: plan.policy !== undefined, report };
    } catch (err) {
      this.forget();
      throw err;
    }
  }

  #publish(plan: CiliumPlan, cfg: ResolvedCilium, leftOut: number, cidrs: number): void {
    const owner = this.#who.owner;
    const objects = [...plan.groups, ...(plan.policy ? [plan.policy] : [])];
    this.#metrics.setArtifacts(owner, 'cilium', objects.map((o) => ({ name: o.object.metadata.name, entries: o.entries, bytes: o.bytes })));
    if (!cfg.enabled) return;
    this.#metrics.setHeadroom(owner, 'cilium', 'cilium_group_bytes', Math.max(0, ...objects.map((o) => o.bytes)), OBJECT_SIZE_LIMIT);
    this.#metrics.setHeadroom(owner, 'cilium', 'cilium_group_cidrs', Math.max(0, ...plan.groups.map((g) => g.entries)), CILIUM_CIDRS_PER_GROUP_LIMIT);
    this.#metrics.setHeadroom(owner, 'cilium', 'cilium_total_cidrs', cidrs + leftOut, cfg.maxCidrs);
    this.#metrics.leftOut.set({ policy: owner, target: 'cilium' }, leftOut);
  }
}

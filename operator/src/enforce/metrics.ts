/**
 * Enforcement metrics, on the operator's own Registry: the size of every artifact (entries and
 * serialized bytes per CiliumCIDRGroup, entries per HAProxy map), the headroom left against each
 * Cilium and HAProxy limit (1 = empty, 0 = at the limit), entries left out by limits, and the
 * selection counts. {@link HEADROOM_ALERT} is the alert expression that fires before a limit is
 * reached.
 */
import { Gauge, Histogram, type Registry } from 'prom-client';

/** The limits whose headroom is published (label `limit`). */
export type LimitName = 'cilium_group_bytes' | 'cilium_group_cidrs' | 'cilium_total_cidrs' | 'haproxy_map_entries';

/**
 * PromQL for a PrometheusRule: warn when any enforcement artifact has used 80% of a limit for
 * 10 minutes (raise the limit, shard further or tighten the policy's selector before entries are
 * left out); `threatmesh_enforcement_left_out > 0` means a limit is already reached.
 */
export const HEADROOM_ALERT = 'min by (policy, target, limit) (threatmesh_enforcement_headroom_ratio) < 0.2';
/** PromQL: entries are being left out because a limit was reached. */
export const LEFT_OUT_ALERT = 'max by (policy, target) (threatmesh_enforcement_left_out) > 0';

type Labels = Record<string, string>;

/** A gauge that remembers which label sets it holds per policy, so stale series can be removed. */
class TrackedGauge {
  readonly gauge: Gauge<string>;
  readonly #sets = new Map<string, Labels>();

  constructor(registry: Registry, name: string, help: string, labelNames: string[]) {
    this.gauge = new Gauge({ name, help, labelNames, registers: [registry] });
  }

  set(labels: Labels, value: number): void {
    this.#sets.set(JSON.stringify(labels), labels);
    this.gauge.set(labels, value);
  }

  /** Removes the series whose labels include every pair of `match`. */
  removeWhere(match: Labels): void {
    for (const [k, labels] of this.#sets) {
      if (Object.entries(match).every(([n, v]) => labels[n] === v)) {
        this.gauge.remove(labels);
        this.#sets.delete(k);
      }
    }
  }
}

/** Every gauge the enforcement controller writes. */
export class EnforcementMetrics {
  readonly entries: TrackedGauge;
  readonly bytes: TrackedGauge;
  readonly headroom: TrackedGauge;
  readonly leftOut: TrackedGauge;
  readonly indicators: TrackedGauge;
  readonly highWater: TrackedGauge;
  readonly applySeconds: Histogram<'policy' | 'target'>;

  constructor(registry: Registry) {
    this.entries = new TrackedGauge(registry, 'threatmesh_enforcement_artifact_entries', 'Entries in one enforcement artifact: CIDRs per CiliumCIDRGroup, keys per HAProxy map', ['policy', 'target', 'artifact']);
    this.bytes = new TrackedGauge(registry, 'threatmesh_enforcement_artifact_bytes', 'Serialized size of one generated Kubernetes object in bytes', ['policy', 'target', 'artifact']);
    this.headroom = new TrackedGauge(registry, 'threatmesh_enforcement_headroom_ratio', 'Share of a Cilium or HAProxy limit still free (1 empty, 0 at the limit)', ['policy', 'target', 'limit']);
    this.leftOut = new TrackedGauge(registry, 'threatmesh_enforcement_left_out', 'Selected entries not written because a limit was reached', ['policy', 'target']);
    this.indicators = new TrackedGauge(registry, 'threatmesh_enforcement_indicators', 'Replicated indicators by enforcement outcome (selected, or the skip reason)', ['policy', 'outcome']);
    this.highWater = new TrackedGauge(registry, 'threatmesh_enforcement_log_index', 'Highest log index reflected in the enforcement artifacts', ['policy']);
    this.applySeconds = new Histogram({ name: 'threatmesh_enforcement_apply_seconds', help: 'Time to write changed artifacts to one target', labelNames: ['policy', 'target'], buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry] });
  }

  /** Replaces the artifact series of one policy and target (old shard names disappear). */
  setArtifacts(policy: string, target: 'cilium' | 'haproxy', artifacts: ReadonlyArray<{ readonly name: string; readonly entries: number; readonly bytes?: number }>): void {
    this.entries.removeWhere({ policy, target });
    this.bytes.removeWhere({ policy, target });
    for (const a of artifacts) {
      this.entries.set({ policy, target, artifact: a.name }, a.entries);
      if (a.bytes !== undefined) this.bytes.set({ policy, target, artifact: a.name }, a.bytes);
    }
  }

  /** Sets the headroom of one limit: 1 - used/limit, floored at 0. */
  setHeadroom(policy: string, target: 'cilium' | 'haproxy', limit: LimitName, used: number, max: number): void {
    this.headroom.set({ policy, target, limit }, Math.max(0, 1 - used / max));
  }

  /** Replaces the outcome counts of one policy. */
  setOutcomes(policy: string, selected: number, skipped: Readonly<Record<string, number>>): void {
    this.indicators.removeWhere({ policy });
    this.indicators.set({ policy, outcome: 'selected' }, selected);
    for (const [outcome, n] of Object.entries(skipped)) this.indicators.set({ policy, outcome }, n);
  }

  /** Removes every series of a deleted policy. */
  forget(policy: string): void {
    for (const g of [this.entries, this.bytes, this.headroom, this.leftOut, this.indicators, this.highWater]) g.removeWhere({ policy });
  }
}

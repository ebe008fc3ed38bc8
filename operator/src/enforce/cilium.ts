/**
 * The Cilium artifacts of one policy, pure: CiliumCIDRGroup shards holding the denied CIDRs and
 * the CiliumClusterwideNetworkPolicy whose egressDeny rule references every shard.
 *
 * Sharding: a CIDR's shard is a hash of the CIDR modulo a power-of-two shard count, so one
 * admitted or revoked indicator rewrites one shard, not all of them. The count is the smallest
 * power of two for which every shard's serialized JSON is at most `maxGroupBytes` and holds at
 * most `maxCidrsPerGroup` CIDRs (measured, not estimated). Shard names carry the count
 * (`<base>-s<count>-<i>`), so a resize writes a new shard set, moves the policy to it, then
 * deletes the old set: no moment where a CIDR is in no referenced group.
 *
 * The policy sets enableDefaultDeny false for both directions: a deny-only policy must never
 * switch the selected endpoints into default-deny. No policy is written without a shard (an
 * egressDeny rule with an empty toCIDRSet must never exist).
 */
import { createHash } from 'node:crypto';
import type { KubeObject, ResourceRef } from '../runtime/types.ts';

/** CiliumCIDRGroup (cilium.io/v2, cluster-scoped). */
export const CIDR_GROUPS: ResourceRef = { group: 'cilium.io', version: 'v2', plural: 'ciliumcidrgroups', kind: 'CiliumCIDRGroup', namespaced: false };
/** CiliumClusterwideNetworkPolicy (cilium.io/v2, cluster-scoped). */
export const CLUSTERWIDE_POLICIES: ResourceRef = { group: 'cilium.io', version: 'v2', plural: 'ciliumclusterwidenetworkpolicies', kind: 'CiliumClusterwideNetworkPolicy', namespaced: false };

/** Label on every generated Cilium object: the owning policy's id (see policyId). */
export const POLICY_LABEL = 'threatmesh.io/enforcement-policy';
/** Annotation with the owning policy's namespace/name. */
export const POLICY_ANNOTATION = 'threatmesh.io/enforcement-policy';
/** Annotation with the SHA-256 of the object's spec, compared before writing. */
export const CONTENT_ANNOTATION = 'threatmesh.io/content-sha256';
/** Largest shard count tried before giving up (a CIDR string longer than the byte budget). */
const MAX_SHARDS = 4096;

/** A generated object with its serialized size. */
export interface SizedObject {
  readonly object: KubeObject & { spec: unknown };
  readonly bytes: number;
  readonly entries: number;
}

/** Everything the Cilium side of a policy writes. */
export interface CiliumPlan {
  readonly groups: readonly SizedObject[];
  /** Undefined in LogOnly mode or without any CIDR. */
  readonly policy: SizedObject | undefined;
}

/** What to build. */
export interface CiliumInput {
  /** Object name prefix (see policyBaseName). */
  readonly base: string;
  /** The policy id label value. */
  readonly id: string;
  /** namespace/name of the EnforcementPolicy. */
  readonly owner: string;
  readonly cidrs: readonly string[];
  readonly enforce: boolean;
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly maxCidrsPerGroup: number;
  readonly maxGroupBytes: number;
}

/** A short stable id of namespace/name, usable as a label value. */
export function policyId(namespace: string, name: string): string {
  return createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 16);
}

/** The name prefix of a policy's cluster-scoped objects: threatmesh-<ns>-<name>, or threatmesh-<id> when that would be too long. */
export function policyBaseName(namespace: string, name: string): string {
  const base = `threatmesh-${namespace}-${name}`;
  return base.length <= 200 ? base : `threatmesh-${policyId(namespace, name)}`;
}

/** FNV-1a 32-bit hash of a string. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function contentHash(spec: unknown): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex');
}

function meta(name: string, input: ShardSettings, spec: unknown): KubeObject['metadata'] {
  return {
    name,
    labels: { 'app.kubernetes.io/managed-by': 'threatmesh', [POLICY_LABEL]: input.id },
    annotations: { [POLICY_ANNOTATION]: input.owner, [CONTENT_ANNOTATION]: contentHash(spec) },
  };
}

function sized(object: KubeObject & { spec: unknown }, entries: number): SizedObject {
  return { object, bytes: Buffer.byteLength(JSON.stringify(object)), entries };
}

function groupObject(name: string, input: ShardSettings, cidrs: string[]): SizedObject {
  const spec = { externalCIDRs: cidrs };
  return sized({ apiVersion: 'cilium.io/v2', kind: 'CiliumCIDRGroup', metadata: meta(name, input, spec), spec }, cidrs.length);
}

function shardName(input: ShardSettings, count: number, i: number): string {
  return `${input.base}-s${count}-${i}`;
}

/** The shard object of `cidrs` (sorted in place, so a shard's content and hash never depend on input order), or undefined when over a limit. */
function shardObject(input: ShardSettings, count: number, i: number, cidrs: string[]): SizedObject | undefined {
  if (cidrs.length > input.maxCidrsPerGroup) return undefined;
  cidrs.sort();
  const g = groupObject(shardName(input, count, i), input, cidrs);
  return g.bytes > input.maxGroupBytes ? undefined : g;
}

function firstShardCount(input: ShardSettings, cidrs: readonly string[]): number {
  const bytes = cidrs.reduce((n, c) => n + c.length + 3, 0);
  const need = Math.max(cidrs.length / input.maxCidrsPerGroup, bytes / input.maxGroupBytes);
  let count = 1;
  while (count < need * 1.25 && count < MAX_SHARDS) count *= 2;
  return count;
}

/** Everything of CiliumInput but the CIDRs and the mode. */
export type ShardSettings = Omit<CiliumInput, 'cidrs' | 'enforce'>;

/**
 * The CIDR-group shards of one policy, kept up to date key by key: a change touches one shard,
 * whose object alone is rebuilt. `update` reports false when a shard would break a limit; the
 * caller then builds a new shard set (a larger power of two) from all CIDRs.
 */
export class CidrShards {
  readonly settings: ShardSettings;
  readonly count: number;
  readonly #sets: Array<Set<string>>;
  readonly #objects: Array<SizedObject | undefined>;

  private constructor(settings: ShardSettings, count: number) {
    this.settings = settings;
    this.count = count;
    this.#sets = Array.from({ length: count }, () => new Set<string>());
    this.#objects = new Array<SizedObject | undefined>(count).fill(undefined);
  }

  /** Shards `cidrs` with the smallest workable power-of-two count; throws when no count up to 4096 fits the limits. */
  static build(settings: ShardSettings, cidrs: readonly string[]): CidrShards {
    for (let count = firstShardCount(settings, cidrs); count <= MAX_SHARDS; count *= 2) {
      const s = new CidrShards(settings, count);
      for (const c of cidrs) s.#sets[fnv1a(c) & (count - 1)]?.add(c);
      if (s.#rebuildAll()) return s;
    }
    throw new Error(`cannot shard ${cidrs.length} CIDRs into at most ${MAX_SHARDS} CiliumCIDRGroups of at most ${settings.maxGroupBytes} bytes and ${settings.maxCidrsPerGroup} CIDRs: raise maxGroupBytes/maxCidrsPerGroup or lower maxCidrs`);
  }

  #rebuild(i: number): boolean {
    const set = this.#sets[i];
    if (!set || set.size === 0) {
      this.#objects[i] = undefined;
      return true;
    }
    const obj = shardObject(this.settings, this.count, i, [...set]);
    this.#objects[i] = obj;
    return obj !== undefined;
  }

  #rebuildAll(): boolean {
    for (let i = 0; i < this.count; i++) if (!this.#rebuild(i)) return false;
    return true;
  }

  /** Adds (`present`) or removes CIDRs; rebuilds the touched shards; false when one breaks a limit (the set is then unusable). */
  update(changes: Iterable<readonly [cidr: string, present: boolean]>): boolean {
    const touched = new Set<number>();
    for (const [cidr, present] of changes) {
      const i = fnv1a(cidr) & (this.count - 1);
      if (present) this.#sets[i]?.add(cidr);
      else this.#sets[i]?.delete(cidr);
      touched.add(i);
    }
    for (const i of touched) if (!this.#rebuild(i)) return false;
    return true;
  }

  /** Number of CIDRs in all shards. */
  get size(): number {
    return this.#sets.reduce((n, s) => n + s.size, 0);
  }

  /** The objects to write: the non-empty shards and, when enforcing, the deny policy. */
  plan(enforce: boolean): CiliumPlan {
    const groups = this.#objects.filter((g): g is SizedObject => g !== undefined);
    return { groups, policy: enforce && groups.length > 0 ? policyObject(this.settings, groups) : undefined };
  }
}

/** The deny policy referencing `groups`. */
function policyObject(input: ShardSettings, groups: readonly SizedObject[]): SizedObject {
  const spec = {
    description: `ThreatMesh EnforcementPolicy ${input.owner}: deny egress to the replicated indicators in ${groups.length} CiliumCIDRGroup(s)`,
    endpointSelector: { matchLabels: { ...input.matchLabels } },
    enableDefaultDeny: { egress: false, ingress: false },
    egressDeny: [{ toCIDRSet: groups.map((g) => ({ cidrGroupRef: g.object.metadata.name })) }],
  };
  return sized({ apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: meta(input.base, input, spec), spec }, groups.length);
}

/** Builds the shards and the policy in one go; throws when no shard count up to 4096 fits the limits. */
export function planCilium(input: CiliumInput): CiliumPlan {
  if (input.cidrs.length === 0) return { groups: [], policy: undefined };
  const { cidrs, enforce, ...settings } = input;
  return CidrShards.build(settings, cidrs).plan(enforce);
}

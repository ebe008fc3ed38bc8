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

function meta(name: string, input: CiliumInput, spec: unknown): KubeObject['metadata'] {
  return {
    name,
    labels: { 'app.kubernetes.io/managed-by': 'threatmesh', [POLICY_LABEL]: input.id },
    annotations: { [POLICY_ANNOTATION]: input.owner, [CONTENT_ANNOTATION]: contentHash(spec) },
  };
}

function sized(object: KubeObject & { spec: unknown }, entries: number): SizedObject {
  return { object, bytes: Buffer.byteLength(JSON.stringify(object)), entries };
}

function groupObject(name: string, input: CiliumInput, cidrs: string[]): SizedObject {
  const spec = { externalCIDRs: cidrs };
  return sized({ apiVersion: 'cilium.io/v2', kind: 'CiliumCIDRGroup', metadata: meta(name, input, spec), spec }, cidrs.length);
}

function shard(input: CiliumInput, count: number): SizedObject[] | undefined {
  const buckets: string[][] = Array.from({ length: count }, () => []);
  for (const c of input.cidrs) buckets[fnv1a(c) & (count - 1)]?.push(c);
  const groups: SizedObject[] = [];
  for (let i = 0; i < count; i++) {
    const cidrs = buckets[i] ?? [];
    if (cidrs.length > input.maxCidrsPerGroup) return undefined;
    if (cidrs.length === 0) continue;
    // Sorted, so a shard's content (and its hash annotation) does not depend on the input order.
    cidrs.sort();
    const g = groupObject(`${input.base}-s${count}-${i}`, input, cidrs);
    if (g.bytes > input.maxGroupBytes) return undefined;
    groups.push(g);
  }
  return groups;
}

function firstShardCount(input: CiliumInput): number {
  const bytes = input.cidrs.reduce((n, c) => n + c.length + 3, 0);
  const need = Math.max(input.cidrs.length / input.maxCidrsPerGroup, bytes / input.maxGroupBytes);
  let count = 1;
  while (count < need * 1.25 && count < MAX_SHARDS) count *= 2;
  return count;
}

/** The deny policy referencing `groups`. */
function policyObject(input: CiliumInput, groups: readonly SizedObject[]): SizedObject {
  const spec = {
    description: `ThreatMesh EnforcementPolicy ${input.owner}: deny egress to the replicated indicators in ${groups.length} CiliumCIDRGroup(s)`,
    endpointSelector: { matchLabels: { ...input.matchLabels } },
    enableDefaultDeny: { egress: false, ingress: false },
    egressDeny: [{ toCIDRSet: groups.map((g) => ({ cidrGroupRef: g.object.metadata.name })) }],
  };
  return sized({ apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: meta(input.base, input, spec), spec }, groups.length);
}

/** Builds the shards and the policy; throws when no shard count up to 4096 fits the limits. */
export function planCilium(input: CiliumInput): CiliumPlan {
  if (input.cidrs.length === 0) return { groups: [], policy: undefined };
  for (let count = firstShardCount(input); count <= MAX_SHARDS; count *= 2) {
    const groups = shard(input, count);
    if (groups) return { groups, policy: input.enforce ? policyObject(input, groups) : undefined };
  }
  throw new Error(`cannot shard ${input.cidrs.length} CIDRs into at most ${MAX_SHARDS} CiliumCIDRGroups of at most ${input.maxGroupBytes} bytes and ${input.maxCidrsPerGroup} CIDRs: raise maxGroupBytes/maxCidrsPerGroup or lower maxCidrs`);
}

/**
 * Writes a CiliumPlan to the cluster: the objects carrying the policy's label are made equal to
 * the plan, in an order that never leaves a denied CIDR unreferenced: shards first (create or
 * update, skipped when the content hash annotation already matches), then the deny policy (or
 * its deletion in LogOnly mode / without CIDRs), then the shards the plan no longer has.
 */
import { ApiError, type KubeReader, type KubeWriter } from '../runtime/client.ts';
import type { KubeObject, ResourceRef } from '../runtime/types.ts';
import { CIDR_GROUPS, CLUSTERWIDE_POLICIES, CONTENT_ANNOTATION, POLICY_LABEL, type CiliumPlan, type SizedObject } from './cilium.ts';

/** What one apply did. */
export interface CiliumApplyReport {
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  readonly unchanged: number;
}

type Counts = { created: number; updated: number; deleted: number; unchanged: number };

/** What this process last wrote or read per object name (content hash and resourceVersion), so a small change does not re-list megabytes of shards. */
export type CiliumCache = Map<string, { readonly hash: string | undefined; readonly resourceVersion: string | undefined }>;

function cached(o: KubeObject): { hash: string | undefined; resourceVersion: string | undefined } {
  return { hash: o.metadata.annotations?.[CONTENT_ANNOTATION], resourceVersion: o.metadata.resourceVersion };
}

async function upsert(kube: KubeWriter, ref: ResourceRef, want: SizedObject, known: CiliumCache, counts: Counts): Promise<void> {
  const name = want.object.metadata.name;
  const have = known.get(name);
  if (have && have.hash === want.object.metadata.annotations?.[CONTENT_ANNOTATION]) {
    counts.unchanged++;
    return;
  }
  const written = have
    ? await kube.update(ref, { ...want.object, metadata: { ...want.object.metadata, resourceVersion: have.resourceVersion } })
    : await kube.create(ref, want.object);
  known.set(name, cached(written));
  counts[have ? 'updated' : 'created']++;
}

async function remove(kube: KubeWriter, ref: ResourceRef, name: string, known: CiliumCache, counts: Counts): Promise<void> {
  try {
    await kube.delete(ref, name);
    counts.deleted++;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  known.delete(name);
}

/** Lists the objects of `ref` labelled with policy `id` into a fresh cache; none when the kind is not installed (404). */
export async function listOwned(kube: KubeReader, ref: ResourceRef, id: string): Promise<CiliumCache> {
  try {
    const list = await kube.list<KubeObject>(ref, { labelSelector: `${POLICY_LABEL}=${id}` });
    return new Map(list.items.map((o) => [o.metadata.name, cached(o)]));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return new Map();
    throw err;
  }
}

function explain(err: unknown): unknown {
  if (err instanceof ApiError && err.status === 404) return new Error(`the cluster does not serve ${CIDR_GROUPS.plural}.${CIDR_GROUPS.group}/${CIDR_GROUPS.version} or ${CLUSTERWIDE_POLICIES.plural}: install Cilium (its CRDs) or set targets.cilium.enabled false (${err.message})`, { cause: err });
  return err;
}

/** The caches of both kinds; undefined members are listed from the API server first. */
export interface CiliumState {
  groups?: CiliumCache;
  policies?: CiliumCache;
}

/**
 * Makes the cluster's Cilium objects of policy `id` equal to `plan`, trusting `state` for what
 * exists (list first when absent). On any error the caller must drop `state` (the next apply
 * re-lists); a 409 Conflict from a concurrent writer is such an error.
 */
export async function applyCilium(kube: KubeReader & KubeWriter, id: string, plan: CiliumPlan, state: CiliumState = {}): Promise<CiliumApplyReport> {
  try {
    return await write(kube, id, plan, state);
  } catch (err) {
    throw explain(err);
  }
}

async function write(kube: KubeReader & KubeWriter, id: string, plan: CiliumPlan, state: CiliumState): Promise<CiliumApplyReport> {
  const counts: Counts = { created: 0, updated: 0, deleted: 0, unchanged: 0 };
  const groups = state.groups ??= await listOwned(kube, CIDR_GROUPS, id);
  const policies = state.policies ??= await listOwned(kube, CLUSTERWIDE_POLICIES, id);
  for (const g of plan.groups) await upsert(kube, CIDR_GROUPS, g, groups, counts);
  if (plan.policy) await upsert(kube, CLUSTERWIDE_POLICIES, plan.policy, policies, counts);
  for (const name of [...policies.keys()]) if (name !== plan.policy?.object.metadata.name) await remove(kube, CLUSTERWIDE_POLICIES, name, policies, counts);
  const wanted = new Set(plan.groups.map((g) => g.object.metadata.name));
  for (const name of [...groups.keys()]) if (!wanted.has(name)) await remove(kube, CIDR_GROUPS, name, groups, counts);
  return counts;
}

/** Deletes every Cilium object of policy `id` (policy first, so no deny rule points at a missing group). */
export async function removeCilium(kube: KubeReader & KubeWriter, id: string): Promise<CiliumApplyReport> {
  return applyCilium(kube, id, { groups: [], policy: undefined });
}

/** Owner references: the controller reference that ties a child (a Job) to its owner (a Feed). */
import type { KubeObject, ObjectKey, OwnerReference } from './types.ts';

/**
 * The controller owner reference pointing at `owner` (controller: true,
 * blockOwnerDeletion: true), for a child in the same namespace. Throws when `owner` has no uid
 * yet (it must come from the API server, not be a local draft).
 */
export function controllerRef(owner: KubeObject): OwnerReference {
  const uid = owner.metadata.uid;
  if (!uid) throw new Error(`owner ${owner.kind} ${owner.metadata.name} has no metadata.uid: read it from the API server before owning objects`);
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid, controller: true, blockOwnerDeletion: true };
}

/** The controller reference of `obj`, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** True when `obj`'s controller is `owner` (matched by uid). */
export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const ref = controllerOf(obj);
  return ref !== undefined && ref.uid === owner.metadata.uid;
}

/**
 * Returns a copy of `obj` whose controller reference is `owner`. Throws when another object
 * already controls it, as controller-runtime's SetControllerReference does.
 */
export function withControllerReference<T extends KubeObject>(obj: T, owner: KubeObject): T {
  const ref = controllerRef(owner);
  const existing = controllerOf(obj);
  if (existing && existing.uid !== ref.uid) {
    throw new Error(`${obj.kind} ${obj.metadata.name} is already controlled by ${existing.kind} ${existing.name}; refusing to take it over`);
  }
  const others = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== ref.uid);
  return { ...obj, metadata: { ...obj.metadata, ownerReferences: [...others, ref] } };
}

/**
 * Key of the controller owner of `obj` when the owner has kind `kind` and API group `group`
 * ('' for core); owners live in the child's namespace.
 */
export function ownerKey(obj: KubeObject, kind: string, group: string): ObjectKey | undefined {
  const ref = controllerOf(obj);
  if (!ref || ref.kind !== kind || groupOf(ref.apiVersion) !== group) return undefined;
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${ref.name}` : ref.name;
}

/** The group of an apiVersion: 'batch/v1' → 'batch', 'v1' → ''. */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

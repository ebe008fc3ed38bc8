/**
 * The finalizer helper (after kube-rs `finalizer()`): a reconcile is split into an idempotent
 * `apply` for live objects and an idempotent `cleanup` that runs once the object is being
 * deleted, with the finalizer added before any apply and removed only after cleanup succeeded.
 */
import { ApiError, type KubeWriter } from './client.ts';
import type { KubeObject, ResourceRef, Result } from './types.ts';

/** What the finalizer state of an object calls for. */
export type FinalizerStep =
  /** Live object without our finalizer: add it, then apply. */
  | 'add'
  /** Live object with our finalizer: apply. */
  | 'apply'
  /** Being deleted and our finalizer is present: clean up, then remove the finalizer. */
  | 'cleanup'
  /** Being deleted and our finalizer is already gone: nothing to do. */
  | 'done';

/** Decides the step for `obj` and finalizer `name`. Pure. */
export function finalizerStep(obj: KubeObject, name: string): FinalizerStep {
  const has = obj.metadata.finalizers?.includes(name) ?? false;
  if (obj.metadata.deletionTimestamp) return has ? 'cleanup' : 'done';
  return has ? 'apply' : 'add';
}

/** `list` with `name` appended once (unchanged when present). */
export function withFinalizer(list: readonly string[] | undefined, name: string): string[] {
  const l = list ?? [];
  return l.includes(name) ? [...l] : [...l, name];
}

/** `list` without `name`. */
export function withoutFinalizer(list: readonly string[] | undefined, name: string): string[] {
  return (list ?? []).filter((f) => f !== name);
}

/** The two halves of a finalized reconcile; both must be idempotent. */
export interface FinalizerHandlers<T extends KubeObject> {
  apply(obj: T): Promise<Result>;
  cleanup(obj: T): Promise<void>;
}

/**
 * Runs the step `finalizerStep` picks. Finalizer lists are written with a JSON merge patch that
 * carries metadata.resourceVersion, so a concurrent change gives 409 Conflict (retried by the
 * queue) rather than a lost finalizer. An object deleted meanwhile (404) counts as done.
 */
export async function finalize<T extends KubeObject>(writer: KubeWriter, ref: ResourceRef, obj: T, name: string, handlers: FinalizerHandlers<T>): Promise<Result> {
  switch (finalizerStep(obj, name)) {
    case 'add': {
      const patched = await patchFinalizers(writer, ref, obj, withFinalizer(obj.metadata.finalizers, name));
      return patched ? handlers.apply(patched) : {};
    }
    case 'apply':
      return handlers.apply(obj);
    case 'cleanup':
      await handlers.cleanup(obj);
      await patchFinalizers(writer, ref, obj, withoutFinalizer(obj.metadata.finalizers, name));
      return {};
    case 'done':
      return {};
  }
}

async function patchFinalizers<T extends KubeObject>(writer: KubeWriter, ref: ResourceRef, obj: T, finalizers: string[]): Promise<T | undefined> {
  const patch = { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } };
  try {
    return await writer.patch<T>(ref, obj.metadata.name, obj.metadata.namespace, patch);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

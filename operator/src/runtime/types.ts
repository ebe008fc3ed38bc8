/**
 * The controller-runtime contract shared by the runtime (informers, queue, manager) and the
 * reconcilers in operator/src/controllers/. Modelled on controller-runtime's reconcile package.
 */
import type { Logger } from '../log.ts';

/** Object metadata fields the runtime relies on. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** A Kubernetes owner reference (metadata.ownerReferences[]). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any Kubernetes object as it comes off the wire. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
}

/** A standard status condition (metav1.Condition). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Identifies one resource collection on the API server. */
export interface ResourceRef {
  /** API group; '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** Plural resource name, e.g. 'threatindicators'. */
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

/** Key of a work item: `namespace/name`, or `name` for cluster-scoped objects. */
export type ObjectKey = string;

/** What a reconcile returns: come back after `requeueAfterMs`, or not at all. */
export interface Result {
  readonly requeueAfterMs?: number;
  /** Come back soon, with the per-key rate limit (no error); ignored when requeueAfterMs is set. */
  readonly requeue?: boolean;
}

/**
 * Thrown by a reconciler for an invalid spec: the object gets Ready=False with this reason and
 * message, and the key is not retried until the object changes.
 */
export class TerminalError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'TerminalError';
    this.reason = reason;
  }
}

/** Emits Kubernetes Events about an object. */
export interface EventRecorder {
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

/** Read access to objects of one resource, served from the informer cache. */
export interface Reader<T extends KubeObject> {
  get(key: ObjectKey): T | undefined;
  list(namespace?: string): T[];
}

/**
 * A read-only view of an informer's cache, for components that only read (the partner exchange):
 * the objects are the cache's own, kept current by its watch, and must never be mutated.
 */
export interface CacheReader<T extends KubeObject> {
  get(key: ObjectKey): Readonly<T> | undefined;
  list(namespace?: string): ReadonlyArray<Readonly<T>>;
}

/** Everything a reconcile call receives besides the object. */
export interface Context {
  readonly log: Logger;
  readonly now: () => Date;
  readonly recorder: EventRecorder;
}

/**
 * A level-based reconciler keyed by `namespace/name`. Throw for transient errors (retried with
 * per-key exponential backoff), throw TerminalError for invalid specs (no retry), return
 * `requeueAfterMs` to be called again later. `obj` is undefined when the object is gone.
 */
export interface Reconciler<T extends KubeObject> {
  reconcile(ctx: Context, key: ObjectKey, obj: T | undefined): Promise<Result>;
}

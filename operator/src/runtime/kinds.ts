/**
 * The core Kubernetes kinds the operator touches — Jobs, Leases, Events, Secrets, ConfigMaps,
 * Namespaces — typed by @kubernetes/client-node's generated models (`import type` only: no code
 * is loaded) and their ResourceRefs. The models describe objects after client-node's own
 * deserializer, which turns timestamps into `Date`; this runtime reads and writes plain JSON, so
 * {@link Wire} maps every `Date` back to the RFC 3339 string that is actually on the wire, and
 * `metadata.name` is required as the runtime's KubeObject requires it.
 */
import type { CoreV1Event, V1ConfigMap, V1Job, V1Lease, V1Namespace, V1ObjectMeta, V1Secret } from '@kubernetes/client-node';
import type { KubeObject, ObjectMeta, ResourceRef } from './types.ts';

/** `T` as JSON carries it: every Date an RFC 3339 string, recursively. */
export type Wire<T> = T extends Date ? string
  : T extends ReadonlyArray<infer U> ? Array<Wire<U>>
    : T extends object ? { [K in keyof T]: Wire<T[K]> }
      : T;

/** A client-node model as a KubeObject: apiVersion, kind and metadata.name required, timestamps as strings. */
export type Kind<T extends { metadata?: V1ObjectMeta }> = Omit<Wire<T>, 'apiVersion' | 'kind' | 'metadata'> & KubeObject & {
  metadata: ObjectMeta & Wire<V1ObjectMeta>;
};

/** batch/v1 Job. */
export type Job = Kind<V1Job>;
/** coordination.k8s.io/v1 Lease. */
export type Lease = Kind<V1Lease>;
/** core/v1 Event (the API that `kubectl describe` and `kubectl get events` read). */
export type Event = Kind<CoreV1Event>;
/** core/v1 Secret; `data` values are base64. */
export type Secret = Kind<V1Secret>;
/** core/v1 ConfigMap. */
export type ConfigMap = Kind<V1ConfigMap>;
/** core/v1 Namespace. */
export type Namespace = Kind<V1Namespace>;

/** batch/v1 jobs. */
export const JOBS: ResourceRef = { group: 'batch', version: 'v1', plural: 'jobs', kind: 'Job', namespaced: true };
/** coordination.k8s.io/v1 leases. */
export const LEASES: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };
/** core/v1 events. */
export const EVENTS: ResourceRef = { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };
/** core/v1 secrets. */
export const SECRETS: ResourceRef = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };
/** core/v1 configmaps. */
export const CONFIGMAPS: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
/** core/v1 namespaces (cluster-scoped). */
export const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

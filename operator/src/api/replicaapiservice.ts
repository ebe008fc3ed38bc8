/**
 * The objects that register `threatmesh replica-api` with a cluster's aggregator
 * (docs/adr/2026-12-06-million-indicators.md): an APIService for replica.threatmesh.io/v1alpha1
 * whose group priority is above the CRDs' (1000), so the plain resource name
 * `threatindicators` resolves to the full replicated set, and the Service it points at.
 *
 * In a cluster the Service selects the replica-api pods; on a local control plane (no
 * kube-proxy) it is an ExternalName of the loopback address, which the aggregator dials
 * directly. Either way the aggregator checks the serving certificate against `caBundle` for
 * the name `<service>.<namespace>.svc`.
 */
import type { KubeObject } from '../runtime/types.ts';

/** Group priority of the APIService: above the 1000 every CRD group gets. */
export const REPLICA_GROUP_PRIORITY = 2000;
/** Default Service name. */
export const REPLICA_SERVICE = 'threatmesh-replica-api';

/** Where the aggregator finds the server. */
export type ReplicaBackend =
  | { readonly kind: 'loopback'; readonly port: number }
  | { readonly kind: 'pods'; readonly selector: Readonly<Record<string, string>>; readonly port: number; readonly targetPort: number };

/** Options of {@link replicaApiObjects}. */
export interface ReplicaApiObjectsOptions {
  readonly namespace: string;
  /** PEM of the CA that signed the serving certificate. */
  readonly caPem: string;
  readonly backend: ReplicaBackend;
  /** @default REPLICA_SERVICE */
  readonly serviceName?: string;
}

/** The Service and the APIService, in apply order. */
export function replicaApiObjects(o: ReplicaApiObjectsOptions): [KubeObject & Record<string, unknown>, KubeObject & Record<string, unknown>] {
  const name = o.serviceName ?? REPLICA_SERVICE;
  const b = o.backend;
  const spec = b.kind === 'loopback'
    ? { type: 'ExternalName', externalName: '127.0.0.1' }
    : { type: 'ClusterIP', selector: { ...b.selector }, ports: [{ name: 'https', port: b.port, targetPort: b.targetPort, protocol: 'TCP' }] };
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: o.namespace, labels: { 'app.kubernetes.io/part-of': 'threatmesh' } }, spec };
  const apiService = {
    apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService',
    metadata: { name: 'v1alpha1.replica.threatmesh.io', labels: { 'app.kubernetes.io/part-of': 'threatmesh' } },
    spec: {
      group: 'replica.threatmesh.io', version: 'v1alpha1', groupPriorityMinimum: REPLICA_GROUP_PRIORITY, versionPriority: 100,
      service: { name, namespace: o.namespace, port: b.port }, caBundle: Buffer.from(o.caPem).toString('base64'),
    },
  };
  return [service, apiService];
}

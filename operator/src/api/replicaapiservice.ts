/**
 * The objects that register `threatmesh replica-api` with a cluster's aggregator
 * (docs/adr/2026-12-06-million-indicators.md): an APIService for replica.threatmesh.io/v1alpha1
 * whose group priority is above the CRDs' (1000), so the plain resource name
 * `threatindicators` resolves to the full replicated set, and the Service it points at.
 *
 * In a cluster the Service selects the replica-api pods; on a local control plane (no
 * kube-proxy) it is an ExternalName of the loopback address, which the aggregator dials
 * directly. Either way the aggregator checks the serving certificate against `caBundle` for
 * the name `<service>.<namespace>.svc`. Also the server's RBAC (the delegation of every aggregated
 * API server) and the ClusterRole of those who read the full set; the chart and the cdk8s app
 * render these (charts/threatmesh/templates/replica-api*.yaml, cdk8s/lib/replicaapi.ts).
 */
import type { KubeObject } from '../runtime/types.ts';

/** Group priority of the APIService: above the 1000 every CRD group gets. */
export const REPLICA_GROUP_PRIORITY = 2000;
/** Version priority of v1alpha1 inside its group (the only version). */
export const REPLICA_VERSION_PRIORITY = 100;
/** Default Service name; also the Deployment, ServiceAccount and Certificate name in a cluster. */
export const REPLICA_SERVICE = 'threatmesh-replica-api';
/** Name of the APIService (`<version>.<group>`, as the aggregator requires). */
export const REPLICA_APISERVICE_NAME = 'v1alpha1.replica.threatmesh.io';
/** ClusterRole that reads the full replicated set through the aggregated API (bind it per namespace). */
export const INDICATOR_READER_NAME = 'threatmesh-indicator-reader';

const RBAC = 'rbac.authorization.k8s.io/v1';
const PART_OF = { 'app.kubernetes.io/part-of': 'threatmesh' };

type Manifest = Record<string, unknown>;

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

/** How the APIService gets the CA bundle that verifies the serving certificate. */
export type ReplicaCaSource =
  | { readonly caPem: string }
  /** cert-manager's CA injector copies the CA of Certificate `<namespace>/<certificate>` into caBundle. */
  | { readonly injectFrom: { readonly namespace: string; readonly certificate: string } };

/**
 * The APIService of replica.threatmesh.io/v1alpha1 for the Service `service` in `namespace`.
 * Never `insecureSkipTLSVerify`: the aggregator verifies the server against `caBundle`, given
 * here as PEM or left to cert-manager's CA injector (annotation `cert-manager.io/inject-ca-from`).
 */
export function replicaApiService(namespace: string, service: string, port: number, ca: ReplicaCaSource): Manifest {
  const inject = 'injectFrom' in ca ? { annotations: { 'cert-manager.io/inject-ca-from': `${ca.injectFrom.namespace}/${ca.injectFrom.certificate}` } } : {};
  return {
    apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService',
    metadata: { name: REPLICA_APISERVICE_NAME, labels: { ...PART_OF }, ...inject },
    spec: {
      group: 'replica.threatmesh.io', version: 'v1alpha1', groupPriorityMinimum: REPLICA_GROUP_PRIORITY, versionPriority: REPLICA_VERSION_PRIORITY,
      service: { name: service, namespace, port },
      ...('caPem' in ca ? { caBundle: Buffer.from(ca.caPem).toString('base64') } : {}),
    },
  };
}

/** The Service and the APIService, in apply order. */
export function replicaApiObjects(o: ReplicaApiObjectsOptions): [KubeObject & Record<string, unknown>, KubeObject & Record<string, unknown>] {
  const name = o.serviceName ?? REPLICA_SERVICE;
  const b = o.backend;
  const spec = b.kind === 'loopback'
    ? { type: 'ExternalName', externalName: '127.0.0.1' }
    : { type: 'ClusterIP', selector: { ...b.selector }, ports: [{ name: 'https', port: b.port, targetPort: b.targetPort, protocol: 'TCP' }] };
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: o.namespace, labels: { ...PART_OF } }, spec };
  return [service, replicaApiService(o.namespace, name, b.port, { caPem: o.caPem }) as KubeObject & Record<string, unknown>];
}

/**
 * What a reader of the full set needs: `get` and `list` of threatindicators.replica.threatmesh.io
 * (what `kubectl get threatindicators` resolves to once the APIService is registered) and of the
 * working set (threatindicators.threatmesh.io, `kubectl get ti`). The replicated set holds every
 * TLP this partner may receive (up to its PartnerNode's maxTlp): bind it, per namespace with a
 * RoleBinding, only to people cleared for that TLP. Not aggregated into `view`, for that reason.
 */
export function indicatorReaderClusterRole(name = INDICATOR_READER_NAME): Manifest {
  return {
    apiVersion: RBAC, kind: 'ClusterRole', metadata: { name },
    rules: [
      { apiGroups: ['replica.threatmesh.io'], resources: ['threatindicators'], verbs: ['get', 'list'] },
      { apiGroups: ['threatmesh.io'], resources: ['threatindicators'], verbs: ['get', 'list', 'watch'] },
    ],
  };
}

/**
 * The replica API server's ServiceAccount and the delegation every aggregated API server needs,
 * nothing more (it reads the partner database, not the cluster): `system:auth-delegator` (create
 * TokenReviews and SubjectAccessReviews: it asks the API server whether each user may read), and
 * the `extension-apiserver-authentication-reader` Role in kube-system (the front proxy's CA and
 * allowed names in the extension-apiserver-authentication ConfigMap). Then the reader ClusterRole.
 */
export function replicaApiRbacManifests(namespace: string, name = REPLICA_SERVICE): Manifest[] {
  const subjects = [{ kind: 'ServiceAccount', name, namespace }];
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    { apiVersion: RBAC, kind: 'ClusterRoleBinding', metadata: { name: `${name}-auth-delegator` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' }, subjects },
    { apiVersion: RBAC, kind: 'RoleBinding', metadata: { name: `${name}-auth-reader`, namespace: 'kube-system' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' }, subjects },
    indicatorReaderClusterRole(),
  ];
}

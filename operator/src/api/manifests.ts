/**
 * Non-CRD manifests derived from the same source: the operator's least-privilege RBAC and the
 * ValidatingWebhookConfiguration. The generator writes them to config/; tests apply them as-is.
 */
import { FEED_CREDENTIALS_LABEL, FEED_CREDENTIALS_ROLE } from './schemas/feed.ts';
import { GROUP, VERSION } from './schemas/index.ts';

/** Default names used by the generated manifests. */
export const OPERATOR_NAME = 'threatmesh-operator';
/** Namespace the generated manifests install the operator into. */
export const OPERATOR_NAMESPACE = 'threatmesh-system';
/** Lease the operator replicas elect a leader on. */
export const LEADER_LEASE_NAME = 'threatmesh-operator-leader';
/** ServiceAccount and ClusterRole of Feed ingestion Jobs (`threatmesh ingest --feed`). */
export const INGEST_NAME = 'threatmesh-ingest';
/** URL path the admission webhook serves ThreatIndicator reviews on. */
export const WEBHOOK_PATH = '/validate-threatmesh-io-v1alpha1-threatindicator';
/** Name of the ValidatingWebhookConfiguration and of its one webhook. */
export const WEBHOOK_NAME = 'threatindicators.threatmesh.io';

type Manifest = Record<string, unknown>;

/**
 * The operator's ClusterRole: exactly what the three controllers, the Job executor and the
 * partner exchange use, nothing else. No Secrets and no ConfigMaps: the operator itself
 * reads neither (Feed credentials and allowlists are read by the ingestion run, under the ingest
 * ServiceAccount). The in-process executor (local sandbox) runs ingestion under the operator's
 * own identity; in a cluster that needs the grants of {@link ingestNamespaceManifests} and
 * {@link feedCredentialsManifests} bound to the operator's ServiceAccount in each Feed namespace
 * (docs/adr/2026-12-06-least-privilege-feed-credentials.md).
 */
export function operatorClusterRole(name = OPERATOR_NAME): Manifest {
  const kinds = ['feeds', 'threatindicators', 'partnernodes', 'logscans', 'threatreports'];
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules: [
      { apiGroups: [GROUP], resources: kinds, verbs: ['get', 'list', 'watch', 'update', 'patch'] },
      // The in-process executor proposes indicators straight from the operator; the partner exchange
      // writes replicated ones and recreates an object whose spec contradicts the log (spec is immutable).
      { apiGroups: [GROUP], resources: ['threatindicators'], verbs: ['create', 'delete'] },
      { apiGroups: [GROUP], resources: kinds.map((k) => `${k}/status`), verbs: ['get', 'update', 'patch'] },
      { apiGroups: [GROUP], resources: kinds.map((k) => `${k}/finalizers`), verbs: ['update'] },
      // patch: a LogScan's Indexed Job gets its fair share as parallelism (controllers/logscanexec.ts).
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get', 'list', 'watch', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      // The ThreatReport controller keeps the latest report in a ConfigMap it owns (written by name; no ConfigMap is read or listed).
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'update', 'patch'] },
    ],
  };
}

/** The namespaced Role for leader election on a Lease in the operator's namespace. */
export function leaderElectionRole(namespace = OPERATOR_NAMESPACE, name = `${OPERATOR_NAME}-leader-election`): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name, namespace },
    rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }],
  };
}

/** ServiceAccount, ClusterRole, Role and both bindings, in apply order. */
export function rbacManifests(namespace = OPERATOR_NAMESPACE, name = OPERATOR_NAME): Manifest[] {
  const subject = { kind: 'ServiceAccount', name, namespace };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    operatorClusterRole(name),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [subject] },
    leaderElectionRole(namespace, `${name}-leader-election`),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: `${name}-leader-election`, namespace }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-leader-election` }, subjects: [subject] },
  ];
}

/** Name of the enforcement controller's ServiceAccount and ClusterRole (`threatmesh enforce`). */
export const ENFORCER_NAME = 'threatmesh-enforcer';

/**
 * The ClusterRole of the enforcement controller (`threatmesh enforce`, its own Deployment and
 * ServiceAccount): EnforcementPolicies and their status and finalizers, the CiliumCIDRGroups and
 * CiliumClusterwideNetworkPolicy it generates (all labelled threatmesh.io/enforcement-policy),
 * Events, and read access to ConfigMaps for the policies' allowlists. The operator's role holds
 * none of these; give the enforcer a namespace (--namespace) where ConfigMaps may be read.
 */
export function enforcerClusterRole(name = ENFORCER_NAME): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules: [
      { apiGroups: [GROUP], resources: ['enforcementpolicies'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
      { apiGroups: [GROUP], resources: ['enforcementpolicies/status'], verbs: ['get', 'update', 'patch'] },
      { apiGroups: [GROUP], resources: ['enforcementpolicies/finalizers'], verbs: ['update'] },
      { apiGroups: ['cilium.io'], resources: ['ciliumcidrgroups', 'ciliumclusterwidenetworkpolicies'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ],
  };
}

/** The enforcement controller's ServiceAccount in `namespace`, its ClusterRole and the binding. */
export function enforcerRbacManifests(namespace = OPERATOR_NAMESPACE, name = ENFORCER_NAME): Manifest[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    enforcerClusterRole(name),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name, namespace }] },
  ];
}

/**
 * The ClusterRole of ingestion Jobs: exactly the calls `threatmesh ingest --feed NS/NAME
 * --run-id JOB` makes in the Feed's namespace — read the Feed, list the existing
 * ThreatIndicators (dedup: the working set) and get those of the full replicated set
 * (replica.threatmesh.io) by name, get the Feed's allowlist ConfigMaps (spec.allowlists and the default
 * `threatmesh-allowlist`), create the new ones, remember the HTTP validators and TAXII cursor in
 * Feed annotations, and put the run report on its own Job. Nothing else: no Secrets at all (the
 * credentials Secrets are granted by name, per namespace, by {@link feedCredentialsManifests}),
 * no watch, no list of ConfigMaps, no delete, no status writes (a manual `ingest --feed`
 * without --run-id writes Feed status and needs `feeds/status` patch on top).
 */
export function ingestClusterRole(name = INGEST_NAME): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules: [
      { apiGroups: [GROUP], resources: ['feeds'], verbs: ['get', 'patch'] },
      { apiGroups: [GROUP], resources: ['threatindicators'], verbs: ['list', 'create'] },
      // The full replicated set, to skip candidates the partner database already holds (feeds/knownset.ts).
      { apiGroups: ['replica.threatmesh.io'], resources: ['threatindicators'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['patch'] },
    ],
  };
}

/**
 * The ServiceAccount `name` in `namespace` and a RoleBinding there to the ingest ClusterRole:
 * what every namespace holding Feeds needs, since a Job's pods run as a ServiceAccount of the
 * Job's own namespace. The RoleBinding keeps the grant inside that namespace.
 */
export function ingestNamespaceManifests(namespace: string, name = INGEST_NAME, clusterRole = INGEST_NAME): Manifest[] {
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole }, subjects: [{ kind: 'ServiceAccount', name, namespace }] },
  ];
}

/**
 * The Role {@link FEED_CREDENTIALS_ROLE} in `namespace` that lets the ingest ServiceAccount `get`
 * exactly the Secrets named in `secretNames` (the Feeds' spec.secretRef there), and its
 * RoleBinding. Throws on an empty list: a rule without resourceNames would grant every Secret.
 */
export function feedCredentialsManifests(namespace: string, secretNames: readonly string[], serviceAccount = INGEST_NAME, name = FEED_CREDENTIALS_ROLE): Manifest[] {
  const names = [...new Set(secretNames)].sort();
  if (names.length === 0) throw new Error(`${name} needs at least one Secret name: a Role rule without resourceNames would grant every Secret of ${namespace}`);
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace }, rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: names, verbs: ['get'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }] },
  ];
}

/** The ingest ClusterRole, then the ServiceAccount and RoleBinding of `namespace`, in apply order. */
export function ingestRbacManifests(namespace = OPERATOR_NAMESPACE, name = INGEST_NAME): Manifest[] {
  return [ingestClusterRole(name), ...ingestNamespaceManifests(namespace, name, name)];
}

/** Comment heading config/rbac/ingest.yaml: how to enable ingestion in a Feed namespace. */
export const INGEST_RBAC_GUIDANCE = `# Feed ingestion Jobs run in the Feed's namespace as ServiceAccount ${INGEST_NAME} (operator
# flag --job-service-account). This file grants it in ${OPERATOR_NAMESPACE}; for every other
# namespace NS that holds Feeds, create the same ServiceAccount and a RoleBinding (not a
# ClusterRoleBinding: the grant stays inside NS):
#   kubectl -n NS create serviceaccount ${INGEST_NAME}
#   kubectl -n NS create rolebinding ${INGEST_NAME} --clusterrole=${INGEST_NAME} --serviceaccount=NS:${INGEST_NAME}
# The role below reads no Secret. Feeds with credentials (spec.secretRef) need, per namespace,
# the Role ${FEED_CREDENTIALS_ROLE} naming each credentials Secret, and its RoleBinding; each
# such Secret must also carry the label ${FEED_CREDENTIALS_LABEL}=true:
#   kubectl -n NS label secret SECRET ${FEED_CREDENTIALS_LABEL}=true
#   kubectl -n NS create role ${FEED_CREDENTIALS_ROLE} --verb=get --resource=secrets --resource-name=SECRET [--resource-name=...]
#   kubectl -n NS create rolebinding ${FEED_CREDENTIALS_ROLE} --role=${FEED_CREDENTIALS_ROLE} --serviceaccount=NS:${INGEST_NAME}
`;

/** ServiceAccount and ClusterRole of LogScan shard pods (`threatmesh scan --logscan NS/NAME --shard N`). */
export const SCAN_NAME = 'threatmesh-scan';

/**
 * The ClusterRole of LogScan shard pods: read their LogScan and the Secret its source names
 * (object-store or HTTP credentials). Sightings and checkpoints go to the partner database, not
 * the API server. Bind it per namespace with a RoleBinding, as the ingest role.
 */
export function scanClusterRole(name = SCAN_NAME): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules: [
      { apiGroups: [GROUP], resources: ['logscans'], verbs: ['get'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
    ],
  };
}

/** The scan ClusterRole, then the ServiceAccount and RoleBinding of `namespace`, in apply order. */
export function scanRbacManifests(namespace = OPERATOR_NAMESPACE, name = SCAN_NAME): Manifest[] {
  return [scanClusterRole(name), ...ingestNamespaceManifests(namespace, name, name)];
}

/** Name of the analysts' ClusterRole. */
export const ANALYST_NAME = 'threatmesh-analyst';

/**
 * What a SecOps analyst needs to vote and request revocations from the cluster: read Feeds,
 * ThreatIndicators (the working set and the full replicated set of replica.threatmesh.io) and
 * PartnerNodes, and patch ThreatIndicators (the `threatmesh.io/vote` and
 * `threatmesh.io/revoke` annotations; the webhook refuses any spec change). No status, no
 * delete, no create: the operator writes those. Bind it per namespace with a RoleBinding.
 */
export function analystClusterRole(name = ANALYST_NAME): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name },
    rules: [
      { apiGroups: [GROUP], resources: ['feeds', 'threatindicators', 'partnernodes', 'threatreports'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [GROUP], resources: ['threatindicators'], verbs: ['patch'] },
      // `kubectl get threatindicators` resolves to the full replicated set (the aggregated API, ADR million-indicators).
      { apiGroups: ['replica.threatmesh.io'], resources: ['threatindicators'], verbs: ['get', 'list'] },
    ],
  };
}

/** Comment heading config/rbac/analyst.yaml. */
export const ANALYST_RBAC_GUIDANCE = `# Analysts vote (threatmesh.io/vote) and request revocations (threatmesh.io/revoke) by
# annotating ThreatIndicators; the operator signs and sends them with THIS PARTNER'S KEY, so
# whoever holds this role votes in the partner's name. Grant it per exchange namespace:
#   kubectl -n threatmesh create rolebinding ${ANALYST_NAME}-alice --clusterrole=${ANALYST_NAME} --user=alice@example.org
`;

/** Where the API server reaches the webhook: an in-cluster Service or a URL (local control plane). */
export type WebhookTarget = { readonly service: { readonly name: string; readonly namespace: string; readonly port: number } } | { readonly url: string };

/**
 * The ValidatingWebhookConfiguration for ThreatIndicator CREATE/UPDATE, including the status
 * subresource (votes and phase arrive there). `caBundle` is the base64 PEM of the serving CA.
 */
export function webhookConfiguration(target: WebhookTarget, caBundle: string, name = WEBHOOK_NAME): Manifest {
  const clientConfig = 'url' in target
    ? { url: target.url, caBundle }
    : { service: { ...target.service, path: WEBHOOK_PATH }, caBundle };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: 'url' in target ? { name } : { name, annotations: { 'cert-manager.io/inject-ca-from': `${target.service.namespace}/${target.service.name}` } },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        matchPolicy: 'Equivalent',
        timeoutSeconds: 10,
        clientConfig,
        rules: [{ apiGroups: [GROUP], apiVersions: [VERSION], operations: ['CREATE', 'UPDATE'], resources: ['threatindicators', 'threatindicators/status'], scope: 'Namespaced' }],
      },
    ],
  };
}

/** ServiceAccount, Role and RoleBinding name of the sequencer. */
export const SEQUENCER_NAME = 'threatmesh-sequencer';

/**
 * The sequencer's namespaced RBAC: it reads the PartnerNodes of its namespace (the partner
 * directory, watched live) and elects a leader on a Lease there. Nothing else: no Secrets (its
 * keys are mounted files), no writes to ThreatMesh objects.
 */
export function sequencerRbacManifests(namespace = 'threatmesh', name = SEQUENCER_NAME): Manifest[] {
  const subject = { kind: 'ServiceAccount', name, namespace };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace },
      rules: [
        { apiGroups: [GROUP], resources: ['partnernodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      ],
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [subject] },
  ];
}

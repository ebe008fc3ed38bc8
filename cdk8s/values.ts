/**
 * The values of one ThreatMesh installation, shared by the cdk8s app (`threatmesh gitops render
 * --values FILE`) and the Helm chart (`helm install -f FILE`): one JSON Schema (written to
 * charts/threatmesh/values.schema.json by `npm run generate`), one set of defaults (written to
 * charts/threatmesh/values.yaml). A values file is merged over the defaults, then validated;
 * errors name the field.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { parse } from 'yaml';

/** CPU and memory of one container: requests and a memory limit (no CPU limit: no throttling of signature checks). */
export interface Resources {
  readonly cpu: string;
  readonly memory: string;
  readonly memoryLimit: string;
}

/** Addresses a flow may reach outside the cluster: DNS names and CIDRs (Cilium toFQDNs / toCIDR). */
export interface External {
  readonly fqdns: readonly string[];
  readonly cidrs: readonly string[];
  readonly port: number;
}

/**
 * Memory settings of a Node process: how large V8's young generation may grow and when glibc's
 * malloc hands freed memory back to the kernel. Measured for the sequencer in
 * docs/adr/2026-12-07-sequencer-memory-settings.md.
 */
export interface ProcessMemory {
  /**
   * Largest V8 semi-space in MiB (`NODE_OPTIONS=--max-semi-space-size=N`; the young generation
   * is about 2 × N); 0 sets nothing and leaves V8's default (the sequencer's young generation
   * then reaches 128 MiB within seconds).
   * @default 16 for the sequencer
   */
  readonly maxSemiSpaceMiB: number;
  /**
   * glibc's mmap threshold in bytes (`MALLOC_MMAP_THRESHOLD_`): blocks of this size or more are
   * mapped on their own and returned to the kernel when freed. 0 sets nothing and leaves glibc's
   * dynamic threshold, which rises to the largest block freed, so that freed Buffers stay resident
   * (bounded by the most Buffers ever in use). 131072 cut the sequencer's resident memory by a
   * further 50–90 MiB in the soak but cost 14–21 % more CPU per admitted indicator, so it is off.
   * @default 0 (off) for the sequencer
   */
  readonly mallocMmapThreshold: number;
}

/** Where the replica API's serving certificate and the APIService's CA bundle come from. */
export interface ReplicaApiTls {
  readonly certManager: boolean;
  readonly existingSecret: string;
  readonly caBundle: string;
}

/** Every value; see SCHEMA for each field's meaning. */
export interface Values {
  readonly role: 'partner' | 'sequencer';
  readonly partnerId: string;
  readonly namespace: string;
  readonly image: { readonly repository: string; readonly tag: string; readonly pullPolicy: 'Always' | 'IfNotPresent' | 'Never' };
  readonly tls: { readonly issuerKind: 'Issuer' | 'ClusterIssuer'; readonly issuerName: string; readonly networkSecret: string; readonly signingKeySecret: string };
  readonly operator: { readonly replicas: number; readonly resources: Resources; readonly votingWindow: string };
  readonly serve: { readonly enabled: boolean; readonly replicas: number; readonly resources: Resources; readonly tlsSecret: string };
  readonly enforce: { readonly enabled: boolean; readonly replicas: number; readonly resources: Resources };
  readonly replicaApi: { readonly enabled: boolean; readonly replicas: number; readonly resources: Resources; readonly tls: ReplicaApiTls };
  readonly sequencer: { readonly replicas: number; readonly resources: Resources; readonly memory: ProcessMemory; readonly votingWindow: string; readonly quorum: number; readonly endpoint: External };
  readonly mongodb: { readonly enabled: boolean; readonly members: number; readonly version: string; readonly storageSize: string; readonly storageClass: string; readonly passwordSecret: string };
  readonly ceph: { readonly enabled: boolean; readonly namespace: string; readonly image: string; readonly osdCount: number; readonly osdSize: string; readonly deviceClass: string; readonly poolReplicas: number };
  readonly haproxy: { readonly enabled: boolean; readonly replicas: number; readonly image: string; readonly hostname: string; readonly serviceType: 'LoadBalancer' | 'NodePort' | 'ClusterIP'; readonly resources: Resources };
  readonly network: { readonly feeds: External; readonly llm: External; readonly peers: External; readonly apiClients: readonly string[]; readonly edgeAgents: readonly string[] };
  readonly monitoring: { readonly enabled: boolean; readonly grafanaLabel: string; readonly ruleLabels: Readonly<Record<string, string>> };
  readonly gitops: { readonly repoURL: string; readonly targetRevision: string; readonly argocdNamespace: string };
}

const str = (description: string, extra: object = {}): object => ({ type: 'string', description, ...extra });
const int = (description: string, minimum: number, maximum: number): object => ({ type: 'integer', minimum, maximum, description });
const bool = (description: string): object => ({ type: 'boolean', description });
const obj = (description: string, properties: Record<string, object>): object => ({ type: 'object', additionalProperties: false, description, required: Object.keys(properties), properties });
const QUANTITY = { cpu: '^[0-9]+m$', memory: '^[0-9]+(Mi|Gi)$' };
const resources = (what: string): object => obj(`CPU and memory of ${what}`, {
  cpu: str('CPU request in millicores, e.g. 100m (no CPU limit is set)', { pattern: QUANTITY.cpu }),
  memory: str('memory request, e.g. 256Mi', { pattern: QUANTITY.memory }),
  memoryLimit: str('memory limit, e.g. 512Mi', { pattern: QUANTITY.memory }),
});
const dnsName = { type: 'string', pattern: '^(\\*\\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' };
const cidr = { type: 'string', pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$' };
const external = (what: string): object => obj(what, {
  fqdns: { type: 'array', items: dnsName, description: 'DNS names (a leading *. matches subdomains)' },
  cidrs: { type: 'array', items: cidr, description: 'IP ranges in CIDR notation' },
  port: int('TCP port', 1, 65535),
});
const DURATION = '^[0-9]+(s|m|h|d)$';
const NAME = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** JSON Schema (draft-07, which both ajv and Helm read) of the values. */
export const VALUES_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'ThreatMesh installation values',
  ...obj('values of one ThreatMesh party: a partner or the sequencer', {
    role: { type: 'string', enum: ['partner', 'sequencer'], description: 'which party this installation is: a partner (operator, HTTPS APIs, front door) or the network\'s sequencer' },
    partnerId: str('this party\'s id: its PartnerNode partnerId and the CN of its mTLS certificate', { pattern: NAME, maxLength: 63 }),
    namespace: str('namespace of every namespaced object (the operator watches it, PartnerNodes and ThreatIndicators live there)', { pattern: NAME, maxLength: 63 }),
    image: obj('the ThreatMesh image (operator, sequencer, HTTPS APIs and ingest Jobs)', {
      repository: str('image repository', { minLength: 1 }),
      tag: str('image tag', { minLength: 1 }),
      pullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'], description: 'imagePullPolicy of every ThreatMesh container' },
    }),
    tls: obj('certificates and keys', {
      issuerKind: { type: 'string', enum: ['Issuer', 'ClusterIssuer'], description: 'kind of the cert-manager issuer of in-cluster certificates (webhook, MongoDB, front door)' },
      issuerName: str('name of that cert-manager issuer', { pattern: NAME }),
      networkSecret: str('Secret with this party\'s mTLS identity from the network CA: tls.crt (CN = partnerId), tls.key, ca.crt', { pattern: NAME }),
      signingKeySecret: str('Secret with this party\'s Ed25519 signing key under private.pem (threatmesh keys generate)', { pattern: NAME }),
    }),
    operator: obj('the partner operator (role partner)', {
      replicas: int('operator replicas; one leads (Lease), all serve the webhook', 1, 9),
      resources: resources('an operator replica'),
      votingWindow: str('how long voting on a proposal stays open', { pattern: DURATION }),
    }),
    serve: obj('the partner\'s HTTPS APIs: TAXII 2.1, exports, reports (threatmesh serve, role partner)', {
      enabled: bool('run the HTTPS API server'),
      replicas: int('HTTPS API replicas', 1, 9),
      resources: resources('an HTTPS API replica'),
      tlsSecret: str('Secret (tls.crt, tls.key) the HTTPS API serves with; a cert-manager Certificate of that name is rendered', { pattern: NAME }),
    }),
    enforce: obj('the enforcement controller (threatmesh enforce, role partner): keeps Cilium CIDR groups and egress-deny policies and the front door\'s HAProxy deny maps equal to the EnforcementPolicies\' selection of the replicated indicators', {
      enabled: bool('run the enforcement controller'),
      replicas: int('enforcement controller replicas; one leads (Lease) and writes, the others stand by', 1, 9),
      resources: resources('an enforcement controller replica (it holds the selected indicators in memory)'),
    }),
    replicaApi: obj('the aggregated API replica.threatmesh.io/v1alpha1 (threatmesh replica-api, role partner): `kubectl get threatindicators` lists the full replicated set from the partner database (docs/adr/2026-12-06-million-indicators.md); an APIService registers it', {
      enabled: bool('run the replica API and register its APIService; without it `kubectl get threatindicators` shows only the working set (the ThreatIndicator objects)'),
      replicas: int('replica API replicas; stateless, all serve', 1, 9),
      resources: resources('a replica API replica'),
      tls: obj('the serving certificate and the CA bundle the API server verifies it with (never insecureSkipTLSVerify)', {
        certManager: bool('a cert-manager Certificate (tls.issuerKind/issuerName) for threatmesh-replica-api.<namespace>.svc, and cert-manager\'s CA injector fills the APIService caBundle; false: bring your own with existingSecret'),
        existingSecret: str('without cert-manager: name of a kubernetes.io/tls Secret you create in the namespace (tls.crt naming threatmesh-replica-api.<namespace>.svc, tls.key, ca.crt)', { pattern: `^$|${NAME}` }),
        caBundle: str('without cert-manager: PEM of the CA that signed existingSecret\'s certificate, written to the APIService caBundle; required by `threatmesh gitops render`, helm template and GitOps; helm install/upgrade read existingSecret\'s ca.crt when empty', { pattern: '^$|^-----BEGIN CERTIFICATE-----' }),
      }),
    }),
    sequencer: obj('the network\'s sequencer (role sequencer), and where partners reach it', {
      replicas: int('sequencer replicas; only the Lease holder serves', 1, 9),
      resources: resources('a sequencer replica'),
      memory: obj('Node memory settings of a sequencer replica (docs/adr/2026-12-07-sequencer-memory-settings.md)', {
        maxSemiSpaceMiB: int('largest V8 semi-space in MiB (NODE_OPTIONS=--max-semi-space-size; the young generation is about twice it); 0 leaves V8\'s default', 0, 1024),
        mallocMmapThreshold: int('glibc MALLOC_MMAP_THRESHOLD_ in bytes: freed blocks of this size or more go back to the kernel; 0 leaves glibc\'s dynamic threshold', 0, 33554432),
      }),
      votingWindow: str('how long a round accepts votes', { pattern: DURATION }),
      quorum: int('approvals required; 0 means the default ⌊2n/3⌋+1 of n voters', 0, 100),
      endpoint: external('where partners reach the sequencer\'s front door (role partner: egress allowed there)'),
    }),
    mongodb: obj('the MongoDB replica set (MongoDBCommunity resource of the MongoDB Community operator)', {
      enabled: bool('render the MongoDB replica set'),
      members: int('replica set members', 1, 7),
      version: str('MongoDB server version', { pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+$' }),
      storageSize: str('data volume size per member', { pattern: QUANTITY.memory }),
      storageClass: str('StorageClass of the data volumes (the Ceph block pool\'s when ceph is enabled)', { pattern: NAME }),
      passwordSecret: str('Secret with the password of the threatmesh database user under key password', { pattern: NAME }),
    }),
    ceph: obj('Rook-Ceph storage: encrypted OSDs, the block pool MongoDB uses and an object store for log archives', {
      enabled: bool('render the CephCluster, CephBlockPool, StorageClass and CephObjectStore (needs the Rook operator)'),
      namespace: str('namespace of the Rook operator and the CephCluster', { pattern: NAME }),
      image: str('Ceph image', { minLength: 1 }),
      osdCount: int('OSDs (one PVC-backed, dm-crypt encrypted device each)', 1, 64),
      osdSize: str('size of each OSD device', { pattern: QUANTITY.memory }),
      deviceClass: str('StorageClass the OSD devices are provisioned from (the cloud\'s block storage)', { pattern: NAME }),
      poolReplicas: int('copies of each object in the block pool and object store', 1, 5),
    }),
    haproxy: obj('the HAProxy front door', {
      enabled: bool('render the front door'),
      replicas: int('HAProxy replicas', 1, 9),
      image: str('HAProxy image', { minLength: 1 }),
      hostname: str('public DNS name of the front door (its certificate\'s name)', { pattern: dnsName.pattern }),
      serviceType: { type: 'string', enum: ['LoadBalancer', 'NodePort', 'ClusterIP'], description: 'type of the front door Service' },
      resources: resources('an HAProxy replica'),
    }),
    network: obj('what the Cilium policies allow beyond the cluster', {
      feeds: external('feed sources ingest Jobs fetch from; its CIDRs are also the internal addresses the operator lets feeds be fetched from (--allow-internal-feeds)'),
      llm: external('the OpenAI-compatible LLM endpoint of report summaries'),
      peers: external('the other partners\' gossip endpoints (role partner)'),
      apiClients: { type: 'array', items: cidr, description: 'CIDRs of TAXII/export clients and partners allowed through the front door' },
      edgeAgents: { type: 'array', items: cidr, description: 'CIDRs of edge agents that post sightings to the partner\'s HTTPS API' },
    }),
    monitoring: obj('Prometheus Operator and Grafana Operator objects', {
      enabled: bool('render ServiceMonitors, the PrometheusRule and the GrafanaDashboard'),
      grafanaLabel: str('value of the dashboards label the Grafana instance selects (instanceSelector dashboards=VALUE)', { pattern: NAME }),
      ruleLabels: { type: 'object', additionalProperties: { type: 'string' }, description: 'labels the Prometheus ruleSelector and serviceMonitorSelector match' },
    }),
    gitops: obj('the Argo CD Applications of `threatmesh gitops render` (the Helm chart ignores this)', {
      repoURL: str('URL of the partner\'s GitOps repository (where the rendered folder is pushed)', { minLength: 1 }),
      targetRevision: str('branch, tag or commit Argo CD syncs', { minLength: 1 }),
      argocdNamespace: str('namespace of Argo CD (AppProject and Applications live there)', { pattern: NAME }),
    }),
  }),
} as const;

const res = (cpu: string, memory: string, memoryLimit: string): Resources => ({ cpu, memory, memoryLimit });

/** The defaults: a partner named partner-a with every component on. */
export const DEFAULT_VALUES: Values = {
  role: 'partner',
  partnerId: 'partner-a',
  namespace: 'threatmesh',
  image: { repository: 'ghcr.io/threatmesh/threatmesh', tag: '0.1.0', pullPolicy: 'IfNotPresent' },
  tls: { issuerKind: 'ClusterIssuer', issuerName: 'threatmesh-ca', networkSecret: 'threatmesh-network-tls', signingKeySecret: 'threatmesh-signing-key' },
  operator: { replicas: 2, resources: res('100m', '256Mi', '512Mi'), votingWindow: '72h' },
  serve: { enabled: true, replicas: 2, resources: res('100m', '256Mi', '512Mi'), tlsSecret: 'threatmesh-serve-tls' },
  enforce: { enabled: true, replicas: 2, resources: res('100m', '256Mi', '1Gi') },
  replicaApi: { enabled: true, replicas: 2, resources: res('100m', '128Mi', '512Mi'), tls: { certManager: true, existingSecret: '', caBundle: '' } },
  sequencer: { replicas: 2, resources: res('200m', '256Mi', '1Gi'), memory: { maxSemiSpaceMiB: 16, mallocMmapThreshold: 0 }, votingWindow: '72h', quorum: 0, endpoint: { fqdns: ['sequencer.threatmesh.example.org'], cidrs: [], port: 443 } },
  mongodb: { enabled: true, members: 3, version: '8.0.12', storageSize: '20Gi', storageClass: 'threatmesh-ceph-block', passwordSecret: 'threatmesh-mongodb-password' },
  ceph: { enabled: true, namespace: 'rook-ceph', image: 'quay.io/ceph/ceph:v19.2.3', osdCount: 3, osdSize: '100Gi', deviceClass: 'standard', poolReplicas: 3 },
  haproxy: { enabled: true, replicas: 2, image: 'docker.io/library/haproxy:3.2', hostname: 'partner-a.threatmesh.example.org', serviceType: 'LoadBalancer', resources: res('100m', '128Mi', '256Mi') },
  network: {
    feeds: { fqdns: ['*.abuse.ch', 'openphish.com'], cidrs: [], port: 443 },
    llm: { fqdns: ['api.openai.com'], cidrs: [], port: 443 },
    peers: { fqdns: [], cidrs: [], port: 8444 },
    apiClients: ['0.0.0.0/0'],
    edgeAgents: [],
  },
  monitoring: { enabled: true, grafanaLabel: 'grafana', ruleLabels: { release: 'prometheus' } },
  gitops: { repoURL: 'https://git.example.org/threatmesh/partner-a.git', targetRevision: 'main', argocdNamespace: 'argocd' },
};

/** The environment that applies `memory` to a Node process: NODE_OPTIONS and MALLOC_MMAP_THRESHOLD_, each only when set (not 0). */
export function memoryEnv(memory: ProcessMemory): Record<string, string> {
  return {
    ...(memory.maxSemiSpaceMiB > 0 ? { NODE_OPTIONS: `--max-semi-space-size=${memory.maxSemiSpaceMiB}` } : {}),
    ...(memory.mallocMmapThreshold > 0 ? { MALLOC_MMAP_THRESHOLD_: String(memory.mallocMmapThreshold) } : {}),
  };
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `over` merged into `base`: objects field by field, arrays and scalars replaced (Helm's rule). */
export function mergeValues(base: unknown, over: unknown): unknown {
  if (!isPlain(base) || !isPlain(over)) return over === undefined ? base : over;
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? mergeValues(base[k], v) : v;
  return out;
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === '' ? '(top level)' : e.instancePath.slice(1).replaceAll('/', '.');
  if (e.keyword === 'additionalProperties') return `${at === '(top level)' ? '' : `${at}.`}${String(e.params['additionalProperty'])}: unknown field (see charts/threatmesh/values.schema.json for the fields)`;
  if (e.keyword === 'enum') return `${at}: must be one of ${(e.params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at}: ${e.message ?? 'invalid'}`;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile<Values>(VALUES_SCHEMA);

/** Thrown for values that break the schema; `problems` are `field.path: what is wrong`. */
export class ValuesError extends Error {
  readonly problems: readonly string[];
  /** @param source where the values came from (a file name), for the message */
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: invalid values:\n  ${problems.join('\n  ')}`);
    this.name = 'ValuesError';
    this.problems = problems;
  }
}

/**
 * Why the replica API's APIService would have no CA bundle, or undefined: the chart's template
 * fails with the same text (charts/threatmesh/templates/replica-api.yaml). The app cannot read a
 * Secret from a cluster, so without cert-manager it needs the CA as a value.
 */
export function replicaApiCaProblem(v: Values): string | undefined {
  const r = v.replicaApi;
  if (v.role !== 'partner' || !r.enabled || r.tls.certManager) return undefined;
  if (r.tls.existingSecret === '') return REPLICA_API_NO_CA;
  if (r.tls.caBundle === '') return `replicaApi.tls.caBundle: empty, and the Secret ${r.tls.existingSecret} cannot be read at render time: set replicaApi.tls.caBundle to the PEM of the CA that signed the certificate in ${r.tls.existingSecret}`;
  return undefined;
}

/** The message when neither cert-manager nor a Secret gives the replica API's CA bundle. */
export const REPLICA_API_NO_CA = 'replicaApi.tls: the APIService needs a CA bundle to verify the replica API: set replicaApi.tls.certManager=true (cert-manager issues the certificate and injects its CA), or create a kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt) and set replicaApi.tls.existingSecret to its name (and replicaApi.tls.caBundle to its CA PEM for helm template and GitOps); insecureSkipTLSVerify is not offered, or set replicaApi.enabled=false';

/** The defaults merged with `overrides` (parsed YAML or JSON object), validated; throws ValuesError. */
export function resolveValues(overrides: unknown, source = 'values'): Values {
  if (overrides !== undefined && overrides !== null && !isPlain(overrides)) throw new ValuesError(source, ['(top level): must be a mapping of fields']);
  const merged = mergeValues(structuredClone(DEFAULT_VALUES), overrides ?? {});
  if (!validate(merged)) throw new ValuesError(source, (validate.errors ?? []).map(describe));
  const ca = replicaApiCaProblem(merged);
  if (ca !== undefined) throw new ValuesError(source, [ca]);
  return merged;
}

/** Parses a YAML (or JSON) values file and resolves it; parse errors name the line. */
export function parseValues(text: string, source = 'values'): Values {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ValuesError(source, [`not YAML: ${err instanceof Error ? err.message : String(err)}`]);
  }
  return resolveValues(doc, source);
}

/**
 * Partner: the ThreatMesh operator of one partner. A Deployment (leader election, so extra
 * replicas stand by and all serve the webhook), its ServiceAccount and RBAC (generated from
 * operator/src/api/manifests.ts, never restated), the ingest Jobs' ServiceAccount and role, the
 * validating webhook with its Service and cert-manager Certificate, a PodDisruptionBudget, the
 * gossip Service peers reach through the front door, and the metrics Service.
 */
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { IntOrString, KubePodDisruptionBudget } from 'cdk8s-plus-28/lib/imports/k8s.js';
import { Construct } from 'constructs';
import { OPERATOR_NAME, ingestRbacManifests, rbacManifests, webhookConfiguration } from '../../operator/src/api/manifests.ts';
import { Certificate } from '../imports/cert-manager.io.js';
import type { Values } from '../values.ts';
import { PORTS, SECURE, containerResources, deployment, image, issuerRef, labels, raw, scrapeAnnotations, secretVolume, selectorLabels, service } from './common.ts';

/** Names the other constructs and the chart refer to. */
export const PARTNER_NAMES = {
  operator: OPERATOR_NAME,
  webhookService: `${OPERATOR_NAME}-webhook`,
  webhookSecret: `${OPERATOR_NAME}-webhook-tls`,
  gossipService: 'threatmesh-gossip',
  metricsService: `${OPERATOR_NAME}-metrics`,
  mongodbUriSecret: 'threatmesh-mongodb-uri',
  mongodbTlsSecret: 'threatmesh-mongodb-tls',
} as const;

/** Key of the MongoDB connection string in PARTNER_NAMES.mongodbUriSecret (the MongoDB Community operator's). */
export const MONGODB_URI_KEY = 'connectionString.standard';

/** The operator's ValidatingWebhookConfiguration (operator/src/api/manifests.ts) for the webhook Service in `namespace`. */
export function operatorWebhook(namespace: string): Record<string, unknown> {
  const webhook = webhookConfiguration({ service: { name: PARTNER_NAMES.webhookService, namespace, port: 443 } }, '');
  // cert-manager's CA injector owns caBundle (annotation set by webhookConfiguration).
  for (const w of webhook['webhooks'] as Array<{ clientConfig: Record<string, unknown> }>) delete w.clientConfig['caBundle'];
  return webhook;
}

/** Props of Partner. */
export interface PartnerProps {
  /** Resolved installation values (role partner). */
  readonly values: Values;
}

/** The volumes and env every ThreatMesh process that talks to MongoDB shares. */
export function mongoEnv(scope: Construct, values: Values): { env: Record<string, kplus.EnvValue>; mounts: kplus.VolumeMount[] } {
  const uri = kplus.EnvValue.fromSecretValue({ secret: kplus.Secret.fromSecretName(scope, 'mongodb-uri', PARTNER_NAMES.mongodbUriSecret), key: MONGODB_URI_KEY });
  if (!values.mongodb.enabled) return { env: { MONGODB_URI: uri }, mounts: [] };
  const ca = secretVolume(scope, 'mongodb-ca', PARTNER_NAMES.mongodbTlsSecret, { 'ca.crt': 'ca.crt' });
  return {
    // The MongoDB driver trusts Node's CA store; this adds the replica set's CA to it.
    env: { MONGODB_URI: uri, NODE_EXTRA_CA_CERTS: kplus.EnvValue.fromValue('/etc/threatmesh/mongodb-ca/ca.crt') },
    mounts: [{ path: '/etc/threatmesh/mongodb-ca', volume: ca, readOnly: true }],
  };
}

/** The network identity (mTLS) and signing key volumes of a partner or the sequencer. */
export function identityMounts(scope: Construct, values: Values): kplus.VolumeMount[] {
  return [
    { path: '/etc/threatmesh/network', volume: secretVolume(scope, 'network-tls', values.tls.networkSecret), readOnly: true },
    { path: '/etc/threatmesh/signing', volume: secretVolume(scope, 'signing-key', values.tls.signingKeySecret), readOnly: true },
  ];
}

/** The identity flags matching identityMounts. */
export function identityArgs(values: Values): string[] {
  return ['--partner-id', values.partnerId, '--signing-key', '/etc/threatmesh/signing/private.pem',
    '--tls-cert', '/etc/threatmesh/network/tls.crt', '--tls-key', '/etc/threatmesh/network/tls.key', '--tls-ca', '/etc/threatmesh/network/ca.crt'];
}

/**
 * The operator's command line (flags of operator/src/cli/operator.ts and exchangeflags.ts). The
 * feed CIDRs the Cilium policy lets ingest Jobs reach are also the internal addresses feeds may
 * be fetched from (`--allow-internal-feeds`; the fetcher refuses private addresses otherwise).
 */
export function operatorArgs(values: Values): string[] {
  const feeds = values.network.feeds.cidrs;
  return [
    'operator', '--namespace', values.namespace, '--leader-elect', '--executor', 'job', '--job-image', image(values),
    '--metrics-bind', `0.0.0.0:${PORTS.metrics}`, '--webhook-bind', `0.0.0.0:${PORTS.webhook}`,
    '--webhook-cert', '/etc/threatmesh/webhook/tls.crt', '--webhook-key', '/etc/threatmesh/webhook/tls.key',
    '--exchange', '--exchange-namespace', values.namespace, ...identityArgs(values), '--gossip-bind', `0.0.0.0:${PORTS.gossip}`, '--voting-window', values.operator.votingWindow,
    ...(feeds.length > 0 ? ['--allow-internal-feeds', feeds.join(',')] : []),
  ];
}

/** A PodDisruptionBudget keeping one pod of `component` up during voluntary disruptions. */
export function pdb(scope: Construct, values: Values, name: string, component: Parameters<typeof selectorLabels>[0]): KubePodDisruptionBudget {
  return new KubePodDisruptionBudget(scope, 'pdb', {
    metadata: { name, labels: labels(values, component) },
    spec: { minAvailable: IntOrString.fromNumber(1), selector: { matchLabels: selectorLabels(component) } },
  });
}

/** The partner operator and everything it needs from the cluster. */
export class Partner extends Construct {
  /** @param props values of the installation */
  constructor(scope: Construct, id: string, props: PartnerProps) {
    super(scope, id);
    const v = props.values;
    for (const [i, m] of [...rbacManifests(v.namespace, OPERATOR_NAME), ...ingestRbacManifests(v.namespace)].entries()) raw(this, `rbac${i}`, withLabels(m, labels(v, 'operator')));
    raw(this, 'webhook', withLabels(operatorWebhook(v.namespace), labels(v, 'operator')));
    new Certificate(this, 'webhook-cert', {
      metadata: { name: PARTNER_NAMES.webhookService, labels: labels(v, 'operator') },
      spec: { secretName: PARTNER_NAMES.webhookSecret, issuerRef: issuerRef(v), dnsNames: [`${PARTNER_NAMES.webhookService}.${v.namespace}.svc`, `${PARTNER_NAMES.webhookService}.${v.namespace}.svc.cluster.local`] },
    });
    const mongo = mongoEnv(this, v);
    const webhookTls = secretVolume(this, 'webhook-tls', PARTNER_NAMES.webhookSecret);
    deployment(this, 'operator', v, 'operator', {
      name: OPERATOR_NAME, replicas: v.operator.replicas, annotations: scrapeAnnotations(PORTS.metrics),
      serviceAccount: kplus.ServiceAccount.fromServiceAccountName(this, 'sa', OPERATOR_NAME), automountServiceAccountToken: true,
      terminationGracePeriod: Duration.seconds(30),
      containers: [{
        name: 'operator', image: image(v), imagePullPolicy: v.image.pullPolicy as kplus.ImagePullPolicy, args: operatorArgs(v),
        ports: [{ name: 'metrics', number: PORTS.metrics }, { name: 'webhook', number: PORTS.webhook }, { name: 'gossip', number: PORTS.gossip }],
        envVariables: mongo.env,
        volumeMounts: [{ path: '/etc/threatmesh/webhook', volume: webhookTls, readOnly: true }, ...identityMounts(this, v), ...mongo.mounts],
        liveness: kplus.Probe.fromHttpGet('/healthz', { port: PORTS.metrics }),
        readiness: kplus.Probe.fromHttpGet('/readyz', { port: PORTS.metrics }),
        resources: containerResources(v.operator.resources), securityContext: SECURE,
      }],
    });
    pdb(this, v, OPERATOR_NAME, 'operator');
    service(this, 'webhook-svc', v, 'operator', { name: PARTNER_NAMES.webhookService, ports: [{ name: 'https', port: 443, targetPort: PORTS.webhook }] });
    service(this, 'gossip-svc', v, 'operator', { name: PARTNER_NAMES.gossipService, ports: [{ name: 'gossip', port: PORTS.gossip }] });
    service(this, 'metrics-svc', v, 'operator', { name: PARTNER_NAMES.metricsService, ports: [{ name: 'metrics', port: PORTS.metrics }], extraLabels: { 'threatmesh.io/metrics': 'true' } });
  }
}

/** `manifest` with `extra` merged into its metadata.labels. */
export function withLabels(manifest: Record<string, unknown>, extra: Record<string, string>): Record<string, unknown> {
  const metadata = (manifest['metadata'] ?? {}) as { labels?: Record<string, string> };
  return { ...manifest, metadata: { ...metadata, labels: { ...extra, ...metadata.labels } } };
}

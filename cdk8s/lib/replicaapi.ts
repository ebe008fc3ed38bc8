/**
 * ReplicaApi: the aggregated API replica.threatmesh.io/v1alpha1 (`threatmesh replica-api`,
 * docs/adr/2026-12-06-million-indicators.md), installed the way aggregated API servers are
 * (metrics-server, Kyverno's reports-server): its own Deployment and ServiceAccount, a Service on
 * 443, the APIService with a group priority above the CRDs' (so `kubectl get threatindicators`
 * is the full replicated set), the delegated authentication and authorization RBAC
 * (operator/src/api/replicaapiservice.ts, never restated) and the reader ClusterRole.
 *
 * Its own Deployment rather than a port of the operator: it is stateless (every replica serves,
 * no leader), it needs the auth-delegator grant the operator does not, and `kubectl get
 * threatindicators` (and namespace deletion) stay up while the operator restarts or fails over.
 *
 * TLS: with `replicaApi.tls.certManager` a Certificate names the Service and cert-manager's CA
 * injector fills the APIService's caBundle; otherwise the user's Secret serves and the CA is the
 * `caBundle` value (values.ts refuses values that give neither). Never insecureSkipTLSVerify.
 */
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { REPLICA_SERVICE, replicaApiRbacManifests, replicaApiService } from '../../operator/src/api/replicaapiservice.ts';
import { Certificate } from '../imports/cert-manager.io.js';
import type { Values } from '../values.ts';
import { PORTS, SECURE, containerResources, deployment, image, issuerRef, labels, raw, scrapeAnnotations, secretVolume, service } from './common.ts';
import { mongoEnv, pdb, withLabels } from './partner.ts';

/** Names of the replica API's objects. */
export const REPLICA_API_NAMES = {
  deployment: REPLICA_SERVICE,
  serviceAccount: REPLICA_SERVICE,
  service: REPLICA_SERVICE,
  certificate: REPLICA_SERVICE,
  /** Secret of the cert-manager Certificate (replicaApi.tls.certManager). */
  certManagerSecret: `${REPLICA_SERVICE}-tls`,
} as const;

/** Port of the Service the APIService names (the aggregator dials it; the pods listen on PORTS.replicaApi). */
export const REPLICA_API_SERVICE_PORT = 443;

/** The Secret the replica API serves with: cert-manager's, or the user's. */
export function replicaApiSecret(v: Values): string {
  return v.replicaApi.tls.certManager ? REPLICA_API_NAMES.certManagerSecret : v.replicaApi.tls.existingSecret;
}

/**
 * The command line of `threatmesh replica-api` (operator/src/cli/replicaapi.ts): the replicated
 * set of the installation's namespace (the exchange namespace), HTTPS on PORTS.replicaApi, the
 * mounted certificate, /metrics on PORTS.metrics (plain HTTP, its own listener). In-cluster
 * service account; MONGODB_URI from mongoEnv.
 */
export function replicaApiArgs(v: Values): string[] {
  return ['replica-api', '--namespace', v.namespace, '--bind', `0.0.0.0:${PORTS.replicaApi}`, '--tls-cert', '/etc/threatmesh/replica-api/tls.crt', '--tls-key', '/etc/threatmesh/replica-api/tls.key', '--metrics-bind', `0.0.0.0:${PORTS.metrics}`];
}

/** Props of ReplicaApi. */
export interface ReplicaApiProps {
  /** Resolved installation values (role partner, replicaApi.enabled). */
  readonly values: Values;
}

/** The replica API server, its Service, APIService, certificate and RBAC. */
export class ReplicaApi extends Construct {
  /** @param props values of the installation */
  constructor(scope: Construct, id: string, props: ReplicaApiProps) {
    super(scope, id);
    const v = props.values;
    const tls = v.replicaApi.tls;
    for (const [i, m] of replicaApiRbacManifests(v.namespace).entries()) raw(this, `rbac${i}`, withLabels(m, labels(v, 'replica-api')));
    if (tls.certManager) {
      new Certificate(this, 'cert', {
        metadata: { name: REPLICA_API_NAMES.certificate, labels: labels(v, 'replica-api') },
        spec: { secretName: REPLICA_API_NAMES.certManagerSecret, issuerRef: issuerRef(v), dnsNames: [`${REPLICA_API_NAMES.service}.${v.namespace}.svc`, `${REPLICA_API_NAMES.service}.${v.namespace}.svc.cluster.local`] },
      });
    }
    const mongo = mongoEnv(this, v);
    // Health answers anyone on the HTTPS port; the kubelet does not verify the certificate.
    const probe = (path: string): kplus.Probe => kplus.Probe.fromHttpGet(path, { port: PORTS.replicaApi, scheme: kplus.ConnectionScheme.HTTPS });
    deployment(this, 'replica-api', v, 'replica-api', {
      name: REPLICA_API_NAMES.deployment, replicas: v.replicaApi.replicas, annotations: scrapeAnnotations(PORTS.metrics),
      serviceAccount: kplus.ServiceAccount.fromServiceAccountName(this, 'sa', REPLICA_API_NAMES.serviceAccount), automountServiceAccountToken: true,
      terminationGracePeriod: Duration.seconds(30),
      containers: [{
        name: 'replica-api', image: image(v), imagePullPolicy: v.image.pullPolicy as kplus.ImagePullPolicy, args: replicaApiArgs(v),
        ports: [{ name: 'https', number: PORTS.replicaApi }, { name: 'metrics', number: PORTS.metrics }],
        envVariables: mongo.env,
        volumeMounts: [{ path: '/etc/threatmesh/replica-api', volume: secretVolume(this, 'replica-api-tls', replicaApiSecret(v)), readOnly: true }, ...mongo.mounts],
        liveness: probe('/livez'), readiness: probe('/readyz'),
        resources: containerResources(v.replicaApi.resources), securityContext: SECURE,
      }],
    });
    pdb(this, v, REPLICA_API_NAMES.deployment, 'replica-api');
    // The metrics port and label put the pods under the installation's ServiceMonitor (monitoring.ts); the APIService names port 443 only.
    service(this, 'svc', v, 'replica-api', {
      name: REPLICA_API_NAMES.service, extraLabels: { 'threatmesh.io/metrics': 'true' },
      ports: [{ name: 'https', port: REPLICA_API_SERVICE_PORT, targetPort: PORTS.replicaApi }, { name: 'metrics', port: PORTS.metrics }],
    });
    const ca = tls.certManager ? { injectFrom: { namespace: v.namespace, certificate: REPLICA_API_NAMES.certificate } } : { caPem: tls.caBundle };
    raw(this, 'apiservice', withLabels(replicaApiService(v.namespace, REPLICA_API_NAMES.service, REPLICA_API_SERVICE_PORT, ca), labels(v, 'replica-api')));
  }
}

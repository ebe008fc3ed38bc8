/**
 * Serve: the partner's HTTPS APIs (TAXII 2.1, exports, reports) as `threatmesh serve` on port
 * 8443 with TLS from a cert-manager Certificate, metrics on 8080, behind the HAProxy front door.
 */
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { Certificate } from '../imports/cert-manager.io.js';
import type { Values } from '../values.ts';
import { PORTS, SECURE, containerResources, deployment, image, issuerRef, labels, scrapeAnnotations, secretVolume, service } from './common.ts';
import { mongoEnv, pdb } from './partner.ts';

/** Name of the HTTPS API Deployment and Service. */
export const SERVE_NAME = 'threatmesh-serve';

/** The command line of the HTTPS API server (the `serve` contract: --listen, --tls-cert/--tls-key, --metrics-bind). */
export function serveArgs(): string[] {
  return ['serve', '--listen', `0.0.0.0:${PORTS.serve}`, '--tls-cert', '/etc/threatmesh/serve/tls.crt', '--tls-key', '/etc/threatmesh/serve/tls.key', '--metrics-bind', `0.0.0.0:${PORTS.metrics}`];
}

/** Props of Serve. */
export interface ServeProps {
  /** Resolved installation values (role partner, serve.enabled). */
  readonly values: Values;
}

/** The partner's HTTPS API server. */
export class Serve extends Construct {
  /** @param props values of the installation */
  constructor(scope: Construct, id: string, props: ServeProps) {
    super(scope, id);
    const v = props.values;
    new Certificate(this, 'cert', {
      metadata: { name: v.serve.tlsSecret, labels: labels(v, 'serve') },
      spec: { secretName: v.serve.tlsSecret, issuerRef: issuerRef(v), dnsNames: [`${SERVE_NAME}.${v.namespace}.svc`, `${SERVE_NAME}.${v.namespace}.svc.cluster.local`] },
    });
    const mongo = mongoEnv(this, v);
    deployment(this, 'serve', v, 'serve', {
      name: SERVE_NAME, replicas: v.serve.replicas, annotations: scrapeAnnotations(PORTS.metrics),
      automountServiceAccountToken: false,
      containers: [{
        name: 'serve', image: image(v), imagePullPolicy: v.image.pullPolicy as kplus.ImagePullPolicy, args: serveArgs(),
        ports: [{ name: 'https', number: PORTS.serve }, { name: 'metrics', number: PORTS.metrics }],
        envVariables: mongo.env,
        volumeMounts: [{ path: '/etc/threatmesh/serve', volume: secretVolume(this, 'serve-tls', v.serve.tlsSecret), readOnly: true }, ...mongo.mounts],
        liveness: kplus.Probe.fromHttpGet('/healthz', { port: PORTS.metrics }),
        readiness: kplus.Probe.fromHttpGet('/readyz', { port: PORTS.metrics }),
        resources: containerResources(v.serve.resources), securityContext: SECURE,
      }],
    });
    pdb(this, v, SERVE_NAME, 'serve');
    service(this, 'svc', v, 'serve', { name: SERVE_NAME, ports: [{ name: 'https', port: PORTS.serve }, { name: 'metrics', port: PORTS.metrics }], extraLabels: { 'threatmesh.io/metrics': 'true' } });
  }
}

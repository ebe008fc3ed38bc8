/**
 * HAProxy: the network's front door. For a partner: a TLS-terminating frontend (certificate
 * from cert-manager) for the HTTPS APIs with the deny maps, and TCP passthrough for gossip. For
 * the sequencer: TCP passthrough of gRPC with mutual TLS to the replicas, health-checked on
 * /readyz so only the Lease holder gets traffic. haproxy.cfg lives in a ConfigMap (haproxyConfig);
 * the runtime API is a Unix socket in the pod and a TCP port the operator's enforcement
 * controller reaches (Service threatmesh-haproxy-internal, allowed by Cilium policy only from
 * the operator).
 */
import { Duration } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { Certificate } from '../imports/cert-manager.io.js';
import type { Values } from '../values.ts';
import { PORTS, containerResources, deployment, issuerRef, labels, scrapeAnnotations, secretVolume, service } from './common.ts';
import { DENY_HOSTS_MAP, DENY_IPS_MAP, haproxyConfig } from './haproxycfg.ts';
import { PARTNER_NAMES, pdb } from './partner.ts';
import { SEQUENCER_HEADLESS } from './sequencer.ts';
import { SERVE_NAME } from './serve.ts';

/** Names of the front door's objects. */
export const HAPROXY_NAMES = {
  deployment: 'threatmesh-haproxy',
  config: 'threatmesh-haproxy',
  maps: 'threatmesh-haproxy-maps',
  frontDoor: 'threatmesh-frontdoor',
  internal: 'threatmesh-haproxy-internal',
  certSecret: 'threatmesh-frontdoor-tls',
} as const;

/** First line of the deny maps at start (a comment: the files must exist; enforcement adds entries at run time). */
export const MAP_HEADER = '# ThreatMesh deny map: entries are added through the runtime API\n';

/** The user of the official haproxy image. */
const HAPROXY_UID = 99;

/** haproxy.cfg as the Deployment runs it (in-cluster names and fixed container paths). */
export function clusterHaproxyConfig(v: Values): string {
  const svc = (name: string): string => `${name}.${v.namespace}.svc.cluster.local`;
  return haproxyConfig({
    role: v.role,
    mainBind: `0.0.0.0:${PORTS.haproxyHttps}`, gossipBind: `0.0.0.0:${PORTS.haproxyGossip}`, statsBind: `0.0.0.0:${PORTS.haproxyStats}`, adminBind: `0.0.0.0:${PORTS.haproxyAdmin}`,
    certFile: '/etc/haproxy/tls/frontdoor.pem', upstreamCaFile: '/etc/haproxy/serve-ca/ca.crt',
    ...(v.serve.enabled ? { serve: { host: svc(SERVE_NAME), port: PORTS.serve, checkPort: PORTS.metrics, verifyHost: `${SERVE_NAME}.${v.namespace}.svc` } } : {}),
    gossip: { host: svc(PARTNER_NAMES.gossipService), port: PORTS.gossip },
    sequencer: { host: svc(SEQUENCER_HEADLESS), port: PORTS.sequencer, replicas: v.sequencer.replicas, checkPort: PORTS.sequencerMetrics },
  });
}

/** Props of HAProxy. */
export interface HAProxyProps {
  /** Resolved installation values (haproxy.enabled). */
  readonly values: Values;
}

/** The front door Deployment, its configuration, maps, certificate and Services. */
export class HAProxy extends Construct {
  /** @param props values of the installation */
  constructor(scope: Construct, id: string, props: HAProxyProps) {
    super(scope, id);
    const v = props.values;
    const partner = v.role === 'partner';
    // A partner's HTTPS API frontend (and its certificate) exists only while the HTTPS APIs run.
    const api = partner && v.serve.enabled;
    const config = new kplus.ConfigMap(this, 'config', { metadata: { name: HAPROXY_NAMES.config, labels: labels(v, 'haproxy') }, data: { 'haproxy.cfg': clusterHaproxyConfig(v) } });
    // Empty at start; the enforcement controller fills them through the runtime API.
    const maps = new kplus.ConfigMap(this, 'maps', { metadata: { name: HAPROXY_NAMES.maps, labels: labels(v, 'haproxy') }, data: { [DENY_HOSTS_MAP]: MAP_HEADER, [DENY_IPS_MAP]: MAP_HEADER } });
    const mounts: kplus.VolumeMount[] = [
      { path: '/usr/local/etc/haproxy', volume: kplus.Volume.fromConfigMap(this, 'config-vol', config, { name: 'config' }), readOnly: true },
      { path: '/etc/haproxy/maps', volume: kplus.Volume.fromConfigMap(this, 'maps-vol', maps, { name: 'maps' }), readOnly: true },
      { path: '/var/run/haproxy', volume: kplus.Volume.fromEmptyDir(this, 'run-vol', 'run') },
    ];
    if (api) {
      new Certificate(this, 'cert', {
        metadata: { name: HAPROXY_NAMES.certSecret, labels: labels(v, 'haproxy') },
        spec: { secretName: HAPROXY_NAMES.certSecret, issuerRef: issuerRef(v), dnsNames: [v.haproxy.hostname] },
      });
      mounts.push(
        { path: '/etc/haproxy/tls', volume: secretVolume(this, 'tls', HAPROXY_NAMES.certSecret, { 'tls.crt': 'frontdoor.pem', 'tls.key': 'frontdoor.pem.key' }), readOnly: true },
        { path: '/etc/haproxy/serve-ca', volume: secretVolume(this, 'serve-ca', v.serve.tlsSecret, { 'ca.crt': 'ca.crt' }), readOnly: true },
      );
    }
    deployment(this, 'haproxy', v, 'haproxy', {
      name: HAPROXY_NAMES.deployment, replicas: v.haproxy.replicas, annotations: scrapeAnnotations(PORTS.haproxyStats),
      automountServiceAccountToken: false, terminationGracePeriod: Duration.seconds(30),
      containers: [{
        name: 'haproxy', image: v.haproxy.image, imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT, args: ['-f', '/usr/local/etc/haproxy/haproxy.cfg'],
        ports: [{ name: 'main', number: PORTS.haproxyHttps }, ...(partner ? [{ name: 'gossip', number: PORTS.haproxyGossip }] : []), { name: 'admin', number: PORTS.haproxyAdmin }, { name: 'metrics', number: PORTS.haproxyStats }],
        volumeMounts: mounts,
        liveness: kplus.Probe.fromHttpGet('/healthz', { port: PORTS.haproxyStats }),
        readiness: kplus.Probe.fromHttpGet('/healthz', { port: PORTS.haproxyStats }),
        resources: containerResources(v.haproxy.resources),
        securityContext: { user: HAPROXY_UID, group: HAPROXY_UID, ensureNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: [kplus.Capability.ALL] }, seccompProfile: { type: kplus.SeccompProfileType.RUNTIME_DEFAULT } },
      }],
    });
    pdb(this, v, HAPROXY_NAMES.deployment, 'haproxy');
    const https = { name: 'https', port: 443, targetPort: PORTS.haproxyHttps };
    const ports = partner
      ? [...(api ? [https] : []), { name: 'gossip', port: PORTS.haproxyGossip }]
      : [{ name: 'grpc', port: 443, targetPort: PORTS.haproxyHttps }];
    service(this, 'frontdoor', v, 'haproxy', { name: HAPROXY_NAMES.frontDoor, type: v.haproxy.serviceType as kplus.ServiceType, ports });
    service(this, 'internal', v, 'haproxy', { name: HAPROXY_NAMES.internal, ports: [{ name: 'admin', port: PORTS.haproxyAdmin }, { name: 'metrics', port: PORTS.haproxyStats }], extraLabels: { 'threatmesh.io/metrics': 'true' } });
  }
}

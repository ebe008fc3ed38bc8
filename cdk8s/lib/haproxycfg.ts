/**
 * haproxy.cfg of the front door, as a pure function so tests (and the enforcement room) can
 * render it with local addresses and run a real HAProxy on it.
 *
 * Contract with enforcement (map updates through the runtime API, no reload):
 * - runtime API: `stats socket <socketPath> mode 660 level admin`, and the same API on
 *   `adminBind` (TCP, pod network, reachable only from the operator by Cilium policy);
 * - maps under `mapsDir`: DENY_HOSTS_MAP (key: lower-case host name, looked up with
 *   `req.hdr(host),host_only,lower,map_dom(...)`) and DENY_IPS_MAP (key: IP or CIDR, looked up
 *   with `src,map_ip(...)`), both loaded at start (empty files allowed);
 * - a request matching either is denied with 403 in the partner-API frontend; a connection from
 *   a denied address is rejected in the TCP (gossip, sequencer gRPC) frontends.
 *
 * One text for HAProxy 2.6 (Debian 12's, which the tests run `haproxy -c` with) and 3.2 (the
 * chart's image): backends are named `be-<what>` because 3.1 deprecates a frontend and a backend
 * sharing a name (3.3 refuses it), and health checks use `option httpchk` with `http-check send`
 * (2.2+) rather than the method and URI on the option line. docs/deploy.md lists the rules.
 */

/** File name of the host deny map. */
export const DENY_HOSTS_MAP = 'threatmesh-deny-hosts.map';
/** File name of the address deny map. */
export const DENY_IPS_MAP = 'threatmesh-deny-ips.map';

/** A backend server: DNS name (or IP) and port. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
}

/** Inputs of haproxyConfig. */
export interface HaproxyConfigOptions {
  /** partner: TLS-terminating HTTPS API frontend + gossip passthrough; sequencer: gRPC passthrough. */
  readonly role: 'partner' | 'sequencer';
  /** Listen address of the HTTPS API (partner) or gRPC (sequencer) frontend, host:port. */
  readonly mainBind: string;
  /** Listen address of the gossip passthrough frontend (partner). */
  readonly gossipBind: string;
  /** Listen address of /healthz and /metrics. */
  readonly statsBind: string;
  /** TCP address of the runtime API for the enforcement controller. */
  readonly adminBind: string;
  /** Unix socket of the runtime API. @default /var/run/haproxy/admin.sock */
  readonly socketPath?: string;
  /** Folder of the deny maps. @default /etc/haproxy/maps */
  readonly mapsDir?: string;
  /** Certificate (PEM; the key in `<file>.key` beside it) of the HTTPS API frontend (partner). */
  readonly certFile: string;
  /** CA that verifies the HTTPS API servers (partner). */
  readonly upstreamCaFile: string;
  /** The HTTPS API Service (partner) and the port its health is served on; without it (serve off) the partner's front door only passes gossip through. */
  readonly serve?: Upstream & { readonly checkPort: number; readonly verifyHost: string };
  /** The operator's gossip Service (partner). */
  readonly gossip: Upstream;
  /** The sequencer replicas' headless DNS name (sequencer), their count and readiness port. */
  readonly sequencer: Upstream & { readonly replicas: number; readonly checkPort: number };
  /** Use the pod's resolv.conf to re-resolve Service names at run time. @default true */
  readonly resolvers?: boolean;
}

function lines(...parts: ReadonlyArray<string | false>): string {
  return parts.filter((p): p is string => p !== false).join('\n') + '\n';
}

function serverOpts(o: HaproxyConfigOptions): string {
  return o.resolvers === false ? 'init-addr last,libc,none' : 'resolvers kube init-addr last,libc,none';
}

function apiSections(o: HaproxyConfigOptions, serve: NonNullable<HaproxyConfigOptions['serve']>, maps: string): string {
  return lines(
    '',
    'frontend partner-api',
    '  mode http',
    `  bind ${o.mainBind} ssl crt ${o.certFile} alpn h2,http/1.1`,
    '  option forwardfor',
    `  http-request deny deny_status 403 if { req.hdr(host),host_only,lower,map_dom(${maps}/${DENY_HOSTS_MAP}) -m found }`,
    `  http-request deny deny_status 403 if { src,map_ip(${maps}/${DENY_IPS_MAP}) -m found }`,
    '  default_backend be-serve',
    '',
    'backend be-serve',
    '  mode http',
    '  option httpchk',
    '  http-check send meth GET uri /healthz',
    '  http-check expect status 200',
    `  server serve ${serve.host}:${serve.port} ssl verify required ca-file ${o.upstreamCaFile} verifyhost ${serve.verifyHost} sni str(${serve.verifyHost}) check port ${serve.checkPort} no-check-ssl ${serverOpts(o)}`,
  );
}

function partnerSections(o: HaproxyConfigOptions, maps: string): string {
  return (o.serve !== undefined ? apiSections(o, o.serve, maps) : '') + lines(
    '',
    'frontend gossip',
    '  mode tcp',
    `  bind ${o.gossipBind}`,
    `  tcp-request connection reject if { src,map_ip(${maps}/${DENY_IPS_MAP}) -m found }`,
    '  default_backend be-gossip',
    '',
    'backend be-gossip',
    '  mode tcp',
    `  server gossip ${o.gossip.host}:${o.gossip.port} check ${serverOpts(o)}`,
  );
}

function sequencerSections(o: HaproxyConfigOptions, maps: string): string {
  return lines(
    '',
    'frontend sequencer-grpc',
    '  mode tcp',
    `  bind ${o.mainBind}`,
    `  tcp-request connection reject if { src,map_ip(${maps}/${DENY_IPS_MAP}) -m found }`,
    '  default_backend be-sequencer',
    '',
    '# gRPC with mutual TLS passes through; only the replica holding the Lease is ready (/readyz).',
    'backend be-sequencer',
    '  mode tcp',
    '  option httpchk',
    '  http-check send meth GET uri /readyz',
    '  http-check expect status 200',
    `  server-template sequencer 1-${o.sequencer.replicas} ${o.sequencer.host}:${o.sequencer.port} check port ${o.sequencer.checkPort} ${serverOpts(o)}`,
  );
}

/** The front door's haproxy.cfg for `o`. */
export function haproxyConfig(o: HaproxyConfigOptions): string {
  const maps = o.mapsDir ?? '/etc/haproxy/maps';
  const head = lines(
    '# Generated by the ThreatMesh cdk8s app (cdk8s/lib/haproxycfg.ts); edit values, not this file.',
    'global',
    '  log stdout format raw local0 info',
    `  stats socket ${o.socketPath ?? '/var/run/haproxy/admin.sock'} mode 660 level admin`,
    `  stats socket ipv4@${o.adminBind} level admin`,
    '  stats timeout 30s',
    '  maxconn 4096',
    '  ssl-default-bind-options ssl-min-ver TLSv1.2',
    '',
    'defaults',
    '  log global',
    '  option dontlognull',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  # replication streams and gossip are long-lived',
    '  timeout tunnel 1h',
    '',
    o.resolvers !== false && 'resolvers kube\n  parse-resolv-conf\n  hold valid 10s\n',
    'frontend stats',
    '  mode http',
    `  bind ${o.statsBind}`,
    '  monitor-uri /healthz',
    '  http-request use-service prometheus-exporter if { path /metrics }',
  );
  return head + (o.role === 'partner' ? partnerSections(o, maps) : sequencerSections(o, maps));
}

/**
 * Cilium: CiliumNetworkPolicies that put every pod of the namespace in default deny (ingress and
 * egress) and then allow, per component, exactly the flows the system needs, each by name
 * (FLOWS: the rule that allows it carries its name in the policy's description). The flow test
 * (cdk8s/test/cilium.test.ts) evaluates the rendered policies for each flow and for flows that
 * are not on the list.
 */
import { Construct } from 'constructs';
import { CiliumNetworkPolicy } from '../imports/cilium.io.js';
import type { Values } from '../values.ts';
import { PORTS, labels, selectorLabels, type Component } from './common.ts';
import { MONGODB_NAME } from './mongodb.ts';

/** One end of a flow: pods of a component, the MongoDB pods, a Cilium entity, CIDRs, or DNS names. */
export type Peer =
  | { readonly pods: Component }
  | { readonly entity: 'kube-apiserver' | 'host' | 'remote-node' | 'world' }
  | { readonly cidrs: readonly string[] }
  | { readonly fqdns: readonly string[] }
  | { readonly dns: true }
  | { readonly prometheus: true };

/** An allowed flow: who talks to whom on which TCP ports (UDP too for DNS). */
export interface Flow {
  readonly name: string;
  readonly from: Peer;
  readonly to: Peer;
  readonly ports: readonly number[];
}

/** Namespace Prometheus runs in (its pods scrape the metrics ports). */
export const PROMETHEUS_NAMESPACE = 'monitoring';

type Add = (name: string, from: Peer[] | Peer, to: Peer[] | Peer, ports: readonly number[]) => void;

/** Adds to `flows` one flow per pair of `from` and `to`. */
function adder(flows: Flow[]): Add {
  return (name, from, to, ports) => {
    for (const f of [from].flat()) for (const t of [to].flat()) flows.push({ name, from: f, to: t, ports });
  };
}

/** The sequencer's own flows after DNS and scraping of the front door: API server, MongoDB, partners' gRPC (through the front door when `door`). */
function sequencerFlows(door: boolean, clients: readonly Peer[]): Flow[] {
  const flows: Flow[] = [];
  const add = adder(flows);
  add('sequencer -> API server', { pods: 'sequencer' }, { entity: 'kube-apiserver' }, [443, 6443]);
  add('sequencer -> MongoDB', { pods: 'sequencer' }, { pods: 'mongodb' }, [PORTS.mongodb]);
  if (door) {
    add('partners -> front door (sequencer gRPC)', [...clients], { pods: 'haproxy' }, [PORTS.haproxyHttps]);
    add('front door -> sequencer gRPC and readiness', { pods: 'haproxy' }, { pods: 'sequencer' }, [PORTS.sequencer, PORTS.sequencerMetrics]);
  } else {
    add('partners -> sequencer gRPC (no front door)', [...clients], { pods: 'sequencer' }, [PORTS.sequencer]);
  }
  add('metrics scraping (sequencer)', { prometheus: true }, { pods: 'sequencer' }, [PORTS.sequencerMetrics]);
  return flows;
}

/** The ThreatMesh components `v` runs (pods that resolve names), front door and MongoDB aside. */
function mainComponents(v: Values): Component[] {
  if (v.role === 'sequencer') return ['sequencer'];
  const on: Array<[boolean, Component]> = [[v.serve.enabled, 'serve'], [v.enforce.enabled, 'enforcer'], [v.replicaApi.enabled, 'replica-api']];
  return ['operator', 'ingest', ...on.filter(([enabled]) => enabled).map(([, c]) => c)];
}

/** Every flow the installation needs for `v`, by name. */
export function requiredFlows(v: Values): Flow[] {
  const api: Peer = { entity: 'kube-apiserver' };
  const mongo: Peer = { pods: 'mongodb' };
  const ext = (e: Values['network']['feeds']): Peer[] => [...(e.fqdns.length ? [{ fqdns: e.fqdns }] : []), ...(e.cidrs.length ? [{ cidrs: e.cidrs }] : [])];
  const clients: Peer[] = v.network.apiClients.length ? [{ cidrs: v.network.apiClients }] : [];
  const flows: Flow[] = [];
  const add = adder(flows);
  const enforcer = v.role === 'partner' && v.enforce.enabled;
  const mains = mainComponents(v);
  // Without the front door (haproxy.enabled false) clients reach the components directly, on the same ports.
  const door = v.haproxy.enabled;
  for (const c of [...mains, ...(door ? ['haproxy' as const] : [])]) add(`dns (${c})`, { pods: c }, { dns: true }, [53]);
  if (v.mongodb.enabled) {
    add('dns (mongodb)', mongo, { dns: true }, [53]);
    add('mongodb replication', mongo, mongo, [PORTS.mongodb]);
  }
  if (door) add('metrics scraping (haproxy)', { prometheus: true }, { pods: 'haproxy' }, [PORTS.haproxyStats]);
  if (v.role === 'sequencer') return [...flows, ...sequencerFlows(door, clients)];
  add('operator -> API server', { pods: 'operator' }, api, [443, 6443]);
  add('API server -> webhook', [api, { entity: 'host' }, { entity: 'remote-node' }], { pods: 'operator' }, [PORTS.webhook]);
  add('operator -> MongoDB', { pods: 'operator' }, mongo, [PORTS.mongodb]);
  add('ingest Jobs -> API server', { pods: 'ingest' }, api, [443, 6443]);
  add('ingest Jobs -> MongoDB', { pods: 'ingest' }, mongo, [PORTS.mongodb]);
  add('ingest Jobs -> feed URLs', { pods: 'ingest' }, ext(v.network.feeds), [v.network.feeds.port]);
  add('partner -> sequencer gRPC', { pods: 'operator' }, ext(v.sequencer.endpoint), [v.sequencer.endpoint.port]);
  add('gossip to peers', { pods: 'operator' }, ext(v.network.peers), [v.network.peers.port]);
  if (door) {
    add('peers -> front door (gossip)', clients, { pods: 'haproxy' }, [PORTS.haproxyGossip]);
    add('front door -> operator gossip', { pods: 'haproxy' }, { pods: 'operator' }, [PORTS.gossip]);
  } else {
    add('peers -> operator gossip (no front door)', clients, { pods: 'operator' }, [PORTS.gossip]);
  }
  add('partner -> LLM endpoint', { pods: 'operator' }, ext(v.network.llm), [v.network.llm.port]);
  add('metrics scraping (operator)', { prometheus: true }, { pods: 'operator' }, [PORTS.metrics]);
  if (enforcer) {
    add('enforcer -> API server', { pods: 'enforcer' }, api, [443, 6443]);
    add('enforcer -> MongoDB', { pods: 'enforcer' }, mongo, [PORTS.mongodb]);
    if (door) add('enforcer -> HAProxy runtime API', { pods: 'enforcer' }, { pods: 'haproxy' }, [PORTS.haproxyAdmin]);
    add('metrics scraping (enforcer)', { prometheus: true }, { pods: 'enforcer' }, [PORTS.metrics]);
  }
  if (mains.includes('replica-api')) flows.push(...replicaApiFlows());
  return v.serve.enabled ? [...flows, ...serveFlows(v, door, clients, ext(v.network.llm))] : flows;
}

/** The aggregated replica API's flows: only the API server calls it; it asks the API server (SubjectAccessReview) and reads MongoDB. */
function replicaApiFlows(): Flow[] {
  const flows: Flow[] = [];
  const add = adder(flows);
  const api: Peer = { entity: 'kube-apiserver' };
  // As the webhook: the API server (or its host / node, by network setup) dials the aggregated API's pods.
  add('API server -> replica API (aggregated)', [api, { entity: 'host' }, { entity: 'remote-node' }], { pods: 'replica-api' }, [PORTS.replicaApi]);
  add('replica API -> API server (delegated authorization)', { pods: 'replica-api' }, api, [443, 6443]);
  add('replica API -> MongoDB', { pods: 'replica-api' }, { pods: 'mongodb' }, [PORTS.mongodb]);
  add('metrics scraping (replica API)', { prometheus: true }, { pods: 'replica-api' }, [PORTS.metrics]);
  return flows;
}

/** The HTTPS APIs' flows: TAXII/export clients and edge agents (through the front door when `door`), MongoDB, the LLM endpoint, scraping. */
function serveFlows(v: Values, door: boolean, clients: readonly Peer[], llm: readonly Peer[]): Flow[] {
  const flows: Flow[] = [];
  const add = adder(flows);
  const edge: Peer[] = v.network.edgeAgents.length ? [{ cidrs: v.network.edgeAgents }] : [];
  if (door) {
    add('TAXII/export clients -> front door', [...clients], { pods: 'haproxy' }, [PORTS.haproxyHttps]);
    add('edge agents -> front door', edge, { pods: 'haproxy' }, [PORTS.haproxyHttps]);
    add('front door -> HTTPS APIs', { pods: 'haproxy' }, { pods: 'serve' }, [PORTS.serve, PORTS.metrics]);
  } else {
    add('TAXII/export clients -> HTTPS APIs (no front door)', [...clients], { pods: 'serve' }, [PORTS.serve]);
    add('edge agents -> HTTPS APIs (no front door)', edge, { pods: 'serve' }, [PORTS.serve]);
  }
  add('HTTPS APIs -> MongoDB', { pods: 'serve' }, { pods: 'mongodb' }, [PORTS.mongodb]);
  add('HTTPS APIs -> LLM endpoint', { pods: 'serve' }, [...llm], [v.network.llm.port]);
  add('metrics scraping (serve)', { prometheus: true }, { pods: 'serve' }, [PORTS.metrics]);
  return flows;
}

type Rule = Record<string, unknown>;

function mongoSelector(): Record<string, string> {
  return { app: `${MONGODB_NAME}-svc` };
}

/** The pod selector of a component (MongoDB pods carry the MongoDB Community operator's label). */
export function podSelector(c: Component): Record<string, string> {
  return c === 'mongodb' ? mongoSelector() : selectorLabels(c);
}

function ports(list: readonly number[], dns = false): Rule[] {
  const tcp = list.map((p) => ({ port: String(p), protocol: 'TCP' }));
  if (!dns) return [{ ports: tcp }];
  return [{ ports: [{ port: '53', protocol: 'UDP' }, ...tcp], rules: { dns: [{ matchPattern: '*' }] } }];
}

function peerRule(peer: Peer, dir: 'from' | 'to', ns: string): Rule {
  const k = (s: string): string => `${dir}${s}`;
  if ('pods' in peer) return { [k('Endpoints')]: [{ matchLabels: { ...podSelector(peer.pods), 'k8s:io.kubernetes.pod.namespace': ns } }] };
  if ('entity' in peer) return { [k('Entities')]: [peer.entity] };
  if ('cidrs' in peer) return { [k('Cidr')]: [...peer.cidrs] };
  if ('fqdns' in peer) return { toFqdNs: peer.fqdns.map((f) => (f.includes('*') ? { matchPattern: f } : { matchName: f })) };
  if ('dns' in peer) return { toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }] };
  return { fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': PROMETHEUS_NAMESPACE, 'app.kubernetes.io/name': 'prometheus' } }] };
}

/** The policy spec of `component`: its egress (flows from it) and ingress (flows to it), default deny both ways. */
export function policySpec(component: Component, flows: readonly Flow[], ns: string): Rule {
  const mine = (p: Peer): boolean => 'pods' in p && p.pods === component;
  const egress = flows.filter((f) => mine(f.from)).map((f) => ({ ...peerRule(f.to, 'to', ns), toPorts: ports(f.ports, 'dns' in f.to) }));
  const ingress = flows.filter((f) => mine(f.to)).map((f) => ({ ...peerRule(f.from, 'from', ns), toPorts: ports(f.ports) }));
  return {
    description: `ThreatMesh ${component}: default deny; allows only the flows of docs/deploy.md`,
    endpointSelector: { matchLabels: podSelector(component) },
    enableDefaultDeny: { ingress: true, egress: true },
    ...(ingress.length ? { ingress } : {}),
    ...(egress.length ? { egress } : {}),
  };
}

/** Props of CiliumPolicies. */
export interface CiliumPoliciesProps {
  /** Resolved installation values. */
  readonly values: Values;
}

/** A namespace-wide default deny and one policy per component. */
export class CiliumPolicies extends Construct {
  /** @param props values of the installation */
  constructor(scope: Construct, id: string, props: CiliumPoliciesProps) {
    super(scope, id);
    const v = props.values;
    const flows = requiredFlows(v);
    new CiliumNetworkPolicy(this, 'default-deny', {
      metadata: { name: 'threatmesh-default-deny', labels: labels(v, 'network') },
      // Cilium requires a rule in every policy: DNS, which every pod needs.
      spec: {
        description: 'ThreatMesh: every pod of the namespace denies what no other policy allows, and may resolve names',
        endpointSelector: {}, enableDefaultDeny: { ingress: true, egress: true }, egress: [{ ...peerRule({ dns: true }, 'to', v.namespace), toPorts: ports([53], true) }],
      },
    });
    const components = new Set<Component>(flows.flatMap((f) => [f.from, f.to]).flatMap((p) => ('pods' in p ? [p.pods] : [])));
    for (const c of [...components].sort()) {
      new CiliumNetworkPolicy(this, c, { metadata: { name: `threatmesh-${c}`, labels: labels(v, 'network') }, spec: policySpec(c, flows, v.namespace) });
    }
  }
}

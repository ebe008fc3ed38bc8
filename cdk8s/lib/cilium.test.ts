/**
 * The Cilium policies allow every named flow the system needs and nothing else: a small model of
 * CiliumNetworkPolicy semantics (endpoint selection by labels, default deny per direction, an
 * allowed flow needs the source's egress and the destination's ingress) evaluates the rendered
 * policies for each flow of requiredFlows() and for flows that are not on the list.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { renderInstall, type Manifest } from '../app.ts';
import { resolveValues, type Values } from '../values.ts';
import { requiredFlows, podSelector, PROMETHEUS_NAMESPACE, type Peer } from './cilium.ts';
import type { Component } from './common.ts';

type Labels = Record<string, string>;
/** A concrete endpoint of a flow: a pod (labels), an entity, an outside IP or DNS name. */
type End = { pod: Labels } | { entity: string } | { ip: string } | { fqdn: string };
type Rule = Record<string, unknown> & { toPorts?: Array<{ ports: Array<{ port: string; protocol: string }> }> };

const NS = 'threatmesh';
const podOf = (c: Component, ns = NS): End => ({ pod: { ...podSelector(c), 'k8s:io.kubernetes.pod.namespace': ns } });
const matches = (sel: { matchLabels?: Labels } | undefined, labels: Labels): boolean => Object.entries(sel?.matchLabels ?? {}).every(([k, v]) => labels[k] === v);

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const toInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return ((toInt(ip) & mask) >>> 0) === ((toInt(base ?? '') & mask) >>> 0);
}

function fqdnMatch(pattern: { matchName?: string; matchPattern?: string }, name: string): boolean {
  if (pattern.matchName) return pattern.matchName === name;
  const re = new RegExp(`^${(pattern.matchPattern ?? '').replaceAll('.', '\\.').replaceAll('*', '[-a-z0-9.]*')}$`);
  return re.test(name);
}

function peerMatches(rule: Rule, dir: 'from' | 'to', end: End): boolean {
  const list = <T>(k: string): T[] => (rule[k] as T[] | undefined) ?? [];
  if ('pod' in end) return list<{ matchLabels?: Labels }>(`${dir}Endpoints`).some((s) => matches(s, end.pod));
  if ('entity' in end) return list<string>(`${dir}Entities`).includes(end.entity);
  if ('ip' in end) return list<string>(`${dir}CIDR`).some((c) => inCidr(end.ip, c)) || list<string>(`${dir}Entities`).includes('world');
  return dir === 'to' && list<{ matchName?: string; matchPattern?: string }>('toFQDNs').some((p) => fqdnMatch(p, end.fqdn));
}

function portAllowed(rule: Rule, port: number): boolean {
  return (rule.toPorts ?? []).some((tp) => tp.ports.some((p) => Number(p.port) === port));
}

/** Whether `policies` let `from` reach `to` on `port`: egress at a selected source, ingress at a selected destination. */
function allowed(policies: readonly Manifest[], from: End, to: End, port: number): boolean {
  const side = (end: End, dir: 'egress' | 'ingress', other: End, otherDir: 'from' | 'to'): boolean => {
    if (!('pod' in end)) return true;
    // A CiliumNetworkPolicy selects pods of its own namespace only.
    const selecting = policies.filter((p) => p.metadata.namespace === end.pod['k8s:io.kubernetes.pod.namespace'] && matches((p['spec'] as { endpointSelector?: { matchLabels?: Labels } }).endpointSelector, end.pod));
    const denies = selecting.some((p) => (p['spec'] as { enableDefaultDeny?: Record<string, boolean> }).enableDefaultDeny?.[dir] !== false);
    if (!denies) return true;
    return selecting.some((p) => ((p['spec'] as Record<string, Rule[] | undefined>)[dir] ?? []).some((r) => peerMatches(r, otherDir, other) && portAllowed(r, port)));
  };
  return side(from, 'egress', to, 'to') && side(to, 'ingress', from, 'from');
}

/** Concrete endpoints standing for a Peer of a flow. */
function ends(p: Peer): End[] {
  if ('pods' in p) return [podOf(p.pods)];
  if ('entity' in p) return [{ entity: p.entity }];
  if ('cidrs' in p) return p.cidrs.map((c) => ({ ip: (c.split('/')[0] ?? '').replace(/\.0$/, '.1') }));
  if ('fqdns' in p) return p.fqdns.map((f) => ({ fqdn: f.replace('*.', 'x.') }));
  if ('dns' in p) return [{ pod: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }];
  return [{ pod: { 'app.kubernetes.io/name': 'prometheus', 'k8s:io.kubernetes.pod.namespace': PROMETHEUS_NAMESPACE } }];
}

function policiesOf(v: Values): Manifest[] {
  return renderInstall(v).flatMap((c) => c.objects).filter((o) => o.kind === 'CiliumNetworkPolicy');
}

const NETWORK = { feeds: { fqdns: ['*.abuse.ch'], cidrs: ['198.51.100.0/24'], port: 443 }, peers: { fqdns: ['b.example.org'], cidrs: ['203.0.113.0/24'], port: 8444 }, apiClients: ['192.0.2.0/24'], edgeAgents: ['10.9.0.0/16'] };

describe('Cilium policies', () => {
  for (const [role, door] of [['partner', true], ['sequencer', true], ['partner', false], ['sequencer', false]] as const) {
    const v = resolveValues({ role, network: NETWORK, haproxy: { enabled: door } });
    const policies = policiesOf(v);
    for (const flow of requiredFlows(v)) {
      it(`${role}${door ? '' : ' without the front door'}: allows ${flow.name}`, () => {
        for (const from of ends(flow.from)) for (const to of ends(flow.to)) for (const port of flow.ports) {
          assert.ok(allowed(policies, from, to, port), `${flow.name}: ${JSON.stringify(from)} -> ${JSON.stringify(to)}:${port} is denied`);
        }
      });
    }
  }

  const partner = policiesOf(resolveValues({ network: NETWORK }));
  const denied: ReadonlyArray<[string, End, End, number]> = [
    ['HTTPS APIs -> API server', podOf('serve'), { entity: 'kube-apiserver' }, 443],
    ['front door -> MongoDB', podOf('haproxy'), podOf('mongodb'), 27017],
    ['outside -> operator webhook', { ip: '192.0.2.10' }, podOf('operator'), 9443],
    ['outside -> MongoDB', { ip: '192.0.2.10' }, podOf('mongodb'), 27017],
    ['HTTPS APIs -> HAProxy runtime API', podOf('serve'), podOf('haproxy'), 9999],
    ['ingest Jobs -> LLM endpoint', podOf('ingest'), { fqdn: 'api.openai.com' }, 443],
    ['operator -> any outside address', podOf('operator'), { ip: '8.8.8.8' }, 443],
    ['ingest Jobs -> a feed on another port', podOf('ingest'), { fqdn: 'x.abuse.ch' }, 8080],
    ['a pod of another namespace -> operator metrics', { pod: { 'k8s:io.kubernetes.pod.namespace': 'default', app: 'x' } }, podOf('operator'), 8080],
    ['edge agents -> gossip', { ip: '10.9.1.1' }, podOf('haproxy'), 8444],
    ['operator -> serve directly', podOf('operator'), podOf('serve'), 8443],
    ['operator -> HAProxy runtime API (only the enforcer writes the deny maps)', podOf('operator'), podOf('haproxy'), 9999],
    ['enforcer -> LLM endpoint', podOf('enforcer'), { fqdn: 'api.openai.com' }, 443],
    ['enforcer -> any outside address', podOf('enforcer'), { ip: '8.8.8.8' }, 443],
    ['enforcer -> HTTPS APIs', podOf('enforcer'), podOf('serve'), 8443],
    ['outside -> enforcer metrics', { ip: '192.0.2.10' }, podOf('enforcer'), 8080],
    ['outside -> replica API (only the API server calls it)', { ip: '192.0.2.10' }, podOf('replica-api'), 9444],
    ['front door -> replica API', podOf('haproxy'), podOf('replica-api'), 9444],
    ['replica API -> any outside address', podOf('replica-api'), { ip: '8.8.8.8' }, 443],
    ['replica API -> LLM endpoint', podOf('replica-api'), { fqdn: 'api.openai.com' }, 443],
    ['replica API -> operator gossip', podOf('replica-api'), podOf('operator'), 8444],
    ['outside -> replica API metrics', { ip: '192.0.2.10' }, podOf('replica-api'), 8080],
    ['a pod of another namespace -> replica API metrics', { pod: { 'k8s:io.kubernetes.pod.namespace': 'default', app: 'x' } }, podOf('replica-api'), 8080],
    ['Prometheus -> replica API HTTPS (it scrapes the metrics port only)', { pod: { 'app.kubernetes.io/name': 'prometheus', 'k8s:io.kubernetes.pod.namespace': PROMETHEUS_NAMESPACE } }, podOf('replica-api'), 9444],
  ];
  for (const [name, from, to, port] of denied) {
    it(`partner: denies ${name}`, () => assert.equal(allowed(partner, from, to, port), false));
  }

  it('without the enforcer no pod reaches the HAProxy runtime API', () => {
    const off = policiesOf(resolveValues({ network: NETWORK, enforce: { enabled: false } }));
    for (const c of ['operator', 'serve', 'enforcer', 'ingest'] as const) assert.equal(allowed(off, podOf(c), podOf('haproxy'), 9999), false, c);
  });

  it('without the front door, clients reach the HTTPS APIs, gossip and the sequencer directly on the same ports, and nothing else more', () => {
    const partnerOff = policiesOf(resolveValues({ network: NETWORK, haproxy: { enabled: false } }));
    const sequencerOff = policiesOf(resolveValues({ role: 'sequencer', network: NETWORK, haproxy: { enabled: false } }));
    const client = { ip: '192.0.2.10' };
    assert.ok(allowed(partnerOff, client, podOf('serve'), 8443), 'TAXII client -> serve');
    assert.ok(allowed(partnerOff, { ip: '10.9.1.1' }, podOf('serve'), 8443), 'edge agent -> serve');
    assert.ok(allowed(partnerOff, client, podOf('operator'), 8444), 'peer -> gossip');
    assert.ok(allowed(sequencerOff, client, podOf('sequencer'), 8443), 'partner -> sequencer gRPC');
    assert.ok(!partnerOff.some((p) => p.metadata.name === 'threatmesh-haproxy') && !sequencerOff.some((p) => p.metadata.name === 'threatmesh-haproxy'), 'no front door policy');
    for (const [what, pol, from, to, port] of [
      ['outside -> serve metrics', partnerOff, client, podOf('serve'), 8080],
      ['outside -> operator webhook', partnerOff, client, podOf('operator'), 9443],
      ['edge agents -> gossip', partnerOff, { ip: '10.9.1.1' }, podOf('operator'), 8444],
      ['outside -> sequencer metrics', sequencerOff, client, podOf('sequencer'), 8081],
      ['enforcer -> HAProxy runtime API', partnerOff, podOf('enforcer'), podOf('haproxy'), 9999],
    ] as const) assert.equal(allowed(pol, from, to, port), false, what);
  });

  it('every pod of the namespace is in default deny both ways', () => {
    const dd = partner.find((p) => p.metadata.name === 'threatmesh-default-deny');
    assert.deepEqual((dd?.['spec'] as Record<string, unknown>)['enableDefaultDeny'], { ingress: true, egress: true });
    assert.equal(allowed(partner, { pod: { 'k8s:io.kubernetes.pod.namespace': NS, app: 'stray' } }, { ip: '8.8.8.8' }, 443), false);
  });
});

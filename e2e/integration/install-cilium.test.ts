/**
 * The Cilium policies pass Cilium's own validation, not only its CRD schema: every
 * CiliumNetworkPolicy the cdk8s app and the Helm chart render, and the CiliumClusterwideNetworkPolicy
 * the enforcer writes, go through threatmesh-ciliumcheck (e2e/cilium: the preflight validator of
 * github.com/cilium/cilium at the version of ../shared/crds, then the agent's parse and sanitize).
 * Policies that only Cilium's code refuses show the check can fail.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Manifest } from '../../cdk8s/app.ts';
import { resolveValues } from '../../cdk8s/values.ts';
import { planCilium, policyBaseName, policyId } from '../../operator/src/enforce/cilium.ts';
import { cdk8sObjects, helmTemplate, tools, type Tools } from '../harness/install.ts';

const run = promisify(execFile);

interface Checked { readonly code: number; readonly lines: string[] }

async function ciliumCheck(t: Tools, objects: readonly unknown[]): Promise<Checked> {
  const dir = await mkdtemp(join(tmpdir(), 'tm-ciliumcheck-'));
  const file = join(dir, 'objects.yaml');
  await writeFile(file, objects.map((o) => stringify(o)).join('---\n'));
  try {
    const { stdout } = await run(t.CILIUMCHECK, [file], { maxBuffer: 16 << 20 });
    return { code: 0, lines: stdout.trim().split('\n') };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (e.code !== 1) throw new Error(`threatmesh-ciliumcheck failed to run: ${e.stderr ?? String(err)}`, { cause: err });
    return { code: 1, lines: (e.stdout ?? '').trim().split('\n') };
  }
}

const NETWORK = { feeds: { fqdns: ['*.abuse.ch', 'openphish.com'], cidrs: ['198.51.100.0/24'], port: 443 }, peers: { fqdns: ['b.example.org'], cidrs: ['203.0.113.7/32'], port: 8444 }, llm: { fqdns: ['llm.example.org'], cidrs: ['192.0.2.10/32'], port: 8000 }, apiClients: ['192.0.2.0/24'], edgeAgents: ['10.9.0.0/16'] };

const VALUE_SETS: ReadonlyArray<[string, Record<string, unknown>]> = [
  ['partner defaults', {}],
  ['sequencer', { role: 'sequencer', partnerId: 'sequencer' }],
  ['partner with every network list', { network: NETWORK }],
  ['partner without HTTPS APIs, enforcer and MongoDB', { serve: { enabled: false }, enforce: { enabled: false }, mongodb: { enabled: false } }],
  ['partner without front door', { haproxy: { enabled: false }, network: NETWORK }],
  ['sequencer without front door', { role: 'sequencer', partnerId: 'sequencer', haproxy: { enabled: false } }],
];

const policy = (name: string, spec: Record<string, unknown>): Manifest => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace: 'threatmesh' }, spec: { endpointSelector: { matchLabels: { app: 'web' } }, ...spec } });

/** Policies the CRD schema alone does not refuse (or refuses for another reason), with what Cilium says. */
const REFUSED: ReadonlyArray<[Manifest, RegExp]> = [
  [policy('two-peer-kinds', { egress: [{ toEndpoints: [{ matchLabels: { app: 'db' } }], toCIDR: ['192.0.2.0/24'] }] }), /combining (ToCIDR and ToEndpoints|ToEndpoints and ToCIDR) is not supported/],
  [policy('http-on-udp', { egress: [{ toEntities: ['world'], toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }], rules: { http: [{ method: 'GET' }] } }] }] }), /L7 rules can only apply to TCP/],
  [policy('l7-in-deny', { egressDeny: [{ toEntities: ['world'], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }] }] }), /unknown fields found/],
  [policy('bad-cidr', { egress: [{ toCIDR: ['192.0.2.0/33'] }] }), /must be of type cidr/],
  [policy('bad-fqdn', { egress: [{ toFQDNs: [{ matchPattern: 'bad pattern!' }] }] }), /matchPattern/],
];

describe('Cilium\'s own validation of the rendered policies', { timeout: 1_800_000 }, () => {
  let t: Tools;
  before(async () => {
    t = await tools();
  });

  for (const [name, overrides] of VALUE_SETS) {
    it(`accepts every policy of the app and the chart: ${name}`, async () => {
      const objects = [...cdk8sObjects(resolveValues(overrides)), ...await helmTemplate(t, overrides)].filter((o) => o.kind === 'CiliumNetworkPolicy');
      assert.ok(objects.length >= 4, `policies rendered: ${objects.length}`);
      const r = await ciliumCheck(t, objects);
      assert.equal(r.code, 0, r.lines.join('\n'));
      assert.equal(r.lines.filter((l) => l.startsWith('ok CiliumNetworkPolicy ')).length, objects.length, r.lines.join('\n'));
    });
  }

  it('accepts the enforcer\'s egress-deny CiliumClusterwideNetworkPolicy', async () => {
    const plan = planCilium({
      base: policyBaseName('threatmesh', 'egress'), id: policyId('threatmesh', 'egress'), owner: 'threatmesh/egress', cidrs: ['203.0.113.7/32', '198.51.100.0/24', '2001:db8::/48'],
      enforce: true, matchLabels: { 'app.kubernetes.io/part-of': 'shop' }, maxCidrsPerGroup: 2, maxGroupBytes: 65_536,
    });
    assert.ok(plan.policy, 'enforcing with CIDRs writes a policy');
    const r = await ciliumCheck(t, [plan.policy.object, ...plan.groups.map((g) => g.object)]);
    assert.equal(r.code, 0, r.lines.join('\n'));
    assert.deepEqual(r.lines.map((l) => l.split(' (')[0]), [`ok CiliumClusterwideNetworkPolicy /${plan.policy.object.metadata.name}`]);
  });

  for (const [p, reason] of REFUSED) {
    it(`refuses ${p.metadata.name}`, async () => {
      const r = await ciliumCheck(t, [p]);
      assert.equal(r.code, 1, r.lines.join('\n'));
      assert.match(r.lines[0] ?? '', new RegExp(`^invalid CiliumNetworkPolicy threatmesh/${p.metadata.name}: `));
      assert.match(r.lines[0] ?? '', reason);
    });
  }
});

/**
 * What defends each partner of a local journey network, as a partner runs it: a real HAProxy
 * front door (Debian's package, e2e/harness/haproxy.ts), the upstream Cilium CRDs in the
 * partner's cluster, `threatmesh enforce` as a child process against that cluster and the
 * partner's database, and one EnforcementPolicy in the network namespace that enforces on both.
 * Plus a TAXII 2.1 consumer of the partner's `threatmesh serve` (the sandbox's sample TLP:GREEN
 * consumer, bearer token, server verified against the network CA).
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../../operator/src/dev/controlplane/probe.ts';
import { launch, waitUntil, type ManagedProcess } from '../../../operator/src/dev/controlplane/process.ts';
import { NETWORK_NAMESPACE } from '../../../operator/src/dev/sandbox/network.ts';
import type { EnforcementPolicy } from '../../../operator/src/api/enforcement.ts';
import { ENFORCEMENT_POLICIES } from '../../../operator/src/api/schemas/index.ts';
import { applyManifests, waitForCrds } from '../../../operator/src/runtime/manifest.ts';
import type { KubeObject } from '../../../operator/src/runtime/types.ts';
import { CIDR_GROUPS, POLICY_LABEL } from '../../../operator/src/enforce/cilium.ts';
import type { TaxiiAccess } from '../../../operator/src/serve/sample.ts';
import { startBoundFromEnv } from '../env.ts';
import { httpStatus, startHaproxy, type TestHaproxy } from '../haproxy.ts';
import { upstreamCrds } from '../upstream.ts';
import type { JourneyNetwork, JourneyParty } from './index.ts';

const MAIN = new URL('../../../operator/src/main.ts', import.meta.url).pathname;

/** One partner's defences. */
export interface PartnerDefence {
  readonly party: JourneyParty;
  readonly haproxy: TestHaproxy;
  /** The HTTP status HAProxy gives a request from `ip` (PROXY protocol). */
  statusFrom(ip: string): Promise<number>;
  /** The keys of HAProxy's live deny map of addresses (runtime API `show map`), `/32` and `/128` dropped. */
  deniedIps(): Promise<Set<string>>;
  /** CIDRs in the partner's CiliumCIDRGroups. */
  ciliumCidrs(): Promise<Set<string>>;
  /** The objects of TAXII collection `all` whose id is `stixId` (latest version), as the GREEN consumer reads them. */
  taxiiObjects(stixId: string): Promise<{ status: number; objects: Array<Record<string, unknown>> }>;
}

/** The defences of every partner. */
export interface Defences {
  readonly partners: readonly PartnerDefence[];
  stop(): Promise<void>;
}

function showMap(socket: string, map: string): Promise<Set<string>> {
  return new Promise((resolve, reject) => {
    const sock = connect(socket);
    let out = '';
    sock.setTimeout(5000, () => sock.destroy(new Error('HAProxy runtime API did not answer within 5 s')));
    sock.on('error', reject);
    sock.on('data', (c: Buffer) => { out += c.toString(); });
    sock.on('end', () => resolve(new Set(out.split('\n').map((l) => l.split(' ')[1] ?? '').filter((k) => k !== '').map((k) => k.replace(/\/(32|128)$/, '')))));
    sock.on('connect', () => sock.write(`show map ${map}\n`));
  });
}

function taxiiGet(t: TaxiiAccess, ca: string, path: string): Promise<{ status: number; body: string }> {
  const base = new URL(t.url);
  return new Promise((resolve, reject) => {
    request({ host: base.hostname, port: base.port, path, ca, headers: { accept: 'application/taxii+json;version=2.1', authorization: `Bearer ${t.token}` }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).on('timeout', function (this: { destroy(e: Error): void }) { this.destroy(new Error('TAXII request timed out')); }).end();
  });
}

async function defend(net: JourneyNetwork, party: JourneyParty, dir: string, cilium: KubeObject[]): Promise<PartnerDefence & { proc: ManagedProcess }> {
  const local = net.local;
  if (local === undefined) throw new Error('defences run beside the local target only');
  await applyManifests(party.client, cilium, 'journey-defend');
  await waitForCrds(party.client, cilium.map((c) => c.metadata.name));
  const haproxy = await startHaproxy(join(dir, party.id, 'haproxy'));
  const metrics = await freePort();
  const proc = await launch({
    name: `${party.id}-enforce`, command: process.execPath, logPath: join(dir, party.id, 'enforce.log'),
    args: [MAIN, '--exit-on-stdin-eof', 'enforce', '--kubeconfig', local.kubeconfig(party), '--namespace', NETWORK_NAMESPACE, '--mongodb-uri', await net.mongoUri(party), '--metrics-bind', `127.0.0.1:${metrics}`, '--poll-interval', '1s'],
  });
  await waitUntil(`${party.id}: threatmesh enforce /readyz`, proc, async () => (await fetch(`http://127.0.0.1:${metrics}/readyz`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined))?.status === 200, { ...startBoundFromEnv(), intervalMs: 250 });
  const policy: EnforcementPolicy = {
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'EnforcementPolicy', metadata: { name: 'front-door', namespace: NETWORK_NAMESPACE },
    spec: { mode: 'Enforce', targets: { cilium: { enabled: true }, haproxy: { enabled: true, runtimeApis: [haproxy.unixApi], hostsMap: haproxy.hostsMap, ipsMap: haproxy.ipsMap } } },
  };
  await party.client.create(ENFORCEMENT_POLICIES, policy);
  const t = local.taxii(party);
  const ca = await readFile(t.ca, 'utf8');
  return {
    party, haproxy, proc,
    statusFrom: (ip) => httpStatus(haproxy, 'www.example.org', ip),
    deniedIps: () => showMap(haproxy.socket, haproxy.ipsMap),
    ciliumCidrs: async () => {
      const groups = await party.client.list<KubeObject & { spec: { externalCIDRs?: string[] } }>(CIDR_GROUPS, { labelSelector: POLICY_LABEL });
      return new Set(groups.items.flatMap((g) => g.spec.externalCIDRs ?? []));
    },
    taxiiObjects: async (stixId) => {
      const r = await taxiiGet(t, ca, `/api/collections/all/objects/?match[id]=${encodeURIComponent(stixId)}`);
      const objects = r.status === 200 ? ((JSON.parse(r.body) as { objects?: Array<Record<string, unknown>> }).objects ?? []) : [];
      return { status: r.status, objects };
    },
  };
}

/** Starts HAProxy, `threatmesh enforce` and the policy at every partner of the local network. */
export async function startDefences(net: JourneyNetwork, dir: string): Promise<Defences> {
  const cilium = await upstreamCrds('cilium', process.env['THREATMESH_SHARED_DIR']);
  const started: Array<PartnerDefence & { proc: ManagedProcess }> = [];
  const stop = async (): Promise<void> => {
    for (const d of started) {
      await d.proc.stop(10_000);
      await d.haproxy.stop();
    }
  };
  try {
    for (const p of net.partners) started.push(await defend(net, p, dir, cilium));
  } catch (err) {
    await stop();
    throw err;
  }
  return { partners: started, stop };
}

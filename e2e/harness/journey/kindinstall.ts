/**
 * Installing the journeys' network into clusters given by kubeconfigs, as the kind target does
 * and as docs/deploy.md tells a platform team: per cluster the ThreatMesh CRDs, the namespace, a
 * cert-manager CA issuer (`threatmesh-ca`), the party's Secrets (mTLS identity from the network
 * CA, Ed25519 signing key, MongoDB password), the Helm chart (`helm upgrade --install`, server-side
 * apply) with values wiring the party to the others, fixed NodePorts on its front door, and
 * every party's PartnerNode. Nothing here needs a container runtime: against a control plane
 * without nodes' kubelets it installs the same objects, and only the rollout wait is skipped.
 *
 * Addresses: a party is reached at its cluster's first node's InternalIP (the kind node on the
 * docker network) and the front door's fixed NodePort; its certificate names that address.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { API_VERSION } from '../../../operator/src/api/schemas/index.ts';
import type { PartnerNode, Role } from '../../../operator/src/api/types.ts';
import { loadOrCreatePartners } from '../../../operator/src/dev/sandbox/partners.ts';
import { LocalCa, type PartyFiles } from '../../../operator/src/dev/sandbox/pki.ts';
import { NETWORK_NAMESPACE, SEQUENCER_ID } from '../../../operator/src/dev/sandbox/network.ts';
import { KubeHttpClient, resourcePath } from '../../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../../operator/src/runtime/types.ts';

const run = promisify(execFile);
const ROOT = new URL('../../../', import.meta.url).pathname;
const FIELD_MANAGER = 'threatmesh-e2e';

/** Front door NodePorts (sequencer gRPC, partner gossip), equal in every cluster so one port in the values reaches every party. */
export const FRONTDOOR_NODEPORTS = { main: 30443, gossip: 30844 } as const;
/** Name of the Helm release in every cluster. */
export const RELEASE = 'threatmesh';
/** The cert-manager ClusterIssuer the chart's certificates use (values tls.issuerName). */
export const ISSUER = 'threatmesh-ca';
/** Secret names the chart reads (values defaults). */
export const SECRETS = { network: 'threatmesh-network-tls', signing: 'threatmesh-signing-key', mongoPassword: 'threatmesh-mongodb-password' } as const;

const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const NODES: ResourceRef = { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false };
const SERVICES: ResourceRef = { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true };
const PARTNER_ROLES: readonly Role[] = ['contributor', 'voter', 'consumer'];

/** A party before install: id, role and its cluster's kubeconfig. */
export interface PartyPlan {
  readonly id: string;
  readonly role: 'sequencer' | 'partner';
  readonly kubeconfig: string;
}

/** A party after install. */
export interface KindParty extends PartyPlan {
  readonly client: KubeHttpClient;
  /** InternalIP of its cluster's first node. */
  readonly address: string;
  /** host:port where the others reach it (sequencer gRPC, or the partner's gossip). */
  readonly endpoint: string;
  readonly tls: PartyFiles;
  readonly keyPath: string;
  readonly publicKey: string;
  /** The MongoDB user's password (Secret SECRETS.mongoPassword). */
  readonly mongoPassword: string;
}

/** What to install. */
export interface KindInstallOptions {
  /** Kubeconfig path by party id: `sequencer` and at least one partner. */
  readonly kubeconfigs: ReadonlyMap<string, string>;
  /** State folder: keys, CA, values files. */
  readonly dir: string;
  /** repository:tag of the ThreatMesh image in the clusters. */
  readonly image: string;
  readonly quorum: number;
  /** The helm binary (scripts/tools.sh). */
  readonly helm: string;
  /** Where the journeys' feed server listens; ingest Jobs may reach it (Cilium egress). */
  readonly feed: { readonly host: string; readonly port: number };
  /** Uninstall the release and delete the namespace first (data, keys in the cluster, PartnerNodes), as the local target starts fresh. @default true */
  readonly fresh?: boolean;
  /** One line per step. @default nothing */
  readonly progress?: (message: string) => void;
}

/** The parties of `kubeconfigs`: the sequencer first, then the partners by id; throws naming what is wrong. */
export function planParties(kubeconfigs: ReadonlyMap<string, string>): PartyPlan[] {
  const bad = [...kubeconfigs.keys()].filter((id) => !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(id));
  if (bad.length > 0) throw new Error(`party ids ${JSON.stringify(bad)} must be lower-case DNS labels (they become certificate names and PartnerNode names)`);
  const seq = kubeconfigs.get(SEQUENCER_ID);
  const partners = [...kubeconfigs.keys()].filter((id) => id !== SEQUENCER_ID).sort();
  if (seq === undefined || partners.length === 0) throw new Error(`the kind target needs a kubeconfig for "${SEQUENCER_ID}" and at least one partner, got: ${[...kubeconfigs.keys()].join(', ') || 'none'}`);
  return [{ id: SEQUENCER_ID, role: 'sequencer', kubeconfig: seq }, ...partners.map((id) => ({ id, role: 'partner' as const, kubeconfig: kubeconfigs.get(id) ?? '' }))];
}

/** The InternalIP of the first node (by name) of `party`'s cluster; throws when the cluster has none. */
export async function nodeAddress(client: KubeHttpClient, party: string): Promise<string> {
  const nodes = (await client.list<KubeObject & { status?: { addresses?: Array<{ type: string; address: string }> } }>(NODES)).items
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const ip = nodes.flatMap((n) => n.status?.addresses ?? []).find((a) => a.type === 'InternalIP')?.address;
  if (ip === undefined) throw new Error(`${party}: its cluster has no Node with an InternalIP (${nodes.length} nodes); the kind target reaches each party at its node's address`);
  return ip;
}

/** `repository:tag` split; throws when the tag is missing (the chart needs both). */
export function imageParts(image: string): { repository: string; tag: string } {
  const at = image.lastIndexOf(':');
  if (at <= image.lastIndexOf('/') || at === image.length - 1) throw new Error(`image ${JSON.stringify(image)} must be repository:tag, e.g. ghcr.io/threatmesh/threatmesh:kind (the tag run.sh loads into kind)`);
  return { repository: image.slice(0, at), tag: image.slice(at + 1) };
}

const cidr = (ip: string): string => `${ip}/${ip.includes(':') ? 128 : 32}`;

/** The chart values of `party` in the network `all` (sequencer first). */
export function partyValues(party: Pick<KindParty, 'id' | 'role'>, all: ReadonlyArray<Pick<KindParty, 'id' | 'role' | 'address'>>, o: Pick<KindInstallOptions, 'image' | 'quorum' | 'feed'>): Record<string, unknown> {
  const seq = all[0]!;
  const peers = all.filter((p) => p.role === 'partner' && p.id !== party.id);
  return {
    role: party.role, partnerId: party.id, namespace: NETWORK_NAMESPACE,
    image: { ...imageParts(o.image), pullPolicy: 'IfNotPresent' },
    operator: { replicas: 1 },
    enforce: { replicas: 1 },
    sequencer: { replicas: 1, quorum: o.quorum, endpoint: { fqdns: [], cidrs: [cidr(seq.address)], port: FRONTDOOR_NODEPORTS.main } },
    serve: { enabled: false },
    mongodb: { members: 1, storageClass: 'standard', storageSize: '1Gi' },
    ceph: { enabled: false },
    haproxy: { replicas: 1, serviceType: 'NodePort', hostname: `${party.id}.threatmesh.test` },
    network: { feeds: { fqdns: [], cidrs: [cidr(o.feed.host)], port: o.feed.port }, peers: { fqdns: [], cidrs: peers.map((p) => cidr(p.address)), port: FRONTDOOR_NODEPORTS.gossip } },
    monitoring: { enabled: false },
  };
}

/** The PartnerNode of `p` as every cluster of the network holds it. */
export function partnerNodeOf(p: Pick<KindParty, 'id' | 'role' | 'endpoint' | 'publicKey'>): PartnerNode {
  return {
    apiVersion: API_VERSION, kind: 'PartnerNode',
    metadata: { name: p.id, namespace: NETWORK_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'threatmesh-e2e' } },
    spec: { partnerId: p.id, organization: `${p.id} (kind e2e)`, endpoint: p.endpoint, publicKey: p.publicKey, roles: p.role === 'sequencer' ? ['sequencer'] : [...PARTNER_ROLES], maxTlp: 'amber' },
  };
}

/** A self-signed root and the `threatmesh-ca` CA ClusterIssuer cert-manager issues the chart's in-cluster certificates from. */
export function issuerObjects(): KubeObject[] {
  const ref = { kind: 'ClusterIssuer', group: 'cert-manager.io' };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cert-manager' } },
    { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: 'threatmesh-selfsigned' }, spec: { selfSigned: {} } },
    { apiVersion: 'cert-manager.io/v1', kind: 'Certificate', metadata: { name: ISSUER, namespace: 'cert-manager' }, spec: { isCA: true, commonName: 'threatmesh in-cluster CA', secretName: ISSUER, privateKey: { algorithm: 'ECDSA', size: 256 }, issuerRef: { ...ref, name: 'threatmesh-selfsigned' } } },
    { apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', metadata: { name: ISSUER }, spec: { ca: { secretName: ISSUER } } },
  ];
}

/** The party's Secrets from its PEM files. */
async function secretObjects(p: Pick<KindParty, 'tls' | 'keyPath' | 'mongoPassword'>): Promise<KubeObject[]> {
  const [crt, key, ca, signing] = await Promise.all([p.tls.certPath, p.tls.keyPath, p.tls.caPath, p.keyPath].map((f) => readFile(f, 'utf8')));
  const secret = (name: string, stringData: Record<string, string>, type = 'Opaque'): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NETWORK_NAMESPACE }, type, stringData } as KubeObject);
  return [
    secret(SECRETS.network, { 'tls.crt': crt ?? '', 'tls.key': key ?? '', 'ca.crt': ca ?? '' }, 'kubernetes.io/tls'),
    secret(SECRETS.signing, { 'private.pem': signing ?? '' }),
    secret(SECRETS.mongoPassword, { password: p.mongoPassword }),
  ];
}

/** `helm upgrade --install` of charts/threatmesh into the party's cluster with its values (server-side apply). */
async function helmInstall(o: KindInstallOptions, p: KindParty, values: Record<string, unknown>): Promise<void> {
  const file = join(o.dir, `values-${p.id}.yaml`);
  await writeFile(file, stringify(values));
  try {
    await run(o.helm, ['upgrade', '--install', RELEASE, join(ROOT, 'charts/threatmesh'), '--kubeconfig', p.kubeconfig, '-n', NETWORK_NAMESPACE, '-f', file, '--server-side', 'true', '--timeout', '5m'], { maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${p.id}: helm upgrade --install failed (values in ${file}): ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** Pins the front door's NodePorts to FRONTDOOR_NODEPORTS (a strategic merge by port; helm does not own nodePort). A partner's front door (serve off) has only gossip. */
async function pinNodePorts(p: KindParty): Promise<void> {
  const ports = p.role === 'sequencer' ? [{ port: 443, nodePort: FRONTDOOR_NODEPORTS.main }] : [{ port: 8444, nodePort: FRONTDOOR_NODEPORTS.gossip }];
  await p.client.json({ method: 'PATCH', path: resourcePath(SERVICES, NETWORK_NAMESPACE, 'threatmesh-frontdoor'), body: { spec: { ports } }, contentType: 'application/strategic-merge-patch+json' });
}

/** Uninstalls the release and deletes the network namespace, waiting until it is gone (its objects and the MongoDB volume with it). */
async function reset(o: KindInstallOptions, p: PartyPlan, client: KubeHttpClient): Promise<void> {
  try {
    await run(o.helm, ['uninstall', RELEASE, '--kubeconfig', p.kubeconfig, '-n', NETWORK_NAMESPACE, '--ignore-not-found', '--wait', '--timeout', '5m']);
  } catch (err) {
    throw new Error(`${p.id}: helm uninstall ${RELEASE} failed: ${((err as { stderr?: string }).stderr ?? String(err)).trim()}`, { cause: err });
  }
  if (await client.get(NAMESPACES, NETWORK_NAMESPACE) === undefined) return;
  await client.delete(NAMESPACES, NETWORK_NAMESPACE);
  const deadline = Date.now() + 300_000;
  while (await client.get(NAMESPACES, NETWORK_NAMESPACE) !== undefined) {
    if (Date.now() > deadline) throw new Error(`${p.id}: namespace ${NETWORK_NAMESPACE} is still terminating after 5 minutes; see kubectl get namespace ${NETWORK_NAMESPACE} -o yaml (finalizers)`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function identities(o: KindInstallOptions, plans: readonly PartyPlan[], addresses: readonly string[]): Promise<Array<Pick<KindParty, 'tls' | 'keyPath' | 'publicKey' | 'mongoPassword'>>> {
  const keys = await loadOrCreatePartners(o.dir, plans.map((p) => ({ id: p.id, roles: [] })));
  const ca = await LocalCa.open(join(o.dir, 'pki'), 'threatmesh-kind-network-ca');
  return Promise.all(plans.map(async (p, i) => ({
    tls: await ca.issue(p.id, p.role === 'sequencer' ? 'server' : 'both', '', [`IP:${addresses[i]!}`]),
    keyPath: keys[i]!.keyPath, publicKey: keys[i]!.key.publicKey.toRawBase64(), mongoPassword: randomBytes(18).toString('base64url'),
  })));
}

/**
 * Installs the network into the clusters of `o.kubeconfigs` and returns its parties; throws with
 * the party and step that failed. Idempotent for the same `o.dir` (keys and CA are reused).
 */
export async function installKindNetwork(o: KindInstallOptions): Promise<KindParty[]> {
  const say = o.progress ?? ((): void => undefined);
  const plans = planParties(o.kubeconfigs);
  imageParts(o.image);
  await mkdir(o.dir, { recursive: true });
  const clients = await Promise.all(plans.map(async (p) => new KubeHttpClient(await loadKubeconfig(p.kubeconfig), { userAgent: FIELD_MANAGER, requestTimeoutMs: 60_000 })));
  try {
    const addresses = await Promise.all(plans.map((p, i) => nodeAddress(clients[i]!, p.id)));
    if (o.fresh !== false) {
      say('starting over: helm uninstall and the network namespace deleted in every cluster');
      await Promise.all(plans.map((p, i) => reset(o, p, clients[i]!)));
    }
    say(`parties at ${plans.map((p, i) => `${p.id}=${addresses[i]!}`).join(', ')}; issuing keys and certificates`);
    const ids = await identities(o, plans, addresses);
    const parties: KindParty[] = plans.map((p, i) => ({
      ...p, ...ids[i]!, client: clients[i]!, address: addresses[i]!,
      endpoint: `${addresses[i]!}:${p.role === 'sequencer' ? FRONTDOOR_NODEPORTS.main : FRONTDOOR_NODEPORTS.gossip}`,
    }));
    const crds = parseManifests(await readAllCrds(), 'crds/');
    const namespace: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NETWORK_NAMESPACE } };
    const nodes = parties.map(partnerNodeOf);
    await Promise.all(parties.map(async (p) => {
      say(`${p.id}: CRDs, namespace, CA issuer, Secrets`);
      await applyManifests(p.client, [...crds, namespace, ...issuerObjects(), ...await secretObjects(p)], FIELD_MANAGER);
      say(`${p.id}: helm upgrade --install ${RELEASE} charts/threatmesh (role ${p.role})`);
      await helmInstall(o, p, partyValues(p, parties, o));
      await pinNodePorts(p);
      await applyManifests(p.client, nodes, FIELD_MANAGER);
    }));
    return parties;
  } catch (err) {
    for (const c of clients) c.close();
    throw err;
  }
}

async function readAllCrds(): Promise<string> {
  const files = (await readdir(join(ROOT, 'crds'))).filter((f) => f.endsWith('.yaml')).sort();
  return (await Promise.all(files.map((f) => readFile(join(ROOT, 'crds', f), 'utf8')))).join('\n---\n');
}

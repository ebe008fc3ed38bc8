/**
 * The journeys' kind target without a container runtime: what e2e/kind/run.sh does to its kind
 * clusters, done to three local kube-apiservers (sequencer, partner-a, partner-b). Each cluster
 * first gets what run.sh's platform installs leave there (the Cilium, cert-manager and MongoDB
 * Community CRDs from shared/crds) and a Node as kind's kubelet registers it; then the same
 * harness call the kind journeys make installs the network: CRDs, CA issuer, Secrets, the chart by
 * `helm upgrade --install` (server-side apply, objects stored, not a dry run), pinned front door
 * NodePorts and every party's PartnerNode; then the journey steps run through the same API.
 * Only what needs pods (rollouts, port-forwards) is left to the kind workflow.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { FEEDS, PARTNER_NODES } from '../../operator/src/api/schemas/index.ts';
import type { Feed, PartnerNode } from '../../operator/src/api/types.ts';
import { ensureBinaries } from '../../operator/src/dev/controlplane/build.ts';
import { startInstance, type Instance } from '../../operator/src/dev/controlplane/instance.ts';
import { notConverged } from '../../operator/src/dev/sandbox/convergence.ts';
import { NETWORK_NAMESPACE } from '../../operator/src/dev/sandbox/network.ts';
import { feedPlan, sandboxFeedObject, SANDBOX_FEED } from '../../operator/src/dev/commands/sandbox.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { UPSTREAM_CRDS, upstreamCrdDir } from '../../cdk8s/upstream.ts';
import { controlPlaneOptionsFromEnv } from '../harness/env.ts';
import { eventually } from '../harness/kube.ts';
import { ROOT, parseStream, tools, type Tools } from '../harness/install.ts';
import type { JourneyNetwork } from '../harness/journey/index.ts';
import { startKindNetwork, WORKLOAD } from '../harness/journey/kind.ts';
import { FRONTDOOR_NODEPORTS, imageParts, installKindNetwork, nodeAddress, planParties, SECRETS } from '../harness/journey/kindinstall.ts';

const IMAGE = 'ghcr.io/threatmesh/threatmesh:kind';
const PARTIES = ['sequencer', 'partner-a', 'partner-b'] as const;
/** The node address each cluster's Node reports (TEST-NET-1), as kind's nodes report their docker addresses. */
const ADDRESS: Readonly<Record<string, string>> = { 'sequencer': '192.0.2.10', 'partner-a': '192.0.2.11', 'partner-b': '192.0.2.12' };
const ref = (group: string, version: string, plural: string, kind: string, namespaced = true): ResourceRef => ({ group, version, plural, kind, namespaced });
const R = {
  secrets: ref('', 'v1', 'secrets', 'Secret'), services: ref('', 'v1', 'services', 'Service'), nodes: ref('', 'v1', 'nodes', 'Node', false),
  deployments: ref('apps', 'v1', 'deployments', 'Deployment'), clusterRoles: ref('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  webhooks: ref('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', false),
  policies: ref('cilium.io', 'v2', 'ciliumnetworkpolicies', 'CiliumNetworkPolicy'), issuers: ref('cert-manager.io', 'v1', 'clusterissuers', 'ClusterIssuer', false),
};
type Obj = KubeObject & Record<string, unknown>;

/** What run.sh's helm installs of Cilium, cert-manager and the MongoDB Community operator leave in a cluster: their CRDs. */
async function platformCrds(): Promise<KubeObject[]> {
  const dir = upstreamCrdDir(ROOT);
  const files = [...UPSTREAM_CRDS.filter((c) => ['cilium.io', 'cert-manager.io', 'mongodbcommunity.mongodb.com'].includes(c.group)).map((c) => c.file), 'cert-manager/cert-manager.io_clusterissuers.yaml'];
  return (await Promise.all(files.map(async (f) => parseStream(await readFile(join(dir, f), 'utf8'))))).flat();
}

/** The Node kind's kubelet registers, with its docker network address. */
const node = (party: string): KubeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: `tm-${party}-control-plane` }, status: { addresses: [{ type: 'InternalIP', address: ADDRESS[party] }] } });

describe('the kind target on local kube-apiservers: install, wiring and journey steps', { timeout: 900_000 }, () => {
  const clusters = new Map<string, Instance>();
  const clients = new Map<string, KubeHttpClient>();
  let dir: string;
  let t: Tools;
  let net: JourneyNetwork;
  const client = (p: string): KubeHttpClient => clients.get(p)!;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tm-kind-target-'));
    t = await tools();
    const binaries = await ensureBinaries({ cacheDir: controlPlaneOptionsFromEnv().cacheDir, progress: new PassThrough() });
    const log = createLogger(new PassThrough(), 'warn');
    const crds = await platformCrds();
    await Promise.all(PARTIES.map(async (p) => {
      // The namespace controller too: a fresh start deletes the network namespace.
      const inst = await startInstance({ name: p, dir: join(dir, 'clusters', p), binaries, mongo: false, controllers: true, log });
      clusters.set(p, inst);
      const c = new KubeHttpClient(await loadKubeconfig(inst.kubeconfigPath), { requestTimeoutMs: 60_000 });
      clients.set(p, c);
      await applyManifests(c, [...crds, node(p)], 'kind-stand-in');
    }));
    const kubeconfigs = new Map(PARTIES.map((p) => [p, clusters.get(p)!.kubeconfigPath]));
    net = await startKindNetwork({ name: 'kind', kubeconfigs, image: IMAGE, feedHost: '127.0.0.1' }, { dir: join(dir, 'net'), partners: 2, quorum: 2, feeds: new Map(), cacheDir: '' }, { rollout: false, helm: t.HELM });
  });

  after(async () => {
    await net?.stop();
    for (const c of clients.values()) c.close();
    await Promise.all([...clusters.values()].map((i) => i.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('every cluster holds its party\'s chart objects, installed by helm with server-side apply', async () => {
    for (const p of PARTIES) {
      const role = p === 'sequencer' ? 'sequencer' : 'partner';
      const release = await client(p).get<Obj>(R.secrets, 'sh.helm.release.v1.threatmesh.v1', NETWORK_NAMESPACE);
      assert.equal(release?.metadata.labels?.['status'], 'deployed', `${p}: helm release deployed`);
      const d = await client(p).get<Obj & { spec: { template: { spec: { containers: Array<{ image: string; args: string[] }> } } } }>(R.deployments, WORKLOAD[role].deployment, NETWORK_NAMESPACE);
      assert.ok(d, `${p}: Deployment ${WORKLOAD[role].deployment}`);
      const [container] = d.spec.template.spec.containers;
      assert.equal(container?.image, IMAGE);
      assert.ok(container?.args.includes(role === 'sequencer' ? 'sequencer' : '--exchange'), container?.args.join(' '));
      assert.ok(((d.metadata as { managedFields?: unknown }).managedFields as Array<{ manager: string; operation: string }>).some((m) => m.manager === 'helm' && m.operation === 'Apply'), `${p}: applied server-side by helm`);
      assert.ok(await client(p).get(R.deployments, 'threatmesh-haproxy', NETWORK_NAMESPACE), `${p}: front door`);
      assert.ok((await client(p).list(R.policies, { namespace: NETWORK_NAMESPACE })).items.length >= 3, `${p}: Cilium policies`);
      assert.ok(await client(p).get(R.issuers, 'threatmesh-ca'), `${p}: the CA ClusterIssuer the chart's certificates name`);
      if (role === 'partner') {
        assert.ok(await client(p).get(R.clusterRoles, 'threatmesh-operator'), `${p}: operator RBAC`);
        assert.ok((await client(p).list(R.webhooks)).items.length === 1, `${p}: the validating webhook`);
      }
    }
  });

  it('identities: one network CA, a certificate per party naming its id and node address, keys matching the PartnerNodes', async () => {
    const cas = new Set<string>();
    const nodes = (await client('partner-a').list<PartnerNode>(PARTNER_NODES, { namespace: NETWORK_NAMESPACE })).items;
    for (const p of PARTIES) {
      const tls = (await client(p).get<Obj & { data: Record<string, string> }>(R.secrets, SECRETS.network, NETWORK_NAMESPACE))!.data;
      const text = (k: string): string => Buffer.from(tls[k] ?? '', 'base64').toString();
      cas.add(text('ca.crt'));
      const cert = new X509Certificate(text('tls.crt'));
      assert.match(cert.subject, new RegExp(`CN=${p}$`));
      assert.ok(cert.verify(createPublicKey(text('ca.crt'))), `${p}: issued by the network CA`);
      assert.ok(cert.subjectAltName?.includes(`IP Address:${ADDRESS[p]}`), `${p}: names its node address: ${cert.subjectAltName}`);
      assert.ok(cert.checkPrivateKey(createPrivateKey(text('tls.key'))), `${p}: tls.key belongs to tls.crt`);
      const signing = (await client(p).get<Obj & { data: Record<string, string> }>(R.secrets, SECRETS.signing, NETWORK_NAMESPACE))!.data;
      const key = SigningKey.fromPem(Buffer.from(signing['private.pem'] ?? '', 'base64').toString());
      assert.equal(nodes.find((n) => n.spec.partnerId === p)?.spec.publicKey, key.publicKey.toRawBase64(), `${p}: its PartnerNode carries its public key`);
    }
    assert.equal(cas.size, 1, 'every party trusts the same CA');
  });

  it('PartnerNodes in every cluster reach each party at its node address and the pinned front door NodePort', async () => {
    const expected = Object.fromEntries(PARTIES.map((p) => [p, `${ADDRESS[p]}:${p === 'sequencer' ? FRONTDOOR_NODEPORTS.main : FRONTDOOR_NODEPORTS.gossip}`]));
    for (const p of PARTIES) {
      const nodes = (await client(p).list<PartnerNode>(PARTNER_NODES, { namespace: NETWORK_NAMESPACE })).items;
      assert.deepEqual(Object.fromEntries(nodes.map((n) => [n.spec.partnerId, n.spec.endpoint])), expected, `${p}'s PartnerNodes`);
      assert.deepEqual(nodes.find((n) => n.spec.partnerId === 'sequencer')?.spec.roles, ['sequencer']);
      const svc = await client(p).get<Obj & { spec: { type: string; ports: Array<{ port: number; nodePort: number }> } }>(R.services, 'threatmesh-frontdoor', NETWORK_NAMESPACE);
      assert.equal(svc?.spec.type, 'NodePort');
      const pinned = Object.fromEntries(svc.spec.ports.map((x) => [x.port, x.nodePort]));
      assert.deepEqual(pinned, p === 'sequencer' ? { 443: FRONTDOOR_NODEPORTS.main } : { 8444: FRONTDOOR_NODEPORTS.gossip }, `${p}: front door NodePorts (a partner's, with serve off, passes only gossip)`);
    }
  });

  it('a partner\'s Cilium policies let its operator reach the sequencer\'s front door and its ingest Jobs the feed server, which its operator allows as an internal feed address', async () => {
    const d = await client('partner-a').get<Obj & { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } }>(R.deployments, WORKLOAD.partner.deployment, NETWORK_NAMESPACE);
    const args = d?.spec.template.spec.containers[0]?.args ?? [];
    assert.equal(args[args.indexOf('--allow-internal-feeds') + 1], '127.0.0.1/32', args.join(' '));
    const policies = JSON.stringify((await client('partner-a').list(R.policies, { namespace: NETWORK_NAMESPACE })).items);
    const port = Number(new URL(net.feedBaseUrl).port);
    for (const [cidr, p] of [[`${ADDRESS['sequencer']}/32`, FRONTDOOR_NODEPORTS.main], ['127.0.0.1/32', port], [`${ADDRESS['partner-b']}/32`, FRONTDOOR_NODEPORTS.gossip]] as const) {
      assert.match(policies, new RegExp(`"toCIDR":\\["${cidr.replaceAll('.', '\\.')}"\\],"toPorts":\\[\\{"ports":\\[\\{"port":"${p}"`), `egress to ${cidr}:${p}`);
    }
  });

  it('the journey steps run through the harness API: a Feed is created, the view reads every partner, a party is stopped and started', async () => {
    const [a, b] = net.partners;
    assert.deepEqual([net.sequencer.id, a?.id, b?.id], PARTIES);
    await net.addFeed(a!, sandboxFeedObject(feedPlan({}), net.feedBaseUrl));
    const feed = await client('partner-a').get<Feed>(FEEDS, SANDBOX_FEED, NETWORK_NAMESPACE);
    assert.equal(feed?.spec.url, new URL('sample-iocs.txt', net.feedBaseUrl).href);
    // A CRD established seconds ago may answer 429 "storage is (re)initializing" for a moment; journeys poll the view.
    const v = await eventually(() => net.view({ partner: a!, name: SANDBOX_FEED }), (x) => x.partners.every((p) => p.readable));
    assert.deepEqual(v.partners.map((p) => [p.name, p.readable, p.running]), [['partner-a', true, true], ['partner-b', true, true]]);
    assert.equal(v.sequencer, undefined, 'no sequencer answers without pods');
    assert.ok(notConverged(v).includes('the feed\'s first ingestion run'), notConverged(v).join('; '));
    const replicas = async (): Promise<number | undefined> => (await client('partner-b').get<Obj & { spec: { replicas?: number } }>(R.deployments, WORKLOAD.partner.deployment, NETWORK_NAMESPACE))?.spec.replicas;
    await net.stopParty(b!);
    assert.equal(await replicas(), 0);
    assert.equal((await net.view({ partner: a!, name: SANDBOX_FEED })).partners[1]?.running, false);
    await net.startParty(b!);
    assert.equal(await replicas(), 1);
  });

  it('a second start on the same clusters starts over: release reinstalled, namespace emptied, new identities', async () => {
    const keyOf = async (): Promise<string | undefined> => (await client('partner-a').list<PartnerNode>(PARTNER_NODES, { namespace: NETWORK_NAMESPACE })).items.find((n) => n.spec.partnerId === 'partner-a')?.spec.publicKey;
    const before = await keyOf();
    assert.ok(await client('partner-a').get(FEEDS, SANDBOX_FEED, NETWORK_NAMESPACE), 'the previous journey step left a Feed');
    await net.stop();
    const kubeconfigs = new Map(PARTIES.map((p) => [p, clusters.get(p)!.kubeconfigPath]));
    net = await startKindNetwork({ name: 'kind', kubeconfigs, image: IMAGE, feedHost: '127.0.0.1' }, { dir: join(dir, 'net2'), partners: 2, quorum: 2, feeds: new Map(), cacheDir: '' }, { rollout: false, helm: t.HELM });
    assert.equal(await client('partner-a').get(FEEDS, SANDBOX_FEED, NETWORK_NAMESPACE), undefined, 'the namespace was emptied');
    const release = await client('partner-a').get<Obj>(R.secrets, 'sh.helm.release.v1.threatmesh.v1', NETWORK_NAMESPACE);
    assert.equal(release?.metadata.labels?.['status'], 'deployed', 'a new first release');
    const after = await keyOf();
    assert.ok(after !== undefined && after !== before, 'the new journey\'s key is in the PartnerNodes');
  });

  it('refuses what it cannot install, saying what is wrong', async () => {
    const table: ReadonlyArray<[string, () => unknown, RegExp]> = [
      ['no sequencer', () => planParties(new Map([['partner-a', 'x']])), /needs a kubeconfig for "sequencer" and at least one partner/],
      ['no partner', () => planParties(new Map([['sequencer', 'x']])), /at least one partner/],
      ['an id that is not a DNS label', () => planParties(new Map([['sequencer', 'x'], ['Partner_A', 'y']])), /lower-case DNS labels/],
      ['an image without a tag', () => imageParts('localhost:5000/threatmesh'), /must be repository:tag/],
    ];
    for (const [name, f, message] of table) assert.throws(f, message, name);
    await client('sequencer').delete(R.nodes, 'tm-sequencer-control-plane');
    await assert.rejects(nodeAddress(client('sequencer'), 'sequencer'), /sequencer: its cluster has no Node with an InternalIP/);
    await applyManifests(client('sequencer'), [node('sequencer')], 'kind-stand-in');
    const kubeconfigs = new Map(PARTIES.map((p) => [p, clusters.get(p)!.kubeconfigPath]));
    await assert.rejects(installKindNetwork({ kubeconfigs, dir: join(dir, 'net'), image: IMAGE, quorum: 101, helm: t.HELM, feed: { host: '127.0.0.1', port: 8080 } }), (err: Error) => {
      assert.match(err.message, /^(sequencer|partner-a|partner-b): helm upgrade --install failed \(values in .*\.yaml\): .*'\/sequencer\/quorum': maximum: got 101, want 100/s);
      return true;
    });
  });
});

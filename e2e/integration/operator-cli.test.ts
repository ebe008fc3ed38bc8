/**
 * `threatmesh operator` as a process against a real kube-apiserver: it starts from flags, wins
 * the Lease, serves metrics and health, reconciles, runs a Feed in-process (a real fetch from a
 * local HTTP server, parse, normalize, propose ThreatIndicators) and records its counts, and on
 * SIGTERM stops gracefully (exit 0, Lease released).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { eventually } from '../harness/kube.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { FEEDS, PARTNER_NODES, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import { indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Feed, PartnerNode, ThreatIndicator } from '../../operator/src/api/types.ts';
import { LEADER_LEASE_NAME } from '../../operator/src/api/manifests.ts';
import { partner } from '../../operator/src/controllers/fixtures.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { collectJsonLines } from '../harness/jsonlines.ts';

const root = new URL('../../', import.meta.url);
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const leases: ResourceRef = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };
const ns = `opcli-${randomBytes(3).toString('hex')}`;

let cp: ControlPlane;
let admin: KubeHttpClient;
let child: ChildProcess | undefined;
let feedServer: Server | undefined;
let feedPort = 0;
const FEED_BODY = '# test feed\n45.10.20.30\n185.220.101.1\n45.10.20.30\n999.1.1.1\n23.94.5.6\n';
let lines: Array<Record<string, unknown>> = [];

before(async () => {
  cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await admin.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(admin, await loadYamlDir('crds'), 'operator-cli-test');
  feedServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(FEED_BODY));
  await new Promise<void>((res) => feedServer?.listen(0, '127.0.0.1', () => res()));
  feedPort = (feedServer.address() as AddressInfo).port;
});

after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  feedServer?.close();
  if (admin) {
    await admin.delete(namespaces, ns).catch(() => undefined);
    admin.close();
  }
  await cp?.stop();
});

function logged(msg: string): Promise<Record<string, unknown> | undefined> {
  return eventually(() => Promise.resolve(lines.find((l) => l['msg'] === msg)), (l) => l !== undefined);
}

test('threatmesh operator runs, ingests a Feed in-process, serves metrics and stops on SIGTERM', async () => {
  const main = new URL('operator/src/main.ts', root).pathname;
  child = spawn(process.execPath, [main, 'operator', '--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--metrics-bind', '127.0.0.1:0', '--leader-elect', '--identity', 'cli-test', '--executor', 'inprocess', '--allow-internal-feeds', '127.0.0.1/32'], { stdio: ['ignore', 'ignore', 'pipe'] });
  lines = collectJsonLines(child.stderr!).lines;
  const serving = await logged('serving metrics and health');
  assert.ok(serving, `no "serving metrics and health" line; got ${JSON.stringify(lines)}`);
  const port = Number(serving['port']);

  const lease = await eventually(() => admin.get<KubeObject & { spec?: { holderIdentity?: string } }>(leases, LEADER_LEASE_NAME, ns), (l) => l?.spec?.holderIdentity === 'cli-test');
  assert.equal(lease?.spec?.holderIdentity, 'cli-test');

  const p = partner('acme', {}, ns);
  await admin.create(PARTNER_NODES, { ...p.node, metadata: { name: 'acme', namespace: ns } });
  const pn = await eventually(() => admin.get<PartnerNode>(PARTNER_NODES, 'acme', ns), (o) => o?.status?.conditions?.some((c) => c.type === 'Ready') ?? false);
  assert.equal(pn?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');

  await admin.create(FEEDS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'local', namespace: ns }, spec: { url: `http://127.0.0.1:${feedPort}/ips.txt`, format: 'lines', schedule: { interval: '1h' }, defaults: { type: 'ipv4', validFor: '30d' } } });
  const feed = await eventually(() => admin.get<Feed>(FEEDS, 'local', ns), (f) => f?.status?.lastRun?.outcome !== undefined, 60_000);
  assert.equal(feed?.status?.lastRun?.outcome, 'Succeeded', JSON.stringify(feed?.status));
  assert.equal(feed?.status?.lastRun?.counts?.new, 3, JSON.stringify(feed?.status?.lastRun));
  assert.equal(feed?.status?.lastRun?.counts?.duplicate, 1);
  assert.equal(feed?.status?.lastRun?.counts?.rejected, 1);
  const tis = await admin.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns });
  assert.deepEqual(tis.items.map((t) => t.spec.value).sort(), ['185.220.101.1', '23.94.5.6', '45.10.20.30']);
  for (const t of tis.items) assert.equal(t.metadata.name, indicatorObjectName({ type: 'ipv4', value: t.spec.value }));

  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, /controller_runtime_reconcile_total\{controller="partnernode",result="success"\} [1-9]/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);

  const exited = new Promise<number | null>((res) => child?.once('exit', (code) => res(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  const released = await admin.get<KubeObject & { spec?: { holderIdentity?: string } }>(leases, LEADER_LEASE_NAME, ns);
  assert.ok(!released?.spec?.holderIdentity, `lease still held: ${JSON.stringify(released?.spec)}`);
});

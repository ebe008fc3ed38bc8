/**
 * `threatmesh operator --executor inprocess --signing-key K --proposal-batch-size N` as a
 * process against a real kube-apiserver: a Feed run in the operator's child process (a real
 * fetch from a local HTTP server, parse, normalize) has its proposals signed by the operator
 * over IPC as one protocol v2 batch. Every ThreatIndicator read back carries
 * `spec.proposal.batch`, verifies alone under the partner's key, is no single proposal
 * signature, and is what the forwarder would send.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { eventually } from '../harness/kube.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { FEEDS, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { Feed, ThreatIndicator } from '../../operator/src/api/types.ts';
import { generateKeyPair } from '../../operator/src/domain/signature.ts';
import { verifyProposal } from '../../operator/src/domain/entry.ts';
import { verifySignedProposal } from '../../operator/src/domain/proposalbatch.ts';
import { metaOfSpec } from '../../operator/src/api/specmeta.ts';
import { localProposal } from '../../operator/src/exchange/partner/forwarder.ts';
import { loadYamlDir } from '../harness/manifests.ts';

const root = new URL('../../', import.meta.url);
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const ns = `feedbatch-${randomBytes(3).toString('hex')}`;
const FEED_BODY = '# test feed\n45.10.20.30\n185.220.101.1\n45.10.20.30\n999.1.1.1\n23.94.5.6\n';
const keys = generateKeyPair();

let cp: ControlPlane;
let admin: KubeHttpClient;
let child: ChildProcess | undefined;
let feedServer: Server | undefined;
let feedPort = 0;
let dir = '';
let stderr = '';

before(async () => {
  // The key lives outside the program's directory, where the in-process parser may not read.
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-feedbatch-'));
  await writeFile(join(dir, 'private.pem'), keys.signingKey.toPem(), { mode: 0o600 });
  cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await admin.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(admin, await loadYamlDir('crds'), 'feeds-operator-batch-test');
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
  if (dir) await rm(dir, { recursive: true, force: true });
});

// One object read back from the API server: its batch proof verifies alone, for it only, and is what the forwarder sends.
function checkBatchProposal(i: ThreatIndicator, feedRef: string): void {
  const ind = { type: 'ipv4' as const, value: i.spec.value };
  const meta = metaOfSpec(i.spec);
  assert.ok(meta.ok && meta.meta?.confidence === 80 && meta.meta.source === feedRef, 'the spec carries the signed metadata');
  assert.equal(i.spec.proposal?.partnerId, 'acme');
  assert.match(i.spec.proposal?.batch ?? '', /^[0-2] 3 [0-9a-f]{64}( [0-9a-f]{64})+$/);
  const proof = { signature: i.spec.proposal?.signature ?? '', batch: i.spec.proposal?.batch ?? '' };
  assert.ok(verifySignedProposal(keys.publicKey, 'add', ind, proof, meta.meta), `${i.spec.value}: the proof verifies alone, read back from the API server`);
  assert.equal(verifySignedProposal(keys.publicKey, 'add', { type: 'ipv4', value: '192.0.2.1' }, proof, meta.meta), false, 'the proof holds for its own indicator only');
  assert.equal(verifyProposal(keys.publicKey, 'add', ind, proof.signature, meta.meta), false, 'it is no single proposal signature');
  assert.equal(localProposal(i, 'acme', keys.publicKey)?.batch, proof.batch, 'the forwarder sends the proof');
}

test('an in-process Feed run signs its proposals through the operator as one batch: each ThreatIndicator carries spec.proposal.batch and verifies alone', async () => {
  const main = new URL('operator/src/main.ts', root).pathname;
  child = spawn(process.execPath, [main, 'operator', '--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--metrics-bind', '127.0.0.1:0', '--executor', 'inprocess',
    '--allow-internal-feeds', '127.0.0.1/32', '--partner-id', 'acme', '--signing-key', join(dir, 'private.pem'), '--proposal-batch-size', '8'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => { stderr += d; });

  const feedRef = `${ns}/local`;
  await admin.create(FEEDS, { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'local', namespace: ns }, spec: { url: `http://127.0.0.1:${feedPort}/ips.txt`, format: 'lines', schedule: { interval: '1h' }, defaults: { type: 'ipv4', validFor: '30d', confidence: 80, tlp: 'green' } } });
  const feed = await eventually(() => admin.get<Feed>(FEEDS, 'local', ns), (f) => f?.status?.lastRun?.outcome !== undefined, 60_000);
  assert.equal(feed?.status?.lastRun?.outcome, 'Succeeded', `${JSON.stringify(feed?.status)}\n${stderr.slice(-2000)}`);
  assert.equal(feed?.status?.lastRun?.counts?.new, 3, JSON.stringify(feed?.status?.lastRun));

  const items = (await admin.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns })).items;
  assert.deepEqual(items.map((t) => t.spec.value).sort(), ['185.220.101.1', '23.94.5.6', '45.10.20.30']);
  assert.equal(new Set(items.map((i) => i.spec.proposal?.signature)).size, 1, 'one operator signature for the run');
  for (const i of items) checkBatchProposal(i, feedRef);

  const exited = new Promise<number | null>((res) => child?.once('exit', (code) => res(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

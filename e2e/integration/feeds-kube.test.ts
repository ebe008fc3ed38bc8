/**
 * `threatmesh ingest --feed NAMESPACE/NAME` against a real kube-apiserver with the ThreatMesh
 * CRDs: reads the Feed, fetches from a local HTTP server, proposes the new indicators as signed
 * ThreatIndicator objects, records validators for the next conditional GET, and reports into
 * Feed status or into the run's Job annotation; a failing feed proposes nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { uniqueSuffix } from '../harness/env.ts';
import type { Feed, ThreatIndicator } from '../../operator/src/api/types.ts';
import { FEEDS, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import { JOBS } from '../../operator/src/controllers/jobexecutor.ts';
import { RUN_REPORT_ANNOTATION } from '../../operator/src/api/reasons.ts';
import { indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { generateKeyPair } from '../../operator/src/domain/signature.ts';
import { verifyProposal } from '../../operator/src/domain/entry.ts';
import { verifySignedProposal } from '../../operator/src/domain/proposalbatch.ts';
import { localProposal } from '../../operator/src/exchange/partner/forwarder.ts';
import { metaOfSpec } from '../../operator/src/api/specmeta.ts';
import { CONFIGMAPS } from '../../operator/src/feeds/allowlists.ts';
import { ANNOTATION, SECRETS } from '../../operator/src/feeds/feedrun.ts';
import { FEED_CREDENTIALS_LABEL } from '../../operator/src/api/schemas/feed.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { runCli, type CliRun } from '../harness/cli.ts';

const root = new URL('../../', import.meta.url);
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const ns = `feeds-${uniqueSuffix()}`;

let cp: ControlPlane;
let kube: KubeHttpClient;
let server: Server;
let base = '';
let dir = '';
let feodo: Buffer;
let requests: Array<{ path: string; ifNoneMatch: string | undefined; authorization?: string | undefined }> = [];
const keys = generateKeyPair();

async function crds(): Promise<KubeObject[]> {
  const files = (await readdir(new URL('crds/', root))).filter((f) => f.endsWith('.yaml')).sort();
  const out: KubeObject[] = [];
  for (const f of files) out.push(...parseManifests(await readFile(new URL(`crds/${f}`, root), 'utf8'), f));
  return out;
}

function ingest(args: string[]): Promise<CliRun> {
  // The feed server listens on loopback, which feeds may only reach when allowed.
  return runCli(['ingest', '--allow-internal-feeds', '127.0.0.1/32', ...args], { env: { ...process.env, KUBECONFIG: cp.kubeconfigPath, LOG_LEVEL: 'warn' } });
}

function feed(name: string, path: string): Feed {
  return {
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name, namespace: ns },
    spec: { url: `${base}${path}`, format: 'csv', preset: 'feodo', mapping: { fields: { labels: { column: 'malware' } } }, schedule: { interval: '1h' }, defaults: { confidence: 90, tlp: 'clear', labels: ['botnet-c2'], validFor: '30d' } },
  };
}

async function indicators(feedName: string): Promise<ThreatIndicator[]> {
  const list = await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns, labelSelector: `threatmesh.io/feed=${feedName}` });
  return list.items;
}

before(async () => {
  feodo = await readFile(new URL('operator/src/feeds/fixtures/feodo-ipblocklist.csv', root));
  server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', ifNoneMatch: req.headers['if-none-match'], ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }) });
    if (req.url === '/login.html') {
      res.writeHead(200);
      res.end('<html><body>login</body></html>');
      return;
    }
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304);
      res.end();
      return;
    }
    res.writeHead(200, { etag: '"v1"' });
    res.end(feodo);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-feeds-kube-'));
  await writeFile(join(dir, 'private.pem'), keys.signingKey.toPem(), { mode: 0o600 });
  cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await applyManifests(kube, await crds(), 'feeds-test');
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});

after(async () => {
  server?.close();
  if (kube) {
    await kube.delete(namespaces, ns).catch(() => undefined);
    kube.close();
  }
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function checkProposal(i: ThreatIndicator, feedRef: string): void {
  const ind = { type: 'ipv4' as const, value: i.spec.value };
  assert.equal(i.metadata.name, indicatorObjectName(ind));
  assert.equal(i.spec.confidence, 90);
  assert.equal(i.spec.labels?.[0], 'botnet-c2');
  assert.equal(i.spec.labels?.length, 2, 'the malware column adds a label');
  assert.equal(i.spec.provenance?.feed, feedRef);
  // The ingest signs the indicator with the spec's metadata; read back from the API server it must still verify (the forwarder sends exactly this).
  const meta = metaOfSpec(i.spec);
  assert.ok(meta.ok && meta.meta?.confidence === 90 && meta.meta.source === feedRef, 'the spec carries the metadata');
  assert.ok(verifyProposal(keys.publicKey, 'add', ind, i.spec.proposal?.signature ?? '', meta.meta), 'proposal signature verifies over {indicator, meta}');
}

describe('threatmesh ingest --feed', () => {
  test('proposes signed ThreatIndicators, writes Feed status, then uses the ETag (304, nothing new)', async () => {
    await kube.create(FEEDS, feed('feodo', '/ipblocklist.csv'));
    const r = await ingest(['--feed', `${ns}/feodo`, '--partner-id', 'acme', '--signing-key', join(dir, 'private.pem')]);
    assert.equal(r.code, 0, r.stderr);
    const items = await indicators('feodo');
    assert.deepEqual(items.map((i) => i.spec.value).sort(), ['162.243.103.246', '185.117.73.147', '51.178.161.32']);
    for (const i of items) checkProposal(i, `${ns}/feodo`);
    const f = await kube.get<Feed>(FEEDS, 'feodo', ns);
    assert.equal(f?.status?.lastRun?.outcome, 'Succeeded');
    assert.deepEqual(f?.status?.lastRun?.counts, { fetched: 5, new: 3, duplicate: 1, rejected: 0, rejectedReasons: {} });
    assert.equal(f?.metadata.annotations?.[ANNOTATION.etag], '"v1"');

    requests = [];
    const again = await ingest(['--feed', `${ns}/feodo`]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(requests, [{ path: '/ipblocklist.csv', ifNoneMatch: '"v1"' }]);
    assert.equal((await kube.get<Feed>(FEEDS, 'feodo', ns))?.status?.lastRun?.counts?.new, 0);
  });

  test('--proposal-batch-size signs the run\'s proposals as one batch (protocol v2): each object carries its proof, verifies alone and is forwarded with it', async () => {
    const batchNs = `${ns}-batch`;
    await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: batchNs } });
    try {
      await kube.create(FEEDS, { ...feed('feodo-batch', '/ipblocklist.csv'), metadata: { name: 'feodo-batch', namespace: batchNs } });
      const refused = await ingest(['--feed', `${batchNs}/feodo-batch`, '--proposal-batch-size', '8']);
      assert.equal(refused.code, 2, 'a batch size without a signing key is a usage error');
      assert.match(refused.stderr, /give --signing-key too/);
      const r = await ingest(['--feed', `${batchNs}/feodo-batch`, '--partner-id', 'acme', '--signing-key', join(dir, 'private.pem'), '--proposal-batch-size', '8']);
      assert.equal(r.code, 0, r.stderr);
      const items = (await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: batchNs })).items;
      assert.equal(items.length, 3);
      assert.equal(new Set(items.map((i) => i.spec.proposal?.signature)).size, 1, 'one signature for the run');
      for (const i of items) {
        const ind = { type: 'ipv4' as const, value: i.spec.value };
        const meta = metaOfSpec(i.spec);
        assert.ok(meta.ok);
        assert.match(i.spec.proposal?.batch ?? '', /^[0-2] 3 [0-9a-f]{64}( [0-9a-f]{64})+$/);
        assert.ok(verifySignedProposal(keys.publicKey, 'add', ind, { signature: i.spec.proposal!.signature, batch: i.spec.proposal!.batch! }, meta.meta), 'the proof verifies from the object read back');
        assert.equal(verifyProposal(keys.publicKey, 'add', ind, i.spec.proposal!.signature, meta.meta), false, 'it is no single proposal signature');
        assert.equal(localProposal(i, 'acme', keys.publicKey)?.batch, i.spec.proposal?.batch, 'the forwarder sends the proof');
      }
    } finally {
      await kube.delete(namespaces, batchNs).catch(() => undefined);
    }
  });

  test('indicators that already exist are not proposed again; the report goes to the run Job when --run-id is given', async () => {
    await kube.create(FEEDS, feed('feodo-copy', '/copy.csv'));
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'feodo-copy-run1', namespace: ns }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'ingest', image: 'threatmesh:test' }] } } } };
    await kube.create(JOBS, job);
    const r = await ingest(['--feed', `${ns}/feodo-copy`, '--run-id', 'feodo-copy-run1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await indicators('feodo-copy')).length, 0);
    const annotated = await kube.get<KubeObject>(JOBS, 'feodo-copy-run1', ns);
    const report = JSON.parse(annotated?.metadata.annotations?.[RUN_REPORT_ANNOTATION] ?? '{}') as { outcome: string; fetched: number; new: number; duplicate: number };
    assert.deepEqual([report.outcome, report.fetched, report.new, report.duplicate], ['succeeded', 5, 0, 4]);
  });

  test('--feed with --dry-run previews the Feed: NDJSON out, nothing proposed, status untouched', async () => {
    await kube.create(FEEDS, feed('preview', '/preview.csv'));
    const r = await ingest(['--feed', `${ns}/preview`, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 3);
    assert.equal((await indicators('preview')).length, 0);
    assert.equal((await kube.get<Feed>(FEEDS, 'preview', ns))?.status?.lastRun, undefined);
  });

  test('--feed with --dry-run applies the Feed\'s allowlist ConfigMaps, counted per ConfigMap', async () => {
    await kube.create(CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'preview-allow', namespace: ns }, data: { entries: '# listed twice by the fixture\n51.178.161.32\n' } });
    const f = feed('preview-allow', '/preview-allow.csv');
    f.spec.allowlists = [{ configMapRef: { name: 'preview-allow' } }];
    await kube.create(FEEDS, f);
    const r = await ingest(['--feed', `${ns}/preview-allow`, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { value: string }).value).sort(), ['162.243.103.246', '185.117.73.147']);
    const summary = JSON.parse(r.stderr.split('\n').find((l) => l.startsWith('{"summary"')) ?? '{}') as { summary?: { warningLists: Record<string, number> } };
    assert.deepEqual(summary.summary?.warningLists, { 'allowlist:preview-allow': 2, 'public-resolver': 1 });
  });

  test('a Feed cannot send a Secret that is not labelled as feed credentials (trust model); once labelled, it is sent', async () => {
    // Any Secret of the namespace, say a database password, named by a Feed pointing at a server that logs what it gets.
    await kube.create(SECRETS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-password', namespace: ns }, data: { token: Buffer.from('hunter2').toString('base64') } });
    const f = feed('exfil', '/exfil.csv');
    f.spec.secretRef = { name: 'db-password' };
    await kube.create(FEEDS, f);
    requests = [];
    const r = await ingest(['--feed', `${ns}/exfil`]);
    assert.equal(r.code, 1);
    assert.equal(requests.length, 0, 'nothing was fetched, so nothing was sent');
    const failed = await kube.get<Feed>(FEEDS, 'exfil', ns);
    assert.equal(failed?.status?.lastRun?.outcome, 'Failed');
    assert.match(failed?.status?.lastRun?.message ?? '', new RegExp(`not marked as feed credentials.*kubectl -n ${ns} label secret db-password ${FEED_CREDENTIALS_LABEL}=true`));
    // The opt-in is the Secret owner's: with the label the credentials go to the Feed's URL.
    await kube.patch(SECRETS, 'db-password', ns, { metadata: { labels: { [FEED_CREDENTIALS_LABEL]: 'true' } } });
    const ok = await ingest(['--feed', `${ns}/exfil`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(requests.map((q) => q.authorization), ['Bearer hunter2']);
  });

  test('a feed that serves HTML fails: exit 1, Failed status with the reason, nothing proposed', async () => {
    await kube.create(FEEDS, feed('broken', '/login.html'));
    const r = await ingest(['--feed', `${ns}/broken`]);
    assert.equal(r.code, 1);
    assert.equal((await indicators('broken')).length, 0);
    const f = await kube.get<Feed>(FEEDS, 'broken', ns);
    assert.equal(f?.status?.lastRun?.outcome, 'Failed');
    assert.match(f?.status?.lastRun?.message ?? '', /HTML page/);
  });
});

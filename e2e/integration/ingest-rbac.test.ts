/**
 * The ingestion Job's least-privilege RBAC on a real kube-apiserver: `threatmesh ingest --feed
 * NS/NAME --run-id JOB`, run as a child process under a kubeconfig holding only a TokenRequest
 * token of the generated ingest ServiceAccount (bound by RoleBinding to exactly the generated
 * ingest ClusterRole), reads the Feed, its credentials Secret and its allowlist ConfigMaps,
 * fetches from a local HTTP server, proposes ThreatIndicators and reports into its Job;
 * everything outside the role is refused with 403.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { uniqueSuffix } from '../harness/env.ts';
import type { Feed, ThreatIndicator } from '../../operator/src/api/types.ts';
import { FEEDS, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import { INGEST_NAME, feedCredentialsManifests, ingestClusterRole, ingestNamespaceManifests, ingestRbacManifests } from '../../operator/src/api/manifests.ts';
import { FEED_CREDENTIALS_LABEL } from '../../operator/src/api/schemas/feed.ts';
import { JOBS, JobExecutor, type Job } from '../../operator/src/controllers/jobexecutor.ts';
import { RUN_REPORT_ANNOTATION } from '../../operator/src/api/reasons.ts';
import { CONFIGMAPS } from '../../operator/src/feeds/allowlists.ts';
import { ANNOTATION, SECRETS } from '../../operator/src/feeds/feedrun.ts';
import { ApiError } from '../../operator/src/runtime/client.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig, type ClusterConfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests, parseManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { runCli, type CliRun } from '../harness/cli.ts';

const root = new URL('../../', import.meta.url);
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const clusterRoles: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', kind: 'ClusterRole', namespaced: false };
const suffix = uniqueSuffix();
const ns = `ingest-rbac-${suffix}`;
const otherNs = `ingest-rbac-other-${suffix}`;
// Feeds with allowlists run in a namespace of their own, so no earlier run's indicators count as duplicates.
const allowNs = `ingest-rbac-allow-${suffix}`;
// A per-run ClusterRole name: integration files share one API server.
const roleName = `${INGEST_NAME}-${suffix}`;
const bearer = `feed-token-${suffix}`;

let cp: ControlPlane;
let admin: KubeHttpClient;
let asIngest: KubeHttpClient;
let server: Server;
let base = '';
let dir = '';
let kubeconfigPath = '';
let allowKubeconfigPath = '';
let feodo: Buffer;

/** The operator's Job executor as this test configures it: the feed server listens on loopback, allowed by flag. */
const executor = (): JobExecutor => new JobExecutor(admin, { image: 'ghcr.io/threatmesh/threatmesh:test', allowInternalFeeds: ['127.0.0.1/32'] });

/** Runs exactly the command of `job`'s container (after the program name) as the CLI. */
function runJob(job: Job, kubeconfig = kubeconfigPath): Promise<CliRun> {
  const command = (job.spec as { template: { spec: { containers: Array<{ command: string[] }> } } }).template.spec.containers[0]?.command ?? [];
  return runCli(command.slice(1), { env: { ...process.env, KUBECONFIG: kubeconfig, LOG_LEVEL: 'warn' } });
}

async function tokenFor(sa: string, namespace = ns): Promise<string> {
  const r = await cp.kube.create(`/api/v1/namespaces/${namespace}/serviceaccounts/${sa}/token`, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return (r.body as { status: { token: string } }).status.token;
}

function tokenKubeconfig(cfg: ClusterConfig, token: string): string {
  const cluster = cfg.ca ? { server: cfg.server, 'certificate-authority-data': cfg.ca.toString('base64') } : { server: cfg.server, 'insecure-skip-tls-verify': true };
  return stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'test', cluster }],
    users: [{ name: INGEST_NAME, user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: INGEST_NAME } }],
    'current-context': 'test',
  });
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err.status;
    throw err;
  }
  return 200;
}

before(async () => {
  feodo = await readFile(new URL('operator/src/feeds/fixtures/feodo-ipblocklist.csv', root));
  server = createServer((req, res) => {
    // The credentials come from the Feed's Secret, which only the ingest role lets the run read.
    if (req.headers.authorization !== `Bearer ${bearer}`) {
      res.writeHead(401);
      res.end();
      return;
    }
    res.writeHead(200, { etag: '"v1"' });
    res.end(feodo);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-ingest-rbac-'));
  cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  const adminConfig = await loadKubeconfig(cp.kubeconfigPath);
  admin = new KubeHttpClient(adminConfig, { requestTimeoutMs: 15_000 });
  const files = ['threatmesh.io_feeds.yaml', 'threatmesh.io_threatindicators.yaml', 'threatmesh.io_partnernodes.yaml'];
  const crds: KubeObject[] = [];
  for (const f of files) crds.push(...parseManifests(await readFile(new URL(`crds/${f}`, root), 'utf8'), f));
  await applyManifests(admin, crds, 'ingest-rbac-test');
  for (const name of [ns, otherNs, allowNs]) await admin.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  await applyManifests(admin, ingestRbacManifests(ns, roleName) as unknown as KubeObject[], 'ingest-rbac-test');
  // The namespace lists its Feeds' credentials Secrets by name: the ingest ServiceAccount reads those and no other.
  await applyManifests(admin, feedCredentialsManifests(ns, ['feodo-creds'], roleName) as unknown as KubeObject[], 'ingest-rbac-test');
  await applyManifests(admin, feedCredentialsManifests(allowNs, ['feodo-creds'], roleName) as unknown as KubeObject[], 'ingest-rbac-test');
  // A Secret no Role lists, which a Feed run must not be able to read.
  await admin.create(SECRETS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db-password', namespace: ns, labels: { [FEED_CREDENTIALS_LABEL]: 'true' } }, data: { token: Buffer.from('hunter2').toString('base64') } });
  const token = await tokenFor(roleName);
  kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, tokenKubeconfig(adminConfig, token), { mode: 0o600 });
  asIngest = new KubeHttpClient(await loadKubeconfig(kubeconfigPath), { requestTimeoutMs: 15_000 });
  await applyManifests(admin, ingestNamespaceManifests(allowNs, roleName, roleName) as unknown as KubeObject[], 'ingest-rbac-test');
  allowKubeconfigPath = join(dir, 'kubeconfig-allow');
  await writeFile(allowKubeconfigPath, tokenKubeconfig(adminConfig, await tokenFor(roleName, allowNs)), { mode: 0o600 });
});

after(async () => {
  server?.close();
  asIngest?.close();
  if (admin) {
    for (const name of [ns, otherNs, allowNs]) await admin.delete(namespaces, name).catch(() => undefined);
    await admin.delete(clusterRoles, roleName).catch(() => undefined);
    admin.close();
  }
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ingest Job RBAC', () => {
  test('config/rbac/ingest.yaml holds exactly the generated ingest ClusterRole', async () => {
    const onDisk = parseManifests(await readFile(new URL('config/rbac/ingest.yaml', root), 'utf8')).find((o) => o.kind === 'ClusterRole') as unknown as { rules: unknown };
    assert.deepEqual(onDisk.rules, (ingestClusterRole() as { rules: unknown }).rules, 'config/rbac/ingest.yaml is stale: run npm run generate');
  });

  test('ingest --feed --run-id under the ingest ServiceAccount proposes indicators and reports into its Job', async () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'feodo-creds', namespace: ns, labels: { [FEED_CREDENTIALS_LABEL]: 'true' } }, data: { token: Buffer.from(bearer).toString('base64') } };
    await admin.create(SECRETS, secret);
    const feed: Feed = {
      apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'feodo', namespace: ns },
      spec: { url: `${base}/ipblocklist.csv`, format: 'csv', preset: 'feodo', secretRef: { name: 'feodo-creds' }, schedule: { interval: '1h' }, defaults: { confidence: 90 } },
    };
    const created = await admin.create<Feed>(FEEDS, feed);
    // The Job the operator would create (the executor's own manifest), made by the admin: no Job controller runs here.
    const runId = 'feodo-run1';
    const job = executor().jobFor(created, runId);
    assert.equal((job.spec as { template: { spec: { serviceAccountName: string } } }).template.spec.serviceAccountName, INGEST_NAME);
    await admin.create(JOBS, job);

    const r = await runJob(job);
    assert.equal(r.code, 0, r.stderr);
    const items = (await admin.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns })).items;
    assert.deepEqual(items.map((i) => i.spec.value).sort(), ['162.243.103.246', '185.117.73.147', '51.178.161.32']);
    const annotated = await admin.get<Job>(JOBS, runId, ns);
    const report = JSON.parse(annotated?.metadata.annotations?.[RUN_REPORT_ANNOTATION] ?? '{}') as { outcome: string; fetched: number; new: number };
    assert.deepEqual([report.outcome, report.fetched, report.new], ['succeeded', 5, 3]);
    assert.equal((await admin.get<Feed>(FEEDS, 'feodo', ns))?.metadata.annotations?.[ANNOTATION.etag], '"v1"', 'validators remembered on the Feed');
  });

  describe('allowlist ConfigMaps', () => {
    interface JobReport { outcome: string; error?: { code: string; message: string }; fetched: number; new: number; duplicate: number; droppedByWarningList: number; warningLists: Record<string, number> }

    /** Creates the Feed (feodo fixture, allowlists `refs`) and its Job as the admin, then runs the Job's ingest under the ingest ServiceAccount. */
    async function runFeed(name: string, allowlists: NonNullable<Feed['spec']['allowlists']>): Promise<{ code: number; stderr: string; report: JobReport }> {
      const created = await admin.create<Feed>(FEEDS, {
        apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name, namespace: allowNs },
        spec: { url: `${base}/ipblocklist.csv`, format: 'csv', preset: 'feodo', secretRef: { name: 'feodo-creds' }, allowlists, schedule: { interval: '1h' } },
      });
      const runId = `${name}-run1`;
      const spec = executor().jobFor(created, runId);
      await admin.create(JOBS, spec);
      const r = await runJob(spec, allowKubeconfigPath);
      const job = await admin.get<Job>(JOBS, runId, allowNs);
      return { code: r.code, stderr: r.stderr, report: JSON.parse(job?.metadata.annotations?.[RUN_REPORT_ANNOTATION] ?? '{}') as JobReport };
    }

    before(async () => {
      await admin.create(SECRETS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'feodo-creds', namespace: allowNs, labels: { [FEED_CREDENTIALS_LABEL]: 'true' } }, data: { token: Buffer.from(bearer).toString('base64') } });
      await admin.create(CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'partner-allow', namespace: allowNs }, data: { 'partners.txt': '# partner VPN endpoint, listed twice by the fixture\n51.178.161.32\n\n' } });
      await admin.create(CONFIGMAPS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'threatmesh-allowlist', namespace: allowNs }, data: { default: '185.117.73.147  # the namespace default\n' } });
    });

    test('a Feed naming a ConfigMap (and the namespace default) drops what they list, counted per ConfigMap, and proposes the rest', async () => {
      const { code, stderr, report } = await runFeed('feodo-allow', [{ configMapRef: { name: 'partner-allow' } }]);
      assert.equal(code, 0, stderr);
      assert.deepEqual([report.outcome, report.fetched, report.new, report.duplicate, report.droppedByWarningList], ['succeeded', 5, 1, 0, 4]);
      assert.deepEqual(report.warningLists, { 'allowlist:partner-allow': 2, 'allowlist:threatmesh-allowlist': 1, 'public-resolver': 1 });
      const items = (await admin.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: allowNs })).items;
      assert.deepEqual(items.map((i) => i.spec.value), ['162.243.103.246']);
    });

    test('a Feed naming a missing ConfigMap fails with an error naming it and proposes nothing', async () => {
      const existing = (await admin.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: allowNs })).items.length;
      const { code, stderr, report } = await runFeed('feodo-missing', [{ configMapRef: { name: 'partner-allow' } }, { configMapRef: { name: 'no-such-allowlist' } }]);
      const want = `allowlist ConfigMap ${allowNs}/no-such-allowlist named in spec.allowlists does not exist`;
      assert.equal(code, 1);
      assert.ok(stderr.includes(want), stderr);
      assert.equal(report.outcome, 'failed');
      assert.deepEqual(report.error?.code, 'bad-config');
      assert.ok(report.error?.message.includes(want), report.error?.message);
      assert.equal((await admin.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: allowNs })).items.length, existing);
    });

    test('a Feed naming a missing key fails with an error naming ConfigMap and key', async () => {
      const { code, report } = await runFeed('feodo-nokey', [{ configMapRef: { name: 'partner-allow', key: 'absent.txt' } }]);
      assert.equal(code, 1);
      assert.match(report.error?.message ?? '', new RegExp(`allowlist ConfigMap ${allowNs}/partner-allow has no key "absent.txt"`));
    });
  });

  const refused: Array<[string, () => Promise<unknown>]> = [
    ['delete a ThreatIndicator', () => asIngest.delete(THREAT_INDICATORS, 'anything', ns)],
    ['list Secrets cluster-wide', () => asIngest.list(SECRETS, {})],
    ['list Secrets in its own namespace', () => asIngest.list(SECRETS, { namespace: ns })],
    ['get a Secret in another namespace', () => asIngest.get(SECRETS, 'feodo-creds', otherNs)],
    ['get a Secret of its own namespace that the credentials Role does not list', () => asIngest.get(SECRETS, 'db-password', ns)],
    ['write Feed status', () => asIngest.patchStatus(FEEDS, 'feodo', ns, { status: { lastRun: { outcome: 'Succeeded' } } })],
    ['create a Job', () => asIngest.create(JOBS, { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'escape', namespace: ns }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'x', image: 'x' }] } } } })],
    ['list ThreatIndicators in another namespace', () => asIngest.list(THREAT_INDICATORS, { namespace: otherNs })],
    ['list ConfigMaps in its own namespace', () => asIngest.list(CONFIGMAPS, { namespace: ns })],
    ['get a ConfigMap in another namespace', () => asIngest.get(CONFIGMAPS, 'threatmesh-allowlist', allowNs)],
  ];
  for (const [what, call] of refused) {
    test(`the ingest ServiceAccount may not ${what} (403)`, async () => {
      assert.equal(await status(call()), 403);
    });
  }
});

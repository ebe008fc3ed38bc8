/**
 * A kubeconfig whose user is an exec credential plugin, as EKS, GKE and AKS hand out: a script
 * that prints an ExecCredential carrying a ServiceAccount token (from a TokenRequest). With
 * nothing else in the kubeconfig, it drives `threatmesh up` (CRDs, samples, the operator
 * in-process with its in-process Feed runs) and `threatmesh operator` (Lease, reconciles,
 * graceful stop) against the local kube-apiserver, and the API server sees the ServiceAccount.
 * Broken plugins (failing, missing, printing garbage) end a command with a message that says
 * what to do, never a stack trace.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { eventually } from '../harness/kube.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { LEASES, NAMESPACES, type Lease } from '../../operator/src/runtime/kinds.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { PARTNER_NODES } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode } from '../../operator/src/api/types.ts';
import { LEADER_LEASE_NAME } from '../../operator/src/api/manifests.ts';
import { partner } from '../../operator/src/controllers/fixtures.ts';

const main = new URL('../../operator/src/main.ts', import.meta.url).pathname;
const SERVICE_ACCOUNTS: ResourceRef = { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true };
const CLUSTER_ROLE_BINDINGS: ResourceRef = { group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false };
const ns = `exec-${randomBytes(3).toString('hex')}`;
const sa = 'threatmesh-exec';

let cp: ControlPlane;
let admin: KubeHttpClient;
let dir = '';
let execKubeconfig = '';
const calls = (): Promise<number> => readFile(join(dir, 'calls'), 'utf8').then((t) => t.split('\n').filter(Boolean).length, () => 0);

/** A kubeconfig for the control plane's server whose user runs `command` (relative to the kubeconfig). */
async function kubeconfigWithExec(name: string, command: string): Promise<string> {
  const cfg = await loadKubeconfig(cp.kubeconfigPath);
  const path = join(dir, `${name}.kubeconfig`);
  await writeFile(path, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'cloud',
    clusters: [{ name: 'cloud', cluster: { server: cfg.server, 'certificate-authority-data': cfg.ca?.toString('base64') } }],
    users: [{ name: 'cloud-user', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command, args: ['--cluster', 'cloud'], interactiveMode: 'Never' } } }],
    contexts: [{ name: 'cloud', context: { cluster: 'cloud', user: 'cloud-user' } }],
  }));
  return path;
}

async function script(name: string, body: string): Promise<void> {
  await writeFile(join(dir, name), `#!/bin/sh\n${body}\n`);
  await chmod(join(dir, name), 0o755);
}

before(async () => {
  cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-exec-'));
  await admin.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await admin.create(SERVICE_ACCOUNTS, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa, namespace: ns } });
  // `up` installs CRDs and namespaces: it needs what a cluster admin has.
  await admin.create(CLUSTER_ROLE_BINDINGS, {
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${ns}-${sa}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
  } as never);
  const tr = await admin.json<{ status: { token: string; expirationTimestamp: string } }>({
    method: 'POST', path: `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`,
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: tr.status.token, expirationTimestamp: tr.status.expirationTimestamp } });
  await script('cloud-login.sh', `echo "$*" >> '${join(dir, 'calls')}'\nprintf '%s' '${credential}'`);
  execKubeconfig = await kubeconfigWithExec('exec', './cloud-login.sh');
});

after(async () => {
  await admin?.delete(CLUSTER_ROLE_BINDINGS, `${ns}-${sa}`).catch(() => undefined);
  admin?.close();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Exit { code: number | null; stdout: string; stderr: string }

function run(args: readonly string[], opts: { timeoutMs?: number; until?: (stderr: string) => boolean } = {}): Promise<Exit> & { stop: () => void } {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
  const done = new Promise<Exit>((res) => child.once('close', (code) => {
    clearTimeout(timer);
    res({ code, stdout, stderr });
  }));
  return Object.assign(done, { stop: () => void child.kill('SIGTERM') });
}

describe('an exec credential plugin', () => {
  test('is who the API server sees', async () => {
    const client = new KubeHttpClient(await loadKubeconfig(execKubeconfig), { requestTimeoutMs: 15_000 });
    try {
      const review = await client.json<{ status: { userInfo: { username: string } } }>({ method: 'POST', path: '/apis/authentication.k8s.io/v1/selfsubjectreviews', body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
      assert.equal(review.status.userInfo.username, `system:serviceaccount:${ns}:${sa}`);
      assert.ok(await calls() >= 1, 'the plugin ran');
    } finally {
      client.close();
    }
  });

  test('drives threatmesh up --until-ready (CRDs, samples, in-process operator and Feed runs)', async () => {
    const before = await calls();
    const up = await run(['up', '--until-ready', '--json', '--kubeconfig', execKubeconfig, '--context', 'cloud', '--dir', join(dir, 'up'), '--timeout', '240']);
    assert.equal(up.code, 0, `up exited ${String(up.code)}\nstdout tail:\n${up.stdout.slice(-2000)}\nstderr tail:\n${up.stderr.slice(-2000)}`);
    const events = up.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; objects?: Array<{ kind: string; state: string }> });
    assert.ok(events.some((e) => e.event === 'ready'), 'a ready event');
    const feeds = events.filter((e) => e.event === 'objects').at(-1)?.objects?.filter((o) => o.kind === 'feed') ?? [];
    assert.ok(feeds.length >= 2 && feeds.every((f) => /Succeeded/.test(f.state)), `the in-process Feed runs used the plugin's token: ${JSON.stringify(feeds)}`);
    assert.ok(await calls() > before, 'the plugin ran for up');
  });

  test('drives threatmesh operator: it wins the Lease, reconciles and stops on SIGTERM', async () => {
    const op = run(['operator', '--kubeconfig', execKubeconfig, '--namespace', ns, '--leader-elect', '--identity', 'exec-op', '--metrics-bind', '127.0.0.1:0', '--webhook-bind', '127.0.0.1:0', '--executor', 'inprocess']);
    try {
      const lease = await eventually(() => admin.get<Lease>(LEASES, LEADER_LEASE_NAME, ns), (l) => l?.spec?.holderIdentity === 'exec-op', 60_000);
      assert.equal(lease?.spec?.holderIdentity, 'exec-op');
      const p = partner('acme', {}, ns);
      await admin.create(PARTNER_NODES, { ...p.node, metadata: { name: 'acme', namespace: ns } });
      const pn = await eventually(() => admin.get<PartnerNode>(PARTNER_NODES, 'acme', ns), (o) => o?.status?.conditions?.some((c) => c.type === 'Ready') ?? false, 60_000);
      assert.equal(pn?.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    } finally {
      op.stop();
    }
    const exit = await op;
    assert.equal(exit.code, 0, exit.stderr.slice(-2000));
    const released = await admin.get<Lease>(LEASES, LEADER_LEASE_NAME, ns);
    assert.ok(!released?.spec?.holderIdentity, 'the Lease is released');
  });

  const broken: Array<{ name: string; command: string; body?: string; says: RegExp }> = [
    { name: 'a plugin that fails', command: './expired.sh', body: 'echo "error: the SSO session has expired; run aws sso login" >&2\nexit 1', says: /exec credential plugin failed: error: the SSO session has expired; run aws sso login/ },
    { name: 'a plugin that is not installed', command: 'threatmesh-no-such-plugin', says: /exec credential plugin threatmesh-no-such-plugin was not found; install it/ },
    { name: 'a plugin that prints no JSON', command: './garbage.sh', body: 'echo "Opening browser..."', says: /did not print an ExecCredential as JSON/ },
  ];
  for (const b of broken) {
    test(`${b.name}: the command says what to do and exits 1`, async () => {
      if (b.body !== undefined) await script(b.command.slice(2), b.body);
      const kc = await kubeconfigWithExec(b.name.replace(/\W+/g, '-'), b.command);
      const exit = await run(['ingest', '--feed', `${ns}/nothing`, '--kubeconfig', kc], { timeoutMs: 60_000 });
      assert.equal(exit.code, 1, exit.stderr);
      assert.match(exit.stderr, b.says);
      assert.match(exit.stderr, /cannot authenticate to https:\/\/127\.0\.0\.1:\d+ with kubeconfig/);
      assert.doesNotMatch(exit.stderr, /\n\s+at /, 'no stack trace');
    });
  }
});

/**
 * `threatmesh sequencer` started while its database refuses connections (its link reset, as the
 * chaos run's "database link reset" fault does) waits for it: it does not exit, it logs each
 * failed attempt with the cause and what to check, and it serves once the database answers; a
 * SIGTERM while it waits ends it at once with exit code 0. Its health server answers from the
 * start: /healthz is ok while it waits, /readyz fails with the reason (database-unavailable,
 * attempt N) until it serves, /metrics counts the failed attempts. Real parts: the sequencer as a child
 * process against a real kube-apiserver and FerretDB, reached through the chaos network's TCP link.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PARTNER_NODES } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode } from '../../operator/src/api/types.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { startLink, type Link } from '../chaos/link.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { eventually } from '../harness/kube.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';
import { disposeTestBed } from '../harness/teardown.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'operator', 'src', 'main.ts');
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = uniqueSuffix();
const ns = `seqwait-${suffix}`;
const database = `tm_seqwait_${suffix}`;

let cp: ControlPlane;
let admin: KubeHttpClient;
let ca: TestCa;
let link: Link;
let dir = '';
const procs: ChildProcess[] = [];

interface Child {
  readonly lines: Array<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  readonly proc: ChildProcess;
  stderr(): string;
}

function startSequencer(): Child {
  const args = [
    MAIN, 'sequencer', '--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--listen', '127.0.0.1:0', '--partner-id', 'hub',
    '--signing-key', join(dir, 'hub.signing.pem'), '--tls-cert', join(dir, 'hub.crt'), '--tls-key', join(dir, 'hub.key'), '--tls-ca', join(dir, 'ca.pem'),
    '--mongodb-uri', `mongodb://127.0.0.1:${link.port}/`, '--database', database, '--metrics-bind', '127.0.0.1:0',
  ];
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  procs.push(proc);
  const lines: Array<Record<string, unknown>> = [];
  let raw = '';
  let buffered = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d: string) => {
    raw += d;
    buffered += d;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ msg: line });
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { lines, exited, proc, stderr: () => raw };
}

function count(s: Child, msg: string): Promise<number> {
  return Promise.resolve(s.lines.filter((l) => l['msg'] === msg).length);
}

// GET `path` on the sequencer's health server (its port from the 'serving metrics and health' line).
async function health(s: Child, path: string): Promise<{ readonly status: number; readonly body: string }> {
  const port = s.lines.find((l) => l['msg'] === 'serving metrics and health')?.['port'];
  assert.equal(typeof port, 'number', `the health server is up before the database; log:\n${s.stderr().slice(-3000)}`);
  const res = await fetch(`http://127.0.0.1:${String(port)}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

// What the health server answers while the database is waited for: alive, not ready and why, failures counted.
const WHILE_WAITING: ReadonlyArray<{ readonly path: string; readonly status: number; readonly body: RegExp }> = [
  { path: '/healthz', status: 200, body: /^ok\n$/ },
  { path: '/readyz', status: 500, body: /\[-\]database failed: database-unavailable: cannot reach MongoDB \(attempt (?:[2-9]|\d{2,}) failed\)[^\n]*--mongodb-uri/ },
  { path: '/readyz/database', status: 500, body: /database-unavailable/ },
  { path: '/readyz?verbose', status: 500, body: /\[-\]serving failed: not serving yet/ },
  { path: '/metrics', status: 200, body: /^threatmesh_sequencer_database_connect_failures_total (?:[2-9]|\d{2,})$/m },
];

async function exitWithin(s: Child, ms: number): Promise<number | null | 'running'> {
  return Promise.race([s.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), ms))]);
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await admin.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(admin, await loadYamlDir(join(ROOT, 'crds')), 'sequencer-dbwait-test');
  dir = await mkdtemp(join(tmpdir(), 'tm-seqwait-'));
  ca = await createTestCa('threatmesh-seqwait-network');
  await writeFile(join(dir, 'ca.pem'), ca.caPem);
  const hub = SigningKey.generate();
  const hubTls = await ca.issue('hub');
  await writeFile(join(dir, 'hub.crt'), hubTls.certPem);
  await writeFile(join(dir, 'hub.key'), hubTls.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'hub.signing.pem'), hub.toPem(), { mode: 0o600 });
  const node: PartnerNode = { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name: 'hub', namespace: ns }, spec: { partnerId: 'hub', organization: 'hub org', endpoint: 'hub.partners.example:8444', publicKey: hub.publicKey.toRawBase64(), roles: ['sequencer'] } };
  await admin.create(PARTNER_NODES, node);
  const voter: PartnerNode = { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name: 'alpha', namespace: ns }, spec: { partnerId: 'alpha', organization: 'alpha org', endpoint: 'alpha.partners.example:8444', publicKey: SigningKey.generate().publicKey.toRawBase64(), roles: ['contributor', 'voter'] } };
  await admin.create(PARTNER_NODES, voter);
  link = await startLink('sequencer→ferretdb', () => [Number(new URL(cp.mongoUri).port)]);
});

after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await link?.close();
  await disposeTestBed({ cp, admin, namespace: ns, ca, dir, databases: [database] });
});

describe('threatmesh sequencer with its database refusing connections', () => {
  test('waits with backoff instead of exiting, says why, and serves once the database answers', async () => {
    link.set('reset');
    const seq = startSequencer();
    const failures = await eventually(() => count(seq, 'cannot reach MongoDB; retrying with backoff'), (n) => n >= 2 || seq.proc.exitCode !== null, 90_000);
    assert.ok(failures >= 2, `two failed attempts logged; log:\n${seq.stderr().slice(-3000)}`);
    const line = seq.lines.find((l) => l['msg'] === 'cannot reach MongoDB; retrying with backoff')!;
    assert.equal(line['cause'], 'database-unavailable');
    assert.match(String(line['fix']), /check that MongoDB runs and that --mongodb-uri reaches it/);
    assert.equal(typeof line['retryInMs'], 'number');
    assert.equal(seq.proc.exitCode, null, 'still running');
    for (const row of WHILE_WAITING) {
      const got = await health(seq, row.path);
      assert.equal(got.status, row.status, `${row.path} while the database is down: ${got.body}`);
      assert.match(got.body, row.body, `${row.path} while the database is down`);
    }
    link.set('up');
    assert.ok(await eventually(() => count(seq, 'sequencer serving'), (n) => n > 0 || seq.proc.exitCode !== null, 90_000) > 0, `serving once the database answers; log:\n${seq.stderr().slice(-3000)}`);
    const ready = await health(seq, '/readyz?verbose');
    assert.equal(ready.status, 200, `ready once serving: ${ready.body}`);
    assert.match(ready.body, /\[\+\]database ok\n\[\+\]serving ok\nok\n/);
    seq.proc.kill('SIGTERM');
    assert.equal(await exitWithin(seq, 20_000), 0);
  });

  test('a SIGTERM while it waits ends it at once, exit code 0', async () => {
    link.set('reset');
    const seq = startSequencer();
    assert.ok(await eventually(() => count(seq, 'cannot reach MongoDB; retrying with backoff'), (n) => n >= 1 || seq.proc.exitCode !== null, 60_000) >= 1, seq.stderr().slice(-3000));
    const t0 = Date.now();
    seq.proc.kill('SIGTERM');
    assert.equal(await exitWithin(seq, 10_000), 0, seq.stderr().slice(-3000));
    assert.ok(Date.now() - t0 < 10_000);
    link.set('up');
  });
});

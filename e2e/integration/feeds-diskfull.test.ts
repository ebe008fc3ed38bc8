/**
 * `threatmesh ingest --feed` when the proposal spool cannot be written or the run fails with
 * spool writes pending, on a real kube-apiserver: a real full disk (a small tmpfs, mounted in a
 * private mount namespace as the run's TMPDIR), the file size limit (`ulimit -f`, EFBIG), and
 * a feed cut off mid-download. Each must exit non-zero with an error that names the spool and
 * says what to do, leave no spool behind, and propose nothing: a partial proposal set would make
 * de-duplication and expiry wrong. A run with room proposes everything (the control row).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { uniqueSuffix } from '../harness/env.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { runOnSmallDisk } from '../harness/smalldisk.ts';
import type { Feed, ThreatIndicator } from '../../operator/src/api/types.ts';
import { FEEDS, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../operator/src/main.ts', import.meta.url));
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const ns = `diskfull-${uniqueSuffix()}`;
// 1,500 new indicators spool about 290 KB; the small disk holds 64 KiB, the roomy one 8 MiB.
const LINES = 1500;
const SMALL = 64 << 10;
const ROOMY = 8 << 20;

let cp: ControlPlane;
let kube: KubeHttpClient;
let server: Server;
let base = '';
let scratch = '';

/** LINES public addresses, a different set for each `set` (each Feed proposes its own). */
function listBody(set: number): string {
  return Array.from({ length: LINES }, (_, i) => `${11 + set}.${(i >> 8) & 255}.${i & 255}.${1 + (i % 200)}\n`).join('');
}

function feed(name: string, path: string): Feed {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name, namespace: ns }, spec: { url: `${base}${path}`, format: 'lines', schedule: { interval: '1h' }, defaults: { confidence: 80, tlp: 'green' } } };
}

function ingestArgv(name: string): string[] {
  return [process.execPath, MAIN, 'ingest', '--feed', `${ns}/${name}`, '--allow-internal-feeds', '127.0.0.1/32'];
}

function env(): NodeJS.ProcessEnv {
  return { ...process.env, KUBECONFIG: cp.kubeconfigPath, LOG_LEVEL: 'warn' };
}

async function proposed(name: string): Promise<number> {
  return (await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns, labelSelector: `threatmesh.io/feed=${name}` })).items.length;
}

async function mountPoint(name: string): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir);
  return dir;
}

before(async () => {
  server = createServer((req, res) => {
    const m = /^\/(list|cut)(\d)\.txt$/.exec(req.url ?? '');
    const body = listBody(Number(m?.[2] ?? 0));
    if (m?.[1] === 'cut') {
      // Promises twice the bytes, sends the list, then drops the connection: a truncated download after every line was spooled.
      res.writeHead(200, { 'content-length': String(body.length * 2) });
      res.write(body, () => setTimeout(() => res.destroy(), 50));
      return;
    }
    res.writeHead(200);
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  scratch = await mkdtemp(join(tmpdir(), 'threatmesh-diskfull-'));
  cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await applyManifests(kube, await loadYamlDir('crds'), 'diskfull-test');
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});

after(async () => {
  server?.close();
  if (kube) {
    await kube.delete(namespaces, ns).catch(() => undefined);
    kube.close();
  }
  await cp?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Asserts a failed run: exit 1, `says` in stderr and in the Feed's status, nothing proposed. */
async function assertFailed(name: string, run: { code: number; stderr: string }, says: readonly RegExp[]): Promise<void> {
  assert.equal(run.code, 1, `exit code 1 (a failed run, not a crash); stderr: ${run.stderr}`);
  assert.doesNotMatch(run.stderr, /ERR_STREAM_DESTROYED|Unhandled|node:internal|^\s+at /m, 'no crash or stack trace');
  for (const re of says) assert.match(run.stderr, re);
  const status = (await kube.get<Feed>(FEEDS, name, ns))?.status?.lastRun;
  assert.equal(status?.outcome, 'Failed');
  for (const re of says) assert.match(status?.message ?? '', re, 'the Feed status says it too');
  assert.equal(await proposed(name), 0, 'no partial proposal set');
}

describe('threatmesh ingest --feed: the spool cannot be written, or the run fails with writes pending', () => {
  test('control: with room, every indicator is proposed and the spool is removed', async () => {
    await kube.create(FEEDS, feed('roomy', '/list0.txt'));
    const r = await runOnSmallDisk(ROOMY, await mountPoint('roomy'), ingestArgv('roomy'), { env: env(), cwd: ROOT });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await proposed('roomy'), LINES);
    assert.deepEqual(r.left, [], 'the spool is removed after the commit');
  });

  test('a full disk (64 KiB tmpfs, ENOSPC): exit 1, the error names the spool and says to make room, nothing proposed', async () => {
    await kube.create(FEEDS, feed('full', '/list1.txt'));
    const mount = await mountPoint('full');
    const r = await runOnSmallDisk(SMALL, mount, ingestArgv('full'), { env: env(), cwd: ROOT });
    await assertFailed('full', r, [
      new RegExp(`cannot write the proposal spool ${mount}/threatmesh-proposals-\\w+/spool\\.ndjson: the disk is full \\(ENOSPC\\)`),
      new RegExp(`nothing was proposed: make room on the file system of ${mount}, or point TMPDIR at a directory with room`),
    ]);
    assert.deepEqual(r.left, [], 'the spool is removed');
  });

  test('the file size limit (ulimit -f 64, EFBIG; Node ignores SIGXFSZ): exit 1, a clear error, nothing proposed', async () => {
    await kube.create(FEEDS, feed('fsize', '/list2.txt'));
    const dir = await mountPoint('fsize');
    const argv = ingestArgv('fsize');
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('sh', ['-c', 'ulimit -f 64 && exec "$0" "$@"', ...argv], { cwd: ROOT, encoding: 'utf8', env: { ...env(), TMPDIR: dir } }, (err, _out, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr });
      });
    });
    await assertFailed('fsize', r, [new RegExp(`cannot write the proposal spool ${dir}/threatmesh-proposals-\\w+/spool\\.ndjson: the file size limit is reached .*\\(EFBIG\\)`), /make room/]);
    assert.deepEqual(await readdir(dir), [], 'the spool is removed');
  });

  test('a feed cut off after every line was spooled (abort with spool writes pending): exit 1, the fault named, spool removed, nothing proposed', async () => {
    await kube.create(FEEDS, feed('cut', '/cut3.txt'));
    const r = await runOnSmallDisk(ROOMY, await mountPoint('cut'), ingestArgv('cut'), { env: env(), cwd: ROOT });
    await assertFailed('cut', r, [/the connection broke during the download/]);
    assert.deepEqual(r.left, [], 'the spool is removed');
  });
});

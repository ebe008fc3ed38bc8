/**
 * `threatmesh controlplane up --instances 2` starts two independent clusters with databases,
 * prints where they are, and `controlplane down` stops every process it started.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { readState } from '../../operator/src/dev/controlplane/state.ts';
import { TestKube } from '../harness/kube.ts';
import { controlPlaneOptionsFromEnv } from '../harness/env.ts';

const main = join(import.meta.dirname, '..', '..', 'operator', 'src', 'main.ts');
const dir = await mkdtemp(join(tmpdir(), 'threatmesh-cli-'));
// Without MONGODB_URI, so `up` starts its own databases even when the suite targets another one.
const { MONGODB_URI: _ignored, ...inherited } = process.env;
const env = { ...inherited, THREATMESH_CACHE: controlPlaneOptionsFromEnv().cacheDir };

after(async () => {
  await promisify(execFile)(process.execPath, [main, 'controlplane', 'down', '--dir', dir], { env }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

interface Summary { instances: { name: string; kubeconfig: string; server: string; mongoUri: string }[] }

test('up --instances 2 gives two separate clusters and databases; down stops them all', async () => {
  const up = spawn(process.execPath, [main, 'controlplane', 'up', '--instances', '2', '--dir', dir, '--no-controllers'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => up.once('exit', resolve));
  let summary: Summary | undefined;
  for await (const line of createInterface({ input: up.stdout })) {
    if (line.startsWith('{')) {
      summary = JSON.parse(line) as Summary;
      break;
    }
  }
  assert.ok(summary, 'up printed no JSON summary line');
  assert.equal(summary.instances.length, 2);
  const uids: string[] = [];
  for (const inst of summary.instances) {
    const cfg = await loadKubeconfig(inst.kubeconfig);
    assert.equal(cfg.server, inst.server);
    const kube = new TestKube({ server: cfg.server, ca: cfg.ca, cert: cfg.cert, key: cfg.key });
    const ns = await kube.get('/api/v1/namespaces/kube-system');
    assert.equal(ns.status, 200);
    uids.push(String((ns.body['metadata'] as Record<string, unknown>)['uid']));
    const client = await MongoClient.connect(inst.mongoUri, { serverSelectionTimeoutMS: 5000 });
    try {
      assert.equal((await client.db('admin').command({ ping: 1 }))['ok'], 1);
    } finally {
      await client.close();
    }
  }
  assert.notEqual(uids[0], uids[1], 'both kubeconfigs reach the same cluster');
  assert.notEqual(summary.instances[0]?.mongoUri, summary.instances[1]?.mongoUri);

  const state = await readState(dir);
  assert.ok(state);
  const { stdout } = await promisify(execFile)(process.execPath, [main, 'controlplane', 'down', '--dir', dir], { env });
  assert.match(stdout, /stopped \d+ process/);
  assert.equal(await exited, 0, 'up did not exit cleanly after down');
  for (const pid of state.instances.flatMap((i) => i.pids)) {
    assert.throws(() => process.kill(pid, 0), /ESRCH/, `pid ${pid} still runs after down`);
  }
  assert.equal(await readState(dir), undefined);
});

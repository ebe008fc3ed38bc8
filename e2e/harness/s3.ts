/**
 * A real S3-compatible object store for tests: the Versity S3 Gateway (built once by
 * e2e/s3/build.sh into the cache) serving a temporary directory on a loopback port, with one
 * root access key. `put` uploads objects through the S3 API (signed PUT), as a log shipper would.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signV4, type S3Config } from '../../operator/src/match/s3.ts';
import { freePort } from '../../operator/src/dev/controlplane/probe.ts';

/** A running store. */
export interface S3Server {
  readonly config: S3Config;
  /** Creates a bucket. */
  createBucket(bucket: string): Promise<void>;
  /** Uploads an object. */
  put(bucket: string, key: string, body: Buffer): Promise<void>;
  stop(): Promise<void>;
}

const BUILD = fileURLToPath(new URL('../s3/build.sh', import.meta.url));

async function send(cfg: S3Config, method: string, path: string, body?: Buffer): Promise<number> {
  const url = new URL(`${cfg.endpoint}${path}`);
  const hash = createHash('sha256').update(body ?? Buffer.alloc(0)).digest('hex');
  const headers = signV4(cfg, { method, url, headers: body ? { 'content-length': String(body.length) } : {}, payloadHash: hash }, new Date());
  const res = await fetch(url, { method, headers, ...(body ? { body } : {}) });
  await res.arrayBuffer();
  return res.status;
}

/** Builds (or finds in the cache) versitygw and starts it; call `stop()` in `after`. */
export async function startS3(cacheDir: string): Promise<S3Server> {
  const built = spawnSync('bash', [BUILD, '--cache', cacheDir, 'build'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const bin = built.stdout.trim().split('\n').pop() ?? '';
  if (built.status !== 0 || bin === '') throw new Error(`e2e/s3/build.sh failed (exit ${String(built.status)}); see its output above`);
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-s3-'));
  const port = await freePort();
  const config: S3Config = { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId: `AK${randomBytes(8).toString('hex')}`, secretAccessKey: randomBytes(20).toString('hex') };
  const child: ChildProcess = spawn(bin, ['--port', `127.0.0.1:${port}`, '--access', config.accessKeyId, '--secret', config.secretAccessKey, '--quiet', 'posix', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await send(config, 'GET', '/')) === 200) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`versitygw did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    config,
    createBucket: async (bucket) => {
      const status = await send(config, 'PUT', `/${bucket}`);
      if (status !== 200) throw new Error(`create bucket ${bucket}: HTTP ${status}`);
    },
    put: async (bucket, key, body) => {
      const status = await send(config, 'PUT', `/${bucket}/${key}`, body);
      if (status !== 200) throw new Error(`put ${bucket}/${key}: HTTP ${status}`);
    },
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => { if (child.exitCode !== null) r(undefined); else child.once('exit', r); });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

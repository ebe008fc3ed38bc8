/**
 * The OCI image built without a container engine runs: its layer is extracted from the OCI
 * layout into a root filesystem and its entrypoint runs there under chroot as the image's user
 * (`threatmesh --help`, an ingest dry run, and the `threatmesh` command ingest Jobs use).
 * Needs root (chroot); CI runs as root.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildImage, type ImageBuild } from '../image/build.ts';

const run = promisify(execFile);

interface ImageConfig { config: { User: string; Entrypoint: string[]; Env: string[] } }

describe('OCI image', { timeout: 900_000 }, () => {
  let img: ImageBuild;
  let rootfs: string;
  let config: ImageConfig;
  const exec = (args: readonly string[]): Promise<{ stdout: string; stderr: string }> =>
    run('chroot', ['--userspec', config.config.User, rootfs, 'env', '-i', ...config.config.Env, ...args], { maxBuffer: 16 << 20, timeout: 120_000 });

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tm-image-test-'));
    img = await buildImage(join(dir, 'out'));
    const blob = (d: string): string => join(img.layout, 'blobs/sha256', d.replace('sha256:', ''));
    const index = JSON.parse(await readFile(join(img.layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(await readFile(blob(index.manifests[0]?.digest ?? ''), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
    config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as ImageConfig;
    rootfs = join(dir, 'rootfs');
    await mkdir(rootfs);
    for (const l of manifest.layers) await run('tar', ['-xzf', blob(l.digest), '-C', rootfs]);
  });

  it('is small and runs as the non-root user', () => {
    assert.equal(config.config.User, '65532:65532');
    assert.ok(img.layerBytes < 80 * 1024 * 1024, `compressed layer ${img.layerBytes} bytes`);
  });

  it('runs threatmesh --help through its entrypoint', async () => {
    const { stdout } = await exec([...config.config.Entrypoint, '--help']);
    for (const cmd of ['operator', 'sequencer', 'ingest', 'gitops']) assert.match(stdout, new RegExp(`\\b${cmd}\\b`));
  });

  it('runs an ingest dry run, and `threatmesh` on PATH (the ingest Jobs\' command) works', async () => {
    await writeFile(join(rootfs, 'tmp/feed.txt'), 'evil-c2.top\n185.220.101.47\nhxxp://bad-site[.]ru/x\n');
    const { stdout } = await exec(['threatmesh', 'ingest', '--source', '/tmp/feed.txt', '--format', 'lines', '--dry-run']);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; value: string });
    assert.deepEqual(lines.map((l) => l.value).sort(), ['185.220.101.47', 'evil-c2.top', 'http://bad-site.ru/x']);
  });

  it('renders a GitOps repository from inside the image', async () => {
    const { stdout } = await exec([...config.config.Entrypoint, 'gitops', 'render', '--partner', 'p1', '--out', '/tmp/repo', '--no-git', '--json']);
    assert.equal((JSON.parse(stdout) as { partnerId: string }).partnerId, 'p1');
  });
});

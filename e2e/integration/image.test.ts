/**
 * The OCI image built without a container engine runs: its layer is extracted from the OCI
 * layout into a root filesystem and its entrypoint runs there under chroot as the image's user
 * (`threatmesh --help`, an ingest dry run, and the `threatmesh` command ingest Jobs use).
 * Needs root (chroot); CI runs as root.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { MINIFY, PRUNE, buildImage, type ImageBuild } from '../image/build.ts';

const run = promisify(execFile);

interface ImageConfig { config: { User: string; Entrypoint: string[]; Env: string[] } }

it('the Dockerfile prunes production dependencies and strips Node as the image builder does', async () => {
  const dockerfile = await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8');
  const quote = (a: string): string => (/^[A-Za-z0-9_./+-]+$/.test(a) ? a : `'${a}'`);
  assert.ok(dockerfile.includes(`RUN find node_modules ${PRUNE.map(quote).join(' ')}\n`), 'the Dockerfile\'s find line differs from PRUNE in e2e/image/build.ts');
  assert.match(dockerfile, /strip --strip-all \/usr\/local\/bin\/node/);
  const esbuild = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['esbuild'];
  assert.ok(dockerfile.includes(`RUN npx --yes esbuild@${esbuild} ${MINIFY.map(quote).join(' ')}\n`), 'the Dockerfile\'s esbuild line differs from MINIFY (or the pinned esbuild) in e2e/image/build.ts');
});

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

  it('is small (below 150 MB unpacked, the issue\'s aim) and runs as the non-root user', () => {
    assert.equal(config.config.User, '65532:65532');
    assert.ok(img.layerBytes < 60 * 1024 * 1024, `compressed layer ${img.layerBytes} bytes`);
    assert.ok(img.uncompressedBytes < 150 * 1024 * 1024, `uncompressed layer ${img.uncompressedBytes} bytes`);
  });

  it('holds no shell: the entrypoint is node, and only /usr/bin/env (the command\'s shebang) is there besides it', async () => {
    for (const sh of ['bin/sh', 'bin/bash', 'bin/dash', 'usr/bin/sh', 'usr/bin/bash', 'usr/bin/dash', 'bin/busybox', 'usr/bin/busybox']) {
      await assert.rejects(access(join(rootfs, sh)), /ENOENT/, `${sh} is in the image`);
    }
    await assert.rejects(exec(['/bin/sh', '-c', 'true']), /No such file or directory/);
    assert.deepEqual((await readdir(join(rootfs, 'usr/bin'))).sort(), ['env']);
  });

  it('loads every production dependency after pruning (no TypeScript, maps or docs left that a module needs)', async () => {
    const pkg = JSON.parse(await readFile(join(rootfs, 'app/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const deps = Object.keys(pkg.dependencies).filter((d) => !d.startsWith('@types/'));
    // A module file under /app resolves the dependencies as the app does (ESM conditions).
    await writeFile(join(rootfs, 'app/imports-check.mjs'), `for (const d of ${JSON.stringify(deps)}) { const m = await import(d); if (Object.keys(m).length === 0) throw new Error(d + ' exports nothing'); }\nconsole.log('loaded ${deps.length}');\n`);
    const { stdout } = await exec([config.config.Entrypoint[0] ?? '/usr/local/bin/node', '/app/imports-check.mjs']);
    assert.equal(stdout.trim(), `loaded ${deps.length}`);
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

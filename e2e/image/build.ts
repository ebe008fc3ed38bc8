/**
 * Builds the ThreatMesh OCI image without a container engine: one layer holding the pinned
 * Node.js binary (symbols stripped) and the shared libraries it links (found with ldd),
 * /usr/bin/env (for the `threatmesh` command's shebang), the app (bin/, operator/src, cdk8s/,
 * the chart's files) with its production dependencies pruned of what never runs (TypeScript
 * sources and declarations, source maps, docs, tests, jsii assemblies: {@link PRUNE}), and
 * /etc/passwd with the non-root user 65532. Writes an OCI image layout (OUT/layout) and the same
 * as an OCI archive (OUT/threatmesh-oci.tar, which `docker load`, `podman load`, `skopeo copy
 * oci-archive:` and `crane push` read). The layer tar is reproducible (sorted, owner 0, mtime 0).
 * The Dockerfile builds the equivalent image in users' CI (same strip, same prune list).
 *
 * usage: node e2e/image/build.ts [--out DIR] [--tag TAG]   (prints a JSON summary)
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NONROOT = 65532;

/** What a build produced. */
export interface ImageBuild {
  readonly layout: string;
  readonly archive: string;
  readonly manifestDigest: string;
  readonly layerBytes: number;
  readonly uncompressedBytes: number;
  readonly seconds: number;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary]);
  return [...stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1] ?? '').filter((p) => p !== '');
}

/** Copies `file` and, when it is a symlink, its target too, to the same path under `root`. */
async function copyWithLinks(root: string, file: string): Promise<void> {
  await mkdir(join(root, dirname(file)), { recursive: true });
  const link = await readlink(file).catch(() => undefined);
  if (link === undefined) {
    await copyFile(file, join(root, file));
    return;
  }
  const target = link.startsWith('/') ? link : join(dirname(file), link);
  await rm(join(root, file), { force: true });
  await symlink(link, join(root, file));
  await copyWithLinks(root, target);
}

async function stageApp(root: string): Promise<void> {
  const app = join(root, 'app');
  await mkdir(app, { recursive: true });
  const skip = (src: string): boolean => !/\.test\.ts$|\/testdata\/|\/imports\/.*\.d\.ts$/.test(src);
  for (const dir of ['bin', 'operator/src', 'cdk8s', 'charts/threatmesh/files']) await cp(join(ROOT, dir), join(app, dir), { recursive: true, filter: skip });
  for (const f of ['package.json', 'package-lock.json']) await copyFile(join(ROOT, f), join(app, f));
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, maxBuffer: 16 << 20 });
  await run('find', ['node_modules', ...PRUNE], { cwd: app, maxBuffer: 16 << 20 });
  await run(join(ROOT, 'node_modules/.bin/esbuild'), MINIFY, { cwd: app, maxBuffer: 16 << 20 });
}

/**
 * esbuild arguments that strip comments and whitespace from @kubernetes/client-node's JavaScript
 * in place (no bundling, names and modules unchanged): its generated API clients are 27 MB of
 * JSDoc-heavy code that the runtime loads only for KubeConfig, 4 MB minified. The Dockerfile
 * runs the same command.
 */
export const MINIFY: readonly string[] = [
  'node_modules/@kubernetes/client-node/dist/**/*.js', '--outdir=node_modules/@kubernetes/client-node/dist', '--outbase=node_modules/@kubernetes/client-node/dist',
  '--allow-overwrite', '--minify-whitespace', '--legal-comments=none', '--format=esm', '--log-level=warning',
];

/**
 * `find node_modules` arguments that delete what Node never loads from production dependencies:
 * TypeScript files (Node does not strip types under node_modules, so `.ts` there is only
 * declarations or sources kept for source maps), source maps, Markdown other than licences,
 * test and example directories, and jsii assemblies (read by jsii's other-language runtimes,
 * not by JavaScript). About 36 MB of 55 MB. The Dockerfile runs the same command.
 */
export const PRUNE: readonly string[] = [
  '(', '-type', 'd', '(', '-name', 'test', '-o', '-name', 'tests', '-o', '-name', '__tests__', '-o', '-name', 'example', '-o', '-name', 'examples', '-o', '-name', 'docs', ')', '-prune', '-exec', 'rm', '-rf', '{}', '+', ')',
  '-o', '(', '-type', 'f', '(', '-name', '*.ts', '-o', '-name', '*.mts', '-o', '-name', '*.cts', '-o', '-name', '*.map', '-o', '-name', '.jsii', '-o', '-name', '.jsii.gz', '-o', '(', '-name', '*.md', '!', '-iname', 'license*', ')', ')', '-exec', 'rm', '-f', '{}', '+', ')',
];

async function stageSystem(root: string): Promise<void> {
  const node = process.execPath;
  await mkdir(join(root, 'usr/local/bin'), { recursive: true });
  await copyFile(node, join(root, 'usr/local/bin/node'));
  // The release binary carries 18 MB of symbols and debug info: 127 MB -> 108 MB.
  await run('strip', ['--strip-all', join(root, 'usr/local/bin/node')]).catch((err: unknown) => {
    throw new Error(`strip the Node binary: ${err instanceof Error ? err.message : String(err)} (install binutils: apt-get install binutils)`);
  });
  for (const lib of new Set([...await sharedLibraries(node), ...await sharedLibraries('/usr/bin/env')])) await copyWithLinks(root, lib);
  await copyWithLinks(root, '/usr/bin/env');
  await symlink('/app/bin/threatmesh.mjs', join(root, 'usr/local/bin/threatmesh'));
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n`);
  await writeFile(join(root, 'etc/group'), `root:x:0:\nnonroot:x:${NONROOT}:\n`);
  await mkdir(join(root, 'tmp'), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  await mkdir(join(root, 'home/nonroot'), { recursive: true });
}

async function writeBlob(layout: string, data: Buffer | string): Promise<{ digest: string; size: number }> {
  const hex = sha256(data);
  await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
  await writeFile(join(layout, 'blobs/sha256', hex), data);
  return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
}

async function writeLayout(layout: string, layerTar: Buffer, tag: string): Promise<string> {
  // zlib writes no file name and mtime 0 in the gzip header: the same tar gives the same digest.
  const layerGz = gzipSync(layerTar, { level: 6 });
  const layer = await writeBlob(layout, layerGz);
  const config = await writeBlob(layout, JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '1970-01-01T00:00:00Z',
    config: { User: `${NONROOT}:${NONROOT}`, Entrypoint: ['/usr/local/bin/node', '/app/bin/threatmesh.mjs'], Cmd: ['--help'], WorkingDir: '/app', Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production', 'HOME=/home/nonroot'], Labels: { 'org.opencontainers.image.title': 'threatmesh', 'org.opencontainers.image.version': tag } },
    rootfs: { type: 'layers', diff_ids: [`sha256:${sha256(layerTar)}`] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'e2e/image/build.ts' }],
  }));
  const manifest = await writeBlob(layout, JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  }));
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag, 'io.containerd.image.name': `ghcr.io/threatmesh/threatmesh:${tag}` } }],
  }));
  return manifest.digest;
}

/** Builds the image into `out` (replaced); `tag` names it in the layout's index. */
export async function buildImage(out: string, tag = '0.1.0'): Promise<ImageBuild> {
  const start = Date.now();
  const work = await mkdtemp(join(tmpdir(), 'tm-image-'));
  try {
    const root = join(work, 'rootfs');
    await stageSystem(root);
    await stageApp(root);
    const tarFile = join(work, 'layer.tar');
    await run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '-C', root, '-cf', tarFile, '.'], { maxBuffer: 16 << 20 });
    const layerTar = await readFile(tarFile);
    await rm(out, { recursive: true, force: true });
    const layout = join(out, 'layout');
    const manifestDigest = await writeLayout(layout, layerTar, tag);
    const archive = join(out, 'threatmesh-oci.tar');
    await run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', layout, '-cf', archive, '.']);
    const manifest = JSON.parse(await readFile(join(layout, 'blobs/sha256', manifestDigest.slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    const layerBytes = (await stat(join(layout, 'blobs/sha256', (manifest.layers[0]?.digest ?? '').slice(7)))).size;
    return { layout, archive, manifestDigest, layerBytes, uncompressedBytes: layerTar.length, seconds: Math.round((Date.now() - start) / 100) / 10 };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const result = await buildImage(arg('--out') ?? join(ROOT, '.cache/image'), arg('--tag') ?? '0.1.0');
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/**
 * One party's cluster in the chaos network: a kube-apiserver (with its embedded etcd) and a
 * FerretDB, each a {@link Part} on a fixed loopback port (so a restart comes back where clients
 * expect it), data kept across restarts. A partner's database lives on its own small tmpfs when
 * this machine lets us mount one, so its disk can be filled up and freed again.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Binaries } from '../../operator/src/dev/controlplane/instance.ts';
import { renderKubeconfig, type AdminCredentials } from '../../operator/src/dev/controlplane/kubeconfig.ts';
import { apiserverReady, mongoReady } from '../../operator/src/dev/controlplane/probe.ts';
import type { StartBound } from '../../operator/src/dev/controlplane/process.ts';
import { stablePort } from './ports.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { Part, type UnaskedExit } from './parts.ts';

const run = promisify(execFile);

/** A database disk that can be filled and freed (a tmpfs of fixed size). */
export interface Disk {
  readonly path: string;
  readonly bytes: number;
  /** Takes every free byte (a filler file); writes then fail with ENOSPC. */
  fill(): Promise<void>;
  /** Deletes the filler. */
  free(): Promise<void>;
  /** Bytes used by the database (filler excluded). */
  used(): Promise<number>;
  unmount(): Promise<void>;
}

/** A started cluster. */
export interface Cluster {
  readonly name: string;
  readonly apiserver: Part;
  readonly ferretdb: Part;
  readonly creds: AdminCredentials;
  /** mongodb://127.0.0.1:PORT/ straight to FerretDB (the harness's own checks). */
  readonly mongoUri: string;
  readonly mongoPort: number;
  readonly apiPort: number;
  /** Straight to the apiserver (the harness's own reads and writes). */
  readonly client: KubeHttpClient;
  /** The database disk, when a tmpfs could be mounted. */
  readonly disk: Disk | undefined;
  /** Writes a kubeconfig that reaches this apiserver through `port` (a link) and returns its path. */
  kubeconfigVia(port: number, file: string): Promise<string>;
  stop(): Promise<void>;
}

/** How to build one cluster. */
export interface ClusterOptions {
  readonly name: string;
  readonly dir: string;
  readonly binaries: Binaries;
  /** Size of the database's tmpfs; undefined keeps it on the ordinary disk. */
  readonly diskBytes?: number;
  readonly onExit: (e: UnaskedExit) => void;
  /** How long the apiserver's and FerretDB's starts may take (controlplane/process.ts). */
  readonly start: StartBound;
}

async function mountDisk(path: string, bytes: number): Promise<Disk | undefined> {
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', path]);
  } catch {
    return undefined;
  }
  const fillers = (): Promise<string[]> => readdir(path).then((names) => names.filter((n) => n.startsWith('.chaos-filler')).map((n) => join(path, n)));
  return {
    path, bytes,
    fill: async () => {
      // The database keeps writing while we allocate: take what is free, a few times, in new files.
      for (let i = 0; i < 8; i++) {
        const s = await statfs(path);
        const free = s.bavail * s.bsize;
        if (free <= 0) return;
        await run('fallocate', ['-l', String(free), join(path, `.chaos-filler-${Date.now()}-${i}`)]).catch(() => undefined);
      }
    },
    free: async () => {
      for (const f of await fillers()) await rm(f, { force: true });
    },
    used: async () => {
      const s = await statfs(path);
      let filled = 0;
      for (const f of await fillers()) filled += (await stat(f).catch(() => ({ size: 0 }))).size;
      return (s.blocks - s.bfree) * s.bsize - filled;
    },
    unmount: async () => {
      await run('umount', ['-l', path]).catch(() => undefined);
    },
  };
}

/** Creates (or reuses) the cluster's certificates and starts its apiserver and database. */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  await mkdir(o.dir, { recursive: true });
  await run(o.binaries.controlplane, ['pki', '--dir', o.dir]).catch((err: Error) => {
    throw new Error(`${o.name}: generating certificates with ${o.binaries.controlplane} failed: ${err.message}`, { cause: err });
  });
  const [apiPort, mongoPort] = [await stablePort(), await stablePort()];
  const pki = (f: string): Promise<string> => readFile(join(o.dir, 'pki', f), 'utf8');
  const creds: AdminCredentials = { server: `https://127.0.0.1:${apiPort}`, caPem: await pki('ca.crt'), certPem: await pki('admin.crt'), keyPem: await pki('admin.key') };
  const kubeconfigPath = join(o.dir, 'kubeconfig');
  await writeFile(kubeconfigPath, renderKubeconfig(o.name, creds), { mode: 0o600 });
  const dataDir = join(o.dir, 'mongo');
  await mkdir(dataDir, { recursive: true });
  const disk = o.diskBytes === undefined ? undefined : await mountDisk(dataDir, o.diskBytes);
  const mongoUri = `mongodb://127.0.0.1:${mongoPort}/`;
  const apiserver = new Part({
    name: `${o.name} kube-apiserver`, kind: 'apiserver', command: o.binaries.controlplane, logPath: join(o.dir, 'apiserver.log'),
    args: ['apiserver', '--dir', o.dir, '--secure-port', String(apiPort), '--exit-on-stdin-eof'], ready: () => apiserverReady(creds),
  }, o.onExit);
  const ferretdb = new Part({
    name: `${o.name} ferretdb`, kind: 'ferretdb', command: o.binaries.ferretdb, logPath: join(o.dir, 'ferretdb.log'),
    args: ['--data-dir', dataDir, '--listen', `127.0.0.1:${mongoPort}`, '--exit-on-stdin-eof'], ready: () => mongoReady(mongoUri),
  }, o.onExit);
  await Promise.all([apiserver.start(), ferretdb.start()]);
  const ready = await Promise.allSettled([apiserver.waitReady(o.start), ferretdb.waitReady(o.start)]);
  const failed = ready.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all([apiserver.close(), ferretdb.close()]);
    await disk?.unmount();
    throw new Error(`${o.name}: ${(failed.reason as Error).message}\n(all logs in ${o.dir})`, { cause: failed.reason });
  }
  const client = new KubeHttpClient(await loadKubeconfig(kubeconfigPath), { userAgent: 'threatmesh-chaos' });
  return {
    name: o.name, apiserver, ferretdb, creds, mongoUri, mongoPort, apiPort, client, disk,
    kubeconfigVia: async (port, file) => {
      const path = join(o.dir, file);
      await writeFile(path, renderKubeconfig(o.name, { ...creds, server: `https://127.0.0.1:${port}` }), { mode: 0o600 });
      return path;
    },
    stop: async () => {
      client.close();
      await Promise.all([apiserver.close(), ferretdb.close()]);
      await disk?.free();
      await disk?.unmount();
    },
  };
}

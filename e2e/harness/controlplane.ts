/**
 * Gives an integration test file a real Kubernetes API server and a real MongoDB-wire server:
 * either ones it starts (building the binaries first when the cache lacks them) or existing ones
 * named by KUBECONFIG / MONGODB_URI, which the test passes in from process.env.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ensureBinaries } from '../../operator/src/dev/controlplane/build.ts';
import { startDatabase, startInstance, type FerretBackend } from '../../operator/src/dev/controlplane/instance.ts';
import type { StartBound } from '../../operator/src/dev/controlplane/process.ts';
import { TestKube, type KubeTarget } from './kube.ts';

/** What a test asks for. */
export interface ControlPlaneOptions {
  /** Use this cluster (a kubeconfig path, usually process.env.KUBECONFIG) instead of starting one. */
  readonly kubeconfig?: string | undefined;
  /** Use this database (usually process.env.MONGODB_URI) instead of starting FerretDB. */
  readonly mongodbUri?: string | undefined;
  /** Whether the test needs a database. @default true */
  readonly mongo?: boolean;
  /** Whether the test needs a Kubernetes API server. @default true */
  readonly kube?: boolean;
  /** Binary cache root. @default $THREATMESH_CACHE or ~/.cache/threatmesh (passed in by the test) */
  readonly cacheDir: string;
  /** Storage of a FerretDB this call starts (THREATMESH_FERRETDB_BACKEND; PostgreSQL from scripts/install-postgresql.sh). @default 'postgresql' */
  readonly ferretdbBackend?: FerretBackend | undefined;
  /** How long each server's start may take (THREATMESH_START_TIMEOUT, env.ts startBoundFromEnv). @default the defaults of StartBound */
  readonly start?: StartBound | undefined;
}

/** A cluster and database ready for a test. */
export interface ControlPlane {
  /** True when the API server was started by this call (its version and controllers are known). */
  readonly local: boolean;
  readonly kubeconfigPath: string;
  readonly server: string;
  /** The credentials; `kube` wraps them. */
  readonly target: KubeTarget;
  readonly kube: TestKube;
  /** Empty when the options asked for no database. */
  readonly mongoUri: string;
  /** The local control plane's directory (`pki/front-proxy` holds the front-proxy CA and client certificate the API server reads); undefined for an external cluster. */
  readonly dir?: string;
  /** Stops what this call started and removes its temporary directory. */
  stop(): Promise<void>;
}

/** Starts (or connects to) the control plane a test file needs; call `stop()` in `after`. */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const wantKube = opts.kube !== false;
  const external = opts.kubeconfig !== undefined && opts.kubeconfig !== '';
  const mongoUri = opts.mongo === false ? '' : opts.mongodbUri ?? '';
  const needLocalMongo = opts.mongo !== false && mongoUri === '';
  if ((!wantKube || external) && !needLocalMongo) return externalPlane(opts.kubeconfig ?? '', wantKube, mongoUri);

  const backend = opts.ferretdbBackend ?? 'postgresql';
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-cp-'));
  const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const binaries = await ensureBinaries({ cacheDir: opts.cacheDir, progress: process.stderr });
    if (!wantKube || external) {
      const db = await startDatabase({ name: 'e2e', dir, ferretdb: binaries.ferretdb, backend, start: opts.start });
      const plane = await externalPlane(opts.kubeconfig ?? '', wantKube, db.uri);
      return { ...plane, stop: async () => { await db.stop(); await cleanup(); } };
    }
    const log = createLogger(process.stderr, 'warn', { component: 'e2e-controlplane' });
    const inst = await startInstance({ name: 'e2e', dir, binaries, mongo: needLocalMongo, controllers: true, log, backend, start: opts.start });
    const target: KubeTarget = { server: inst.server, ca: inst.caPem, cert: inst.certPem, key: inst.keyPem };
    return {
      local: true, kubeconfigPath: inst.kubeconfigPath, server: inst.server, target, kube: new TestKube(target), dir,
      mongoUri: inst.mongoUri ?? mongoUri, stop: async () => { await inst.stop(); await cleanup(); },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function externalPlane(kubeconfigPath: string, wantKube: boolean, mongoUri: string): Promise<ControlPlane> {
  const target: KubeTarget = wantKube ? await targetFromKubeconfig(kubeconfigPath) : { server: 'https://unused.invalid' };
  return {
    local: false, kubeconfigPath, server: target.server, target, kube: new TestKube(target), mongoUri,
    stop: () => Promise.resolve(),
  };
}

async function targetFromKubeconfig(path: string): Promise<KubeTarget> {
  const cfg = await loadKubeconfig(path);
  return {
    server: cfg.server, ca: cfg.ca, cert: cfg.cert, key: cfg.key, token: cfg.token,
    insecureSkipTlsVerify: cfg.insecureSkipTlsVerify,
  };
}

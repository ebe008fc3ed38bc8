/**
 * One local control plane instance: a real kube-apiserver with its embedded etcd, optionally the
 * garbage collector and namespace controller, and optionally a FerretDB (MongoDB wire protocol)
 * server, all on loopback ports chosen at run time, with state under one directory.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '../../log.ts';
import { launch, waitUntil, type ManagedProcess, type StartBound } from './process.ts';
import { renderKubeconfig, type AdminCredentials } from './kubeconfig.ts';
import { apiserverReady, freePort, mongoReady } from './probe.ts';
import { LocalCa } from '../sandbox/pki.ts';
import { startPostgresCluster, type PostgresCluster } from './postgres.ts';

const run = promisify(execFile);

/** Paths of the two binaries that build.sh produces. */
export interface Binaries {
  /** threatmesh-controlplane (kube-apiserver + etcd + controller manager). */
  readonly controlplane: string;
  /** threatmesh-ferretdb; needed only when a database is started. */
  readonly ferretdb: string;
}

/** How to start one instance. */
export interface InstanceOptions {
  /** Context name in the kubeconfig and label in messages, e.g. "tm-0". */
  readonly name: string;
  /** Directory for this instance's pki, etcd data, logs, kubeconfig and database. */
  readonly dir: string;
  readonly binaries: Binaries;
  /** Start FerretDB as well. @default true */
  readonly mongo?: boolean;
  /** FerretDB's storage: its SQLite backend, or its PostgreSQL backend on a local PostgreSQL server. @default 'sqlite' */
  readonly backend?: FerretBackend;
  /**
   * With the PostgreSQL backend: the cluster to hold this instance's database (named `name`),
   * shared by the instances of one network. @default a cluster of its own under `dir`
   */
  readonly postgres?: PostgresCluster;
  /** Run the garbage collector and namespace controller. @default true */
  readonly controllers?: boolean;
  /** How long each server's start may take (process.ts): it fails at once when the server exits, and sooner when it stalls. @default the defaults of StartBound */
  readonly start?: StartBound | undefined;
  /** Wipe `dir` first for a fresh cluster and database. @default false */
  readonly fresh?: boolean;
  readonly log: Logger;
}

/** A started instance. `stop` ends its processes (data stays in `dir`). */
export interface Instance extends AdminCredentials {
  readonly name: string;
  readonly dir: string;
  readonly kubeconfigPath: string;
  /** mongodb://127.0.0.1:PORT/ when a database was started. */
  readonly mongoUri: string | undefined;
  /** Process ids, for a state file that another process can use to stop them. */
  readonly pids: readonly number[];
  /** Milliseconds from start to every server being ready. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/**
 * Starts an instance and waits until /readyz answers 200 and the database answers ping. On
 * failure, stops whatever it started and throws with the failing server's log tail.
 */
export async function startInstance(opts: InstanceOptions): Promise<Instance> {
  const started = Date.now();
  if (opts.fresh === true) await rm(opts.dir, { recursive: true, force: true });
  await mkdir(opts.dir, { recursive: true });
  const procs: ManagedProcess[] = [];
  let db: Database | undefined;
  const stopAll = async (): Promise<void> => {
    await Promise.all([...procs.reverse().map((p) => p.stop()), db?.stop()]);
  };
  try {
    const [apiResult, dbResult] = await Promise.allSettled([
      startApiServer(opts, procs),
      opts.mongo === false ? undefined : startDatabase({
        name: opts.name, dir: opts.dir, ferretdb: opts.binaries.ferretdb, start: opts.start,
        ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.postgres ? { postgres: opts.postgres } : {}),
      }),
    ]);
    db = dbResult.status === 'fulfilled' ? dbResult.value : undefined;
    if (apiResult.status === 'rejected') throw apiResult.reason;
    if (dbResult.status === 'rejected') throw dbResult.reason;
    const api = apiResult.value;
    if (opts.controllers !== false) await startControllers(opts, api.kubeconfigPath, procs);
    const pids = [...procs.map((p) => p.pid), ...(db ? db.pids : [])];
    return { ...api, name: opts.name, dir: opts.dir, mongoUri: db?.uri, pids, startMs: Date.now() - started, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function startApiServer(opts: InstanceOptions, procs: ManagedProcess[]): Promise<AdminCredentials & { kubeconfigPath: string }> {
  const bin = opts.binaries.controlplane;
  await run(bin, ['pki', '--dir', opts.dir]).catch((err: Error) => {
    throw new Error(`${opts.name}: generating certificates with ${bin} failed: ${err.message}`, { cause: err });
  });
  const port = await freePort();
  const pki = (f: string): Promise<string> => readFile(join(opts.dir, 'pki', f), 'utf8');
  const creds: AdminCredentials = {
    server: `https://127.0.0.1:${port}`, caPem: await pki('ca.crt'), certPem: await pki('admin.crt'), keyPem: await pki('admin.key'),
  };
  const kubeconfigPath = join(opts.dir, 'kubeconfig');
  await writeFile(kubeconfigPath, renderKubeconfig(opts.name, creds), { mode: 0o600 });
  const proc = await launch({
    name: `${opts.name} kube-apiserver`, command: bin, logPath: join(opts.dir, 'apiserver.log'),
    args: ['apiserver', '--dir', opts.dir, '--secure-port', String(port), '--exit-on-stdin-eof', '--', ...await frontProxyFlags(join(opts.dir, 'pki', 'front-proxy'))],
  });
  procs.push(proc);
  opts.log.debug('kube-apiserver started', { instance: opts.name, pid: proc.pid, server: creds.server });
  await waitUntil('/readyz answered 200', proc, () => apiserverReady(creds), opts.start ?? {});
  return { ...creds, kubeconfigPath };
}

/** The name the front proxy's client certificate carries (requestheader-allowed-names). */
export const FRONT_PROXY_CLIENT = 'front-proxy-client';

/**
 * kube-apiserver flags that let it call aggregated API servers (replica.threatmesh.io): a
 * front-proxy CA (published in kube-system/extension-apiserver-authentication) and the client
 * certificate the aggregator presents, made once under `dir` with openssl and kept.
 */
async function frontProxyFlags(dir: string): Promise<string[]> {
  const ca = await LocalCa.open(dir, 'threatmesh-front-proxy-ca', 3650);
  const client = await ca.issue(FRONT_PROXY_CLIENT, 'client');
  return [
    `--requestheader-client-ca-file=${ca.caPath}`, `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
    '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group', '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${client.certPath}`, `--proxy-client-key-file=${client.keyPath}`,
  ];
}

/** FerretDB's storage backends. */
export type FerretBackend = 'sqlite' | 'postgresql';

/** How to start a database alone. */
export interface DatabaseOptions {
  readonly name: string;
  /** Directory for the SQLite files (or the PostgreSQL cluster), the log and the URI file. */
  readonly dir: string;
  /** Path of threatmesh-ferretdb. */
  readonly ferretdb: string;
  /** How long FerretDB's (and its PostgreSQL's) start may take (process.ts). @default the defaults of StartBound */
  readonly start?: StartBound | undefined;
  /** @default 'sqlite' */
  readonly backend?: FerretBackend;
  /** With the PostgreSQL backend: a shared cluster for the database (named `name`). @default a cluster of its own under `dir`/postgres */
  readonly postgres?: PostgresCluster;
}

/** A running FerretDB server. */
export interface Database {
  /** mongodb://127.0.0.1:PORT/ */
  readonly uri: string;
  /** FerretDB's process id. */
  readonly pid: number;
  /** Every process of the database (FerretDB, and its own PostgreSQL with that backend; a shared cluster is its owner's). */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

// FerretDB's --postgresql-url: a database named after the instance in the shared cluster, or
// database `ferretdb` in a cluster of the instance's own (returned to be stopped with it).
async function postgresFor(opts: DatabaseOptions): Promise<{ url: string; own?: PostgresCluster } | undefined> {
  if (opts.backend !== 'postgresql') return undefined;
  if (opts.postgres) return { url: await opts.postgres.database(opts.name) };
  const own = await startPostgresCluster({ name: opts.name, dir: join(opts.dir, 'postgres'), ...(opts.start ? { start: opts.start } : {}) });
  try {
    return { url: await own.database('ferretdb'), own };
  } catch (err) {
    await own.stop();
    throw err;
  }
}

/** Starts FerretDB (and its PostgreSQL server with that backend) on ports the kernel picks and waits until it answers ping. */
export async function startDatabase(opts: DatabaseOptions): Promise<Database> {
  await mkdir(opts.dir, { recursive: true });
  const uriFile = join(opts.dir, 'mongodb.uri');
  await rm(uriFile, { force: true });
  const pg = await postgresFor(opts);
  let proc: ManagedProcess;
  try {
    proc = await launch({
      name: `${opts.name} ferretdb`, command: opts.ferretdb, logPath: join(opts.dir, 'ferretdb.log'),
      args: [...(pg ? ['--postgresql-url', pg.url] : ['--data-dir', join(opts.dir, 'mongo')]), '--uri-file', uriFile, '--exit-on-stdin-eof'],
    });
  } catch (err) {
    await pg?.own?.stop();
    throw err;
  }
  let uri = '';
  const bound = opts.start ?? {};
  try {
    await waitUntil('the listening address was written', proc, async () => {
      uri = (await readFile(uriFile, 'utf8')).trim();
      return uri !== '';
    }, bound);
    await waitUntil(`${uri} answered ping`, proc, () => mongoReady(uri), bound);
  } catch (err) {
    await proc.stop();
    await pg?.own?.stop();
    throw err;
  }
  const ferret = proc;
  return {
    uri, pid: ferret.pid, pids: [ferret.pid, ...(pg?.own ? [pg.own.process.pid] : [])],
    stop: async () => {
      await ferret.stop();
      await pg?.own?.stop();
    },
  };
}

async function startControllers(opts: InstanceOptions, kubeconfigPath: string, procs: ManagedProcess[]): Promise<void> {
  const proc = await launch({
    name: `${opts.name} kube-controller-manager`, command: opts.binaries.controlplane,
    logPath: join(opts.dir, 'controller-manager.log'),
    args: ['controller-manager', '--kubeconfig', kubeconfigPath, '--exit-on-stdin-eof'],
  });
  procs.push(proc);
}

/**
 * A local PostgreSQL server for FerretDB's PostgreSQL backend (the local default where
 * PostgreSQL is installed: docs/adr/2026-12-06-million-indicators.md): a cluster under `dir`,
 * made once with initdb and kept, with one database per FerretDB (an integration test's own
 * cluster holds one; a sandbox network's holds one per party), listening on a loopback port chosen at
 * run time, with durability off as the embedded etcd runs (a test and sandbox database, not a
 * production one). A root parent runs the server as the `postgres` user, which PostgreSQL requires.
 */
import { execFile } from 'node:child_process';
import { access, chmod, chown, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { equalityIndexSql } from './pgequality.ts';
import { launch, waitUntil, type ManagedProcess, type StartBound } from './process.ts';
import { freePort } from './probe.ts';

const run = promisify(execFile);

/**
 * Connections FerretDB may hold to this server (its `pool_max_conns`; FerretDB's default is 50).
 * FerretDB 1.24 holds one for each matched statement of an update command until the command ends
 * (store/bulk.ts); the stores send at most 25 per command, so this pool takes five such commands
 * at once where the default takes one.
 */
export const FERRETDB_POOL_CONNECTIONS = 150;
// Beyond the FerretDB pools: room for psql and the tools that look at a stuck server.
const SPARE_CONNECTIONS = 20;

// PostgreSQL has no --exit-on-stdin-eof: this shell runs it and stops it (fast shutdown) when
// its stdin closes (the parent died) or when it is told to stop; `read` is a builtin, so the
// trap runs at once.
const STDIN_GUARD = '"$@" & pid=$!; trap \'kill -INT $pid; wait $pid; exit 0\' TERM INT; while IFS= read -r _; do :; done; kill -INT $pid; wait $pid';

/** A running PostgreSQL server with the database FerretDB uses. */
export interface Postgres {
  /** postgres://postgres@127.0.0.1:PORT/ferretdb?pool_max_conns=N (FerretDB's connection string) */
  readonly url: string;
  readonly process: ManagedProcess;
}

/**
 * A running PostgreSQL cluster that holds one database per FerretDB (the sandbox network and
 * `controlplane up --instances N` share one cluster; docs/adr/2026-12-06-million-indicators.md).
 */
export interface PostgresCluster {
  readonly port: number;
  readonly process: ManagedProcess;
  /**
   * Creates database `name` unless it exists (one at a time: PostgreSQL copies its template per
   * CREATE DATABASE) and returns FerretDB's connection string for it. Names are letters, digits,
   * `-` and `_`, as the control plane's instance and party ids are.
   */
  database(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** What to install when PostgreSQL is missing; also said by scripts/install-postgresql.sh. */
export const POSTGRES_MISSING = 'FerretDB\'s PostgreSQL backend needs the PostgreSQL server binaries (postgres, initdb, createdb, psql; version 13 or later), and none were found under /usr/lib/postgresql/*/bin or on PATH. Install them: Debian or Ubuntu `sudo apt-get install postgresql` (or bash scripts/install-postgresql.sh), Fedora `sudo dnf install postgresql-server`, macOS `brew install postgresql@15`. Or keep FerretDB on SQLite: --ferretdb-backend sqlite or THREATMESH_FERRETDB_BACKEND=sqlite';

const DATABASE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/**
 * The bin directory of the newest installed PostgreSQL (Debian layout under `root`), else the
 * directory of an `initdb` on PATH (other distributions, Homebrew), else undefined.
 */
export async function postgresBinDir(root = '/usr/lib/postgresql'): Promise<string | undefined> {
  const versions = (await readdir(root).catch(() => [] as string[])).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (await access(join(bin, 'postgres')).then(() => true, () => false)) return bin;
  }
  const onPath = (await run('/bin/sh', ['-c', 'command -v initdb']).then((r) => r.stdout.trim(), () => '')).trim();
  if (onPath === '' || !onPath.startsWith('/')) return undefined;
  return (await access(join(dirname(onPath), 'postgres')).then(() => true, () => false)) ? dirname(onPath) : undefined;
}

async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
    throw new Error(`PostgreSQL refuses to run as root and there is no postgres user to run it as. ${POSTGRES_MISSING}`);
  });
  const { stdout: gid } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(gid.trim()) };
}

// The server user must reach its directory: ancestors private to root (mkdtemp makes 0700) get
// the search bit for others (o+x: enter, not list), nothing more.
async function makeTraversable(dir: string): Promise<void> {
  for (let d = dirname(resolve(dir)); d !== dirname(d); d = dirname(d)) {
    const st = await stat(d);
    if ((st.mode & 0o001) === 0) await chmod(d, (st.mode & 0o7777) | 0o001);
  }
}

/** How to start a cluster. */
export interface PostgresClusterOptions {
  /** Label in messages and process names. */
  readonly name: string;
  /** The cluster's directory (data/, the socket, postgres.log); made with initdb on first use and kept. */
  readonly dir: string;
  /** FerretDB servers that will share it: each may hold FERRETDB_POOL_CONNECTIONS. @default 1 */
  readonly databases?: number;
  /** How long the server's start may take (process.ts). @default the defaults of StartBound */
  readonly start?: StartBound;
}

/** Starts (creating on first use) the PostgreSQL cluster in `dir` and waits until it accepts connections. */
export async function startPostgresCluster(opts: PostgresClusterOptions): Promise<PostgresCluster> {
  const bin = await postgresBinDir();
  if (bin === undefined) throw new Error(POSTGRES_MISSING);
  const user = await serverUser();
  const data = join(opts.dir, 'data');
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  if (user !== undefined) {
    await chown(opts.dir, user.uid, user.gid);
    await makeTraversable(opts.dir);
  }
  const fresh = !(await access(join(data, 'PG_VERSION')).then(() => true, () => false));
  if (fresh) await run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'], { ...(user ?? {}) });
  const port = await freePort();
  const maxConnections = FERRETDB_POOL_CONNECTIONS * Math.max(1, opts.databases ?? 1) + SPARE_CONNECTIONS;
  const proc = await launch({
    name: `${opts.name} postgres`, command: '/bin/sh', logPath: join(opts.dir, 'postgres.log'), ...(user ? { user } : {}),
    args: ['-c', STDIN_GUARD, 'postgres', join(bin, 'postgres'), '-D', data, '-p', String(port), '-k', opts.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', `max_connections=${maxConnections}`, '-c', 'default_toast_compression=lz4'],
  });
  try {
    // The last line of postmaster.pid says "ready" once the server accepts connections.
    await waitUntil('PostgreSQL is ready', proc, async () => (await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => '')).trim().endsWith('ready'), opts.start ?? {});
  } catch (err) {
    await proc.stop();
    throw err;
  }
  let creating: Promise<unknown> = Promise.resolve();
  const database = async (name: string): Promise<string> => {
    if (!DATABASE_NAME.test(name)) throw new Error(`${opts.name}: ${JSON.stringify(name)} cannot name a PostgreSQL database here: use letters, digits, - and _ (at most 63)`);
    const made = creating.then(() => createDatabase(bin, port, name));
    creating = made.catch(() => undefined);
    await made;
    return `postgres://postgres@127.0.0.1:${port}/${name}?pool_max_conns=${FERRETDB_POOL_CONNECTIONS}`;
  };
  return { port, process: proc, database, stop: () => proc.stop() };
}

// createdb, where an existing database (a restart on kept state) is fine; then the equality
// indexes FerretDB can read (pgequality.ts), idempotently, so a kept database gets them too.
async function createDatabase(bin: string, port: number, name: string): Promise<void> {
  await run(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]).catch((err: Error & { stderr?: string }) => {
    if (/already exists/.test(err.stderr ?? '')) return;
    throw new Error(`creating PostgreSQL database ${name} on 127.0.0.1:${port} failed: ${(err.stderr ?? err.message).trim()}`, { cause: err });
  });
  await run(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', name, '-q', '-v', 'ON_ERROR_STOP=1', '-c', equalityIndexSql(name)]).catch((err: Error & { stderr?: string }) => {
    throw new Error(`installing FerretDB's equality indexes in PostgreSQL database ${name} on 127.0.0.1:${port} failed: ${(err.stderr ?? err.message).trim()}`, { cause: err });
  });
}

/** Starts (creating on first use) a cluster in `dir` for one FerretDB, with its database `ferretdb`. */
export async function startPostgres(opts: { readonly name: string; readonly dir: string; readonly start?: StartBound }): Promise<Postgres> {
  const cluster = await startPostgresCluster(opts);
  try {
    return { url: await cluster.database('ferretdb'), process: cluster.process };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

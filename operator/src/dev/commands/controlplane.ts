/**
 * `threatmesh controlplane build|up|down`: the local Kubernetes control plane and MongoDB-wire
 * database that tests and the sandbox run against (see docs/controlplane.md).
 */
import { makeDirs } from '../../mkdirs.ts';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Logger } from '../../log.ts';
import type { CliEnv } from '../../cli/env.ts';
import { ensureBinaries } from '../controlplane/build.ts';
import { startInstance, type Instance } from '../controlplane/instance.ts';
import { BACKEND_FLAG_HELP, backendRequest, resolveBackend } from '../controlplane/backend.ts';
import { startPostgresCluster, type PostgresCluster } from '../controlplane/postgres.ts';
import { readState, removeState, writeState, type InstanceRecord } from '../controlplane/state.ts';
import { linuxProcesses, liveRecordedPids, stopRecorded } from '../controlplane/down.ts';
import { startAll } from '../controlplane/startall.ts';
import { DEFAULT_START_CAP_MS, START_STALL_MS, type StartBound } from '../controlplane/process.ts';

interface UpOptions {
  readonly instances: number;
  readonly dir: string;
  readonly mongo: boolean;
  readonly controllers: boolean;
  readonly fresh: boolean;
  readonly startTimeout: number;
  readonly ferretdbBackend?: string;
}

/** Registers `controlplane` and its subcommands on `program`. */
export function registerControlplane(program: Command, env: CliEnv, log: Logger): void {
  const cp = program.command('controlplane')
    .description('build, start and stop local kube-apiserver (+etcd) and FerretDB instances for tests and the sandbox');
  cp.command('build')
    .description('build the pinned kube-apiserver/etcd and FerretDB binaries into the cache (instant when cached)')
    .action(async () => {
      const bins = await ensureBinaries({ cacheDir: env.cacheDir, progress: env.stderr });
      env.stdout.write(`controlplane: ${bins.controlplane}\nferretdb: ${bins.ferretdb}\n`);
    });
  cp.command('up')
    .description('start N independent instances in the foreground until SIGINT/SIGTERM; prints kubeconfig paths and MongoDB URIs')
    .option('--instances <n>', 'number of independent instances (one per partner)', positiveInt, 1)
    .option('--dir <dir>', 'state directory (one subdirectory per instance)', '.controlplane')
    .option('--no-mongo', 'do not start a FerretDB per instance')
    .option('--no-controllers', 'do not run the garbage collector and namespace controller')
    .option('--fresh', 'wipe each instance directory first (new cluster and database)', false)
    .option('--start-timeout <seconds>', `cap in seconds on each server's start while it makes progress; a server that exits fails at once, one that uses no CPU time and writes no log for ${START_STALL_MS / 1000} s sooner`, positiveInt, DEFAULT_START_CAP_MS / 1000)
    .addOption(new Option('--timeout <seconds>').hideHelp().argParser(renamedTimeout))
    .option('--ferretdb-backend <backend>', `${BACKEND_FLAG_HELP}; on PostgreSQL one cluster in --dir/postgres holds a database per instance`)
    .action(async (opts: UpOptions) => {
      backendRequest(opts.ferretdbBackend, env.ferretdbBackend);
      await up(opts, env, log);
    });
  cp.command('down')
    .description('stop the instances that `controlplane up` recorded in --dir')
    .option('--dir <dir>', 'state directory given to up', '.controlplane')
    .action(async (opts: { dir: string }) => down(resolve(opts.dir), env));
}

// The flag before it became a cap on a start that progresses (process.ts): a script that still passes it learns the new name.
function renamedTimeout(): never {
  throw new InvalidArgumentError(`--timeout is now --start-timeout SECONDS: the cap on each server's start while it makes progress (default ${DEFAULT_START_CAP_MS / 1000})`);
}

// Each server's start bound (process.ts), as --start-timeout sets it.
function startBound(opts: UpOptions): StartBound {
  return { capMs: opts.startTimeout * 1000, raise: `--start-timeout SECONDS, now ${opts.startTimeout}` };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

async function up(opts: UpOptions, env: CliEnv, log: Logger): Promise<void> {
  const dir = resolve(opts.dir);
  await makeDirs(dir).catch((err: Error) => {
    throw new Error(`--dir ${dir}: cannot create the state directory (${err.message}); choose a writable place`, { cause: err });
  });
  await refuseIfRunning(dir);
  const binaries = await ensureBinaries({ cacheDir: env.cacheDir, progress: env.stderr });
  const startMongo = opts.mongo && env.mongodbUri === undefined;
  const postgres = startMongo ? await sharedPostgres(opts, dir, env) : undefined;
  const instances = await startAll(Array.from({ length: opts.instances }, (_, i) => startInstance({
    name: `tm-${i}`, dir: join(dir, `tm-${i}`), binaries, mongo: startMongo, controllers: opts.controllers,
    fresh: opts.fresh, start: startBound(opts), log, ...(postgres ? { backend: 'postgresql' as const, postgres } : {}),
  })), (i) => i.stop()).catch(async (err: unknown) => {
    await postgres?.stop();
    throw err;
  });
  const stopAll = async (): Promise<void> => {
    await Promise.all(instances.map((i) => i.stop()));
    await postgres?.stop();
  };
  // `down` stops the shared PostgreSQL with the first instance's processes.
  const records = instances.map((i, n) => record(i, env.mongodbUri, n === 0 && postgres ? [postgres.process.pid] : []));
  await writeState(dir, { ownerPid: process.pid, instances: records });
  report(records, instances, env);
  await untilSignal();
  env.stderr.write('controlplane: stopping\n');
  await stopAll();
  await removeState(dir);
}

// With the PostgreSQL backend, the one cluster (dir/postgres) that holds every instance's database.
async function sharedPostgres(opts: UpOptions, dir: string, env: CliEnv): Promise<PostgresCluster | undefined> {
  const db = await resolveBackend(backendRequest(opts.ferretdbBackend, env.ferretdbBackend), { postgresData: join(dir, 'postgres', 'data'), sqliteDir: join(dir, 'tm-0', 'mongo') }, opts.fresh);
  env.stderr.write(`controlplane: FerretDB on ${db.backend}${db.note ? ` (${db.note})` : ''}\n`);
  if (db.backend !== 'postgresql') return undefined;
  if (opts.fresh) await rm(join(dir, 'postgres'), { recursive: true, force: true });
  return startPostgresCluster({ name: 'controlplane', dir: join(dir, 'postgres'), databases: opts.instances, start: startBound(opts) });
}

function record(i: Instance, mongodbUri: string | undefined, extraPids: readonly number[]): InstanceRecord {
  return { name: i.name, dir: i.dir, kubeconfig: i.kubeconfigPath, server: i.server, mongoUri: i.mongoUri ?? mongodbUri, pids: [...i.pids, ...extraPids] };
}

function report(records: readonly InstanceRecord[], instances: readonly Instance[], env: CliEnv): void {
  for (const [n, r] of records.entries()) {
    env.stdout.write(`${r.name}: KUBECONFIG=${r.kubeconfig}  server ${r.server}  MONGODB_URI=${r.mongoUri ?? '(none)'}  ready in ${instances[n]?.startMs ?? 0} ms\n`);
  }
  env.stdout.write(JSON.stringify({ instances: records.map(({ pids: _p, ...rest }) => rest) }) + '\n');
  env.stdout.write('controlplane: running; press Ctrl-C (or run `threatmesh controlplane down`) to stop\n');
}

async function refuseIfRunning(dir: string): Promise<void> {
  const state = await readState(dir);
  if (state === undefined) return;
  if ((await liveRecordedPids(state, linuxProcesses)).length > 0) {
    throw new Error(`a control plane recorded in ${dir} is still running; run \`threatmesh controlplane down --dir ${dir}\` first`);
  }
  await removeState(dir);
}

async function untilSignal(): Promise<void> {
  await new Promise<void>((resolveSignal) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolveSignal();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

async function down(dir: string, env: CliEnv): Promise<void> {
  const state = await readState(dir);
  if (state === undefined) {
    env.stdout.write(`controlplane: nothing recorded in ${dir}; nothing to stop\n`);
    return;
  }
  const pids = await stopRecorded(state, linuxProcesses);
  await removeState(dir);
  env.stdout.write(`controlplane: stopped ${pids.length} process(es) recorded in ${dir}\n`);
}

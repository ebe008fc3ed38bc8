/**
 * `threatmesh up`: the local sandbox that README's run command starts. It starts the local
 * control plane and database (or uses the cluster in KUBECONFIG), applies crds/ and
 * config/samples/ (Feeds that need the internet are skipped; two Feeds reading bundled snapshots
 * from a loopback server stand in for them), creates the local partners' keys and PartnerNodes,
 * runs the operator in this process with the in-process executor, and shows the objects
 * reconciling until Ctrl-C, or with --until-ready until every object is reconciled.
 */
import { createWriteStream } from 'node:fs';
import { makeDirs } from '../../mkdirs.ts';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { createLogger, type Logger } from '../../log.ts';
import type { CliEnv } from '../../cli/env.ts';
import { UsageError } from '../../cli/errors.ts';
import { operatorOptions, type OperatorFlags } from '../../cli/operator.ts';
import { FEEDS, PARTNER_NODES, THREAT_INDICATORS } from '../../api/schemas/index.ts';
import type { Feed, PartnerNode, ThreatIndicator } from '../../api/types.ts';
import { ensureBinaries } from '../controlplane/build.ts';
import { linuxProcesses, liveRecordedPids } from '../controlplane/down.ts';
import { startInstance } from '../controlplane/instance.ts';
import { BACKEND_FLAG_HELP, backendRequest, resolveBackend, type BackendDecision } from '../controlplane/backend.ts';
import { readState, removeState, writeState } from '../controlplane/state.ts';
import { startOperator } from '../../controllers/setup.ts';
import { InProcessExecutor } from '../../controllers/inprocess.ts';
import { KubeHttpClient } from '../../runtime/kube.ts';
import { loadKubeconfig } from '../../runtime/kubeconfig.ts';
import { applyManifests } from '../../runtime/manifest.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { StopSignal } from './stopsignal.ts';
import { LiveView } from '../../cli/live.ts';
import { namespacesOf, readManifestDir, remoteSource } from '../sandbox/manifests.ts';
import { loadOrCreatePartners, partnerNode, proposedLocally, voteOnLocalProposals, type LocalPartner } from '../sandbox/partners.ts';
import { LOCAL_FEEDS, localFeed, startFeedServer } from '../sandbox/feedserver.ts';
import { feedRow, indicatorRow, partnerRow, renderTable, summarize, type Row } from '../sandbox/progress.ts';

const ROOT = new URL('../../../../', import.meta.url);
const FIELD_MANAGER = 'threatmesh-up';
/** Namespace of the sandbox's own partners and Feeds: the one the samples use. */
const SANDBOX_NAMESPACE = 'threatmesh';
const STEPS = 5;
const LOCAL_PARTNERS = [
  { id: 'sandbox-a', roles: ['contributor', 'voter', 'consumer'] as const },
  { id: 'sandbox-b', roles: ['voter'] as const },
  { id: 'sandbox-c', roles: ['voter'] as const },
];

interface UpFlags {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly dir: string;
  readonly untilReady: boolean;
  readonly timeout: number;
  readonly json: boolean;
  readonly fresh: boolean;
  readonly ferretdbBackend?: string;
}

/** Progress output: human lines, or one JSON object per line with --json. */
interface Out {
  step(n: number, message: string, data?: Record<string, unknown>): void;
  note(message: string, data?: Record<string, unknown>): void;
  table(rows: readonly Row[]): void;
  /** The table stays on screen; what follows is printed below it. */
  settle(): void;
}

function output(env: CliEnv, json: boolean, started: number): Out {
  const w = (o: Record<string, unknown>): void => void env.stdout.write(JSON.stringify({ ...o, elapsedMs: Date.now() - started }) + '\n');
  if (json) {
    return {
      step: (n, message, data) => w({ event: 'step', step: n, of: STEPS, message, ...data }),
      note: (message, data) => w({ event: 'note', message, ...data }),
      table: (rows) => w({ event: 'objects', summary: summarize(rows), objects: rows }),
      settle: () => undefined,
    };
  }
  // On a terminal the table is redrawn in place; piped, each change is printed once.
  const live = new LiveView(env.stdout);
  return {
    step: (n, message) => live.line(`step ${n}/${STEPS}: ${message}`),
    note: (message) => live.line(`  ${message}`),
    table: (rows) => {
      const s = summarize(rows);
      live.frame(`${new Date().toISOString()}  ${s.reconciled}/${s.total} reconciled\n${renderTable(rows)}`);
    },
    settle: () => live.done(),
  };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** Registers `threatmesh up`. */
export function registerUp(program: Command, env: CliEnv, log: Logger): void {
  program.command('up')
    .description('run the local sandbox: start the control plane and database (or use KUBECONFIG), apply crds/ and config/samples/, run the operator in-process and show the objects reconciling until Ctrl-C')
    .option('--dir <dir>', 'state directory: cluster and database data, partner keys, operator.log', '.controlplane/sandbox')
    .option('--until-ready', 'exit 0 once every object is reconciled (non-zero after --timeout) instead of running until Ctrl-C', false)
    .option('--timeout <seconds>', 'deadline for the control plane to start and, with --until-ready, for the objects to reconcile', positiveInt, 180)
    .option('--fresh', 'wipe the local cluster and database in --dir first', false)
    .option('--json', 'print progress and object snapshots as JSON lines', false)
    .option('--ferretdb-backend <backend>', BACKEND_FLAG_HELP)
    .option('--kubeconfig <path>', 'use this cluster instead of a local control plane: kubeconfig file(s), \':\'-separated (default: $KUBECONFIG)')
    .option('--context <name>', 'with a kubeconfig: the context to use instead of its current-context')
    .action(async (flags: UpFlags) => {
      // A command-line mistake is reported before anything starts or prints.
      if (flags.context !== undefined && !(flags.kubeconfig ?? env.kubeconfig)) throw new UsageError(CONTEXT_NEEDS_KUBECONFIG);
      backendRequest(flags.ferretdbBackend, env.ferretdbBackend);
      const stop = new StopSignal();
      const cleanups: Array<() => Promise<void> | void> = [];
      try {
        process.exitCode = await up(flags, env, log, stop, cleanups);
      } finally {
        for (const c of cleanups.reverse()) await Promise.resolve(c()).catch((err: unknown) => log.warn('cleanup failed', { err }));
        stop.dispose();
      }
    });
}

const CONTEXT_NEEDS_KUBECONFIG = '--context needs a kubeconfig: pass --kubeconfig FILE or set KUBECONFIG (without one, up starts its own local control plane)';

interface Cluster {
  readonly kubeconfig: string;
  readonly context: string | undefined;
  readonly server: string;
  readonly mongoUri: string | undefined;
  /** The local FerretDB's backend, when this command started one. */
  readonly database?: BackendDecision;
}

async function startCluster(flags: UpFlags, env: CliEnv, log: Logger, dir: string, cleanups: Array<() => Promise<void> | void>): Promise<Cluster> {
  const external = flags.kubeconfig ?? env.kubeconfig;
  if (external) {
    const cfg = await loadKubeconfig(external, flags.context);
    return { kubeconfig: external, context: flags.context, server: cfg.server, mongoUri: env.mongodbUri };
  }
  if (flags.context !== undefined) throw new UsageError(CONTEXT_NEEDS_KUBECONFIG);
  const state = await readState(dir);
  if (state && (await liveRecordedPids(state, linuxProcesses)).length > 0) {
    throw new Error(`a sandbox recorded in ${dir} is still running (pid ${state.ownerPid}); stop it with Ctrl-C there, or run \`threatmesh controlplane down --dir ${dir}\`, or pass another --dir`);
  }
  const startDb = env.mongodbUri === undefined;
  const database = startDb ? await resolveBackend(backendRequest(flags.ferretdbBackend, env.ferretdbBackend), { postgresData: join(dir, 'cluster', 'postgres', 'data'), sqliteDir: join(dir, 'cluster', 'mongo') }, flags.fresh) : undefined;
  const binaries = await ensureBinaries({ cacheDir: env.cacheDir, progress: env.stderr });
  // One instance: its own PostgreSQL cluster (under cluster/postgres) is the sandbox's.
  const inst = await startInstance({
    name: 'sandbox', dir: join(dir, 'cluster'), binaries, mongo: startDb, controllers: true,
    fresh: flags.fresh, start: { capMs: flags.timeout * 1000, raise: '--timeout SECONDS' }, log, ...(database ? { backend: database.backend } : {}),
  });
  cleanups.push(async () => {
    await inst.stop();
    await removeState(dir);
  });
  const mongoUri = inst.mongoUri ?? env.mongodbUri;
  await writeState(dir, { ownerPid: process.pid, instances: [{ name: inst.name, dir: inst.dir, kubeconfig: inst.kubeconfigPath, server: inst.server, mongoUri, pids: inst.pids }] });
  return { kubeconfig: inst.kubeconfigPath, context: undefined, server: inst.server, mongoUri, ...(database ? { database } : {}) };
}

async function sampleObjects(out: Out, partners: readonly LocalPartner[], feedBase: string): Promise<KubeObject[]> {
  const samplesDir = fileURLToPath(new URL('config/samples/', ROOT));
  const kept: KubeObject[] = [];
  const skipped: Array<{ source: string; name: string; url: string }> = [];
  for (const { object, source } of await readManifestDir(samplesDir)) {
    const url = remoteSource(object);
    if (url === undefined) kept.push(object);
    else skipped.push({ source: `config/samples/${source}`, name: object.metadata.name, url });
  }
  if (skipped.length > 0) out.note(`skipped ${skipped.length} sample Feeds that fetch from the internet (the sandbox works offline; apply them yourself with kubectl): ${skipped.map((s) => s.name).join(', ')}`, { skipped });
  const own = [...partners.map((p) => partnerNode(p, SANDBOX_NAMESPACE)), ...LOCAL_FEEDS.map((f) => localFeed(f, feedBase, SANDBOX_NAMESPACE))];
  return [...namespacesOf([...kept, ...own]), ...kept, ...own];
}

function announce(out: Out, cluster: Cluster, external: boolean): void {
  const db = cluster.database;
  out.note(`${external ? 'apiserver' : 'apiserver ready'} at ${cluster.server}; kubeconfig ${cluster.kubeconfig}; database ${cluster.mongoUri ?? 'none (MONGODB_URI unset)'}${db ? ` (FerretDB on ${db.backend})` : ''}`, { server: cluster.server, kubeconfig: cluster.kubeconfig, mongoUri: cluster.mongoUri ?? null, ferretdbBackend: db?.backend ?? null });
  if (db?.note !== undefined) out.note(db.note, { ferretdbBackend: db.backend });
}

function interrupted(out: Out): number {
  out.note('interrupted: stopping what was started');
  return 130;
}

async function up(flags: UpFlags, env: CliEnv, log: Logger, stop: StopSignal, cleanups: Array<() => Promise<void> | void>): Promise<number> {
  const started = Date.now();
  const out = output(env, flags.json, started);
  const dir = resolve(flags.dir);
  await makeDirs(dir).catch((err: Error) => {
    throw new Error(`--dir ${dir}: cannot create the state directory (${err.message}); choose a writable place`, { cause: err });
  });

  const external = flags.kubeconfig ?? env.kubeconfig;
  out.step(1, external ? `using the cluster in kubeconfig ${external}${flags.context ? ` (context ${flags.context})` : ''} (no local control plane)` : `building or reusing the local control plane (cache ${env.cacheDir}), state in ${dir}`);
  const cluster = await startCluster(flags, env, log, dir, cleanups);
  announce(out, cluster, external !== undefined && external !== '');
  if (stop.aborted) return interrupted(out);

  out.step(2, 'applying crds/ and waiting until they are Established');
  const client = new KubeHttpClient(await loadKubeconfig(cluster.kubeconfig, cluster.context), { userAgent: FIELD_MANAGER });
  cleanups.push(() => client.close());
  const crds = (await readManifestDir(fileURLToPath(new URL('crds/', ROOT)))).map((s) => s.object);
  await applyManifests(client, crds, FIELD_MANAGER);
  out.note(`CRDs established: ${crds.map((c) => c.metadata.name).join(', ')}`, { crds: crds.map((c) => c.metadata.name) });
  if (stop.aborted) return interrupted(out);

  out.step(3, 'applying config/samples/ with the local partners and offline Feeds');
  const partners = await loadOrCreatePartners(dir, LOCAL_PARTNERS);
  const feeds = await startFeedServer();
  cleanups.push(() => feeds.close());
  const applied = await applyManifests(client, await sampleObjects(out, partners, feeds.baseUrl), FIELD_MANAGER);
  out.note(`samples applied: ${applied.length} objects; local partners ${partners.map((p) => p.id).join(', ')} (keys in ${join(dir, 'partners')}); snapshots served at ${feeds.baseUrl}`, { applied: applied.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`) });
  if (stop.aborted) return interrupted(out);

  const quorum = partners.filter((p) => p.roles.includes('voter')).length;
  const self = partners[0];
  if (!self) throw new Error('the sandbox has no local partner');
  out.step(4, `starting the operator in-process (in-process Feed executor, partner ${self.id}, quorum ${quorum})`);
  const logPath = join(dir, 'operator.log');
  const logStream = createWriteStream(logPath, { flags: 'a' });
  cleanups.push(() => new Promise<void>((res) => logStream.end(res)));
  const opLog = createLogger(logStream, 'info', { component: 'threatmesh-operator' });
  const flagsFor: OperatorFlags = {
    kubeconfig: cluster.kubeconfig, context: cluster.context, metricsBind: '127.0.0.1:0', webhookBind: '127.0.0.1:0', leaderElect: false, identity: 'threatmesh-up',
    executor: 'inprocess', partnerId: self.id, signingKey: self.keyPath, votingWindow: '72h', quorum: String(quorum),
    // The sample feeds are served on loopback (startFeedServer): allow exactly that.
    allowInternalFeeds: ['127.0.0.1/32'],
  };
  // The operator's Feed runs log to operator.log too, never over the live view.
  const opts = await operatorOptions(flagsFor, { ...env, stderr: logStream }, opLog);
  cleanups.push(async () => {
    if (opts.executor instanceof InProcessExecutor) await opts.executor.close();
  });
  // No kubelet event tells the Feed controller that an in-process run ended; poll briefly so the table keeps up.
  const running = await startOperator({ ...opts, feedConfig: { pollMs: 2000 } });
  cleanups.push(() => running.stop());
  out.note(`operator started: metrics and health on 127.0.0.1:${running.manager.healthPort ?? '?'}, logs in ${logPath}; sandbox quorum ${quorum} (the local voters; the sample partners' private keys are not in the repository)`, { metricsPort: running.manager.healthPort ?? null, log: logPath, quorum });

  out.step(5, flags.untilReady ? `watching until every object is reconciled (timeout ${flags.timeout}s)` : 'watching the objects reconcile; press Ctrl-C to stop');
  const namespaces = new Set(applied.map((o) => o.metadata.namespace).filter((n): n is string => n !== undefined));
  return watch({ client, partners, namespaces, out, stop, untilReady: flags.untilReady, deadline: started + flags.timeout * 1000, log });
}

interface WatchOptions {
  readonly client: KubeHttpClient;
  readonly partners: readonly LocalPartner[];
  readonly namespaces: ReadonlySet<string>;
  readonly out: Out;
  readonly stop: StopSignal;
  readonly untilReady: boolean;
  readonly deadline: number;
  readonly log: Logger;
}

async function snapshot(o: WatchOptions): Promise<Row[]> {
  const inScope = <T extends KubeObject>(items: T[]): T[] => items.filter((i) => o.namespaces.has(i.metadata.namespace ?? ''));
  const [feeds, tis, pns] = await Promise.all([
    o.client.list<Feed>(FEEDS), o.client.list<ThreatIndicator>(THREAT_INDICATORS), o.client.list<PartnerNode>(PARTNER_NODES),
  ]);
  const indicators = inScope(tis.items);
  await voteOnLocalProposals(o.client, indicators, o.partners, new Date());
  return [
    ...inScope(feeds.items).map(feedRow),
    ...inScope(pns.items).map(partnerRow),
    ...indicators.map((ti) => indicatorRow(ti, proposedLocally(ti, o.partners) && (ti.status?.phase ?? 'Proposed') === 'Proposed')),
  ];
}

function timedOut(o: WatchOptions, rows: readonly Row[] | undefined): number {
  const waiting = rows?.filter((r) => r.waitingFor !== undefined) ?? [];
  const what = waiting.slice(0, 10).map((r) => `${r.kind}/${r.name} waits for ${r.waitingFor ?? ''}`).join('; ');
  o.out.note(`timed out: ${waiting.length} of ${rows?.length ?? 'unknown'} objects not reconciled${what ? `: ${what}` : ' (the objects could not be read)'}; see operator.log in --dir`, { event: 'timeout', waiting: waiting.map((r) => `${r.kind}/${r.namespace}/${r.name}`) });
  return 1;
}

/** Polls the objects once a second, votes as the local voters, prints the table when it changes. */
async function watch(o: WatchOptions): Promise<number> {
  let last = '';
  for (;;) {
    let rows: Row[] | undefined;
    try {
      rows = await snapshot(o);
    } catch (err) {
      o.log.warn('reading the objects failed; retrying', { err });
    }
    const text = rows ? renderTable(rows) : last;
    if (rows && text !== last) o.out.table(rows);
    last = text;
    if (o.untilReady && rows && rows.length > 0 && rows.every((r) => r.waitingFor === undefined)) {
      o.out.settle();
      o.out.note(`ready: all ${rows.length} objects reconciled`, { event: 'ready', objects: rows.length });
      return 0;
    }
    if (o.untilReady && Date.now() > o.deadline) {
      o.out.settle();
      return timedOut(o, rows);
    }
    const why = await Promise.race([o.stop.done, new Promise<undefined>((res) => setTimeout(() => res(undefined), 1000))]);
    if (why !== undefined) {
      o.out.settle();
      o.out.note(`${why}: stopping the operator and the control plane`);
      return o.untilReady ? 130 : 0;
    }
  }
}

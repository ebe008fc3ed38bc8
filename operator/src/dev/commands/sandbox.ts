/**
 * `threatmesh sandbox`: the whole network on this machine — one sequencer and N partner
 * clusters, each with its own kube-apiserver, MongoDB-wire server and ThreatMesh process —
 * ingests a feed at the first partner and shows every cluster's tree size, root hash, lag and
 * ThreatIndicators until they converge (with --until-converged it then exits) or Ctrl-C.
 */
import { createWriteStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { makeDirs } from '../../mkdirs.ts';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { API_VERSION } from '../../api/schemas/index.ts';
import type { Feed, FeedFormat } from '../../api/types.ts';
import { ensureBinaries } from '../controlplane/build.ts';
import { BACKEND_FLAG_HELP, backendRequest, resolveBackend } from '../controlplane/backend.ts';
import { PRESETS, findPreset } from '../../feeds/presets.ts';
import { createLogger, type Logger } from '../../log.ts';
import { convergedSummary, notConverged, renderNetwork, type NetworkView } from '../sandbox/convergence.ts';
import { startFeedServer } from '../sandbox/feedserver.ts';
import { NETWORK_NAMESPACE, startNetwork, type Network } from '../sandbox/network.ts';
import type { CliEnv } from '../../cli/env.ts';
import { UsageError } from '../../cli/errors.ts';
import type { TaxiiAccess } from '../../serve/sample.ts';
import { StopSignal } from './stopsignal.ts';
import { LiveView } from '../../cli/live.ts';

/** Bundled snapshots (operator/src/feeds/fixtures) of the presets that have one. */
export const PRESET_SNAPSHOTS: Readonly<Record<string, string>> = {
  feodo: 'feodo-ipblocklist.csv', 'feodo-json': 'feodo-ipblocklist.json', urlhaus: 'urlhaus-csv-recent.csv', threatfox: 'threatfox-export-recent.json',
  'et-compromised': 'et-compromised-ips.txt', openphish: 'openphish-feed.txt', 'blocklist-de': 'blocklist-de-all.txt',
};
const SOURCE_FORMATS: readonly FeedFormat[] = ['lines', 'csv', 'json', 'jsonl', 'stix'];
/** The default feed: 200 made-up domains, URLs and hashes (see its header). */
export const SAMPLE_FEED = fileURLToPath(new URL('../sandbox/sample-iocs.txt', import.meta.url));
/** Name of the Feed the sandbox creates at the first partner. */
export const SANDBOX_FEED = 'sandbox-feed';

/** Parsed options of `threatmesh sandbox`. */
export interface SandboxFlags {
  readonly partners: number;
  readonly source?: string;
  readonly format?: string;
  readonly preset?: string;
  readonly quorum?: number;
  readonly dir: string;
  readonly fresh: boolean;
  readonly json: boolean;
  readonly untilConverged: boolean;
  readonly timeout: number;
  readonly ferretdbBackend?: string;
}

/** What the sandbox ingests: a file served under `servedName` and how to parse it. */
export interface FeedPlan {
  readonly servedName: string;
  /** Absolute path of a user's file; undefined for a bundled snapshot. */
  readonly path: string | undefined;
  readonly format: FeedFormat;
  readonly preset: string | undefined;
  readonly description: string;
}

function sourcePlan(source: string, format: FeedFormat | undefined, presetName: string | undefined): FeedPlan {
  if (format === undefined) throw new UsageError('--source needs --format (lines, csv, json, jsonl, stix) or --preset NAME to say how to parse it');
  const path = resolve(source);
  return { servedName: basename(path), path, format, preset: presetName, description: `${path} (${presetName ? `preset ${presetName}` : `format ${format}`})` };
}

function snapshotPlan(presetName: string): FeedPlan {
  const snapshot = PRESET_SNAPSHOTS[presetName];
  const preset = findPreset(presetName);
  if (snapshot === undefined || preset === undefined) {
    throw new Error(`preset ${JSON.stringify(presetName)} has no bundled snapshot (the sandbox works offline); download its feed and pass --source FILE --preset ${presetName}; presets with a snapshot: ${Object.keys(PRESET_SNAPSHOTS).join(', ')}`);
  }
  return { servedName: snapshot, path: undefined, format: preset.parser.format, preset: presetName, description: `the bundled ${presetName} snapshot (${snapshot})` };
}

/** Decides the feed from the flags; throws a message saying what to pass instead. */
export function feedPlan(flags: Pick<SandboxFlags, 'source' | 'format' | 'preset'>): FeedPlan {
  if (flags.source === undefined && flags.preset === undefined && flags.format === undefined) {
    return { servedName: basename(SAMPLE_FEED), path: SAMPLE_FEED, format: 'lines', preset: undefined, description: 'the bundled sample (200 made-up domains, URLs and hashes)' };
  }
  const presetName = flags.preset;
  const preset = presetName === undefined ? undefined : findPreset(presetName);
  if (presetName !== undefined && preset === undefined) throw new UsageError(`unknown --preset ${JSON.stringify(presetName)}; presets: ${Object.keys(PRESETS).join(', ')}`);
  if (flags.format !== undefined && !SOURCE_FORMATS.includes(flags.format as FeedFormat)) throw new UsageError(`--format must be one of ${SOURCE_FORMATS.join(', ')} (MISP and TAXII sources need a server: apply a Feed yourself)`);
  if (flags.source !== undefined) return sourcePlan(flags.source, (flags.format ?? preset?.parser.format) as FeedFormat | undefined, presetName);
  if (flags.format !== undefined) throw new UsageError('--format applies to --source FILE; give the file too');
  return snapshotPlan(presetName ?? '');
}

/** The Feed object that makes the first partner ingest `plan` from the sandbox's loopback server. */
export function sandboxFeedObject(plan: FeedPlan, baseUrl: string): Feed {
  return {
    apiVersion: API_VERSION,
    kind: 'Feed',
    metadata: { name: SANDBOX_FEED, namespace: NETWORK_NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'threatmesh-sandbox' } },
    spec: {
      url: new URL(encodeURIComponent(plan.servedName), baseUrl).href, format: plan.format, ...(plan.preset ? { preset: plan.preset } : {}),
      schedule: { interval: '1h' }, defaults: { confidence: 80, tlp: 'clear', validFor: '30d' },
    },
  };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

interface Out {
  step(message: string, data?: Record<string, unknown>): void;
  view(v: NetworkView, waiting: readonly string[]): void;
  done(v: NetworkView): void;
  /** The table stays on screen; what follows is printed below it. */
  settle(): void;
}

/** What every JSON line that lists partners adds to each: its database and its TAXII server with the sample consumer. */
export interface PartnerAccess {
  readonly mongodbUri: string | null;
  readonly taxii: TaxiiAccess | null;
}

/** The access fields of `net`'s partners, by partner name. */
export function partnerAccess(net: Pick<Network, 'partners'>): Map<string, PartnerAccess> {
  return new Map(net.partners.map((p) => [p.id, { mongodbUri: p.cluster.mongoUri ?? null, taxii: p.serving?.taxii ?? null }]));
}

function withAccess<T extends { readonly name: string }>(partners: readonly T[], access: ReadonlyMap<string, PartnerAccess>): Array<T & Partial<PartnerAccess>> {
  return partners.map((p) => ({ ...p, ...access.get(p.name) }));
}

function output(env: CliEnv, json: boolean, started: number, access: ReadonlyMap<string, PartnerAccess>): Out {
  const w = (o: Record<string, unknown>): void => void env.stdout.write(JSON.stringify({ ...o, elapsedMs: Date.now() - started }) + '\n');
  if (json) {
    return {
      step: (message, data) => w({ event: 'step', message, ...data }),
      view: (v, waiting) => w({ event: 'network', sequencer: v.sequencer ?? null, partners: withAccess(v.partners, access), feedDone: v.feedDone, waitingFor: waiting }),
      done: (v) => {
        const summary = convergedSummary(v);
        env.stdout.write(JSON.stringify(summary === undefined ? summary : { ...summary, partners: withAccess(summary.partners, access) }) + '\n');
      },
      settle: () => undefined,
    };
  }
  // On a terminal the table is redrawn in place; piped, each change is printed once.
  const live = new LiveView(env.stdout);
  return {
    step: (message) => live.line(`• ${message}`),
    view: (v, waiting) => {
      const status = waiting.length === 0 ? 'converged' : `waiting for: ${waiting.slice(0, 4).join('; ')}${waiting.length > 4 ? ` (+${waiting.length - 4} more)` : ''}`;
      live.frame(`${new Date().toISOString()}  ${status}${v.feedSummary ? `\nfeed: ${v.feedSummary}` : ''}\n${renderNetwork(v)}`);
    },
    done: (v) => {
      const s = convergedSummary(v);
      live.line(`converged: ${v.partners.length} partners hold the sequencer's log (size ${s?.sequencer.treeSize ?? 0}, root ${s?.sequencer.rootHash ?? ''}).`);
    },
    settle: () => live.done(),
  };
}

interface Watch {
  readonly net: Network;
  readonly out: Out;
  readonly flags: SandboxFlags;
  readonly stop: StopSignal;
  readonly deadline: number;
  readonly log: Logger;
}

async function watch({ net, out, flags, stop, deadline, log }: Watch): Promise<number> {
  let last = '';
  let reported = false;
  const first = net.partners[0];
  if (first === undefined) throw new Error('the network has no partner');
  for (;;) {
    let v: NetworkView | undefined;
    try {
      v = await net.view({ partner: first, name: SANDBOX_FEED });
    } catch (err) {
      log.warn('reading the network failed; retrying', { err });
    }
    if (v !== undefined) {
      const waiting = notConverged(v);
      const text = JSON.stringify([v, waiting]);
      if (text !== last) out.view(v, waiting);
      last = text;
      if (waiting.length === 0 && !reported) {
        // Exiting: the table stays and the verdict goes below it; running on: the verdict goes above the live table.
        if (flags.untilConverged) out.settle();
        out.done(v);
        reported = true;
        if (flags.untilConverged) return 0;
      }
      if (waiting.length > 0) reported = false;
      if (flags.untilConverged && Date.now() > deadline) {
        out.settle();
        out.step(`timed out after ${flags.timeout}s; still waiting for: ${waiting.join('; ')}; logs in ${join(net.dir, 'logs')}`, { event: 'timeout', waitingFor: waiting });
        return 1;
      }
    }
    const why = await Promise.race([stop.done, new Promise<undefined>((res) => setTimeout(() => res(undefined), 1000))]);
    if (why !== undefined) {
      out.settle();
      out.step(`${why}: stopping the operators, the sequencer and the clusters`);
      return flags.untilConverged ? 130 : 0;
    }
  }
}

async function sandbox(flags: SandboxFlags, env: CliEnv, log: Logger, stop: StopSignal, cleanups: Array<() => Promise<void>>): Promise<number> {
  const started = Date.now();
  const reach = new Map<string, PartnerAccess>();
  const out = output(env, flags.json, started, reach);
  const plan = feedPlan(flags);
  if (plan.path !== undefined) await access(plan.path).catch(() => { throw new Error(`--source ${plan.path}: no such readable file`); });
  const dir = resolve(flags.dir);
  await makeDirs(dir).catch((err: Error) => {
    throw new Error(`--dir ${dir}: cannot create the state directory (${err.message}); choose a writable place`, { cause: err });
  });
  const logStream = createWriteStream(join(dir, 'sandbox.log'), { flags: 'a' });
  cleanups.push(() => new Promise<void>((res) => logStream.end(res)));
  const netLog = createLogger(logStream, 'info', { component: 'threatmesh-sandbox' });

  const db = await resolveBackend(backendRequest(flags.ferretdbBackend, env.ferretdbBackend), { postgresData: join(dir, 'postgres', 'data'), sqliteDir: join(dir, 'clusters', 'sequencer', 'mongo') }, flags.fresh);
  out.step(`building or reusing the local control plane (cache ${env.cacheDir}); state in ${dir}; FerretDB on ${db.backend}${db.note ? ` (${db.note})` : ''}`, { ferretdbBackend: db.backend });
  const binaries = await ensureBinaries({ cacheDir: env.cacheDir, progress: env.stderr });
  if (stop.aborted) return 130;
  const net = await startNetwork({
    dir, partners: flags.partners, fresh: flags.fresh, binaries, backend: db.backend, start: { capMs: flags.timeout * 1000, raise: '--timeout SECONDS' }, log: netLog,
    ...(flags.quorum !== undefined ? { quorum: flags.quorum } : {}),
    cli: { node: process.execPath, main: fileURLToPath(new URL('../../main.ts', import.meta.url)) },
    progress: (message, data) => out.step(message, data),
  });
  cleanups.push(() => net.stop());
  for (const [name, a] of partnerAccess(net)) reach.set(name, a);
  out.step(`network up: sequencer on 127.0.0.1:${net.sequencer.exchangePort}, partners ${net.partners.map((p) => `${p.id} (kubeconfig ${p.cluster.kubeconfigPath})`).join(', ')}; quorum ${net.quorum}`, {
    sequencer: { port: net.sequencer.exchangePort, kubeconfig: net.sequencer.cluster.kubeconfigPath, log: net.sequencer.logPath },
    partners: withAccess(net.partners.map((p) => ({ name: p.id, kubeconfig: p.cluster.kubeconfigPath, mongoUri: p.cluster.mongoUri ?? null, log: p.logPath })), reach),
    quorum: net.quorum,
  });
  if (!flags.json) {
    for (const [name, a] of reach) if (a.taxii !== null) out.step(`${name} TAXII 2.1: ${a.taxii.url} (TLP:GREEN consumer, Authorization: Bearer ${a.taxii.token}; CA ${a.taxii.ca})`);
  }
  if (stop.aborted) return 130;

  const feeds = await startFeedServer(plan.path !== undefined ? new Map([[plan.servedName, plan.path]]) : new Map());
  cleanups.push(() => feeds.close());
  const first = net.partners[0]!;
  await net.addFeed(first, sandboxFeedObject(plan, feeds.baseUrl));
  out.step(`ingesting ${plan.description} at ${first.id}: proposals go to the sequencer, every partner votes, approved indicators replicate`);
  return watch({ net, out, flags, stop, deadline: started + flags.timeout * 1000, log });
}

/** Registers `threatmesh sandbox`. */
export function registerSandbox(program: Command, env: CliEnv, log: Logger): void {
  program.command('sandbox')
    .description('run a whole ThreatMesh network on this machine: a sequencer and N partner clusters (own kube-apiserver, database and operator each), ingest a feed at the first partner and show every cluster converging to the same log')
    .option('--partners <n>', 'number of partner clusters, each a voter', positiveInt, 3)
    .option('--source <file>', 'feed file to ingest at the first partner (default: a bundled sample of 200 made-up indicators)')
    .option('--format <format>', `how to parse --source: ${SOURCE_FORMATS.join(', ')}`)
    .option('--preset <name>', `parser preset (${Object.keys(PRESETS).join(', ')}); alone, ingests its bundled snapshot`)
    .option('--quorum <n>', 'approvals required (default ⌊2n/3⌋+1 of the n partners)', positiveInt)
    .option('--dir <dir>', 'state directory: clusters, databases, keys, certificates, logs', '.controlplane/network')
    .option('--fresh', 'wipe --dir first: new clusters, databases, keys and certificates', false)
    .option('--ferretdb-backend <backend>', BACKEND_FLAG_HELP)
    .option('--json', 'print progress as JSON lines; with --until-converged the last line is {"partners":[{"name","treeSize","rootHash","indicators","mongodbUri","taxii":{"url","token","ca"}}],"sequencer":{…}}; every line listing partners carries mongodbUri and taxii (a TLP:GREEN sample consumer)', false)
    .option('--until-converged', 'exit 0 once every partner holds the sequencer\'s log (non-zero after --timeout)', false)
    .option('--timeout <seconds>', 'deadline for the network to start and, with --until-converged, to converge', positiveInt, 300)
    .addHelpText('after', '\nExamples:\n  threatmesh sandbox                                   # 3 partners, the bundled sample, until Ctrl-C\n  threatmesh sandbox --partners 3 --json --until-converged\n  threatmesh sandbox --preset feodo                    # a bundled snapshot of a public feed\n  threatmesh sandbox --source ./iocs.txt --format lines\n')
    .action(async (flags: SandboxFlags) => {
      feedPlan(flags);
      backendRequest(flags.ferretdbBackend, env.ferretdbBackend);
      const stop = new StopSignal();
      const cleanups: Array<() => Promise<void>> = [];
      try {
        process.exitCode = await sandbox(flags, env, log, stop, cleanups);
      } finally {
        for (const c of cleanups.reverse()) await c().catch((err: unknown) => log.warn('cleanup failed', { err }));
        stop.dispose();
      }
    });
}

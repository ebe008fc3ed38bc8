/**
 * `threatmesh serve`: the partner's HTTPS server (TAXII 2.1 and exports) over its replicated
 * indicators in MongoDB. Consumers, their maximum TLP, roles and credentials come from --config
 * (docs/serve.md); TLS from --tls-cert/--tls-key (a mounted Secret); mTLS client certificates
 * are accepted when --client-ca is given. With --signing-key, contributors' POSTs become
 * ThreatIndicator proposals in --namespace (needs a cluster). SIGTERM/SIGINT stop it, exit 0.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { connectMongo, mongoClient } from '../store/connect.ts';
import { parseDuration } from '../controllers/schedule.ts';
import { SigningKey } from '../domain/signature.ts';
import { MAX_VOTE_BATCH } from '../domain/votebatch.ts';
import type { Logger } from '../log.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import { loadServeConfig, parseServeConfig, type ServeConfig } from '../serve/config.ts';
import { startServeService, type ServeServiceOptions } from '../serve/service.ts';
import { reportRoutes } from '../report/http.ts';
import { PartnerData } from '../report/source.ts';
import { isTlp, TLP_LEVELS } from '../serve/tlp.ts';
import type { CliEnv } from './env.ts';
import { UsageError } from './errors.ts';
import { PARTNER_DEFAULTS } from '../exchange/partner/defaults.ts';
import { clusterConfig, parseBind } from './flags.ts';

/** Parsed options of `threatmesh serve`. */
export interface ServeFlags {
  readonly config?: string;
  readonly partnerId?: string;
  readonly listen: string;
  readonly metricsBind: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly clientCa?: string;
  readonly mongodbUri?: string;
  readonly database: string;
  readonly signingKey?: string;
  readonly proposalBatchSize: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace: string;
  readonly exportDir?: string;
  readonly exportMaxTlp: string;
  readonly exportInterval: string;
}

/** What the flags resolve to before anything connects. */
export interface ServePlan {
  readonly config: ServeConfig;
  readonly mongodbUri: string;
  readonly database: string;
  readonly service: Omit<ServeServiceOptions, 'config' | 'db' | 'log' | 'proposing'>;
  readonly signer?: SigningKey;
  /** Proposals of one POST signed per Merkle batch (protocol v2); 0 signs each alone. */
  readonly proposalBatchSize: number;
  readonly namespace: string;
}

async function readFlagFile(flag: string, path: string | undefined, what: string): Promise<string> {
  if (path === undefined || path === '') throw new UsageError(`${flag} is required: ${what}`);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${flag} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function exportDir(flags: ServeFlags): ServeServiceOptions['exportDir'] {
  if (flags.exportDir === undefined) return undefined;
  const maxTlp = flags.exportMaxTlp;
  if (!isTlp(maxTlp)) throw new UsageError(`--export-max-tlp must be one of ${TLP_LEVELS.join(', ')}, got ${JSON.stringify(maxTlp)}`);
  let intervalMs: number;
  try {
    intervalMs = parseDuration(flags.exportInterval);
  } catch (err) {
    throw new UsageError(`--export-interval: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { dir: flags.exportDir, maxTlp: maxTlp, intervalMs };
}

async function signer(path: string | undefined): Promise<SigningKey | undefined> {
  if (path === undefined) return undefined;
  const pem = await readFlagFile('--signing-key', path, 'the partner\'s Ed25519 private.pem');
  try {
    return SigningKey.fromPem(pem);
  } catch (err) {
    throw new Error(`--signing-key ${path} is not an Ed25519 private key in PKCS#8 PEM (make one with \`threatmesh keys generate\`): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Checks every flag and reads every file before connecting; errors name the flag (or the config field) and the fix. Exported for tests. */
export async function servePlan(flags: ServeFlags, env: CliEnv): Promise<ServePlan> {
  const listen = parseBind('--listen', flags.listen);
  const metricsBind = parseBind('--metrics-bind', flags.metricsBind);
  const partnerId = flags.partnerId ?? '';
  if (partnerId === '') throw new UsageError('--partner-id is required: this partner\'s id (named in exports and MISP events)');
  const mongodbUri = flags.mongodbUri ?? env.mongodbUri ?? '';
  if (mongodbUri === '') throw new UsageError('--mongodb-uri is required: the partner\'s MongoDB with its replicated indicators (or set MONGODB_URI)');
  const text = await readFlagFile('--config', flags.config, 'the consumers file (docs/serve.md)');
  const config = await loadServeConfig(parseServeConfig(text), (p) => readFile(p, 'utf8'));
  const certPem = await readFlagFile('--tls-cert', flags.tlsCert, 'the server certificate, PEM (a mounted TLS Secret\'s tls.crt)');
  const keyPem = await readFlagFile('--tls-key', flags.tlsKey, 'the server key, PEM (tls.key)');
  const clientCaPem = flags.clientCa === undefined ? undefined : await readFlagFile('--client-ca', flags.clientCa, 'CA bundle of client certificates');
  const key = await signer(flags.signingKey);
  const batch = proposalBatchSize(flags.proposalBatchSize, key !== undefined);
  const dir = exportDir(flags);
  return {
    config, mongodbUri, database: flags.database, namespace: flags.namespace, proposalBatchSize: batch, ...(key !== undefined ? { signer: key } : {}),
    service: { partnerId, tls: { certPem, keyPem, clientCaPem }, listen, metricsBind, ...(dir !== undefined ? { exportDir: dir } : {}) },
  };
}

/** The checked `--proposal-batch-size`: 0, or 1..MAX_VOTE_BATCH with a signing key. */
function proposalBatchSize(text: string, signing: boolean): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > MAX_VOTE_BATCH) throw new UsageError(`--proposal-batch-size must be 0 (a signature per proposal, protocol v1) or a number of proposals from 1 to ${MAX_VOTE_BATCH}, got ${JSON.stringify(text)}`);
  if (n > 0 && !signing) throw new UsageError('--proposal-batch-size signs contributors\' proposals with this partner\'s key: give --signing-key too');
  return n;
}

function untilSignal(): Promise<string> {
  return new Promise((res) => {
    process.once('SIGTERM', () => res('SIGTERM'));
    process.once('SIGINT', () => res('SIGINT'));
  });
}

async function run(flags: ServeFlags, env: CliEnv, log: Logger): Promise<void> {
  const plan = await servePlan(flags, env);
  const cluster = plan.signer === undefined ? undefined : await clusterConfig(flags, env);
  const kube = cluster === undefined ? undefined : new KubeHttpClient(cluster, { userAgent: 'threatmesh-serve' });
  const mongo = mongoClient(plan.mongodbUri);
  try {
    const signal = untilSignal();
    // A database that is down is waited for (retried with backoff), never an exit; SIGTERM ends the wait.
    const waiting = new AbortController();
    void signal.then(() => waiting.abort());
    if (!(await connectMongo(mongo, { log, signal: waiting.signal }))) return;
    const running = await startServeService({
      ...plan.service, config: plan.config, db: mongo.db(plan.database), log,
      routes: [{ api: 'report', prefixes: ['trends', 'reports'], handle: reportRoutes({ reader: new PartnerData(mongo.db(plan.database)), log }) }],
      proposing: kube !== undefined && plan.signer !== undefined ? { kube, namespace: plan.namespace, signer: plan.signer, proposalBatchSize: plan.proposalBatchSize } : undefined,
    });
    log.info('stopping', { why: await signal });
    await running.stop();
  } finally {
    await mongo.close();
    kube?.close();
  }
}

/** Registers `threatmesh serve`. */
export function registerServe(program: Command, env: CliEnv, log: Logger): void {
  program.command('serve')
    .description('run the partner\'s HTTPS server: TAXII 2.1 (/taxii2/, /api/) and exports (/exports/: Suricata, Zeek Intel, CSV, lists, MISP feed) over the replicated indicators, with bearer-token or mTLS consumers limited by TLP (docs/serve.md)')
    .option('--config <file>', 'consumers, their maximum TLP, roles, token hashes or token files, certificates (YAML or JSON; required)')
    .option('--partner-id <id>', 'this partner\'s id (required)')
    .option('--listen <host:port>', 'HTTPS listen address', '0.0.0.0:8443')
    .option('--metrics-bind <host:port>', 'serve /metrics, /healthz and /readyz here (plain HTTP)', '0.0.0.0:8080')
    .option('--tls-cert <file>', 'server certificate, PEM (required)')
    .option('--tls-key <file>', 'server key, PEM (required)')
    .option('--client-ca <file>', 'accept client certificates that chain to this CA (mTLS consumers)')
    .option('--mongodb-uri <uri>', 'the partner\'s MongoDB (default: $MONGODB_URI)')
    .option('--database <name>', 'database of the replicated indicators', PARTNER_DEFAULTS.database)
    .option('--signing-key <file>', 'the partner\'s Ed25519 private.pem: contributors\' POSTs become proposals signed with it (needs a cluster)')
    .option('--proposal-batch-size <n>', `with --signing-key: sign the proposals of one POST as Merkle batches of up to n (protocol v2, one signature per batch; 1..${MAX_VOTE_BATCH}); 0 signs each alone (protocol v1). Only once the sequencer and every partner run protocol v2`, '0')
    .option('--kubeconfig <path>', 'cluster for proposals: kubeconfig file(s), \':\'-separated (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context instead of its current-context')
    .option('--namespace <ns>', 'namespace of proposed ThreatIndicators', PARTNER_DEFAULTS.namespace)
    .option('--export-dir <dir>', 'also write the full exports into this directory for in-cluster tools')
    .option('--export-max-tlp <tlp>', 'highest TLP written to --export-dir', 'green')
    .option('--export-interval <duration>', 'how often --export-dir is refreshed', '60s')
    .action((flags: ServeFlags) => run(flags, env, log));
}

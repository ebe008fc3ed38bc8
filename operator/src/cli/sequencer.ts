/**
 * `threatmesh sequencer`: runs the network's sequencer. The partner directory comes live from
 * the PartnerNodes of --namespace; the log lives in MongoDB; partners call over gRPC with mutual
 * TLS. With --leader-elect only the Lease holder serves, and a replica that loses the Lease exits
 * 1. SIGTERM/SIGINT stop serving, release the Lease and close the database, then exit 0.
 */
import { X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { connectMongo, mongoClient } from '../store/connect.ts';
import { formatDuration, parseDuration } from '../controllers/schedule.ts';
import { SEQUENCER_DEFAULTS } from '../exchange/sequencer/defaults.ts';
import { SEQUENCER_LEASE_NAME, startSequencerService, type SequencerServiceOptions } from '../exchange/sequencer/service.ts';
import type { TlsMaterial } from '../exchange/protocol/tls.ts';
import type { Logger } from '../log.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import type { ClusterConfig } from '../runtime/kubeconfig.ts';
import type { CliEnv } from './env.ts';
import { UsageError } from './errors.ts';
import { addClusterFlags, clusterConfig, withLeaseClient, need, type ClusterFlags, parseBind, readCrl, readFlagFile, readSigningKey, untilSignal } from './flags.ts';

/** Parsed command-line options of `threatmesh sequencer`. */
export interface SequencerFlags extends ClusterFlags {
  readonly namespace: string;
  readonly listen: string;
  readonly partnerId?: string;
  readonly signingKey?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  readonly tlsCrl?: string;
  readonly mongodbUri?: string;
  readonly database: string;
  readonly quorum?: string;
  readonly votingWindow: string;
  readonly maxOpenRounds: string;
  readonly entryCache: string;
  readonly leaderElect: boolean;
  readonly leaderElectionNamespace?: string;
  readonly identity?: string;
  readonly metricsBind: string;
}

/** What the flags resolve to before anything connects: files read and checked, numbers parsed. */
export interface SequencerPlan {
  readonly service: Omit<SequencerServiceOptions, 'kube' | 'db' | 'log'>;
  readonly mongodbUri: string;
  readonly database: string;
  readonly cluster: ClusterConfig;
}





/** Reads the TLS files and checks that the certificate parses and names `partnerId` as its CN. */
async function tlsMaterial(flags: SequencerFlags, partnerId: string): Promise<TlsMaterial> {
  const what = 'the sequencer\'s mTLS identity from the network CA (CN = --partner-id)';
  const certPem = await readFlagFile('--tls-cert', need(flags.tlsCert, '--tls-cert', `${what}, PEM`));
  const keyPem = await readFlagFile('--tls-key', need(flags.tlsKey, '--tls-key', 'the private key of --tls-cert, PEM'));
  const caPem = await readFlagFile('--tls-ca', need(flags.tlsCa, '--tls-ca', 'the network CA bundle (PEM) that issues partner certificates'));
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`--tls-cert ${flags.tlsCert} is not a PEM certificate: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  if (cn !== partnerId) throw new Error(`--tls-cert ${flags.tlsCert} has subject CN ${JSON.stringify(cn ?? '')}, but --partner-id is ${JSON.stringify(partnerId)}; partners identify the sequencer by its certificate CN: issue it with CN=${partnerId}`);
  return { certPem, keyPem, caPem, ...(flags.tlsCrl !== undefined ? { crlPem: await readCrl(flags.tlsCrl) } : {}) };
}

function quorumOf(text: string | undefined): number | undefined {
  return text === undefined ? undefined : wholeNumber('--quorum', text);
}

function wholeNumber(flag: string, text: string): number {
  if (!/^[1-9]\d*$/.test(text)) throw new Error(`${flag} must be a whole number of at least 1, got ${JSON.stringify(text)}`);
  return Number(text);
}

function cacheSize(text: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`--entry-cache must be a whole number of entries (0: always read the database), got ${JSON.stringify(text)}`);
  return Number(text);
}

/** Checks every flag and reads every file, before any connection; the error names the flag and what to do. Exported for tests. */
export async function sequencerPlan(flags: SequencerFlags, env: CliEnv): Promise<SequencerPlan> {
  const listen = parseBind('--listen', flags.listen);
  const metricsBind = parseBind('--metrics-bind', flags.metricsBind);
  const quorum = quorumOf(flags.quorum);
  const windowMs = parseDuration(flags.votingWindow);
  const maxOpenRoundsPerProposer = wholeNumber('--max-open-rounds', flags.maxOpenRounds);
  const entryCacheSize = cacheSize(flags.entryCache);
  if (flags.namespace === '') throw new UsageError('--namespace must not be empty');
  const mongodbUri = need(flags.mongodbUri ?? env.mongodbUri, '--mongodb-uri', 'the MongoDB URI of the sequencer\'s database (or set MONGODB_URI)');
  const partnerId = need(flags.partnerId, '--partner-id', 'the sequencer\'s partner id (its PartnerNode\'s partnerId and its certificate CN)');
  const key = await readSigningKey(need(flags.signingKey, '--signing-key', 'the tree-head Ed25519 private.pem (from `threatmesh keys generate`)'));
  const tls = await tlsMaterial(flags, partnerId);
  const cluster = await clusterConfig(flags, env);
  const identity = flags.identity ?? `${hostname()}-${process.pid}`;
  const leaderElection = flags.leaderElect ? { name: SEQUENCER_LEASE_NAME, namespace: flags.leaderElectionNamespace ?? flags.namespace, identity } : undefined;
  return {
    mongodbUri, database: flags.database, cluster,
    service: { namespace: flags.namespace, partnerId, key, tls, listen, metricsBind, windowMs, maxOpenRoundsPerProposer, entryCacheSize, ...(quorum !== undefined ? { quorum } : {}), ...(leaderElection ? { leaderElection } : {}) },
  };
}


async function run(flags: SequencerFlags, env: CliEnv, log: Logger): Promise<void> {
  const plan = await sequencerPlan(flags, env);
  const kube = new KubeHttpClient(plan.cluster, { userAgent: 'threatmesh-sequencer' });
  const mongo = mongoClient(plan.mongodbUri);
  let why = '';
  let stopping: number | undefined;
  try {
    const signal = untilSignal();
    // A database that is down is waited for (retried with backoff), never an exit; SIGTERM ends the
    // wait. The health server answers meanwhile (/readyz: database-unavailable, attempt N).
    const waiting = new AbortController();
    void signal.then(() => waiting.abort());
    const connectDb = (onFailure: (err: unknown, attempt: number, delayMs: number) => void): Promise<boolean> => connectMongo(mongo, { log, signal: waiting.signal, onFailure });
    const le = plan.service.leaderElection;
    const service = await startSequencerService({ ...plan.service, ...(le ? { leaderElection: withLeaseClient(plan.cluster, 'threatmesh-sequencer', le) } : {}), kube, db: mongo.db(plan.database), connectDb, log });
    why = await Promise.race([signal, service.ended]);
    log.info('stopping', { why });
    stopping = Date.now();
    await service.stop();
    if (why !== 'SIGTERM' && why !== 'SIGINT') throw new Error(why);
  } finally {
    await mongo.close();
    kube.close();
    // The last line: how long stopping took (bounded: streams and waits end at once, server.ts).
    if (stopping !== undefined) log.info('sequencer stopped', { why, ms: Date.now() - stopping });
  }
}

/** Registers `threatmesh sequencer`. */
export function registerSequencer(program: Command, env: CliEnv, log: Logger): void {
  addClusterFlags(program.command('sequencer'), 'the cluster whose PartnerNodes form the partner directory')
    .description('run the network\'s sequencer: voting rounds, quorum and the signed Merkle log, served to partners over gRPC with mutual TLS; partners come from the PartnerNodes of --namespace (updated live)')
    .option('--namespace <ns>', 'namespace of the PartnerNodes', SEQUENCER_DEFAULTS.namespace)
    .option('--listen <host:port>', 'gRPC listen address', SEQUENCER_DEFAULTS.listen)
    .option('--partner-id <id>', 'the sequencer\'s own id: the partnerId of its PartnerNode (role sequencer) and the CN of --tls-cert (required)')
    .option('--signing-key <file>', 'tree-head Ed25519 private.pem; its public key must be the sequencer PartnerNode\'s spec.publicKey (required)')
    .option('--tls-cert <file>', 'the sequencer\'s certificate from the network CA, PEM (required)')
    .option('--tls-key <file>', 'private key of --tls-cert, PEM (required)')
    .option('--tls-ca <file>', 'network CA bundle that issues partner client certificates, PEM (required)')
    .option('--tls-crl <file>', 'revocation lists (PEM) of the network CA: partner certificates they list are refused; restart to load a new one (default: no revocation check)')
    .option('--mongodb-uri <uri>', 'MongoDB holding the log (default: $MONGODB_URI)')
    .option('--database <name>', 'database of the log, tree heads and open rounds', SEQUENCER_DEFAULTS.database)
    .option('--quorum <n>', 'approvals required (default ⌊2n/3⌋+1 of n voters)')
    .option('--voting-window <duration>', 'how long a round accepts votes', formatDuration(SEQUENCER_DEFAULTS.votingWindowMs))
    .option('--max-open-rounds <n>', 'most rounds one proposer may have open; more proposals are refused (round-quota) and retried by the partner', String(SEQUENCER_DEFAULTS.maxOpenRoundsPerProposer))
    .option('--entry-cache <n>', 'recent log entries kept in memory to serve partner streams without a database read (0: always read the database); memory grows with it', String(SEQUENCER_DEFAULTS.entryCacheSize))
    .option('--leader-elect', `serve only while holding the ${SEQUENCER_LEASE_NAME} Lease; a replica that loses it exits 1`, false)
    .option('--leader-election-namespace <ns>', 'namespace of the Lease (default: --namespace)')
    .option('--identity <id>', 'this replica\'s identity in the Lease (default: hostname-pid)')
    .option('--metrics-bind <host:port>', 'serve /metrics, /healthz and /readyz here (ready only while serving)', SEQUENCER_DEFAULTS.metricsBind)
    .action((flags: SequencerFlags) => run(flags, env, log));
}

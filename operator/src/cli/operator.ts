/**
 * `threatmesh operator`: runs the Feed, ThreatIndicator and PartnerNode controllers (with
 * `--exchange` also ThreatReport and LogScan, cli/operatorscan.ts) and the ThreatIndicator admission webhook against KUBECONFIG (or --kubeconfig), or in-cluster config,
 * until SIGTERM/SIGINT, then stops gracefully (no new work, in-flight reconciles finish, the
 * leader Lease is released).
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { UsageError } from './errors.ts';
import { INGEST_NAME, LEADER_LEASE_NAME, OPERATOR_NAMESPACE } from '../api/manifests.ts';
import { SHARED_SIGNATURES_KEPT, SigningKey, VerifiedSignatures } from '../domain/signature.ts';
import { MAX_VOTE_BATCH } from '../domain/votebatch.ts';
import { DEFAULT_VOTE_BATCH_SIZE } from '../exchange/partner/voter.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import type { KubeClient } from '../runtime/client.ts';
import type { OperatorOptions } from '../controllers/setup.ts';
import { reportsRunnable } from './report.ts';
import { JobExecutor } from '../controllers/jobexecutor.ts';
import { InProcessExecutor } from '../controllers/inprocess.ts';
import type { FeedRunExecutor } from '../controllers/executor.ts';
import { formatDuration, parseDuration } from '../controllers/schedule.ts';
import { OPERATOR_DEFAULTS } from '../controllers/defaults.ts';
import { PARTNER_DEFAULTS } from '../exchange/partner/defaults.ts';
import { addClusterFlags, clusterConfig, kubeconfigPath, withLeaseClient, parseBind, untilSignal, type ClusterFlags } from './flags.ts';
import { checkExchangeFlags, exchangePreparation, exchangeRunnable, loadExchangeMaterial, MONGO_CLOSE_MS, type ExchangeFlags, type ExchangeMaterial } from './exchangeflags.ts';
import { runTerms } from './terms.ts';
import { cidrList } from './ingest.ts';
import { checkScanFlags, logScanExtras, SCAN_FLAG_DEFAULTS, type OperatorScanFlags, type OperatorScanSettings } from './operatorscan.ts';
import { checkSightingFlags, SIGHTINGS_PUSH_INTERVAL, sightingsPushRunnable, type SightingFlags, type SightingPushSettings } from './operatorsightings.ts';
import type { AdmissionPolicy } from '../api/admission.ts';

/** Parsed command-line options of `threatmesh operator` (the exchange flags are in exchangeflags.ts). */
export interface OperatorFlags extends ExchangeFlags, OperatorScanFlags, SightingFlags, ClusterFlags {
  readonly namespace?: string;
  readonly metricsBind: string;
  readonly healthBind?: string;
  readonly webhookBind: string;
  readonly webhookCert?: string;
  readonly webhookKey?: string;
  readonly leaderElect: boolean;
  readonly leaderElectionNamespace?: string;
  readonly identity?: string;
  readonly executor: string;
  readonly jobImage?: string;
  readonly jobServiceAccount?: string;
  readonly ingestionModule?: string;
  readonly partnerId?: string;
  readonly signingKey?: string;
  readonly votingWindow: string;
  readonly quorum?: string;
  readonly allowInternalFeeds?: string[];
  /** `--proposal-batch-size`: proposals of an in-process Feed run signed per batch (protocol v2). @default 0 (single proposals) */
  readonly proposalBatchSize?: string;
}

/**
 * The checked `--proposal-batch-size`: 0 (none given) or 1..MAX_VOTE_BATCH, only with
 * `--executor inprocess` and `--signing-key`, where the operator signs Feed runs' proposals.
 */
function proposalBatchSize(flags: OperatorFlags): number {
  const text = flags.proposalBatchSize;
  if (text === undefined) return 0;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > MAX_VOTE_BATCH) throw new UsageError(`--proposal-batch-size must be 0 (a signature per proposal, protocol v1) or a number of proposals from 1 to ${MAX_VOTE_BATCH}, got ${JSON.stringify(text)}; ${DEFAULT_VOTE_BATCH_SIZE} is a good size once the sequencer and every partner run protocol v2`);
  if (n === 0) return 0;
  if (flags.executor !== 'inprocess') throw new UsageError('--proposal-batch-size applies to Feed runs the operator signs (--executor inprocess); a Feed Job runs "threatmesh ingest" without the operator\'s key, so drop the flag or use --executor inprocess');
  if (flags.signingKey === undefined) throw new UsageError('--proposal-batch-size signs Feed runs\' proposals with this partner\'s key: give --partner-id and --signing-key too');
  return n;
}



function executorFor(flags: OperatorFlags, client: KubeClient, env: CliEnv, kubeconfig: string | undefined): FeedRunExecutor {
  if (flags.executor === 'job') {
    if (!flags.jobImage) throw new UsageError('--executor job needs --job-image IMAGE (the image holding the threatmesh CLI), or use --executor inprocess');
    return new JobExecutor(client, { image: flags.jobImage, ...(flags.jobServiceAccount ? { serviceAccountName: flags.jobServiceAccount } : {}), allowInternalFeeds: flags.allowInternalFeeds ?? [] });
  }
  if (flags.executor === 'inprocess') {
    const module = flags.ingestionModule ? pathToFileURL(resolve(flags.ingestionModule)) : new URL('../controllers/ingest-entry.ts', import.meta.url);
    const context = {
      kubeconfig, context: flags.context, kubernetesServiceHost: env.kubernetesServiceHost, kubernetesServicePort: env.kubernetesServicePort,
      partnerId: flags.partnerId, signingKeyPath: flags.signingKey ? resolve(flags.signingKey) : undefined, allowInternalFeeds: flags.allowInternalFeeds ?? [],
    };
    // Runs write their log lines where this command's own output goes (a file under `threatmesh up`).
    return new InProcessExecutor({ module, context, proposalBatchSize: proposalBatchSize(flags), output: env.stderr }, () => new Date());
  }
  throw new UsageError(`--executor must be job or inprocess, got ${JSON.stringify(flags.executor)}`);
}

async function identityCheck(flags: OperatorFlags, log: Logger): Promise<void> {
  if ((flags.partnerId === undefined) !== (flags.signingKey === undefined)) throw new UsageError('--partner-id and --signing-key go together: give both (this partner\'s id and its private.pem from "threatmesh keys generate") or neither');
  if (!flags.signingKey) return;
  const pem = await readFile(flags.signingKey, 'utf8').catch((err: unknown) => {
    throw new Error(`--signing-key ${flags.signingKey}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  });
  const key = SigningKey.fromPem(pem);
  log.info('partner identity', { partnerId: flags.partnerId, keyId: key.publicKey.id });
}

function checkFlags(flags: OperatorFlags): void {
  parseBind('--metrics-bind', flags.metricsBind);
  parseBind('--webhook-bind', flags.webhookBind);
  if (flags.healthBind !== undefined && flags.healthBind !== flags.metricsBind) throw new UsageError('--health-bind must equal --metrics-bind: /healthz, /readyz and /metrics share one server');
  if ((flags.webhookCert === undefined) !== (flags.webhookKey === undefined)) throw new UsageError('--webhook-cert and --webhook-key go together');
  if (flags.executor !== 'job' && flags.executor !== 'inprocess') throw new UsageError(`--executor must be job or inprocess, got ${JSON.stringify(flags.executor)}`);
  if (flags.executor === 'job' && !flags.jobImage) throw new UsageError('--executor job needs --job-image IMAGE (the image holding the threatmesh CLI), or use --executor inprocess');
  if (flags.quorum !== undefined && !/^[1-9]\d*$/.test(flags.quorum)) throw new Error('--quorum must be a whole number of at least 1');
  proposalBatchSize(flags);
  parseDuration(flags.votingWindow);
}

interface ExtrasDeps {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly env: CliEnv;
  readonly policy: AdmissionPolicy;
  readonly namespace: string | undefined;
  readonly onExchangeError: ((err: unknown) => void) | undefined;
}

// With --exchange: the partner exchange, the ThreatReport controller and the LogScan controller.
// The exchange's preparation is the process's: each term's exchange Runnable starts from it (cli/terms.ts).
function exchangeExtras(material: ExchangeMaterial, scan: OperatorScanSettings | undefined, push: SightingPushSettings | undefined, d: ExtrasDeps): Pick<OperatorOptions, 'extras' | 'processScoped'> {
  const prepared = exchangePreparation(material, d.log);
  const extras: NonNullable<OperatorOptions['extras']> = (parts) => [
    exchangeRunnable(material, { client: d.client, log: d.log, admission: d.policy, ...(d.onExchangeError ? { onError: d.onExchangeError } : {}) }, parts, prepared),
    reportsRunnable(material.settings, { client: d.client, log: d.log }, parts),
    ...(scan === undefined ? [] : logScanExtras(scan, material.settings, { client: d.client, logLevel: d.env.logLevel, ...(d.namespace ? { namespace: d.namespace } : {}) }, parts)),
    ...(push === undefined ? [] : [sightingsPushRunnable(push, { ...material.settings, key: material.key }, { log: d.log, registry: parts.metrics.registry })]),
  ];
  return { extras, processScoped: { close: () => prepared.close(MONGO_CLOSE_MS), standBy: () => prepared.standBy(), ready: () => prepared.standbyState() } };
}

/**
 * Builds OperatorOptions from flags (flag errors first, before any connection); exported for
 * tests. `onExchangeError` hears a partner-partner exchange that failed to start.
 */
export async function operatorOptions(flags: OperatorFlags, env: CliEnv, log: Logger, onExchangeError?: (err: unknown) => void): Promise<OperatorOptions> {
  checkFlags(flags);
  const exchange = checkExchangeFlags(flags, env, parseBind);
  if (exchange && flags.namespace !== undefined && flags.namespace !== exchange.namespace) {
    throw new UsageError(`--namespace ${flags.namespace} and --exchange-namespace ${exchange.namespace} differ: the controllers would not see the exchange's PartnerNodes and ThreatIndicators; give both the same namespace or drop --namespace`);
  }
  await identityCheck(flags, log);
  const material = exchange ? await loadExchangeMaterial(exchange) : undefined;
  const cluster = await clusterConfig(flags, env);
  const client = new KubeHttpClient(cluster, { userAgent: 'threatmesh-operator' });
  const identity = flags.identity ?? `${hostname()}-${process.pid}`;
  const webhook = flags.webhookCert && flags.webhookKey
    ? { ...parseBind('--webhook-bind', flags.webhookBind), cert: await readFile(flags.webhookCert), key: await readFile(flags.webhookKey) }
    : undefined;
  const scan = checkScanFlags(flags, env.kubeconfig, exchange !== undefined);
  const push = await checkSightingFlags(flags, exchange !== undefined);
  const policy = { votingWindowMs: parseDuration(flags.votingWindow), ...(flags.quorum !== undefined ? { quorum: Number(flags.quorum) } : {}) };
  return {
    client,
    log,
    executor: executorFor(flags, client, env, await kubeconfigPath(flags, env)),
    watchJobs: flags.executor === 'job',
    identity,
    health: parseBind('--metrics-bind', flags.metricsBind),
    policy,
    // One per process: every term (cli/terms.ts) judges with the signatures the last one verified.
    signatures: new VerifiedSignatures(SHARED_SIGNATURES_KEPT),
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
    ...(webhook ? { webhook } : {}),
    ...(flags.leaderElect ? { leaderElection: withLeaseClient(cluster, 'threatmesh-operator', { name: LEADER_LEASE_NAME, namespace: flags.leaderElectionNamespace ?? flags.namespace ?? OPERATOR_NAMESPACE, identity }) } : {}),
    ...(material ? exchangeExtras(material, scan, push, { client, log, env, policy, namespace: flags.namespace, onExchangeError }) : {}),
  };
}


/** How long the process may linger after a graceful stop before it exits anyway. */
export const EXIT_GRACE_MS = 5000;

/**
 * Exits EXIT_GRACE_MS after the graceful stop if something still holds the event loop (a
 * socket to a database or API server that stopped answering): as when a Go main returns, a
 * stopped operator must not linger (a chaos run saw one take 5 minutes to exit). The timer does
 * not itself keep the process.
 */
function exitSoonAfterStop(log: Logger): void {
  setTimeout(() => {
    log.warn('still open after the graceful stop; exiting without it', { resources: process.getActiveResourcesInfo(), afterMs: EXIT_GRACE_MS });
    process.exit();
  }, EXIT_GRACE_MS).unref();
}

/** Registers `threatmesh operator`. */
export function registerOperator(program: Command, env: CliEnv, log: Logger): void {
  addClusterFlags(program.command('operator'), 'the cluster to reconcile')
    .description('run the ThreatMesh controllers (Feed, ThreatIndicator, PartnerNode; with --exchange also ThreatReport and LogScan) and the admission webhook against KUBECONFIG or in-cluster config')
    .option('--namespace <ns>', 'watch only this namespace (default: all namespaces)')
    .option('--metrics-bind <host:port>', 'serve /metrics, /healthz and /readyz here', OPERATOR_DEFAULTS.metricsBind)
    .option('--health-bind <host:port>', 'same server as --metrics-bind (accepted for controller-runtime familiarity; must be equal)')
    .option('--webhook-bind <host:port>', 'serve the admission webhook here (HTTPS)', OPERATOR_DEFAULTS.webhookBind)
    .option('--webhook-cert <file>', 'PEM serving certificate of the webhook (enables the webhook)')
    .option('--webhook-key <file>', 'PEM private key of the webhook certificate')
    .option('--leader-elect', 'elect a leader on a coordination.k8s.io Lease so only one replica reconciles', false)
    .option('--leader-election-namespace <ns>', `namespace of the Lease (default: --namespace or ${OPERATOR_NAMESPACE})`)
    .option('--identity <id>', 'this replica\'s identity in the Lease and Events (default: hostname-pid)')
    .option('--executor <kind>', 'how Feed runs execute: job (Kubernetes Jobs) or inprocess (a child process of the operator, local sandbox)', OPERATOR_DEFAULTS.executor)
    .option('--job-image <image>', 'image of ingestion Jobs (needed with --executor job)')
    .option('--job-service-account <name>', 'ServiceAccount of ingestion Jobs, in each Feed namespace (see config/rbac/ingest.yaml)', INGEST_NAME)
    .option('--allow-internal-feeds <cidr>', 'let Feeds fetch from these internal addresses (loopback, private, link-local and cloud metadata are refused otherwise), for ingestion Jobs and in-process runs; comma-separated or repeated', cidrList)
    .option('--ingestion-module <path>', 'module exporting runIngestion(feed, runId, context) for --executor inprocess (default: the built-in Feed ingestion)')
    .option('--proposal-batch-size <n>', `with --executor inprocess and --signing-key: sign each Feed run's proposals as protocol v2 Merkle batches of at most n (1..${MAX_VOTE_BATCH}), one signature per batch; the operator checks every proposal of a batch itself (only once the sequencer and every partner run protocol v2; docs/feeds.md); 0 signs each proposal alone (default: 0)`)
    .option('--partner-id <id>', 'this partner\'s id (with --signing-key; the CN of --tls-cert with --exchange)')
    .option('--signing-key <file>', 'this partner\'s Ed25519 private.pem (with --partner-id)')
    .option('--exchange', 'join the partner exchange: replicate the sequencer\'s log, forward local proposals, vote, gossip tree heads (needs --partner-id, --signing-key, --tls-*, a MongoDB URI)')
    .option('--exchange-namespace <ns>', `where PartnerNodes are read and replicated ThreatIndicators written (default: ${PARTNER_DEFAULTS.namespace})`)
    .option('--tls-cert <file>', 'this partner\'s mTLS certificate (PEM, CN = --partner-id)')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
    .option('--tls-ca <file>', 'the network CA that issues every party\'s certificate (PEM)')
    .option('--tls-crl <file>', 'revocation lists (PEM) of the network CA: certificates they list are refused, both ways; restart to load a new one (default: no revocation check)')
    .option('--mongodb-uri <uri>', 'MongoDB of this partner\'s replica (default: $MONGODB_URI)')
    .option('--database <name>', `database of this partner's replica (default: ${PARTNER_DEFAULTS.database})`)
    .option('--voting-policy <file>', 'YAML voting policy (default: automatic, approve what the warning lists allow)')
    .option('--gossip-bind <host:port>', `serve this partner's accepted tree head to peers here (default: ${PARTNER_DEFAULTS.gossipBind})`)
    .option('--repair-interval <duration>', `drift repair period (default: ${formatDuration(PARTNER_DEFAULTS.repairIntervalMs)})`)
    .option('--sync-interval <duration>', `status, gossip, forwarding and voting period (default: ${formatDuration(PARTNER_DEFAULTS.syncIntervalMs)})`)
    .option('--vote-batch-size <n>', 'sign automatic votes as protocol v2 batches of at most n votes, one signature per batch (only once the sequencer and every partner run protocol v2; docs/trust-model.md); 0 signs each vote alone (default: 0)')
    .option('--voting-window <duration>', 'how long voting on a proposal stays open', formatDuration(OPERATOR_DEFAULTS.votingWindowMs))
    .option('--quorum <n>', 'approvals required (default ⌊2n/3⌋+1 of n voters)')
    .option('--scan-mongodb-secret <name/key>', `with --exchange and --executor job: the Secret (in each LogScan namespace) and key holding the partner MongoDB URI for LogScan shard pods (default: ${SCAN_FLAG_DEFAULTS.mongodbSecret})`)
    .option('--sightings-peers <file>', 'with --exchange: push the sightings of our LogScans, signed, to the peers this YAML file lists (name, url, ca, cert+key or tokenFile; docs/logscan.md)')
    .option('--sightings-push-interval <duration>', `with --sightings-peers: how often (default: ${SIGHTINGS_PUSH_INTERVAL})`)
    .option('--scan-capacity <n>', `with --exchange: LogScan shards running at once, shared fairly between scans (default: ${SCAN_FLAG_DEFAULTS.capacity})`)
    .action(async (flags: OperatorFlags) => {
      let exchangeFailed: (why: string) => void = () => undefined;
      const failed = new Promise<string>((res) => { exchangeFailed = res; });
      const opts = await operatorOptions(flags, env, log, (err) => exchangeFailed(`partner exchange failed to start: ${err instanceof Error ? err.message : String(err)}`));
      // A lost Lease starts a new term in this process when the old one stopped cleanly (cli/terms.ts).
      const why = await runTerms(opts, Promise.race([untilSignal(), failed]), log);
      if (opts.executor instanceof InProcessExecutor) await opts.executor.close();
      if (why !== 'SIGTERM' && why !== 'SIGINT') process.exitCode = 1;
      exitSoonAfterStop(log);
    });
}

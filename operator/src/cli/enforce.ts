/**
 * `threatmesh enforce`: runs the EnforcementPolicy controller against KUBECONFIG (or in-cluster
 * config) and the partner's replicated MongoDB set until SIGTERM/SIGINT: CiliumCIDRGroups and the
 * egress-deny CiliumClusterwideNetworkPolicy, and the HAProxy deny maps through its runtime API.
 * A role of the same image, next to `threatmesh operator --exchange` (which fills the database).
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { LEADER_LEASE_NAME, OPERATOR_NAMESPACE } from '../api/manifests.ts';
import { startEnforcement, type EnforcementOptions, type RunningEnforcement } from '../controllers/enforcementsetup.ts';
import { parseDuration } from '../controllers/schedule.ts';
import type { Logger } from '../log.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import type { CliEnv } from './env.ts';
import { UsageError, flagValue } from './errors.ts';
import { PARTNER_DEFAULTS } from '../exchange/partner/defaults.ts';
import { addClusterFlags, clusterConfig, withLeaseClient, parseBind, untilSignal, type ClusterFlags } from './flags.ts';
import { mongoClient } from '../store/connect.ts';

/** Parsed options of `threatmesh enforce`. */
export interface EnforceFlags extends ClusterFlags {
  readonly namespace?: string;
  readonly mongodbUri?: string;
  readonly database: string;
  readonly metricsBind: string;
  readonly leaderElect: boolean;
  readonly leaderElectionNamespace?: string;
  readonly identity?: string;
  readonly pollInterval: string;
  readonly fullReloadInterval: string;
  readonly deltaLimit: string;
}

/** Checks the flags before anything connects; returns the numbers. Exported for tests. */
export function checkEnforceFlags(flags: EnforceFlags, env: CliEnv): { pollMs: number; reloadMs: number; deltaLimit: number; mongodbUri: string } {
  parseBind('--metrics-bind', flags.metricsBind);
  const pollMs = flagValue('--poll-interval', flags.pollInterval, parseDuration);
  const reloadMs = flagValue('--full-reload-interval', flags.fullReloadInterval, parseDuration);
  if (reloadMs < pollMs) throw new UsageError('--full-reload-interval must be at least --poll-interval (e.g. 10m)');
  if (!/^\d+$/.test(flags.deltaLimit)) throw new Error('--delta-limit must be a whole number (changed map keys sent as a delta before a versioned swap), e.g. 5000');
  const mongodbUri = flags.mongodbUri ?? env.mongodbUri;
  if (!mongodbUri) throw new UsageError('--mongodb-uri (or MONGODB_URI) is required: the partner database whose replicated indicators are enforced');
  return { pollMs, reloadMs, deltaLimit: Number(flags.deltaLimit), mongodbUri };
}


async function run(flags: EnforceFlags, env: CliEnv, log: Logger): Promise<void> {
  const checked = checkEnforceFlags(flags, env);
  const cluster = await clusterConfig(flags, env);
  const client = new KubeHttpClient(cluster, { userAgent: 'threatmesh-enforce' });
  const mongo = mongoClient(checked.mongodbUri);
  await mongo.connect();
  const identity = flags.identity ?? `${hostname()}-${process.pid}`;
  let lost: (why: string) => void = () => undefined;
  const lostLeadership = new Promise<string>((res) => { lost = res; });
  const opts: EnforcementOptions = {
    client, db: mongo.db(flags.database), log, pollIntervalMs: checked.pollMs, fullReloadMs: checked.reloadMs, deltaLimit: checked.deltaLimit,
    health: parseBind('--metrics-bind', flags.metricsBind), onLostLeadership: () => lost('lost leadership'),
    ...(flags.namespace ? { namespace: flags.namespace } : {}),
    ...(flags.leaderElect ? { leaderElection: withLeaseClient(cluster, 'threatmesh-enforce', { name: `${LEADER_LEASE_NAME}-enforce`, namespace: flags.leaderElectionNamespace ?? flags.namespace ?? OPERATOR_NAMESPACE, identity }) } : {}),
  };
  let running: RunningEnforcement | undefined;
  try {
    running = await startEnforcement(opts);
    log.info('enforcing', { database: flags.database, pollIntervalMs: checked.pollMs });
    const why = await Promise.race([untilSignal(), lostLeadership]);
    log.info('stopping', { why });
    if (why !== 'SIGTERM' && why !== 'SIGINT') process.exitCode = 1;
  } finally {
    await running?.stop();
    await mongo.close();
    client.close();
  }
}

/** Registers `threatmesh enforce`. */
export function registerEnforce(program: Command, env: CliEnv, log: Logger): void {
  addClusterFlags(program.command('enforce'), 'the cluster running Cilium and the EnforcementPolicies')
    .description('keep Cilium CIDR groups + egress-deny policies and HAProxy deny maps equal to the EnforcementPolicies\' selection of the replicated indicators (docs/enforcement.md)')
    .option('--namespace <ns>', 'watch EnforcementPolicies (and their allowlist ConfigMaps) only in this namespace (default: all namespaces)')
    .option('--mongodb-uri <uri>', 'the partner database holding the replicated indicators (default: $MONGODB_URI)')
    .option('--database <name>', 'database of the replica', PARTNER_DEFAULTS.database)
    .option('--metrics-bind <host:port>', 'serve /metrics (artifact sizes, headroom), /healthz and /readyz here', '127.0.0.1:8081')
    .option('--leader-elect', 'elect a leader on a Lease so only one replica writes the artifacts', false)
    .option('--leader-election-namespace <ns>', `namespace of the Lease (default: --namespace or ${OPERATOR_NAMESPACE})`)
    .option('--identity <id>', 'this replica\'s identity in the Lease (default: hostname-pid)')
    .option('--poll-interval <duration>', 'how often the replicated set is polled for admissions and revocations (by log-index high-water mark)', '1s')
    .option('--full-reload-interval <duration>', 'how often the whole set is re-read and the Cilium objects re-listed (drift repair)', '10m')
    .option('--delta-limit <n>', 'most changed keys per HAProxy map applied with add/del map; more are applied as one versioned swap (prepare/add/commit map)', '5000')
    .action(async (flags: EnforceFlags) => run(flags, env, log));
}

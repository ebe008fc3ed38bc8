/**
 * `threatmesh replica-api`: serves a partner's replicated set as the aggregated Kubernetes API
 * `replica.threatmesh.io/v1alpha1` (serve/replicaapi.ts), so `kubectl get threatindicators`
 * lists every admitted indicator from the partner database while etcd holds none of them
 * (docs/adr/2026-12-06-million-indicators.md). Stateless and read-only: run as many replicas as
 * you like behind the Service the APIService names. Needs RBAC to read
 * (and watch) kube-system/extension-apiserver-authentication, whose changes it applies without a
 * restart (serve/replicatrust.ts), and to create SubjectAccessReviews.
 * `--metrics-bind` serves /metrics (serve/replicametrics.ts), /healthz and /readyz over plain
 * HTTP on a listener of its own, apart from the HTTPS port only the front proxy may call.
 */
import type { Command } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import { systemClock } from '../runtime/clock.ts';
import { NamedIndicatorPages } from '../store/indicatornames.ts';
import { AccessReviewer, loadRequestHeaderConfig } from '../serve/replicaauth.ts';
import { startReplicaApi } from '../serve/replicaapi.ts';
import { watchRequestHeader } from '../serve/replicatrust.ts';
import { DatabaseReadiness, ReplicaApiMetrics } from '../serve/replicametrics.ts';
import { HealthServer, type HealthCheck } from '../runtime/health.ts';
import { PARTNER_DEFAULTS } from '../exchange/partner/defaults.ts';
import { addClusterFlags, clusterConfig, type ClusterFlags, need, parseBind, readFlagFile, untilSignal } from './flags.ts';
import { mongoClient } from '../store/connect.ts';

/** Parsed options of `threatmesh replica-api`. */
export interface ReplicaApiFlags extends ClusterFlags {
  readonly mongodbUri?: string;
  readonly database: string;
  readonly namespace: string;
  readonly bind: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly metricsBind: string;
}

/** Default listening address. */
export const REPLICA_API_BIND = '0.0.0.0:9444';

/** Default address of /metrics, /healthz and /readyz (plain HTTP; the chart's Service port `metrics`). */
export const REPLICA_API_METRICS_BIND = '0.0.0.0:8080';

async function run(flags: ReplicaApiFlags, env: CliEnv, log: Logger): Promise<void> {
  const bind = parseBind('--bind', flags.bind);
  const metricsBind = parseBind('--metrics-bind', flags.metricsBind);
  const uri = need(flags.mongodbUri ?? env.mongodbUri, '--mongodb-uri', 'the partner database whose indicators are served (or set MONGODB_URI)');
  const cert = await readFlagFile('--tls-cert', need(flags.tlsCert, '--tls-cert', 'the serving certificate; it must name <service>.<namespace>.svc of the Service the APIService points at'));
  const key = await readFlagFile('--tls-key', need(flags.tlsKey, '--tls-key', 'the private key of --tls-cert'));
  const client = new KubeHttpClient(await clusterConfig(flags, env), { userAgent: 'threatmesh-replica-api' });
  const requestHeader = await loadRequestHeaderConfig(client);
  const mongo = await mongoClient(uri).connect();
  const db = mongo.db(flags.database);
  const records = new NamedIndicatorPages(db, { clock: systemClock });
  let readiness: readonly HealthCheck[] = [];
  const metrics = new ReplicaApiMetrics(() => readiness);
  const database = new DatabaseReadiness({ ping: () => db.command({ ping: 1 }), clock: systemClock, metrics, log });
  readiness = [database.check];
  metrics.countOpenLists(() => records.openCount);
  const health = new HealthServer({ metrics, log, host: metricsBind.host, port: metricsBind.port, readyChecks: readiness });
  try {
    database.start();
    const metricsPort = await health.start();
    const server = await startReplicaApi({
      records, namespace: flags.namespace, requestHeader, reviewer: new AccessReviewer(client, () => systemClock.now()),
      cert, key, now: () => new Date(), log, metrics, readiness,
    }, bind.host, bind.port);
    log.info('serving metrics and health', { host: metricsBind.host, port: metricsPort });
    // One scan on FerretDB 1.x: asked now, not at the first unknown name (store/indicatorpages.ts).
    const started = systemClock.now();
    void records.hasUnnamed().then(
      (unnamed) => log.info('checked for records stored without a name', { unnamed, ms: systemClock.now() - started }),
      (err: unknown) => log.warn('could not check for records stored without a name; the first unknown name asks again', { error: String(err) }),
    );
    // A rotated front-proxy CA is trusted without a restart.
    const trust = watchRequestHeader({ client, log, metrics, initial: requestHeader, apply: (cfg) => server.reloadRequestHeader(cfg) });
    const why = await untilSignal();
    log.info('stopping', { why });
    await trust.stop();
    await server.stop();
  } finally {
    database.stop();
    await health.stop();
    await records.close();
    await mongo.close();
  }
}

/** Registers `threatmesh replica-api`. */
export function registerReplicaApi(program: Command, env: CliEnv, log: Logger): void {
  addClusterFlags(program.command('replica-api'), 'the cluster whose front proxy calls this server')
    .description('serve the partner database\'s replicated indicators as the aggregated Kubernetes API replica.threatmesh.io/v1alpha1 (kubectl get threatindicators; which of a set exist: -l \'threatmesh.io/name in (A,B,…)\', at most 1000 names), read-only, for the cluster\'s front proxy only; follows changes of kube-system/extension-apiserver-authentication (a rotated front-proxy CA) without a restart')
    .option('--mongodb-uri <uri>', 'MongoDB of this partner\'s replica (default: $MONGODB_URI)')
    .option('--database <name>', 'database of this partner\'s replica', PARTNER_DEFAULTS.database)
    .option('--namespace <ns>', 'namespace the replicated ThreatIndicators appear in (the exchange namespace)', PARTNER_DEFAULTS.namespace)
    .option('--bind <host:port>', 'HTTPS listening address', REPLICA_API_BIND)
    .option('--tls-cert <file>', 'serving certificate (PEM) naming <service>.<namespace>.svc')
    .option('--tls-key <file>', 'private key of --tls-cert (PEM)')
    .option('--metrics-bind <host:port>', 'serve /metrics (requests by verb, resource and code, latency, list pages, authentication, authorization and database errors), /healthz and /readyz (the database has answered a ping) here, plain HTTP, apart from the HTTPS port', REPLICA_API_METRICS_BIND)
    .action(async (flags: ReplicaApiFlags) => {
      await run(flags, env, log);
    });
}

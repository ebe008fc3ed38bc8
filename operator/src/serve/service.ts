/**
 * Starts the partner's HTTPS server with its parts: the serving index of the replica (built by
 * one streaming read after the MongoDB indexes and backfill; servingindex.ts), the audit log, TAXII statuses, the proposer when a signing key and a
 * cluster are given, health and metrics on their own port, and the export directory writer
 * when asked. `threatmesh serve` (cli/serve.ts) and the local sandbox both call this.
 */
import type { Db } from 'mongodb';
import type { SigningKey } from '../domain/signature.ts';
import { loadWarningLists } from '../feeds/warninglists.ts';
import type { Logger } from '../log.ts';
import type { KubeReader, KubeWriter } from '../runtime/client.ts';
import { HealthServer } from '../runtime/health.ts';
import { RuntimeMetrics } from '../runtime/metrics.ts';
import { MongoAuditLog } from '../store/audit.ts';
import { MongoServedIndicators } from '../store/servedindicators.ts';
import { MongoStatusStore } from '../store/taxiistatus.ts';
import { CollectionCatalog } from './collections.ts';
import type { ServeConfig } from './config.ts';
import { runExportDir } from './exportdir.ts';
import type { ExportDeps } from './exports.ts';
import { TaxiiProposer } from './post.ts';
import { ServeMetrics, ServeServer, type MountedRoutes } from './server.ts';
import { MongoReceivedSightings } from '../store/receivedsightings.ts';
import { ReplicaReader } from '../store/replicaread.ts';
import { INDICATORS } from '../store/indicators.ts';
import type { TaxiiDeps } from './taxii.ts';
import type { IndicatorReader } from './record.ts';
import { ServingIndex } from './servingindex.ts';
import { tlpsUpTo, type Tlp } from './tlp.ts';

/** What {@link startServeService} needs. */
export interface ServeServiceOptions {
  readonly config: ServeConfig;
  /** The partner's database (its replicated `indicators`). */
  readonly db: Db;
  readonly partnerId: string;
  readonly tls: { readonly certPem: string; readonly keyPem: string; readonly clientCaPem?: string | undefined };
  readonly listen: { readonly host: string; readonly port: number };
  readonly metricsBind: { readonly host: string; readonly port: number };
  /** With both, contributors' POSTs become ThreatIndicators in `namespace` signed with `signer`. */
  readonly proposing?: {
    readonly kube: KubeReader & KubeWriter;
    readonly namespace: string;
    readonly signer: SigningKey;
    /** Signs a POST's proposals as Merkle batches of up to this many (protocol v2). @default 0 (each alone) */
    readonly proposalBatchSize?: number | undefined;
  } | undefined;
  /** Write full exports up to `maxTlp` into `dir` every `intervalMs`. */
  readonly exportDir?: { readonly dir: string; readonly maxTlp: Tlp; readonly intervalMs: number } | undefined;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Serve from this reader instead of building the serving index (a benchmark shares one). @default the serving index built from `db` */
  readonly reader?: IndicatorReader | undefined;
  /** Other APIs on the same port, e.g. the reports (cli/serve.ts mounts report/http.ts). @default none */
  readonly routes?: readonly MountedRoutes[] | undefined;
}

/** A running server. */
export interface RunningServe {
  readonly port: number;
  readonly metricsPort: number;
  stop(): Promise<void>;
}

/** Opens the MongoDB reader (indexes, backfill) and builds the serving index from it, logging progress. */
export async function openServingIndex(db: Db, log: Logger): Promise<ServingIndex> {
  const source = await MongoServedIndicators.open(db);
  const backfilled = await source.backfill(log);
  if (backfilled > 0) log.info('backfilled served fields of stored indicators', { count: backfilled });
  const started = performance.now();
  const index = await ServingIndex.build(source, {
    progress: (loaded) => log.info('building the serving index', { loaded }),
    onRefreshError: (err) => log.warn('serving index refresh failed; serving what it holds', { error: err instanceof Error ? err.message : String(err) }),
  });
  log.info('serving index built', { indicators: index.size, watermark: index.position, seconds: Math.round(performance.now() - started) / 1000 });
  return index;
}

/** Opens the stores, starts the HTTPS server, health/metrics and the export writer. */
export async function startServeService(o: ServeServiceOptions): Promise<RunningServe> {
  const now = o.now ?? (() => new Date());
  const reader = o.reader ?? await openServingIndex(o.db, o.log);
  const audit = await MongoAuditLog.open(o.db);
  const statuses = new MongoStatusStore(o.db);
  const proposals = o.proposing === undefined ? undefined : new TaxiiProposer({
    kube: o.proposing.kube, namespace: o.proposing.namespace, partnerId: o.partnerId, signer: o.proposing.signer,
    warningList: await loadWarningLists(), statuses, reader, now, proposalBatchSize: o.proposing.proposalBatchSize,
  });
  const taxii: TaxiiDeps = { config: o.config, reader, catalog: new CollectionCatalog({ reader }), audit, statuses, now, ...(proposals !== undefined ? { proposals } : {}) };
  const exportDeps: ExportDeps = { reader, audit, partnerId: o.partnerId, now };
  const replica = new ReplicaReader(o.db);
  const indicators = o.db.collection<{ _id: string }>(INDICATORS);
  const sightings = {
    partnerId: o.partnerId, audit, now, store: await MongoReceivedSightings.open(o.db), active: (at: Date) => replica.active(at),
    known: async (digests: readonly string[]) => new Set((await indicators.find({ _id: { $in: [...digests] } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id)),
  };
  const runtime = new RuntimeMetrics();
  const server = new ServeServer({ config: o.config, taxii, exports: exportDeps, tls: o.tls, host: o.listen.host, port: o.listen.port, metrics: new ServeMetrics(runtime.registry), log: o.log, routes: o.routes, audit, sightings });
  const port = await server.start();
  const health = new HealthServer({ metrics: runtime, log: o.log, host: o.metricsBind.host, port: o.metricsBind.port, readyChecks: [{ name: 'serving', check: () => true }] });
  let metricsPort: number;
  try {
    metricsPort = await health.start();
  } catch (err) {
    await server.stop();
    throw err;
  }
  const abort = new AbortController();
  const writer = o.exportDir === undefined ? Promise.resolve() : runExportDir(exportDeps, { dir: o.exportDir.dir, tlps: tlpsUpTo(o.exportDir.maxTlp), intervalMs: o.exportDir.intervalMs, signal: abort.signal, log: o.log });
  o.log.info('serving TAXII 2.1 and exports', { port, metricsPort, consumers: o.config.consumers.length, proposing: proposals !== undefined, mtls: o.tls.clientCaPem !== undefined });
  return {
    port, metricsPort,
    stop: async () => {
      abort.abort();
      await writer;
      await server.stop();
      await health.stop();
    },
  };
}

/**
 * Default ingestion module of the in-process executor: runs feeds/feedrun.ts
 * `runFeedIngestion` (fetch, parse, normalize, warning lists, de-duplicate, propose
 * ThreatIndicators) inside the worker, with its own API client built from the context.
 */
import { readFile } from 'node:fs/promises';
import type { Feed } from '../api/types.ts';
import { SigningKey } from '../domain/signature.ts';
import { runFeedIngestion } from '../feeds/feedrun.ts';
import { createLogger } from '../log.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import { inClusterConfig, loadKubeconfig } from '../runtime/kubeconfig.ts';
import type { IngestionContext, IngestionReport } from './executor.ts';

/** One ingestion run of `feed` against the cluster the context names. */
export async function runIngestion(feed: Feed, runId: string, ctx: IngestionContext): Promise<IngestionReport> {
  const cfg = ctx.kubeconfig ? await loadKubeconfig(ctx.kubeconfig) : await inClusterConfig(ctx.kubernetesServiceHost, ctx.kubernetesServicePort);
  const kube = new KubeHttpClient(cfg, { userAgent: 'threatmesh-ingest-inprocess' });
  try {
    const signer = ctx.signingKeyPath ? SigningKey.fromPem(await readFile(ctx.signingKeyPath, 'utf8')) : undefined;
    const log = createLogger(process.stderr, 'info', { component: 'ingest', runId });
    const { report } = await runFeedIngestion(feed, { kube, log, now: () => new Date(), partnerId: ctx.partnerId, signer, allowInternal: ctx.allowInternalFeeds });
    return report;
  } finally {
    kube.close();
  }
}

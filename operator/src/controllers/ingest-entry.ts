/**
 * Default ingestion module of the in-process executor: runs feeds/feedrun.ts
 * `runFeedIngestion` (fetch, parse, normalize, warning lists, de-duplicate, propose
 * ThreatIndicators) in the executor's child process, with its own API client built from the
 * context's cluster settings, signing through the signer the executor hands over (the key stays
 * in the operator process).
 */
import type { Feed } from '../api/types.ts';
import { runFeedIngestion } from '../feeds/feedrun.ts';
import { OnceNotices } from '../feeds/notices.ts';
import type { ProposalSigner } from '../feeds/signer.ts';
import { createLogger } from '../log.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import { inClusterConfig, loadKubeconfig } from '../runtime/kubeconfig.ts';
import type { IngestionContext, IngestionReport } from './executor.ts';

/** One ingestion run of `feed` against the cluster the context names. */
export async function runIngestion(feed: Feed, runId: string, ctx: IngestionContext, signer?: ProposalSigner): Promise<IngestionReport> {
  const cfg = ctx.cluster ?? (ctx.kubeconfig ? await loadKubeconfig(ctx.kubeconfig, ctx.context) : await inClusterConfig(ctx.kubernetesServiceHost, ctx.kubernetesServicePort));
  const kube = new KubeHttpClient(cfg, { userAgent: 'threatmesh-ingest-inprocess' });
  try {
    const log = createLogger(process.stderr, 'info', { component: 'ingest', runId });
    // Notices the operator's earlier runs gave are logged at debug; the ones this run gives go back with its report.
    const notices = new OnceNotices(ctx.noticesGiven ?? []);
    const { report } = await runFeedIngestion(feed, { kube, log, now: () => new Date(), partnerId: ctx.partnerId, signer, allowInternal: ctx.allowInternalFeeds, knownSet: { notices } });
    return { ...report, notices: notices.given() };
  } finally {
    kube.close();
  }
}

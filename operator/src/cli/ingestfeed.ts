/**
 * `threatmesh ingest --feed NAMESPACE/NAME`: the Feed Job's side of cli/ingest.ts, loaded on
 * demand (see there for the command's contract).
 */
import { readFile } from 'node:fs/promises';
import { CommanderError } from 'commander';
import type { Logger } from '../log.ts';
import type { CliEnv } from './env.ts';
import { clusterConfig } from './flags.ts';
import type { Feed, FeedRunStatus } from '../api/types.ts';
import { FEEDS } from '../api/schemas/index.ts';
import { SigningKey } from '../domain/signature.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import type { KubeClient } from '../runtime/client.ts';
import { JOBS } from '../controllers/jobexecutor.ts';
import { RUN_REPORT_ANNOTATION } from '../api/reasons.ts';
import type { IngestionConfig } from '../feeds/ingest.ts';
import { total, type RunReport } from '../feeds/pipeline.ts';
import { readFeedAllowlists } from '../feeds/allowlists.ts';
import { readFeedSecret, runFeedIngestion } from '../feeds/feedrun.ts';
import { feedToConfig } from '../feeds/feedconfig.ts';
import { keySigner } from '../feeds/signer.ts';
import type { NamedAllowlist } from '../feeds/warninglists.ts';
import type { IngestCliOptions } from './ingest.ts';

/** What `ingestFeed` borrows from cli/ingest.ts (passed in: the two files do not import each other at run time). */
export interface FeedPreview {
  /** Previews `cfg` as `ingest --source ... --dry-run` does. */
  readonly run: (cfg: IngestionConfig, opts: IngestCliOptions, allow: { readonly entries: readonly string[]; readonly lists?: readonly NamedAllowlist[] }, env: CliEnv, log: Logger) => Promise<void>;
  /** The JSON summary line written on stderr. */
  readonly summaryLine: (report: RunReport) => string;
  /** A usage error (exit code 2). */
  readonly usage: (message: string) => CommanderError;
}

/** Environment of `ingestFeed`. */
export interface FeedRunContext {
  readonly env: CliEnv;
  readonly log: Logger;
  readonly preview: FeedPreview;
}

async function kubeClient(opts: IngestCliOptions, env: CliEnv): Promise<KubeClient> {
  return new KubeHttpClient(await clusterConfig(opts, env), { userAgent: 'threatmesh-ingest' });
}

/** Splits NAMESPACE/NAME. */
export function parseFeedRef(ref: string): { namespace: string; name: string } {
  const m = /^([a-z0-9][a-z0-9-]{0,62})\/([a-z0-9][a-z0-9.-]{0,252})$/.exec(ref);
  if (m === null) throw new CommanderError(2, 'threatmesh.usage', `--feed must be NAMESPACE/NAME, got ${JSON.stringify(ref)}`);
  return { namespace: m[1] ?? '', name: m[2] ?? '' };
}

/**
 * `ingest --feed NAMESPACE/NAME`: runs the Feed (or previews it with --dry-run through
 * `preview.run`) and reports. Loaded only for --feed, so a file preview leaves the Kubernetes
 * client and the proposal modules out of its memory.
 */
export async function ingestFeed(opts: IngestCliOptions, ref: string, allow: readonly string[], ctx: FeedRunContext): Promise<void> {
  const { env, log, preview } = ctx;
  const { namespace, name } = parseFeedRef(ref);
  const kube = await kubeClient(opts, env);
  const feed = await kube.get<Feed>(FEEDS, name, namespace);
  if (feed === undefined) throw new Error(`Feed ${namespace}/${name} not found`);
  if (opts.dryRun) {
    // Preview the Feed as configured: nothing is proposed and its status is left alone.
    const base = feedToConfig(feed.spec, await readFeedSecret(kube, feed));
    const cfg = { ...base, fetch: { ...base.fetch, allowInternal: opts.allowInternalFeeds } };
    const lists = opts.warningLists ? await readFeedAllowlists(kube, feed) : [];
    await preview.run(cfg, opts, { entries: allow, lists }, env, log.child({ feed: ref }));
    return;
  }
  if ((opts.proposalBatchSize ?? 0) > 0 && opts.signingKey === undefined) throw preview.usage('--proposal-batch-size signs proposals: give --signing-key too');
  const signer = opts.signingKey === undefined ? undefined : keySigner(SigningKey.fromPem(await readFile(opts.signingKey, 'utf8')), opts.proposalBatchSize ?? 0);
  const started = new Date();
  const { report, proposals } = await runFeedIngestion(feed, { kube, log, now: () => new Date(), partnerId: opts.partnerId, signer, allow, allowInternal: opts.allowInternalFeeds });
  log.info('ingest finished', { feed: ref, outcome: report.outcome, fetched: report.fetched, new: report.new, created: proposals.created, alreadyExisted: proposals.alreadyExisted, refused: proposals.refused, refusals: proposals.refusals, error: report.error });
  env.stderr.write(preview.summaryLine(report));
  if (opts.runId !== undefined) {
    await kube.patch(JOBS, opts.runId, namespace, { metadata: { annotations: { [RUN_REPORT_ANNOTATION]: JSON.stringify(controllerReport(report)) } } });
  } else {
    await kube.patchStatus(FEEDS, name, namespace, { status: { lastRun: runStatus(report, started) } });
  }
  if (report.outcome === 'failed') throw new CommanderError(1, 'threatmesh.ingest-failed', `ingest of ${ref} failed: ${report.error?.message ?? ''}`);
}

function controllerReport(r: RunReport): Record<string, unknown> {
  return { outcome: r.outcome, error: r.error, fetched: r.fetched, new: r.new, duplicate: r.duplicate, rejected: r.rejected, droppedByWarningList: r.droppedByWarningList, warningLists: r.warningLists, skipped: r.skipped, durationMs: r.durationMs };
}

function runStatus(r: RunReport, started: Date): FeedRunStatus {
  return {
    startTime: started.toISOString(),
    completionTime: new Date().toISOString(),
    outcome: r.outcome === 'failed' ? 'Failed' : 'Succeeded',
    counts: { fetched: r.fetched, new: r.new, duplicate: r.duplicate, rejected: total(r.rejected), rejectedReasons: Object.fromEntries(Object.entries(r.rejected).slice(0, 32)) },
    summary: `${r.fetched}/${r.new}`,
    message: (r.error?.message ?? `dropped by warning lists ${r.droppedByWarningList}, skipped ${total(r.skipped)}`).slice(0, 4096),
  };
}

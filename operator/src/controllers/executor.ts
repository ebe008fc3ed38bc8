/**
 * How the Feed controller runs ingestion: an executor starts one run of one Feed and reports its
 * state. Two implementations: Kubernetes Jobs (jobexecutor.ts) and a child process of the
 * operator for the local sandbox (inprocess.ts). Runs are identified by a deterministic run id, so a
 * restarted operator adopts the run it started instead of starting a second one.
 */
import { createHash } from 'node:crypto';
import type { Feed, RunCounts } from '../api/types.ts';
import type { ProposalSigner } from '../feeds/signer.ts';
import type { ClusterConfig } from '../runtime/kubeconfig.ts';

/**
 * What an ingestion run reports back; the subset of feeds/pipeline.ts RunReport the controller
 * records (that RunReport satisfies this interface).
 */
export interface IngestionReport {
  readonly outcome: 'succeeded' | 'not-modified' | 'failed';
  readonly error?: { readonly code: string; readonly message: string } | undefined;
  readonly fetched: number;
  readonly new: number;
  readonly duplicate: number;
  /** Rejections by reason. */
  readonly rejected: Readonly<Record<string, number>>;
  /** Keys of the once-per-process notices the run gave (feeds/notices.ts); the in-process executor keeps them for the next runs. @default none */
  readonly notices?: readonly string[] | undefined;
}

/** namespace/name of a Feed, as passed to `threatmesh ingest --feed`. */
export interface FeedRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * Plain-data settings of the in-process executor (structured-clonable: where the API server is,
 * this partner's identity). The executor keeps the key and the kubeconfig path to itself: the
 * ingestion function, in its child process, receives `cluster` and `partnerId` instead and signs
 * through the {@link ProposalSigner} it is given.
 */
export interface IngestionContext {
  readonly kubeconfig?: string | undefined;
  /** Context of `kubeconfig` to use instead of its current-context. */
  readonly context?: string | undefined;
  readonly kubernetesServiceHost?: string | undefined;
  readonly kubernetesServicePort?: string | undefined;
  /** The API server and credentials, resolved by the executor (what the ingestion function connects with). */
  readonly cluster?: ClusterConfig | undefined;
  readonly partnerId?: string | undefined;
  /** Path of this partner's Ed25519 private.pem; read by the executor only, never passed to the ingestion function. */
  readonly signingKeyPath?: string | undefined;
  /** Internal CIDRs feeds may be fetched from (`--allow-internal-feeds`). @default [] */
  readonly allowInternalFeeds?: readonly string[] | undefined;
  /** Once-per-process notices earlier runs of this operator gave (feeds/notices.ts): the run logs them at debug. @default none */
  readonly noticesGiven?: readonly string[] | undefined;
}

/**
 * Runs ingestion of one Feed once; the in-process executor calls it in a child process that does
 * not hold the partner's key. `signer` (present when the partner signs proposals) asks the
 * executor to sign an ADD proposal.
 */
export type IngestionFunction = (feed: Feed, runId: string, context: IngestionContext, signer?: ProposalSigner) => Promise<IngestionReport>;

/** A started run. */
export interface RunHandle {
  readonly runId: string;
  /** The Job running it (Job executor only). */
  readonly jobName?: string;
}

/** The state of a run. `Lost` means the executor no longer knows it (Job deleted, operator restarted). */
export type RunState =
  | { readonly phase: 'Running' }
  | { readonly phase: 'Succeeded'; readonly report?: IngestionReport | undefined; readonly completedAt?: Date | undefined }
  | { readonly phase: 'Failed'; readonly message: string; readonly report?: IngestionReport | undefined; readonly completedAt?: Date | undefined }
  | { readonly phase: 'Lost'; readonly message: string };

/** Runs ingestion for Feeds. Every method is idempotent. */
export interface FeedRunExecutor {
  /** Starts run `runId` of `feed`; when that run already exists, returns it instead of starting another. */
  start(feed: Feed, runId: string): Promise<RunHandle>;
  /** The state of a run. */
  status(feed: Feed, handle: RunHandle): Promise<RunState>;
  /** A run of `feed` that is still going, if any (found even when the Feed's status lost track of it). */
  active(feed: Feed): Promise<RunHandle | undefined>;
  /** Stops a run (Feed deleted). No-op when it is gone. */
  cancel(feed: Feed, handle: RunHandle): Promise<void>;
  /** Deletes finished runs beyond the history limits; returns how many it deleted. */
  prune(feed: Feed, keep: { readonly successful: number; readonly failed: number }): Promise<number>;
}

/** The feed reference of a Feed object. */
export function feedRef(feed: Feed): FeedRef {
  return { namespace: feed.metadata.namespace ?? 'default', name: feed.metadata.name };
}

/**
 * The run id of the run of `feed` due at `due`: `<feed name>-<due minute, base 36>`, a DNS label
 * of at most 63 characters (long feed names are shortened with a hash so ids stay unique).
 */
export function runIdFor(feed: Feed, due: Date): string {
  const suffix = Math.floor(due.getTime() / 60_000).toString(36);
  let base = feed.metadata.name.replaceAll('.', '-');
  if (base.length > 48) base = `${base.slice(0, 40).replace(/-+$/, '')}-${createHash('sha256').update(feed.metadata.name).digest('hex').slice(0, 7)}`;
  return `${base}-${suffix}`;
}

/** Feed status counts from an ingestion report. */
export function countsOf(report: IngestionReport): RunCounts {
  const rejected = Object.values(report.rejected).reduce((a, b) => a + b, 0);
  return { fetched: report.fetched, new: report.new, duplicate: report.duplicate, rejected, rejectedReasons: { ...report.rejected } };
}

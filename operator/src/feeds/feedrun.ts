/**
 * One run of a Feed object against a cluster: reads the credentials Secret, builds the
 * IngestionConfig, reads the Feed's allowlist ConfigMaps, reads which indicators already exist (knownset.ts), ingests, proposes the new indicators
 * as ThreatIndicators (only when the run succeeded) and remembers the HTTP validators and the
 * TAXII cursor in the Feed's annotations for the next conditional run. Used by
 * `threatmesh ingest --feed` (the Job) and by the Feed controller's in-process executor.
 */
import type { Feed } from '../api/types.ts';
import { FEEDS } from '../api/schemas/index.ts';
import { FEED_CREDENTIALS_LABEL, FEED_CREDENTIALS_ROLE } from '../api/schemas/feed.ts';
import type { Logger } from '../log.ts';
import { ApiError, type KubeClient } from '../runtime/client.ts';
import { SECRETS, type Secret } from '../runtime/kinds.ts';
import { readFeedAllowlists } from './allowlists.ts';
import { feedToConfig } from './feedconfig.ts';
import { runIngestion, type IngestionResult } from './ingest.ts';
import { emptyReport, errorInfo, type RunReport } from './pipeline.ts';
import { knownSet, type KnownSetOptions } from './knownset.ts';
import { durationMs, ProposalSink, type ProposalCounts } from './propose.ts';
import type { ProposalSigner } from './signer.ts';
import { FeedError } from './types.ts';
import { loadWarningLists, type WarningList } from './warninglists.ts';

/** Core v1 Secrets. */
export { SECRETS };

/** Feed annotations that carry state between runs. */
export const ANNOTATION = {
  etag: 'threatmesh.io/etag',
  lastModified: 'threatmesh.io/last-modified',
  taxiiCursor: 'threatmesh.io/taxii-added-after',
} as const;

/** Collaborators of a Feed run. */
export interface FeedRunDeps {
  readonly kube: KubeClient;
  readonly log: Logger;
  readonly now: () => Date;
  readonly partnerId?: string | undefined;
  /** Signs the proposals (the key, or a request to the process that holds it). */
  readonly signer?: ProposalSigner | undefined;
  /** Internal CIDRs the run may fetch from (`--allow-internal-feeds`); other internal addresses are refused. @default [] */
  readonly allowInternal?: readonly string[] | undefined;
  /** Extra allowlist entries (`--allow`, `--allowlist-file`), added to the Feed's ConfigMap allowlists. */
  readonly allow?: readonly string[] | undefined;
  /** Overrides the shipped warning lists (tests). */
  readonly warningList?: WarningList | undefined;
  /** How candidates are checked against the full replicated set (batch, concurrency, get-or-list threshold). @default {} (the defaults of {@link KnownSetOptions}) */
  readonly knownSet?: KnownSetOptions | undefined;
}

/** The outcome of a Feed run. */
export interface FeedRunOutcome {
  readonly report: RunReport;
  readonly proposals: ProposalCounts & { readonly refusals: readonly string[] };
}

type SecretObject = Secret;

/**
 * The decoded data of the Feed's credentials Secret, or undefined when it names none. The
 * Secret must opt in with the label {@link FEED_CREDENTIALS_LABEL}=true: a Feed sends its
 * credentials to the URL it names, so without the opt-in anyone who may write a Feed could send
 * any Secret of the namespace anywhere. Refusals are FeedError('bad-config') saying what to do.
 */
export async function readFeedSecret(kube: KubeClient, feed: Feed): Promise<Record<string, string> | undefined> {
  const ref = feed.spec.secretRef;
  if (ref === undefined) return undefined;
  const ns = feed.metadata.namespace ?? 'default';
  const where = `${ns}/${ref.name}`;
  let s: SecretObject | undefined;
  try {
    s = await kube.get<SecretObject>(SECRETS, ref.name, ns);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403)) throw err;
    throw new FeedError('bad-config', `may not read the credentials Secret ${where} (403): ingestion Jobs read only the Secrets that the Role ${FEED_CREDENTIALS_ROLE} of the namespace lists in resourceNames; add "${ref.name}" there (kubectl -n ${ns} edit role ${FEED_CREDENTIALS_ROLE}; config/rbac/ingest.yaml shows how to create the Role)`);
  }
  if (s === undefined) throw new FeedError('bad-config', `the credentials Secret ${where} named in spec.secretRef does not exist: create it or fix spec.secretRef`);
  if (s.metadata.labels?.[FEED_CREDENTIALS_LABEL] !== 'true') {
    throw new FeedError('bad-config', `the Secret ${where} named in spec.secretRef is not marked as feed credentials, and a Feed sends its credentials to the URL it names: if it holds only this feed's credentials, label it: kubectl -n ${ns} label secret ${ref.name} ${FEED_CREDENTIALS_LABEL}=true`);
  }
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

function failed(err: unknown): RunReport {
  return { ...emptyReport(), outcome: 'failed', error: errorInfo(err) };
}

/** Runs one ingestion of `feed`; never throws for feed or configuration faults (they are in the report). */
export async function runFeedIngestion(feed: Feed, deps: FeedRunDeps): Promise<FeedRunOutcome> {
  const ns = feed.metadata.namespace ?? 'default';
  const ann = feed.metadata.annotations ?? {};
  const d = feed.spec.defaults ?? {};
  const sink = new ProposalSink(deps.kube, {
    namespace: ns, feed: `${ns}/${feed.metadata.name}`, feedName: feed.metadata.name, partnerId: deps.partnerId, signer: deps.signer,
    confidence: d.confidence, tlp: d.tlp, labels: d.labels, validForMs: d.validFor === undefined ? undefined : durationMs(d.validFor), now: deps.now,
    fieldMap: feed.spec.mapping?.fields,
  });
  let result: IngestionResult;
  try {
    const cfg = feedToConfig(feed.spec, await readFeedSecret(deps.kube, feed), { etag: ann[ANNOTATION.etag], lastModified: ann[ANNOTATION.lastModified] });
    const warningList = deps.warningList ?? (await loadWarningLists(deps.allow ?? [], await readFeedAllowlists(deps.kube, feed)));
    const log = deps.log.child({ feed: `${ns}/${feed.metadata.name}` });
    // The working set in memory, the full set (replica API: a get each, or listed when many) before proposing.
    const existing = await knownSet(deps.kube, ns, log, deps.knownSet);
    result = await runIngestion({ ...cfg, fetch: { ...cfg.fetch, allowInternal: deps.allowInternal }, addedAfter: ann[ANNOTATION.taxiiCursor] }, {
      warningList, known: existing.known, sink: existing.wrap(sink),
      onProgress: (r) => log.info('ingest progress', { fetched: r.fetched, new: r.new, duplicate: r.duplicate, rejected: r.rejected }),
    });
  } catch (err) {
    const report = failed(err);
    // A sink error (e.g. the replica API failing mid-run) leaves the spool behind: discard it, propose nothing.
    await sink.abort(report);
    return { report, proposals: { ...sink.counts, refusals: sink.refusals } };
  }
  if (result.report.outcome !== 'failed') await rememberValidators(deps.kube, feed, result);
  return { report: result.report, proposals: { ...sink.counts, refusals: sink.refusals } };
}

async function rememberValidators(kube: KubeClient, feed: Feed, r: IngestionResult): Promise<void> {
  const patch: Record<string, string | null> = {};
  const ann = feed.metadata.annotations ?? {};
  const set = (k: string, v: string | undefined): void => {
    if (v !== undefined && ann[k] !== v) patch[k] = v;
  };
  set(ANNOTATION.etag, r.etag);
  set(ANNOTATION.lastModified, r.lastModified);
  set(ANNOTATION.taxiiCursor, r.cursor);
  if (Object.keys(patch).length === 0) return;
  await kube.patch(FEEDS, feed.metadata.name, feed.metadata.namespace, { metadata: { annotations: patch } });
}

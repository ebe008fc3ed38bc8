/**
 * Proposing the new indicators of a Feed run as ThreatIndicator objects, transactionally: new
 * indicators are spooled to a temporary NDJSON file while the feed is read (bounded memory),
 * and only created after the run succeeded (`commit`); a failed run deletes the spool
 * (`abort`) and proposes nothing. Also builds the `known` check from the ThreatIndicators
 * that already exist (their names carry the digest).
 */
import type { FieldSelector, ThreatIndicator, ThreatIndicatorSpec, Tlp } from '../api/types.ts';
import { getPath } from './json.ts';
import { THREAT_INDICATORS } from '../api/schemas/index.ts';
import { indicatorObjectName } from '../domain/canonical.ts';
import { isCalendarDate } from '../domain/time.ts';
import { metaOfSpec } from '../api/specmeta.ts';
import { ApiError, type KubeReader, type KubeWriter } from '../runtime/client.ts';
import type { IngestSink } from './ingest.ts';
import type { IngestedIndicator, RunReport } from './pipeline.ts';
import type { ProposalItem, ProposalProof } from '../domain/proposalbatch.ts';
import type { ProposalSigner } from './signer.ts';
import { NdjsonSpool } from './spool.ts';

/** Label on proposed ThreatIndicators naming the Feed. */
export const FEED_LABEL = 'threatmesh.io/feed';

/** What every proposal of one run carries. */
export interface ProposalContext {
  readonly namespace: string;
  /** namespace/name of the Feed. */
  readonly feed: string;
  readonly feedName: string;
  readonly partnerId?: string | undefined;
  /** Signs `proposal` when given: over canonical {indicator, meta}, meta being the spec's TLP, confidence, labels, validity and feed (exchange/specmeta.ts). */
  readonly signer?: ProposalSigner | undefined;
  readonly confidence?: number | undefined;
  readonly tlp?: Tlp | undefined;
  readonly labels?: readonly string[] | undefined;
  /** Validity from ingestion, in milliseconds. */
  readonly validForMs?: number | undefined;
  /** The Feed's mapping.fields: per-record labels, confidence, validFrom, validUntil from source fields. */
  readonly fieldMap?: Readonly<Record<string, FieldSelector>> | undefined;
  readonly now: () => Date;
}

/** Spec values taken from one record's source fields (Feed mapping.fields). */
export interface RecordSpecFields {
  labels?: string[];
  confidence?: number;
  validFrom?: string;
  validUntil?: string;
}

function pick(fields: Readonly<Record<string, unknown>>, sel: FieldSelector): unknown {
  if (sel.column !== undefined) return fields[sel.column];
  if (sel.jsonPath !== undefined) return getPath(fields, sel.jsonPath);
  return sel.index === undefined ? undefined : fields[`column${sel.index}`];
}

const DATE_PREFIX = /^(\d{4})-(\d\d)-(\d\d)(?:[Tt ](\d\d):(\d\d)(?::(\d\d))?)?/;

/** True when `v` starts like an ISO date (and time) whose fields are out of range, which `new Date` would roll over. */
function impossibleDate(v: string): boolean {
  const m = DATE_PREFIX.exec(v);
  if (m === null) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number, number, number];
  return !isCalendarDate(y, mo, d) || h > 23 || mi > 59 || sec > 59;
}

function asDate(v: unknown): string | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  if (typeof v === 'string' && impossibleDate(v)) return undefined;
  const d = new Date(typeof v === 'string' && /^\d{4}-\d\d-\d\d \d/.test(v) ? `${v.replace(' ', 'T').replace(/ UTC$/, '')}Z` : v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/**
 * Reads labels (comma-separated text or a list), confidence (0-100) and validity dates from a
 * record's source fields as the Feed's mapping.fields says; unusable values are left out.
 */
export function recordSpecFields(fields: Readonly<Record<string, unknown>> | undefined, fieldMap: Readonly<Record<string, FieldSelector>> | undefined): RecordSpecFields {
  const out: RecordSpecFields = {};
  if (fields === undefined || fieldMap === undefined) return out;
  const labels = fieldMap['labels'] === undefined ? undefined : pick(fields, fieldMap['labels']);
  const list = typeof labels === 'string' ? labels.split(',') : Array.isArray(labels) ? labels.filter((x): x is string => typeof x === 'string') : [];
  const cleaned = list.map((l) => l.trim().slice(0, 64)).filter((l) => l !== '');
  if (cleaned.length > 0) out.labels = cleaned;
  const conf = fieldMap['confidence'] === undefined ? undefined : Number(pick(fields, fieldMap['confidence']));
  if (conf !== undefined && Number.isFinite(conf)) out.confidence = Math.max(0, Math.min(100, Math.round(conf)));
  for (const k of ['validFrom', 'validUntil'] as const) {
    const sel = fieldMap[k];
    const d = sel === undefined ? undefined : asDate(pick(fields, sel));
    if (d !== undefined) out[k] = d;
  }
  return out;
}

/** Parses a Go-style duration of whole units (`30d`, `1h30m`) into milliseconds. */
export function durationMs(text: string): number {
  const units: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };
  let ms = 0;
  let rest = text.trim();
  if (rest === '') throw new Error('empty duration');
  while (rest !== '') {
    const m = /^(\d{1,5})([dhms])/.exec(rest);
    if (m === null) throw new Error(`duration "${text}" must look like 30d, 12h, 1h30m`);
    ms += Number(m[1]) * (units[m[2] ?? 's'] ?? 1000);
    rest = rest.slice(m[0].length);
  }
  return ms;
}

/** Confidence, TLP, labels and validity: the record's own values over the Feed defaults. */
function specDefaults(ctx: ProposalContext, extra: RecordSpecFields, now: Date): Partial<ThreatIndicatorSpec> {
  const labels = [...new Set([...(ctx.labels ?? []), ...(extra.labels ?? [])])].slice(0, 32);
  const confidence = extra.confidence ?? ctx.confidence;
  const validFrom = extra.validFrom ?? now.toISOString();
  const validUntil = extra.validUntil ?? (ctx.validForMs === undefined ? undefined : new Date(now.getTime() + ctx.validForMs).toISOString());
  const out: Partial<ThreatIndicatorSpec> = { validFrom };
  if (confidence !== undefined) out.confidence = confidence;
  if (ctx.tlp !== undefined) out.tlp = ctx.tlp;
  if (labels.length > 0) out.labels = labels;
  if (validUntil !== undefined && validUntil > validFrom) out.validUntil = validUntil;
  return out;
}

/** Thrown by {@link toThreatIndicator} when the spec's metadata is outside what the exchange accepts, so it cannot be signed. */
export class ProposalMetaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProposalMetaError';
  }
}

/**
 * The ThreatIndicator proposing `ind`; `extra` holds the record's own spec values (mapping.fields).
 * With a signer, spec.proposal signs the indicator with the spec's metadata, which the exchange
 * then carries to every partner; throws {@link ProposalMetaError} when that metadata is invalid.
 */
export async function toThreatIndicator(ind: IngestedIndicator, ctx: ProposalContext, extra: RecordSpecFields = {}): Promise<ThreatIndicator> {
  const ti = unsignedIndicator(ind, ctx, extra);
  const item = signingItem(ti, ctx);
  if (item !== undefined && ctx.partnerId !== undefined) ti.spec.proposal = { partnerId: ctx.partnerId, signature: await ctx.signer!.sign(item.indicator, item.meta) };
  return ti;
}

/** What the proposer signs for `ti` (its indicator and its spec's metadata), undefined without a signer; throws {@link ProposalMetaError} when that metadata is invalid. */
function signingItem(ti: ThreatIndicator, ctx: ProposalContext): ProposalItem | undefined {
  if (ctx.signer === undefined || ctx.partnerId === undefined) return undefined;
  const meta = metaOfSpec(ti.spec);
  if (!meta.ok) throw new ProposalMetaError(meta.message);
  return { indicator: { type: ti.spec.type, value: ti.spec.value }, ...(meta.meta !== undefined ? { meta: meta.meta } : {}) };
}

/**
 * The ThreatIndicators proposing `inds`, their proposals signed as one batch (protocol v2,
 * the signer's signBatch); an item whose metadata cannot be signed is a {@link ProposalMetaError}
 * in its place.
 */
export async function toBatchProposals(inds: ReadonlyArray<IngestedIndicator & { extra?: RecordSpecFields }>, ctx: ProposalContext): Promise<Array<ThreatIndicator | ProposalMetaError>> {
  const out: Array<ThreatIndicator | ProposalMetaError> = inds.map((ind) => unsignedIndicator(ind, ctx, ind.extra ?? {}));
  const signable: Array<{ ti: ThreatIndicator; item: ProposalItem }> = [];
  out.forEach((ti, i) => {
    try {
      const item = signingItem(ti as ThreatIndicator, ctx);
      if (item !== undefined) signable.push({ ti: ti as ThreatIndicator, item });
    } catch (err) {
      if (!(err instanceof ProposalMetaError)) throw err;
      out[i] = err;
    }
  });
  if (signable.length === 0 || ctx.signer?.signBatch === undefined || ctx.partnerId === undefined) return out;
  const proofs: ProposalProof[] = await ctx.signer.signBatch(signable.map((s) => s.item));
  signable.forEach((s, i) => { s.ti.spec.proposal = { partnerId: ctx.partnerId!, ...proofs[i]! }; });
  return out;
}

function unsignedIndicator(ind: IngestedIndicator, ctx: ProposalContext, extra: RecordSpecFields): ThreatIndicator {
  const now = ctx.now();
  const spec: ThreatIndicatorSpec = {
    type: ind.type,
    value: ind.value,
    pattern: ind.pattern,
    ...specDefaults(ctx, extra, now),
    provenance: { feed: ctx.feed, ...(ctx.partnerId === undefined ? {} : { partner: ctx.partnerId }), proposedAt: now.toISOString() },
  };
  return {
    apiVersion: `${THREAT_INDICATORS.group}/${THREAT_INDICATORS.version}`,
    kind: 'ThreatIndicator',
    metadata: { name: indicatorObjectName(ind), namespace: ctx.namespace, labels: { [FEED_LABEL]: ctx.feedName } },
    spec,
  };
}

/** Counts of a commit. */
export interface ProposalCounts {
  created: number;
  alreadyExisted: number;
  /** Refused by the API server (422, e.g. a value longer than the schema allows): logged, not fatal. */
  refused: number;
}

/** One spooled line: what the proposal needs from an indicator; `extra` only with a Feed mapping.fields. */
type SpoolLine = IngestedIndicator & { extra?: RecordSpecFields };

/**
 * A sink that spools new indicators to a temporary file (feeds/spool.ts) and creates them as
 * ThreatIndicators on commit (`concurrency` creates at a time; 409 AlreadyExists counts as
 * already existed). A spool that cannot be written fails the run with a FeedError
 * `spool-failed` (nothing is created); `abort` waits for a write in flight, then removes the
 * spool, and the sink takes nothing after it.
 */
export class ProposalSink implements IngestSink {
  readonly counts: ProposalCounts = { created: 0, alreadyExisted: 0, refused: 0 };
  /** Up to 3 refusals, for the log. */
  readonly refusals: string[] = [];
  private readonly kube: KubeWriter;
  private readonly ctx: ProposalContext;
  private readonly concurrency: number;
  private readonly spoolDir: string | undefined;
  private spool: Promise<NdjsonSpool> | undefined;
  private opened: NdjsonSpool | undefined;
  private closed = false;
  // One record reused for every line: the spool encodes it at once, so nothing per line is kept.
  private readonly line: { type: string; value: string; pattern: string; digest: string; extra?: RecordSpecFields | undefined } = { type: '', value: '', pattern: '', digest: '', extra: undefined };

  /**
   * @param concurrency creates in flight on commit. @default 8
   * @param spoolDir where the spool's directory is made. @default os.tmpdir() (TMPDIR)
   */
  constructor(kube: KubeWriter, ctx: ProposalContext, concurrency = 8, spoolDir?: string) {
    this.kube = kube;
    this.ctx = ctx;
    this.concurrency = concurrency;
    this.spoolDir = spoolDir;
  }

  readonly add = (ind: IngestedIndicator): Promise<void> | undefined => {
    if (this.closed) return Promise.reject(new Error('the proposal sink was aborted or committed: a run adds nothing after that'));
    const line = this.line;
    line.type = ind.type;
    line.value = ind.value;
    line.pattern = ind.pattern;
    line.digest = ind.digest;
    line.extra = this.ctx.fieldMap === undefined ? undefined : recordSpecFields(ind.fields, this.ctx.fieldMap);
    if (this.opened !== undefined) return this.opened.append(line);
    this.spool ??= NdjsonSpool.create('threatmesh-proposals-', this.spoolDir);
    return this.spool.then((s) => {
      this.opened = s;
      return s.append(line);
    });
  };

  async commit(_report: RunReport): Promise<void> {
    this.closed = true;
    if (this.spool === undefined) return;
    const spool = await this.spool;
    try {
      await spool.finish();
      await this.proposeAll(spool.lines());
    } finally {
      await spool.discard();
    }
  }

  private async proposeAll(lines: AsyncIterable<string>): Promise<void> {
    const pending = new Set<Promise<void>>();
    const schedule = async (made: () => Promise<ThreatIndicator | ProposalMetaError>, ind: IngestedIndicator): Promise<void> => {
      const p = this.create(made, ind).finally(() => pending.delete(p));
      pending.add(p);
      if (pending.size >= this.concurrency) await Promise.race(pending);
    };
    // A batching signer (protocol v2) signs the spool ahead in chunks of its batch size: one signature per chunk.
    const batchSize = this.ctx.signer?.signBatch !== undefined ? (this.ctx.signer.batchSize ?? 0) : 0;
    let chunk: SpoolLine[] = [];
    const flush = async (): Promise<void> => {
      const made = await toBatchProposals(chunk, this.ctx);
      for (const [i, m] of made.entries()) await schedule(() => Promise.resolve(m), chunk[i]!);
      chunk = [];
    };
    for await (const text of lines) {
      const ind = JSON.parse(text) as SpoolLine;
      if (batchSize <= 0) await schedule(() => toThreatIndicator(ind, this.ctx, ind.extra), ind);
      else if (chunk.push(ind) >= batchSize) await flush();
    }
    if (chunk.length > 0) await flush();
    await Promise.all(pending);
  }

  private async create(made: () => Promise<ThreatIndicator | ProposalMetaError>, ind: IngestedIndicator): Promise<void> {
    try {
      const ti = await made();
      if (ti instanceof ProposalMetaError) throw ti;
      await this.kube.create(THREAT_INDICATORS, ti);
      this.counts.created++;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        this.counts.alreadyExisted++;
        return;
      }
      if ((err instanceof ApiError && err.status === 422) || err instanceof ProposalMetaError) {
        this.counts.refused++;
        if (this.refusals.length < 3) this.refusals.push(`${ind.type} ${ind.value.slice(0, 100)}: ${err.message.slice(0, 300)}`);
        return;
      }
      throw err;
    }
  }

  async abort(_report: RunReport): Promise<void> {
    this.closed = true;
    // The spool may still be opening or writing: wait for it, then remove it (a spool that could not even be made left nothing).
    const spool = await this.spool?.catch(() => undefined);
    await spool?.discard();
  }
}

/**
 * The digests (first 40 hex digits, as in object names) of the ThreatIndicators that exist in
 * `namespace`, listed page by page; `known(digest)` for the pipeline.
 */
export async function knownDigests(kube: KubeReader, namespace: string): Promise<(digest: string) => boolean> {
  const names = new Set<string>();
  let cont: string | undefined;
  do {
    const page = await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace, limit: 500, ...(cont === undefined ? {} : { continue: cont }) });
    for (const item of page.items) {
      const dash = item.metadata.name.lastIndexOf('-');
      if (dash > 0) names.add(item.metadata.name.slice(dash + 1));
    }
    cont = page.metadata.continue === '' ? undefined : page.metadata.continue;
  } while (cont !== undefined);
  return (digest) => names.has(digest.slice(0, 40));
}

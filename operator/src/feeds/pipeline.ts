/**
 * The ingestion pipeline after parsing: records → type detection → normalization (domain core)
 * → warning lists → de-duplication within the run and against what is already known → new
 * indicators handed to a sink, with a RunReport of every count.
 *
 * Accounting invariant (tested): every entry a parser read lands in exactly one bucket:
 * `fetched = parsed + rejectedTotal + skippedTotal` and
 * `parsed = new + duplicate + droppedByWarningList`.
 */
import { indicatorDigest } from '../domain/canonical.ts';
import { detectType, normalize, type Indicator, type NormalizeOptions } from '../domain/indicator.ts';
import { stixPattern } from '../domain/stix.ts';
import { DigestSet } from '../domain/digestset.ts';
import { detectCanonical, quickIndicator } from '../domain/fastnormalize.ts';
import type { WarningList } from './warninglists.ts';
import { FeedError, fieldsOf, shown, whereText, type FeedRecord, type FeedRejection, type ParseBatch } from './types.ts';

/** A new indicator ready to propose or print. */
export interface IngestedIndicator {
  readonly type: Indicator['type'];
  readonly value: string;
  /** STIX 2.1 pattern of the indicator. */
  readonly pattern: string;
  /** Hex SHA-256 of the canonical indicator (its identity). */
  readonly digest: string;
  readonly fields?: Readonly<Record<string, unknown>> | undefined;
  readonly where?: string | undefined;
}

/** Counts and outcome of one run. */
export interface RunReport {
  /** `succeeded`, `not-modified` (conditional GET said nothing changed) or `failed`. */
  outcome: 'succeeded' | 'not-modified' | 'failed';
  /** The fatal error of a failed run; what was parsed before it is rolled back (nothing proposed). */
  error?: { code: string; message: string };
  /** Bytes received from the source (compressed), when known. */
  bytes: number;
  /** Entries read from the feed: parsed + rejected + skipped. */
  fetched: number;
  /** Entries that normalized into an indicator. */
  parsed: number;
  new: number;
  duplicate: number;
  droppedByWarningList: number;
  /** Drops by warning list name. */
  warningLists: Record<string, number>;
  /** Rejections by reason. */
  rejected: Record<string, number>;
  /** Up to `maxExamples` rejections per reason. */
  examples: Record<string, FeedRejection[]>;
  /** Entries deliberately not ingested, by reason (non-indicator STIX objects, MISP to_ids=false ...). */
  skipped: Record<string, number>;
  /**
   * Set only when the run's de-dup table was full (more distinct indicators than
   * `maxDedupSlots` holds): new indicators it could not remember. A repeat of one of them later
   * in the same feed counts as new again and reaches the sink twice (a proposal then finds it
   * already exists); nothing new is ever counted as a duplicate.
   */
  notRemembered?: number;
  durationMs: number;
}

/** Receives new indicators; may return a promise to apply backpressure. */
export type IndicatorSink = (ind: IngestedIndicator) => void | Promise<void>;

/** Options of `runPipeline`. */
export interface PipelineOptions {
  readonly warningList?: WarningList | undefined;
  /** True when the digest is already known (already a ThreatIndicator); may be async. */
  readonly known?: ((digest: string) => boolean | Promise<boolean>) | undefined;
  readonly normalizeOptions?: NormalizeOptions | undefined;
  readonly sink: IndicatorSink;
  /** Called with the report so far every `progressEvery` entries. */
  readonly onProgress?: ((r: RunReport) => void) | undefined;
  /** @default 100000 */
  readonly progressEvery?: number;
  /** @default 3 */
  readonly maxExamples?: number;
  /** Monotonic milliseconds, for durationMs. @default performance.now */
  readonly clock?: () => number;
  /**
   * Slots of the run's de-dup table (12 bytes each; it remembers up to 3/4 of them), which
   * bounds its memory whatever the feed size. @default DEFAULT_DEDUP_SLOTS (24 MiB, 1,572,864 indicators)
   */
  readonly maxDedupSlots?: number;
}

/** Default bound of the de-dup table: 2^21 slots, 24 MiB, enough for 1.5 million distinct indicators per run. */
export const DEFAULT_DEDUP_SLOTS = 1 << 21;

/** A fresh, all-zero report. */
export function emptyReport(): RunReport {
  return { outcome: 'succeeded', bytes: 0, fetched: 0, parsed: 0, new: 0, duplicate: 0, droppedByWarningList: 0, warningLists: {}, rejected: {}, examples: {}, skipped: {}, durationMs: 0 };
}

/** Total of a count map. */
export function total(m: Readonly<Record<string, number>>): number {
  let n = 0;
  for (const v of Object.values(m)) n += v;
  return n;
}

function isThenable(v: unknown): v is Promise<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Per-run state of the pipeline. */
class Run {
  readonly report = emptyReport();
  private readonly seen: DigestSet;
  private readonly opts: PipelineOptions;
  private readonly every: number;
  private nextProgress: number;

  constructor(opts: PipelineOptions) {
    this.opts = opts;
    this.seen = new DigestSet(undefined, opts.maxDedupSlots ?? DEFAULT_DEDUP_SLOTS);
    this.every = opts.progressEvery ?? 100_000;
    this.nextProgress = this.every;
  }

  reject(r: FeedRejection): void {
    const rep = this.report;
    rep.fetched++;
    rep.rejected[r.reason] = (rep.rejected[r.reason] ?? 0) + 1;
    const ex = rep.examples[r.reason] ?? (rep.examples[r.reason] = []);
    if (ex.length < (this.opts.maxExamples ?? 3)) ex.push(r);
  }

  skip(reason: string): void {
    this.report.fetched++;
    this.report.skipped[reason] = (this.report.skipped[reason] ?? 0) + 1;
  }

  /** Processes one record; returns a promise only when the sink or `known` is asynchronous. */
  record(rec: FeedRecord): void | Promise<void> {
    // Plain values skip detection and the full normalizer (the quick paths give what they would).
    const ind = (rec.type === undefined ? detectCanonical(rec.value) : quickIndicator(rec.type, rec.value)) ?? this.normalized(rec);
    if (ind === undefined) return;
    this.report.fetched++;
    this.report.parsed++;
    const listed = this.opts.warningList?.match(ind);
    if (listed !== undefined) {
      this.report.droppedByWarningList++;
      this.report.warningLists[listed] = (this.report.warningLists[listed] ?? 0) + 1;
      return;
    }
    const digest = indicatorDigest(ind);
    if (!this.seen.add(digest)) {
      this.report.duplicate++;
      return;
    }
    const isKnown = this.opts.known?.(digest) ?? false;
    if (isThenable(isKnown)) return isKnown.then((k) => this.emit(k, ind, digest, rec));
    return this.emit(isKnown, ind, digest, rec);
  }

  /** Detects (when the record has no type) and normalizes; counts a rejection and returns undefined on failure. */
  private normalized(rec: FeedRecord): Indicator | undefined {
    const type = rec.type ?? detectType(rec.value);
    if (type === undefined) {
      this.reject({ reason: 'unknown-type', message: 'cannot tell which kind of indicator this is; set the type in the mapping', input: rec.value.slice(0, 256), where: whereText(rec.where) });
      return undefined;
    }
    const n = normalize(type, rec.value, this.opts.normalizeOptions);
    if (!n.ok) {
      this.reject({ ...n.rejection, input: shown(n.rejection.input), where: whereText(rec.where) });
      return undefined;
    }
    return n.indicator;
  }

  private emit(isKnown: boolean, ind: Indicator, digest: string, rec: FeedRecord): void | Promise<void> {
    if (isKnown) {
      this.report.duplicate++;
      return;
    }
    this.report.new++;
    return this.opts.sink({ type: ind.type, value: ind.value, pattern: stixPattern(ind), digest, fields: fieldsOf(rec.fields), where: whereText(rec.where) });
  }

  /** Completes the report after the last batch. */
  finish(): void {
    if (this.seen.overflow > 0) this.report.notRemembered = this.seen.overflow;
  }

  progress(): void {
    if (this.opts.onProgress === undefined || this.report.fetched < this.nextProgress) return;
    this.nextProgress = this.report.fetched + this.every;
    this.opts.onProgress(this.report);
  }
}

async function consume(run: Run, batch: ParseBatch): Promise<void> {
  for (const r of batch.rejections) run.reject(r);
  for (const s of batch.skips) run.skip(s);
  for (const rec of batch.records) {
    const p = run.record(rec);
    if (p !== undefined) await p;
  }
  run.progress();
}

/**
 * Drains `batches` through normalization, warning lists and de-duplication into `opts.sink`.
 * Never throws for feed faults: a FeedError (or any error from the parser) ends the run with
 * outcome `failed` and the error in the report; the caller must then discard what the sink
 * received (roll back). Errors thrown by the sink propagate.
 */
export async function runPipeline(batches: AsyncIterable<ParseBatch>, opts: PipelineOptions): Promise<RunReport> {
  const clock = opts.clock ?? (() => performance.now());
  const start = clock();
  const run = new Run(opts);
  const it = batches[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<ParseBatch>;
      try {
        next = await it.next();
      } catch (err) {
        run.report.outcome = 'failed';
        run.report.error = errorInfo(err);
        break;
      }
      if (next.done === true) break;
      try {
        await consume(run, next.value);
      } catch (err) {
        // The sink failed: close the source so its download, timers and sockets end now, not at their timeouts.
        await it.return?.().catch(() => undefined);
        throw err;
      }
    }
  } finally {
    run.finish();
    run.report.durationMs = Math.round(clock() - start);
  }
  return run.report;
}

/** Code and message of an error, for reports. */
export function errorInfo(err: unknown): { code: string; message: string } {
  if (err instanceof FeedError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'internal', message: `${err.name}: ${err.message}` };
  return { code: 'internal', message: String(err) };
}

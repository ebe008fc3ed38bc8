/**
 * Shapes shared by the feed parsers, the fetcher and the pipeline.
 *
 * Parsers yield `ParseBatch`es (arrays, not single records) so that a million-line feed costs a
 * few thousand async steps instead of a million. A batch carries three kinds of entries, and
 * every entry read from a feed lands in exactly one of them — nothing is dropped silently:
 * `records` (candidate indicators), `rejections` (entries that could not be read, with a
 * reason) and `skips` (entries deliberately not ingested, such as STIX objects that are not
 * indicators or MISP attributes with to_ids=false).
 */
import type { IndicatorType } from '../domain/indicator.ts';

/** One candidate indicator as read from a feed, before normalization. */
export interface FeedRecord {
  /** The raw value as found in the feed. */
  readonly value: string;
  /** The indicator type when the feed or the mapping states it; undefined means auto-detect. */
  readonly type?: IndicatorType | undefined;
  /**
   * Source fields kept with the indicator (for previews and provenance), or a function that
   * builds them: parsers of large flat files pass a function so that only new indicators pay.
   */
  readonly fields?: RecordFields | undefined;
  /** Where in the feed the record was found: a line number, or a text such as `objects[3]`. */
  readonly where?: string | number | undefined;
}

/** Source fields, built eagerly or on demand. */
export type RecordFields = Readonly<Record<string, unknown>> | (() => Readonly<Record<string, unknown>>);

/** Resolves RecordFields. */
export function fieldsOf(f: RecordFields | undefined): Readonly<Record<string, unknown>> | undefined {
  return typeof f === 'function' ? f() : f;
}

/**
 * Sets `out[key] = value` as an own property, also for the key `__proto__`, which plain
 * assignment turns into a prototype change (and the field disappears): column names and JSON
 * keys come from the feed.
 */
export function setField(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** Renders a record location: numbers are line numbers. */
export function whereText(w: string | number | undefined): string | undefined {
  return typeof w === 'number' ? `line ${w}` : w;
}

/** An entry of a feed that could not be read as an indicator. */
export interface FeedRejection {
  /** Stable kebab-case reason, used as a count key in reports. */
  readonly reason: string;
  /** What is wrong, for humans. */
  readonly message: string;
  /** The offending input, truncated to at most 256 characters. */
  readonly input: string;
  readonly where?: string | undefined;
}

/** What a parser yields: a group of records, rejections and skip reasons, in feed order per kind. */
export interface ParseBatch {
  readonly records: FeedRecord[];
  readonly rejections: FeedRejection[];
  /** One reason per skipped entry (e.g. `stix-not-indicator`). */
  readonly skips: string[];
}

/** A source of raw bytes: any async iterable of chunks (a Readable is one). */
export type ByteSource = AsyncIterable<Buffer | Uint8Array | string>;

/** Machine codes of fatal feed errors. */
export type FeedErrorCode =
  | 'html-instead-of-data'
  | 'invalid-encoding'
  | 'binary-data'
  | 'invalid-json'
  | 'truncated'
  | 'too-large'
  | 'timeout'
  | 'http-status'
  | 'network'
  | 'pagination-loop'
  | 'unreadable'
  | 'bad-archive'
  | 'bad-config'
  | 'forbidden-destination'
  | 'spool-failed';

/**
 * A fault that makes the whole run unusable (as opposed to a rejection of one entry). The run
 * reports failure and proposes nothing: what was parsed before the fault is rolled back.
 */
export class FeedError extends Error {
  readonly code: FeedErrorCode;
  constructor(code: FeedErrorCode, message: string) {
    super(message);
    this.name = 'FeedError';
    this.code = code;
  }
}

/** Longest input text kept in a rejection. */
export const SHOWN_INPUT = 256;

/** Truncates `s` for display in a rejection. */
export function shown(s: string): string {
  return s.length > SHOWN_INPUT ? s.slice(0, SHOWN_INPUT - 1) + '…' : s;
}

/** An empty batch, to fill. */
export function newBatch(): { records: FeedRecord[]; rejections: FeedRejection[]; skips: string[] } {
  return { records: [], rejections: [], skips: [] };
}

/**
 * Streaming CSV/TSV parser (RFC 4180): quoted fields with doubled quotes and embedded newlines,
 * CRLF, comment lines by prefix, an optional header row or explicit column names, column
 * mapping by name or index, a fixed type, a type column or auto-detection. Memory is bounded
 * by `maxRecordBytes`: a longer record is rejected (`record-too-long`) and skipped, not kept.
 */
import type { IndicatorType } from '../domain/indicator.ts';
import { forEachLine, readLines, type LineBatch } from './text.ts';
import { mapTyped, type LabelVocabulary } from './typemap.ts';
import { FeedError, newBatch, setField, shown, type ByteSource, type FeedRecord, type ParseBatch, type RecordFields } from './types.ts';

/** A column by header name or by zero-based index. */
export type ColumnRef = string | number;

/** Options of `parseDelimited`. */
export interface DelimitedOptions {
  /** Field separator, one character. @default ',' */
  readonly delimiter?: string;
  /** Lines starting with one of these prefixes are comments (outside quoted fields). @default ['#'] */
  readonly comment?: readonly string[];
  /** The first data line names the columns. @default false */
  readonly header?: boolean;
  /** Column names when the file has no header row (or its header is in a comment, as abuse.ch does). */
  readonly columns?: readonly string[];
  /** Lines to skip before anything else. @default 0 */
  readonly skipLines?: number;
  /** Where the indicator value is. */
  readonly value: ColumnRef;
  /** A fixed indicator type; otherwise `typeColumn`, otherwise auto-detect. */
  readonly type?: IndicatorType | undefined;
  /** Column holding a type label, mapped through `typeMap` and `vocabulary`. */
  readonly typeColumn?: ColumnRef | undefined;
  readonly typeMap?: Readonly<Record<string, string>> | undefined;
  /** @default 'generic' */
  readonly vocabulary?: LabelVocabulary;
  /** Keep the other columns as record fields. @default true */
  readonly keepFields?: boolean;
  /** Longest record (bytes, all its lines). @default 1 MiB */
  readonly maxRecordBytes?: number;
}

const QUOTE = 34;

/** Parse state carried across lines and chunks. */
interface CsvState {
  fields: string[];
  cur: string;
  inQuotes: boolean;
  /** Characters of the record so far. */
  size: number;
  overflow: boolean;
  startLine: number;
  skipLeft: number;
  names: readonly string[] | undefined;
  valueIdx: number;
  typeIdx: number;
}

/** Parses delimited text into record batches; see DelimitedOptions. */
export async function* parseDelimited(source: ByteSource, opts: DelimitedOptions): AsyncGenerator<ParseBatch> {
  const delim = opts.delimiter ?? ',';
  if (delim.length !== 1 || delim === '"' || delim === '\n') throw new FeedError('bad-config', `delimiter must be one character other than a quote or newline, got ${JSON.stringify(delim)}`);
  const max = opts.maxRecordBytes ?? 1 << 20;
  const st: CsvState = { fields: [], cur: '', inQuotes: false, size: 0, overflow: false, startLine: 0, skipLeft: opts.skipLines ?? 0, names: opts.columns, valueIdx: -1, typeIdx: -1 };
  if (st.names !== undefined) resolveColumns(st, opts, st.names);
  else requireIndexes(st, opts);
  const p = new CsvProcessor(opts, st, delim, max);
  for await (const lb of readLines(source, { maxLineBytes: max })) yield p.lines(lb);
  const end = p.finish();
  if (end !== undefined) yield end;
}

function requireIndexes(st: CsvState, opts: DelimitedOptions): void {
  if (opts.header === true) return;
  if (typeof opts.value === 'string' || typeof opts.typeColumn === 'string') {
    throw new FeedError('bad-config', 'columns are named but the file has no header row: give --header, column names (columns), or zero-based indexes');
  }
  st.valueIdx = opts.value;
  st.typeIdx = opts.typeColumn ?? -1;
}

function resolveColumns(st: CsvState, opts: DelimitedOptions, names: readonly string[]): void {
  const find = (ref: ColumnRef, what: string): number => {
    if (typeof ref === 'number') return ref;
    const i = names.indexOf(ref);
    if (i < 0) throw new FeedError('bad-config', `${what} column "${ref}" is not among the columns [${names.join(', ')}]; fix the column mapping`);
    return i;
  };
  st.valueIdx = find(opts.value, 'value');
  st.typeIdx = opts.typeColumn === undefined ? -1 : find(opts.typeColumn, 'type');
}

/**
 * Splits one complete line with quoted fields; undefined when the line ends inside an open
 * quoted field (the record continues on the next line). The hot path: local variables only.
 */
export function splitQuotedLine(line: string, d: string): string[] | undefined {
  const out: string[] = [];
  const n = line.length;
  let i = 0;
  for (;;) {
    if (line.charCodeAt(i) !== QUOTE) {
      const next = line.indexOf(d, i);
      if (next < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, next));
      i = next + 1;
      continue;
    }
    let start = i + 1;
    let acc = '';
    let q = line.indexOf('"', start);
    while (q >= 0 && line.charCodeAt(q + 1) === QUOTE) {
      acc += line.slice(start, q + 1);
      start = q + 2;
      q = line.indexOf('"', start);
    }
    if (q < 0) return undefined;
    const val = acc + line.slice(start, q);
    const next = line.indexOf(d, q + 1);
    if (next < 0) {
      out.push(q + 1 < n ? val + line.slice(q + 1) : val);
      return out;
    }
    out.push(next > q + 1 ? val + line.slice(q + 1, next) : val);
    i = next + 1;
  }
}

class CsvProcessor {
  private readonly opts: DelimitedOptions;
  private readonly st: CsvState;
  private readonly delim: string;
  private readonly max: number;
  private readonly comments: readonly string[];
  private headerPending: boolean;
  /** The last comment line before the header: abuse.ch-style files put the header there. */
  private lastComment: string | undefined;
  private out = newBatch();

  constructor(opts: DelimitedOptions, st: CsvState, delim: string, max: number) {
    this.opts = opts;
    this.st = st;
    this.delim = delim;
    this.max = max;
    this.comments = opts.comment ?? ['#'];
    this.headerPending = opts.header === true;
  }

  lines(lb: LineBatch): ParseBatch {
    this.out = newBatch();
    forEachLine(lb, (text, no) => this.line(text, no), (f) => this.out.rejections.push(f));
    return this.out;
  }

  finish(): ParseBatch | undefined {
    if (!this.st.inQuotes) return undefined;
    this.out = newBatch();
    this.out.rejections.push({ reason: 'unterminated-quote', message: 'the feed ended inside a quoted field (truncated file?); the last record was skipped', input: shown(this.st.cur), where: `line ${this.st.startLine}` });
    return this.out;
  }

  private line(line: string, no: number): void {
    const st = this.st;
    if (st.inQuotes) {
      this.continueQuoted(line);
      return;
    }
    if (st.skipLeft > 0) {
      st.skipLeft--;
      return;
    }
    if (line.length === 0) return;
    if (this.isComment(line)) {
      if (this.headerPending) this.lastComment = line;
      return;
    }
    st.startLine = no;
    st.size = line.length;
    st.overflow = false;
    const fields = line.indexOf('"') < 0 ? line.split(this.delim) : splitQuotedLine(line, this.delim);
    if (fields !== undefined) {
      this.complete(fields);
      return;
    }
    // The record continues on the next line (a quoted field with a newline): use the stateful scanner.
    st.fields = [];
    st.cur = '';
    this.scan(line, 0);
  }

  private isComment(line: string): boolean {
    for (const c of this.comments) if (line.startsWith(c)) return true;
    return false;
  }

  private continueQuoted(line: string): void {
    const st = this.st;
    st.size += line.length + 1;
    if (st.size > this.max && !st.overflow) st.overflow = true;
    if (st.overflow) st.cur = '';
    else st.cur += '\n';
    this.scanQuoted(line, 0);
  }

  /** Scans `line` from `pos` at the start of a field. */
  private scan(line: string, pos: number): void {
    const st = this.st;
    const d = this.delim;
    let i = pos;
    for (;;) {
      if (line.charCodeAt(i) === QUOTE) {
        st.inQuotes = true;
        this.scanQuoted(line, i + 1);
        return;
      }
      const next = line.indexOf(d, i);
      if (next < 0) {
        st.fields.push(st.cur + line.slice(i));
        st.cur = '';
        this.complete(st.fields);
        return;
      }
      st.fields.push(st.cur + line.slice(i, next));
      st.cur = '';
      i = next + 1;
    }
  }

  /** Scans inside a quoted field starting at `pos`. */
  private scanQuoted(line: string, pos: number): void {
    const st = this.st;
    let i = pos;
    for (;;) {
      const q = line.indexOf('"', i);
      if (q < 0) {
        if (!st.overflow) st.cur += line.slice(i);
        return;
      }
      if (!st.overflow) st.cur += line.slice(i, q);
      if (line.charCodeAt(q + 1) === QUOTE) {
        if (!st.overflow) st.cur += '"';
        i = q + 2;
        continue;
      }
      st.inQuotes = false;
      this.afterQuoted(line, q + 1);
      return;
    }
  }

  /** After a closing quote: text up to the delimiter is appended (lenient), then the next field. */
  private afterQuoted(line: string, pos: number): void {
    const st = this.st;
    const next = line.indexOf(this.delim, pos);
    const end = next < 0 ? line.length : next;
    if (end > pos && !st.overflow) st.cur += line.slice(pos, end);
    st.fields.push(st.cur);
    st.cur = '';
    if (next < 0) {
      this.complete(st.fields);
      return;
    }
    this.scan(line, next + 1);
  }

  private complete(fields: string[]): void {
    const st = this.st;
    st.fields = [];
    if (st.overflow) {
      this.out.rejections.push({ reason: 'record-too-long', message: `record is longer than ${this.max} bytes; it was skipped`, input: shown(fields[0] ?? ''), where: `line ${st.startLine}` });
      return;
    }
    if (this.headerPending) {
      this.headerPending = false;
      if (this.headerFromComment(fields)) {
        this.emit(fields);
        return;
      }
      st.names = fields.map((f) => f.trim());
      resolveColumns(st, this.opts, st.names);
      return;
    }
    this.emit(fields);
  }

  /**
   * With a header expected, when the first row does not name the mapped columns but the last
   * comment line before it does (`# "first_seen_utc","dst_ip",...` as abuse.ch publishes), that
   * comment is the header and the first row is data. Only used when every mapped column name is
   * found there, so it never maps a column by guess.
   */
  private headerFromComment(first: string[]): boolean {
    const wanted = [this.opts.value, this.opts.typeColumn].filter((c): c is string => typeof c === 'string');
    const firstNames = first.map((f) => f.trim());
    if (wanted.length === 0 || wanted.every((w) => firstNames.includes(w)) || this.lastComment === undefined) return false;
    let text = this.lastComment;
    for (const c of this.comments) if (text.startsWith(c)) text = text.slice(c.length);
    text = text.trim();
    const names = (text.includes('"') ? splitQuotedLine(text, this.delim) : text.split(this.delim))?.map((f) => f.trim());
    if (names === undefined || !wanted.every((w) => names.includes(w))) return false;
    this.st.names = names;
    resolveColumns(this.st, this.opts, names);
    return true;
  }

  private emit(fields: string[]): void {
    const st = this.st;
    const where = st.startLine;
    const raw = fields[st.valueIdx];
    if (raw === undefined) {
      this.out.rejections.push({ reason: 'missing-column', message: `record has ${fields.length} columns, the value is in column ${st.valueIdx}`, input: shown(fields.join(this.delim)), where: `line ${where}` });
      return;
    }
    const keep = this.opts.keepFields === false ? undefined : (): Record<string, unknown> => this.fieldsOf(fields);
    if (st.typeIdx < 0) {
      this.out.records.push({ value: raw, type: this.opts.type, fields: keep, where });
      return;
    }
    this.emitTyped(fields[st.typeIdx] ?? '', raw, keep, where);
  }

  private emitTyped(label: string, raw: string, keep: RecordFields | undefined, where: number): void {
    const m = mapTyped(label, raw, this.opts.vocabulary, this.opts.typeMap);
    if (!m.ok) {
      this.out.skips.push(m.skip);
      return;
    }
    for (const v of m.values) this.out.records.push({ value: v.value, type: v.type, fields: keep, where } satisfies FeedRecord);
  }

  private fieldsOf(fields: string[]): Record<string, unknown> {
    const names = this.st.names;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < fields.length; i++) {
      if (i === this.st.valueIdx) continue;
      setField(out, names?.[i] ?? `column${i}`, fields[i]);
    }
    return out;
  }
}

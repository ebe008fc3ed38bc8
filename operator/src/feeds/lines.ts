/**
 * Streaming parser for plain lists: one value per line, comment lines (`#`, `;` by default),
 * trailing remarks after the value (Spamhaus DROP's `1.2.3.0/24 ; SBL123`, `1.2.3.4 # note`),
 * surrounding white space and CRLF. The value is the first white-space-separated token; for
 * values that are not URLs, a `;` or `#` ends the value too.
 */
import type { IndicatorType } from '../domain/indicator.ts';
import { readLines } from './text.ts';
import { newBatch, type ByteSource, type ParseBatch } from './types.ts';

/** Options of `parseLines`. */
export interface LinesOptions {
  /** Comment prefixes (after leading white space). @default ['#', ';'] */
  readonly comment?: readonly string[];
  /** A fixed indicator type; undefined means auto-detect per line. */
  readonly type?: IndicatorType | undefined;
  /** Keep a trailing remark as the `remark` field. @default true */
  readonly keepRemark?: boolean;
  /** @default 1 MiB */
  readonly maxLineBytes?: number;
}

/** Parses a plain list into record batches; see LinesOptions. */
export async function* parseLines(source: ByteSource, opts: LinesOptions = {}): AsyncGenerator<ParseBatch> {
  const comments = opts.comment ?? ['#', ';'];
  const keepRemark = opts.keepRemark !== false;
  for await (const lb of readLines(source, { maxLineBytes: opts.maxLineBytes })) {
    const out = newBatch();
    for (const f of lb.faults) out.rejections.push(f);
    const lines = lb.lines;
    for (let i = 0; i < lines.length; i++) {
      const line = (lines[i] ?? '').trim();
      if (line.length === 0 || isComment(line, comments)) continue;
      const split = splitValue(line);
      const fields = keepRemark && split.remark.length > 0 ? { remark: split.remark } : undefined;
      out.records.push({ value: split.value, type: opts.type, fields, where: lb.firstLine + i });
    }
    yield out;
  }
}

function isComment(line: string, comments: readonly string[]): boolean {
  for (const c of comments) if (line.startsWith(c)) return true;
  return false;
}

/**
 * Splits a trimmed line into its value and the remark after it, in one pass (this runs for every
 * line of a list): the value ends at the first space or tab, or, unless it holds `://`, at the
 * first `;` or `#`.
 */
export function splitValue(line: string): { value: string; remark: string } {
  let end = line.length;
  let cut = -1;
  let url = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32 || c === 9) {
      end = i;
      break;
    }
    if ((c === 59 || c === 35) && cut < 0) cut = i;
    else if (c === 58 && line.charCodeAt(i + 1) === 47 && line.charCodeAt(i + 2) === 47) url = true;
  }
  const stop = !url && cut >= 0 ? cut : end;
  return { value: line.slice(0, stop), remark: stop === line.length ? '' : stripRemark(line.slice(stop)) };
}

function stripRemark(rest: string): string {
  let i = 0;
  while (i < rest.length) {
    const c = rest.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 59 && c !== 35) break;
    i++;
  }
  return i === 0 ? rest.trimEnd() : rest.slice(i).trimEnd();
}

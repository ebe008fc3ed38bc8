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

function firstSpace(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9) return i;
  }
  return -1;
}

/** Splits a trimmed line into its value and the remark after it. */
export function splitValue(line: string): { value: string; remark: string } {
  const sp = firstSpace(line);
  let value = sp < 0 ? line : line.slice(0, sp);
  let rest = sp < 0 ? '' : line.slice(sp);
  if (!value.includes('://')) {
    const semi = value.indexOf(';');
    const hash = value.indexOf('#');
    const cut = semi < 0 ? hash : hash < 0 ? semi : Math.min(semi, hash);
    if (cut >= 0) {
      rest = value.slice(cut) + rest;
      value = value.slice(0, cut);
    }
  }
  return { value, remark: stripRemark(rest) };
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

/**
 * The CSV/TSV parser (feeds/delimited.ts) and the plain-list parser (feeds/lines.ts). Half of
 * the cases are generated valid files (random tables serialized per RFC 4180, with headers,
 * comments, CRLF, a BOM, quoted fields holding delimiters, quotes and newlines; lists with
 * remarks and comment lines) whose records must come back exactly; the other half are those
 * files mutated, which must parse without crashing, identically in any chunking.
 */
import { parseDelimited, type DelimitedOptions } from '../../operator/src/feeds/delimited.ts';
import { parseLines } from '../../operator/src/feeds/lines.ts';
import { genValue } from '../gen.ts';
import { mutate, randomText } from '../mutate.ts';
import type { Rng } from '../rng.ts';
import type { FuzzTarget } from '../target.ts';
import type { ByteSource, ParseBatch } from '../../operator/src/feeds/types.ts';
import { expectRecords, parseBothWays } from './feedcheck.ts';

const CSV_TOKENS = [',', ';', '\t', '|', '"', '""', '\n', '\r\n', '\r', '#', '# comment\n', '"a,b"', '"\n"', '\ufeff'];

// A valid document holds no NUL: a line with one is binary data, rejected by design (text.ts).
function genField(rng: Rng, delim: string): string {
  const k = rng.int(6);
  if (k < 3) return genValue(rng).raw.replaceAll('\r', '').replaceAll('\0', '').toWellFormed();
  if (k === 3) return '';
  return randomText(rng, [delim, '"', '\n', ' ', '#', 'a', 'b'], 8).replaceAll('\r', '').replaceAll('\0', '').toWellFormed();
}

function quote(field: string, delim: string, first: boolean, always: boolean): string {
  const needs = always || field.includes(delim) || field.includes('"') || field.includes('\n') || (first && (field.startsWith('#') || field === '')) || field.trim() !== field;
  return needs ? `"${field.replaceAll('"', '""')}"` : field;
}

function csvCase(rng: Rng): Promise<void> {
  const delim = rng.pick([',', ';', '\t', '|']);
  const cols = rng.range(1, 5);
  const valueIdx = rng.int(cols);
  const header = rng.chance(0.5);
  const names = Array.from({ length: cols }, (_, i) => `col${i}`);
  const eol = rng.chance(0.5) ? '\n' : '\r\n';
  const always = rng.chance(0.2);
  const rows = Array.from({ length: rng.small(20) }, () => Array.from({ length: cols }, () => genField(rng, delim)));
  const lines: string[] = [];
  if (rng.chance(0.3)) lines.push(`# ${randomText(rng, [delim], 6).replaceAll('\n', ' ').replaceAll('\r', ' ').replaceAll('\0', '')}`);
  if (header) lines.push(names.join(delim));
  for (const r of rows) {
    lines.push(r.map((f, i) => quote(f, delim, i === 0, always)).join(delim));
    if (rng.chance(0.1)) lines.push(rng.chance(0.5) ? '' : '# between rows');
  }
  let text = lines.join(eol) + (rng.chance(0.7) ? eol : '');
  if (rng.chance(0.1)) text = '\ufeff' + text;
  const opts: DelimitedOptions = { delimiter: delim, header, value: header && rng.chance(0.5) ? names[valueIdx]! : valueIdx, keepFields: rng.chance(0.5), ...(rng.chance(0.3) ? { type: 'domain' as const } : {}) };
  const mutated = rng.chance(0.5);
  if (mutated) text = mutate(rng, text, CSV_TOKENS);
  const small = rng.chance(0.1);
  const effective: DelimitedOptions = small ? { ...opts, maxRecordBytes: 64 } : opts;
  const run = (src: ByteSource): AsyncIterable<ParseBatch> => parseDelimited(src, effective);
  return parseBothWays(rng, run, Buffer.from(text.isWellFormed() ? text : text.toWellFormed(), 'utf8'), text).then((o) => {
    if (!mutated && !small) expectRecords(o, rows.map((r) => ({ value: r[valueIdx]!, type: opts.type })), text);
  });
}

const LINE_TOKENS = ['#', ';', ' ', '\t', '\n', '\r\n', '\r', '; SBL123', '# note', '://', '\ufeff', '\u00a0'];

function linesCase(rng: Rng): Promise<void> {
  const eol = rng.chance(0.5) ? '\n' : '\r\n';
  const values: string[] = [];
  const lines: string[] = [];
  for (let i = rng.small(30); i > 0; i--) {
    const k = rng.int(10);
    if (k === 0) { lines.push(rng.pick(['# comment', '; comment', '', '   ', '\t# indented'])); continue; }
    const v = genValue(rng).raw;
    // A valid list holds no NUL either: a line with one is binary data, rejected by design (text.ts).
    if (!/^[^\s;#\0]+$/u.test(v) || !v.isWellFormed()) continue;
    values.push(v);
    lines.push(`${rng.chance(0.2) ? '  ' : ''}${v}${rng.chance(0.3) ? rng.pick([' ; SBL123', ' # note', '\tremark', ' ']) : ''}`);
  }
  let text = lines.join(eol) + (rng.chance(0.5) ? eol : '');
  const mutated = rng.chance(0.5);
  if (mutated) text = mutate(rng, text, LINE_TOKENS);
  const max = rng.chance(0.1) ? 32 : undefined;
  const utf8 = Buffer.from(text.isWellFormed() ? text : text.toWellFormed(), 'utf8');
  const bytes = rng.chance(0.05) ? Buffer.concat([utf8, Buffer.from([0xff, 0x0a])]) : utf8;
  return parseBothWays(rng, (src) => parseLines(src, { maxLineBytes: max }), bytes, text).then((o) => {
    if (!mutated && max === undefined && bytes === utf8) expectRecords(o, values.map((value) => ({ value, type: undefined })), text);
  });
}

/** The CSV target. */
export const csvTarget: FuzzTarget = { name: 'csv', description: 'parseDelimited: RFC 4180 tables round-trip; mutated tables parse in any chunking', run: csvCase };
/** The plain-list target. */
export const linesTarget: FuzzTarget = { name: 'lines', description: 'parseLines: lists with remarks and comments round-trip; mutated lists parse in any chunking', run: linesCase };

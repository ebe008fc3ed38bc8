/**
 * JSON and JSON-lines feeds with field paths. A JSON document is scanned as a stream
 * (jsonscan.ts): the items at `itemsPath` (an array of objects, an object keyed by id such as
 * ThreatFox's export, or a bare array of strings) become records; the value and the type come
 * from dotted paths inside each item. Invalid JSON in a document is fatal (FeedError); an
 * invalid line in JSON-lines is a counted rejection, since lines are independent.
 */
import type { IndicatorType } from '../domain/indicator.ts';
import { JsonScanner, parsePath, pathText, type JsonMatch, type PathSegment } from './jsonscan.ts';
import { forEachLine, readLines, readText } from './text.ts';
import { mapTyped, type LabelVocabulary } from './typemap.ts';
import { FeedError, newBatch, setField, shown, whereText, type ByteSource, type ParseBatch } from './types.ts';

/** How one JSON item becomes records. */
export interface JsonItemMapping {
  /** Dotted path of the value inside an item; undefined means the item itself is the value (a string). */
  readonly valueField?: string | undefined;
  /** A fixed indicator type; otherwise `typeField`, otherwise auto-detect. */
  readonly type?: IndicatorType | undefined;
  /** Dotted path of a type label inside an item. */
  readonly typeField?: string | undefined;
  readonly typeMap?: Readonly<Record<string, string>> | undefined;
  /** @default 'generic' */
  readonly vocabulary?: LabelVocabulary;
  /** Keep the item's other scalar fields as record fields. @default true */
  readonly keepFields?: boolean;
}

/** Options of `parseJson`. */
export interface JsonOptions extends JsonItemMapping {
  /** Where the items are (see jsonscan.ts path syntax). @default '[*]' */
  readonly itemsPath?: string;
  /** Largest single item, in characters. @default 16 MiB */
  readonly maxItemBytes?: number;
}

/** Reads a dotted path (`a.b.c`) from a parsed JSON value. */
export function getPath(item: unknown, path: string): unknown {
  let cur: unknown = item;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Parses a JSON document into record batches; see JsonOptions. */
export async function* parseJson(source: ByteSource, opts: JsonOptions): AsyncGenerator<ParseBatch> {
  const sel = parsePath(opts.itemsPath ?? '[*]');
  const scanner = new JsonScanner([sel], opts.maxItemBytes);
  for await (const text of readText(source)) {
    yield toBatch(scanner.push(text), sel, opts);
  }
  const last = toBatch(scanner.end(), sel, opts);
  const missing = scanner.missingPaths();
  if (missing.length > 0) throw new FeedError('bad-config', `the JSON path ${missing.join(', ')} matched nothing in the document: check itemsPath (--json-path)`);
  yield last;
}

function toBatch(r: { matches: JsonMatch[]; oversize: Array<{ path: ReadonlyArray<string | number>; bytes: number }> }, sel: readonly PathSegment[], opts: JsonItemMapping): ParseBatch {
  const out = newBatch();
  for (const o of r.oversize) out.rejections.push({ reason: 'record-too-long', message: `item is ${o.bytes} characters, more than the limit; it was skipped`, input: '', where: pathText(o.path) });
  for (const m of r.matches) itemToRecords(m.value, opts, out, pathText(m.path), keyOf(m.path, sel));
  return out;
}

/** The object key an `*` step matched (ThreatFox's id), if any. */
function keyOf(path: ReadonlyArray<string | number>, sel: readonly PathSegment[]): string | undefined {
  let key: string | undefined;
  for (let i = 0; i < sel.length; i++) {
    const p = path[i];
    if (sel[i]?.kind === 'any' && typeof p === 'string') key = p;
  }
  return key;
}

/** Turns one parsed item into records, rejections or skips, appended to `out`. */
export function itemToRecords(item: unknown, m: JsonItemMapping, out: ParseBatch, where: string | number, key?: string): void {
  const at = whereText(where);
  const raw = m.valueField === undefined ? item : getPath(item, m.valueField);
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    out.rejections.push({ reason: 'missing-value', message: m.valueField === undefined ? 'item is not a string; set a value field' : `item has no string at "${m.valueField}"`, input: shown(safeJson(item)), where: at });
    return;
  }
  const value = String(raw);
  const fields = m.keepFields === false ? undefined : keptFields(item, m.valueField, key);
  if (m.type !== undefined || m.typeField === undefined) {
    out.records.push({ value, type: m.type, fields, where });
    return;
  }
  const label = getPath(item, m.typeField);
  if (typeof label !== 'string') {
    out.rejections.push({ reason: 'missing-type', message: `item has no string at "${m.typeField}"`, input: shown(safeJson(item)), where: at });
    return;
  }
  const mapped = mapTyped(label, value, m.vocabulary, m.typeMap);
  if (!mapped.ok) {
    out.skips.push(mapped.skip);
    return;
  }
  for (const v of mapped.values) out.records.push({ value: v.value, type: v.type, fields, where });
}

function keptFields(item: unknown, valueField: string | undefined, key: string | undefined): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  if (key !== undefined) out['key'] = key;
  if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
    for (const [k, v] of Object.entries(item as Record<string, unknown>)) {
      if (k === valueField) continue;
      if (v === null || typeof v !== 'object' || (Array.isArray(v) && v.every((x) => typeof x !== 'object'))) setField(out, k, v);
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Parses JSON-lines (one JSON value per line) into record batches; invalid lines are counted rejections. */
export async function* parseJsonLines(source: ByteSource, opts: JsonItemMapping & { readonly maxLineBytes?: number }): AsyncGenerator<ParseBatch> {
  for await (const lb of readLines(source, { maxLineBytes: opts.maxLineBytes })) {
    const out = newBatch();
    forEachLine(lb, (text, where) => jsonLine(text.trim(), where, opts, out), (f) => out.rejections.push(f));
    yield out;
  }
}

function jsonLine(line: string, where: number, opts: JsonItemMapping, out: ParseBatch): void {
  if (line === '') return;
  let item: unknown;
  try {
    item = JSON.parse(line);
  } catch (err) {
    out.rejections.push({ reason: 'invalid-json', message: `line is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, input: shown(line), where: `line ${where}` });
    return;
  }
  itemToRecords(item, opts, out, where);
}

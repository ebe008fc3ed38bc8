/**
 * The JSON-based feed parsers: JSON documents with item paths (feeds/json.ts), JSON lines,
 * STIX 2.1 bundles (feeds/stix.ts) and MISP feeds (feeds/misp.ts). Documents are generated
 * (items with values of every type, nested fields, unicode, escapes, odd white space) and
 * often mutated. The streaming scanner is checked against JSON.parse: a document JSON.parse
 * refuses must fail the run, one it accepts must give exactly the records, rejections and skips
 * that converting its items one by one gives, in any chunking.
 */
import { isDeepStrictEqual } from 'node:util';
import { parseJson, parseJsonLines, itemToRecords, type JsonItemMapping } from '../../operator/src/feeds/json.ts';
import { pathText } from '../../operator/src/feeds/jsonscan.ts';
import { mispAttributeToRecords, parseMispFeed } from '../../operator/src/feeds/misp.ts';
import { parseStixBundle, stixObjectToRecords } from '../../operator/src/feeds/stix.ts';
import { drain, type Drained } from '../../operator/src/feeds/testing.ts';
import { FeedError, newBatch, type ByteSource, type ParseBatch } from '../../operator/src/feeds/types.ts';
import { normalize } from '../../operator/src/domain/indicator.ts';
import { stixPattern } from '../../operator/src/domain/stix.ts';
import { genValue } from '../gen.ts';
import { mutate } from '../mutate.ts';
import type { Rng } from '../rng.ts';
import { Finding, same, type FuzzTarget } from '../target.ts';
import { genJson, JSON_TOKENS } from './canonical.ts';
import { outcomeOf, parseBothWays, sourceOf, type Outcome } from './feedcheck.ts';

/** Serializes `v` with random layout: indentation, spaces after separators, \u escapes. */
function layout(rng: Rng, v: unknown): string {
  let s = JSON.stringify(v, null, rng.pick([0, 0, 1, 2, '\t']));
  if (rng.chance(0.2)) s = s.replace(/[^\x20-\x7e\n\t]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (rng.chance(0.1)) s = ` \n${s}\r\n `;
  if (rng.chance(0.05)) s = '\ufeff' + s;
  return s;
}

function parsed(text: string): { ok: true; doc: unknown } | { ok: false } {
  try {
    return { ok: true, doc: JSON.parse(text.startsWith('\ufeff') ? text.slice(1) : text) };
  } catch {
    return { ok: false };
  }
}

/** The batch the items give when converted one by one (the oracle of the streaming parse). */
function expected(items: ReadonlyArray<readonly [ReadonlyArray<string | number>, unknown]>, convert: (item: unknown, out: ParseBatch, where: string, path: ReadonlyArray<string | number>) => void): Promise<Drained> {
  const out = newBatch();
  for (const [path, item] of items) convert(item, out, pathText(path), path);
  return drain((async function* () { yield await Promise.resolve(out); })());
}

async function differential(rng: Rng, text: string, parse: (src: ByteSource) => AsyncIterable<ParseBatch>, items: (doc: unknown) => ReadonlyArray<readonly [ReadonlyArray<string | number>, unknown]> | 'missing', convert: Parameters<typeof expected>[1]): Promise<void> {
  const o: Outcome = await parseBothWays(rng, parse, Buffer.from(text.isWellFormed() ? text : text.toWellFormed(), 'utf8'), text);
  const p = parsed(text.isWellFormed() ? text : text.toWellFormed());
  if (!p.ok) {
    if (o.ok) throw new Finding('accepts-invalid-json', `JSON.parse refuses the document but the parser gave ${o.out.records.length} records`, text);
    return;
  }
  const its = items(p.doc);
  if (its === 'missing') {
    if (o.ok) throw new Finding('missing-items', 'the items path matches nothing but the run succeeded', text);
    return;
  }
  if (!o.ok) throw new Finding('refuses-valid-json', `JSON.parse accepts the document but the parser failed: ${o.code}: ${o.message}`, text);
  same(o.out, await expected(its, convert), 'differential', text);
}

function arrayItems(doc: unknown): Array<readonly [number[], unknown]> | 'missing' {
  return Array.isArray(doc) ? doc.map((x, i) => [[i], x] as const) : 'missing';
}

function genItem(rng: Rng, nested: boolean): unknown {
  const v = rng.chance(0.1) ? rng.pick([42, null, true, { x: 1 }, ['a']]) : genValue(rng).raw;
  if (!nested && rng.chance(0.2)) return v;
  const extra = rng.chance(0.5) ? (genJson(rng) as Record<string, unknown>) : {};
  const base = typeof extra === 'object' && extra !== null && !Array.isArray(extra) ? extra : { extra };
  return nested ? { ...base, ioc: { value: v, kind: 'x' } } : { ...base, value: v, type: rng.pick(['ip', 'domain', 'url', 'md5_hash', 'x']) };
}

async function jsonCase(rng: Rng): Promise<void> {
  const nested = rng.chance(0.5);
  const mapping: JsonItemMapping = { valueField: nested ? 'ioc.value' : rng.chance(0.7) ? 'value' : undefined, keepFields: rng.chance(0.5), ...(rng.chance(0.3) && !nested ? { typeField: 'type', vocabulary: 'threatfox' as const } : {}) };
  const doc = Array.from({ length: rng.small(12) }, () => genItem(rng, nested));
  let text = layout(rng, doc);
  if (rng.chance(0.6)) text = mutate(rng, text, JSON_TOKENS);
  await differential(rng, text, (src) => parseJson(src, mapping), arrayItems, (item, out, where) => itemToRecords(item, mapping, out, where));
}

async function jsonlCase(rng: Rng): Promise<void> {
  const mapping: JsonItemMapping = { valueField: 'value', keepFields: rng.chance(0.5) };
  const lines = Array.from({ length: rng.small(12) }, () => JSON.stringify(genItem(rng, false)));
  let text = lines.join(rng.chance(0.5) ? '\n' : '\r\n');
  if (rng.chance(0.6)) text = mutate(rng, text, [...JSON_TOKENS, '\n']);
  // Lines are independent: only the general properties (no crash, chunking) apply.
  await parseBothWays(rng, (src) => parseJsonLines(src, mapping), Buffer.from(text.toWellFormed(), 'utf8'), text);
}

function genStixObject(rng: Rng, i: number): unknown {
  const id = `indicator--${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`;
  const k = rng.int(10);
  if (k === 0) return { type: 'malware', id: `malware--${i}`, name: 'x' };
  if (k === 1) return { type: 'indicator', id, pattern_type: rng.pick(['sigma', 'snort', 'stix']), pattern: '[x:y = 1]' };
  const parts: string[] = [];
  for (let n = rng.range(1, 3); n > 0; n--) {
    const g = genValue(rng);
    const norm = normalize(g.type, g.raw);
    parts.push(norm.ok ? stixPattern(norm.indicator).slice(1, -1) : `${rng.pick(['domain-name', 'ipv4-addr', 'url', 'file'])}:value = '${g.raw.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`);
  }
  const pattern = `[${parts.join(rng.pick([' OR ', ' AND ', ' or ']))}]`;
  return { type: 'indicator', spec_version: '2.1', id, created: '2026-01-01T00:00:00Z', modified: '2026-01-01T00:00:00Z', valid_from: '2026-01-01T00:00:00Z', pattern_type: 'stix', pattern, ...(rng.chance(0.1) ? { revoked: true } : {}), ...(rng.chance(0.2) ? { labels: ['x'], confidence: 80 } : {}) };
}

async function stixCase(rng: Rng): Promise<void> {
  const objects = Array.from({ length: rng.small(10) }, (_, i) => genStixObject(rng, i));
  let text = layout(rng, rng.chance(0.9) ? { type: 'bundle', id: 'bundle--00000000-0000-4000-8000-000000000000', objects } : { objects, more: false });
  if (rng.chance(0.6)) text = mutate(rng, text, [...JSON_TOKENS, '"objects":[', "'", ' OR ', ' AND ', '[', ']', '"pattern":"[domain-name:value = \'a.b\']",']);
  const items = (doc: unknown): Array<readonly [Array<string | number>, unknown]> => {
    const objs = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? (doc as { objects?: unknown }).objects : undefined;
    return Array.isArray(objs) ? objs.map((o, i) => [['objects', i], o] as const) : [];
  };
  await differential(rng, text, (src) => parseStixBundle(src), items, (o, out, where) => stixObjectToRecords(o, out, where));
}

const MISP_TYPES = ['ip-dst', 'ip-src', 'domain', 'hostname', 'url', 'md5', 'sha1', 'sha256', 'email-src', 'ip-dst|port', 'domain|ip', 'filename|md5', 'comment', 'text', 'AS'];

function genAttribute(rng: Rng): unknown {
  const g = genValue(rng);
  const type = rng.pick(MISP_TYPES);
  const value = type.includes('|') ? `${g.raw}|${rng.pick(['443', 'evil.exe', genValue(rng).raw])}` : g.raw;
  return { uuid: '5f0c0000-0000-4000-8000-000000000000', type, category: 'Network activity', value, to_ids: rng.chance(0.8), ...(rng.chance(0.1) ? { deleted: true } : {}) };
}

const UUIDS = ['5f0c1111-0000-4000-8000-000000000001', '5f0c2222-0000-4000-8000-000000000002'];

async function mispCase(rng: Rng): Promise<void> {
  const files = new Map<string, string>();
  const events = UUIDS.slice(0, rng.range(0, 2));
  files.set('manifest.json', layout(rng, Object.fromEntries(events.map((u) => [u, { info: 'x', timestamp: '1700000000' }]))));
  for (const u of events) {
    const ev = { Event: { uuid: u, info: 'x', Attribute: Array.from({ length: rng.small(8) }, () => genAttribute(rng)), Object: Array.from({ length: rng.small(2) }, () => ({ name: 'o', Attribute: Array.from({ length: rng.small(3) }, () => genAttribute(rng)) })) } };
    files.set(`${u}.json`, layout(rng, ev));
  }
  const names = [...files.keys()];
  const mutated = rng.chance(0.6) ? rng.pick(names) : undefined;
  if (mutated !== undefined) files.set(mutated, mutate(rng, files.get(mutated)!, [...JSON_TOKENS, '"to_ids":true,', '"Attribute":[', '|']));
  const input = JSON.stringify(Object.fromEntries(files));
  const open = (chunked: boolean) => (name: string): Promise<ByteSource> => {
    const text = files.get(name);
    if (text === undefined) return Promise.reject(new FeedError('http-status', `404 for ${name}`));
    const b = Buffer.from(text.toWellFormed(), 'utf8');
    return Promise.resolve(sourceOf(chunked ? [b.subarray(0, b.length >> 1), b.subarray(b.length >> 1)] : [b]));
  };
  const whole = await outcomeOfMisp(() => parseMispFeed(open(false)), input);
  const split = await outcomeOfMisp(() => parseMispFeed(open(true)), input);
  same(split.ok ? split.out : split.code, whole.ok ? whole.out : whole.code, 'chunking', input);
  if (mutated === undefined) {
    const out = newBatch();
    for (const u of events) {
      const ev = JSON.parse(files.get(`${u}.json`)!.replace(/^\ufeff/, '')) as { Event: { Attribute: unknown[]; Object: Array<{ Attribute: unknown[] }> } };
      ev.Event.Attribute.forEach((a, i) => mispAttributeToRecords(a, out, `Event.Attribute[${i}]`, u));
      ev.Event.Object.forEach((o, j) => o.Attribute.forEach((a, i) => mispAttributeToRecords(a, out, `Event.Object[${j}].Attribute[${i}]`, u)));
    }
    if (!whole.ok) throw new Finding('valid-document', `a generated MISP feed failed: ${whole.code}: ${whole.message}`, input);
    const exp = await drain((async function* () { yield await Promise.resolve(out); })());
    if (!isDeepStrictEqual(whole.out.records.map((r) => [r.value, r.type]), exp.records.map((r) => [r.value, r.type]))) throw new Finding('records', 'records differ from the attributes converted one by one', input);
  }
}

function outcomeOfMisp(parse: () => AsyncIterable<ParseBatch>, input: string): Promise<Outcome> {
  return outcomeOf(() => parse(), [], input);
}

/** The JSON document target. */
export const jsonTarget: FuzzTarget = { name: 'json', description: 'parseJson against JSON.parse + itemToRecords, in any chunking', run: jsonCase };
/** The JSON-lines target. */
export const jsonlTarget: FuzzTarget = { name: 'jsonl', description: 'parseJsonLines: no crash, same in any chunking', run: jsonlCase };
/** The STIX bundle target. */
export const stixTarget: FuzzTarget = { name: 'stix', description: 'parseStixBundle against JSON.parse + stixObjectToRecords, patterns from stixPattern, in any chunking', run: stixCase };
/** The MISP feed target. */
export const mispTarget: FuzzTarget = { name: 'misp', description: 'parseMispFeed (manifest + events): generated feeds give their attributes; mutated ones never crash, same in any chunking', run: mispCase };

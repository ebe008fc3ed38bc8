/**
 * STIX 2.1 input: bundles (`{"type":"bundle","objects":[...]}`, streamed), TAXII envelopes and
 * plain arrays of objects. Indicator objects with `pattern_type` stix become records through
 * the domain's parseStixPattern (one record per OR-ed comparison); every other object is
 * skipped and counted (`stix-not-indicator`), as are revoked indicators and other pattern
 * languages; unusable patterns are counted rejections.
 */
import { parseStixPattern } from '../domain/stix.ts';
import { JsonScanner, parsePath, pathText } from './jsonscan.ts';
import { readText } from './text.ts';
import { newBatch, shown, type ByteSource, type ParseBatch } from './types.ts';

const KEPT = ['id', 'name', 'created', 'modified', 'valid_from', 'valid_until', 'confidence', 'labels', 'indicator_types', 'description'] as const;

/** Appends the records, skips or rejections of one STIX object to `out`. */
export function stixObjectToRecords(obj: unknown, out: ParseBatch, where: string): void {
  if (obj === null || typeof obj !== 'object' || typeof (obj as { type?: unknown }).type !== 'string') {
    out.rejections.push({ reason: 'invalid-stix-object', message: 'not a STIX object (no "type")', input: shown(JSON.stringify(obj) ?? ''), where });
    return;
  }
  const o = obj as Record<string, unknown>;
  if (o['type'] !== 'indicator') {
    out.skips.push('stix-not-indicator');
    return;
  }
  if (o['revoked'] === true) {
    out.skips.push('stix-revoked');
    return;
  }
  const patternType = o['pattern_type'] ?? 'stix';
  if (patternType !== 'stix') {
    out.skips.push('stix-unsupported-pattern-type');
    return;
  }
  const pattern = o['pattern'];
  if (typeof pattern !== 'string') {
    out.rejections.push({ reason: 'invalid-stix-pattern', message: 'indicator has no pattern', input: shown(typeof o['id'] === 'string' ? o['id'] : ''), where });
    return;
  }
  const parsed = parseStixPattern(pattern);
  if (!parsed.ok) {
    // The domain keeps 256 characters and an ellipsis; a feed rejection shows at most SHOWN_INPUT in all.
    out.rejections.push({ ...parsed.rejection, input: shown(parsed.rejection.input), where });
    return;
  }
  const fields: Record<string, unknown> = {};
  for (const k of KEPT) if (o[k] !== undefined) fields[k] = o[k];
  for (const ind of parsed.indicators) out.records.push({ value: ind.value, type: ind.type, fields, where });
}

/** Streams a STIX bundle (or TAXII envelope) document: every element of `objects`. */
export async function* parseStixBundle(source: ByteSource, maxObjectBytes?: number): AsyncGenerator<ParseBatch> {
  const scanner = new JsonScanner([parsePath('objects[*]')], maxObjectBytes);
  const convert = (r: ReturnType<JsonScanner['push']>): ParseBatch => {
    const out = newBatch();
    for (const o of r.oversize) out.rejections.push({ reason: 'record-too-long', message: `STIX object is ${o.bytes} characters, more than the limit; it was skipped`, input: '', where: pathText(o.path) });
    for (const m of r.matches) stixObjectToRecords(m.value, out, pathText(m.path));
    return out;
  };
  for await (const text of readText(source)) yield convert(scanner.push(text));
  yield convert(scanner.end());
}

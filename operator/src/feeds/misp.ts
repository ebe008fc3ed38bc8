/**
 * MISP feeds (the format MISP's "feed" export and CIRCL's OSINT feed use): a `manifest.json`
 * object keyed by event uuid, and one `<uuid>.json` per event with `Event.Attribute[]` and
 * `Event.Object[].Attribute[]`. Attribute types map to indicator types through typemap.ts;
 * attributes with `to_ids` false (`misp-not-to-ids`), deleted ones (`misp-deleted`) and
 * unsupported types (`unsupported-type:<type>`) are skipped and counted. Event files are
 * streamed, so an event with a million attributes is fine.
 */
import { JsonScanner, parsePath, pathText, type JsonMatch } from './jsonscan.ts';
import { readText } from './text.ts';
import { mapTyped } from './typemap.ts';
import { FeedError, newBatch, shown, type ByteSource, type ParseBatch } from './types.ts';

/** Opens a file of the feed relative to its base (`manifest.json`, `<uuid>.json`). */
export type MispOpener = (name: string) => Promise<ByteSource>;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isFalse(v: unknown): boolean {
  return v === false || v === 0 || v === '0' || v === 'false';
}

/** Appends the records or skips of one MISP attribute to `out`. */
export function mispAttributeToRecords(attr: unknown, out: ParseBatch, where: string, eventUuid?: string): void {
  if (attr === null || typeof attr !== 'object') {
    out.rejections.push({ reason: 'invalid-misp-attribute', message: 'attribute is not an object', input: shown(String(attr)), where });
    return;
  }
  const a = attr as Record<string, unknown>;
  if (a['deleted'] === true || a['deleted'] === '1') {
    out.skips.push('misp-deleted');
    return;
  }
  if (isFalse(a['to_ids'])) {
    out.skips.push('misp-not-to-ids');
    return;
  }
  const type = a['type'];
  const value = a['value'];
  if (typeof type !== 'string' || typeof value !== 'string') {
    out.rejections.push({ reason: 'invalid-misp-attribute', message: 'attribute has no string type and value', input: shown(JSON.stringify(attr) ?? ''), where });
    return;
  }
  const mapped = mapTyped(type, value, 'misp');
  if (!mapped.ok) {
    out.skips.push(mapped.skip);
    return;
  }
  const fields: Record<string, unknown> = { mispType: type };
  for (const k of ['uuid', 'category', 'comment', 'timestamp'] as const) if (a[k] !== undefined && a[k] !== '') fields[k] = a[k];
  if (eventUuid !== undefined) fields['event'] = eventUuid;
  for (const v of mapped.values) out.records.push({ value: v.value, type: v.type, fields, where });
}

function eventBatch(r: { matches: JsonMatch[]; oversize: Array<{ path: ReadonlyArray<string | number>; bytes: number }> }, eventUuid: string | undefined): ParseBatch {
  const out = newBatch();
  for (const o of r.oversize) out.rejections.push({ reason: 'record-too-long', message: `MISP entry is ${o.bytes} characters, more than the limit; it was skipped`, input: '', where: pathText(o.path) });
  for (const m of r.matches) {
    const where = `${eventUuid ?? 'event'}:${pathText(m.path)}`;
    if (m.selector === 0) {
      mispAttributeToRecords(m.value, out, where, eventUuid);
      continue;
    }
    const attrs = (m.value as { Attribute?: unknown } | null)?.Attribute;
    if (!Array.isArray(attrs)) continue;
    attrs.forEach((a, i) => mispAttributeToRecords(a, out, `${where}.Attribute[${i}]`, eventUuid));
  }
  return out;
}

/** Streams one MISP event file. */
export async function* parseMispEvent(source: ByteSource, eventUuid?: string): AsyncGenerator<ParseBatch> {
  const scanner = new JsonScanner([parsePath('Event.Attribute[*]'), parsePath('Event.Object[*]')]);
  for await (const text of readText(source)) yield eventBatch(scanner.push(text), eventUuid);
  // An event without attributes or without objects is normal, so missing paths are not checked.
  yield eventBatch(scanner.end(), eventUuid);
}

/** Reads the event uuids listed in a MISP feed manifest (streamed: keys only). */
export async function readManifest(source: ByteSource): Promise<string[]> {
  const scanner = new JsonScanner([parsePath('*')], 1 << 20);
  const uuids: string[] = [];
  const take = (r: { matches: JsonMatch[] }): void => {
    for (const m of r.matches) {
      const key = m.path[0];
      if (typeof key !== 'string' || !UUID_RE.test(key)) throw new FeedError('invalid-json', `manifest.json key ${JSON.stringify(key)} is not an event uuid; is this a MISP feed?`);
      uuids.push(key);
    }
  };
  for await (const text of readText(source)) take(scanner.push(text));
  take(scanner.end());
  return uuids;
}

/** Streams a whole MISP feed: the manifest, then each event file it lists. */
export async function* parseMispFeed(open: MispOpener): AsyncGenerator<ParseBatch> {
  const uuids = await readManifest(await open('manifest.json'));
  for (const uuid of uuids) yield* parseMispEvent(await open(`${uuid}.json`), uuid);
}

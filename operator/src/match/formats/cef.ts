/**
 * ArcSight Common Event Format lines, bare or behind a syslog header:
 * `CEF:Version|Vendor|Product|Version|Signature ID|Name|Severity|Extension`, header fields with
 * `\|` and `\\` escaped, the extension `key=value` pairs separated by spaces (values may hold
 * spaces; `\=`, `\\`, `\n`, `\r` escaped). Matched: `src`, `dst`, `shost`, `dhost`,
 * `sourceTranslatedAddress`, `destinationTranslatedAddress`, `request` (a URL) and `fileHash`.
 * The time is `rt` (or `end`, `start`): epoch milliseconds or a date such as `Sep 19 2024
 * 08:26:10`; else an RFC 3339 time in the syslog header.
 */
import { TextLineParser } from './parser.ts';

const ADDRESS_KEYS = ['src', 'dst', 'sourceTranslatedAddress', 'destinationTranslatedAddress'];
const HOST_KEYS = ['shost', 'dhost'];

/** The header fields and extension of a CEF line, or undefined when it is not one. */
export function parseCef(line: string): { header: string[]; ext: Map<string, string>; prefix: string } | undefined {
  const at = line.indexOf('CEF:');
  if (at < 0) return undefined;
  const header: string[] = [];
  let cur = '';
  let i = at + 4;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i];
    if (c === '\\' && (line[i + 1] === '|' || line[i + 1] === '\\')) cur += line[++i];
    else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  if (header.length < 7) return undefined;
  return { header, ext: parseExtension(line.slice(i)), prefix: line.slice(0, at) };
}

function parseExtension(s: string): Map<string, string> {
  const out = new Map<string, string>();
  const keys = [...s.matchAll(/(?:^|\s)([A-Za-z0-9_.[\]-]+)=/g)].filter((m) => m.index === 0 || s[m.index] !== '\\');
  keys.forEach((m, k) => {
    const start = m.index + m[0].length;
    const next = keys[k + 1];
    const end = next === undefined ? s.length : next.index;
    out.set(m[1] ?? '', s.slice(start, end).replace(/\\([=\\nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c)).trim());
  });
  return out;
}

/** Milliseconds of a CEF record: `rt`/`end`/`start`, else an RFC 3339 time in the syslog prefix. */
export function cefTime(ext: Map<string, string>, prefix: string): number {
  for (const k of ['rt', 'end', 'start']) {
    const v = ext.get(k);
    if (v === undefined) continue;
    return /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  }
  const iso = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/.exec(prefix);
  return iso === null ? NaN : Date.parse(iso[0]);
}

/** Parser of CEF; see the module doc. */
export class CefParser extends TextLineParser {
  protected line(text: string): void {
    const cef = parseCef(text);
    if (cef === undefined) {
      this.ctx.stats.reject('not-cef', () => text);
      return;
    }
    const f = this.ctx.fields;
    f.begin();
    for (const k of ADDRESS_KEYS) {
      const v = cef.ext.get(k);
      if (v !== undefined) f.ipText(v);
    }
    for (const k of HOST_KEYS) {
      const v = cef.ext.get(k);
      if (v !== undefined) f.hostText(v);
    }
    const request = cef.ext.get('request');
    if (request !== undefined) f.urlText(request);
    const hash = cef.ext.get('fileHash');
    if (hash !== undefined) f.hashText(hash);
    this.commit(text, () => cefTime(cef.ext, cef.prefix), 'cef');
  }
}

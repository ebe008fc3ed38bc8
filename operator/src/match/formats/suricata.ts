/**
 * Suricata EVE JSON (`eve.json`), one event per line. Matched: `src_ip`, `dest_ip` of every
 * event; `dns` (v2 `rrname`, v3 `queries[].rrname`, `answers[].rrname`/`rdata`, `grouped.*`),
 * `http.hostname` and hostname + `http.url` as a URL, `tls.sni`, and `fileinfo.md5`/`sha1`/
 * `sha256`. The time is the event's `timestamp` (ISO 8601, `+0000` offsets included). Source
 * type `suricata:<event_type>`.
 */
import { arrAt, objAt, parseRecord, strAt } from './json.ts';
import { TextLineParser } from './parser.ts';
import type { FieldMatcher } from '../fields.ts';

/** Parser of Suricata eve.json; see the module doc. */
export class SuricataParser extends TextLineParser {
  protected line(text: string): void {
    const rec = parseRecord(this.ctx, text);
    if (rec === undefined) return;
    const f = this.ctx.fields;
    f.begin();
    for (const k of ['src_ip', 'dest_ip']) {
      const v = strAt(rec, k);
      if (v !== undefined) f.ipText(v);
    }
    dns(f, objAt(rec, 'dns'));
    const h = objAt(rec, 'http');
    const hostname = strAt(h, 'hostname');
    if (hostname !== undefined) {
      f.hostText(hostname);
      const url = strAt(h, 'url');
      if (url !== undefined) f.hostAndTarget(hostname, url);
    }
    const sni = strAt(objAt(rec, 'tls'), 'sni');
    if (sni !== undefined) f.hostText(sni);
    const fi = objAt(rec, 'fileinfo');
    for (const k of ['md5', 'sha1', 'sha256']) {
      const v = strAt(fi, k);
      if (v !== undefined) f.hashText(v);
    }
    this.commit(text, () => Date.parse(strAt(rec, 'timestamp') ?? ''), `suricata:${strAt(rec, 'event_type') ?? 'unknown'}`);
  }
}

function dns(f: FieldMatcher, d: Record<string, unknown> | undefined): void {
  if (d === undefined) return;
  const rrname = strAt(d, 'rrname');
  if (rrname !== undefined) f.hostText(rrname);
  for (const q of arrAt(d, 'queries')) {
    const n = strAt(q, 'rrname');
    if (n !== undefined) f.hostText(n);
  }
  for (const a of arrAt(d, 'answers')) {
    for (const k of ['rrname', 'rdata']) {
      const v = strAt(a, k);
      if (v !== undefined) f.hostText(v);
    }
  }
  const grouped = objAt(d, 'grouped');
  for (const list of Object.values(grouped ?? {})) {
    if (!Array.isArray(list)) continue;
    for (const v of list) if (typeof v === 'string') f.hostText(v);
  }
}

/**
 * CSV flow records (NetFlow/IPFIX exports, firewall logs...) with a header row that names the
 * columns (RFC 4180 quoting; comma, or tab when the header has tabs and no comma). Every column
 * is tried: a value that is an IP address, a URL, a 32/40/64-digit hex hash or a host name is
 * looked up. The time column is the first whose name is one of ts, time, timestamp, start,
 * start_time, stime, first_seen, flow_start, date, datetime (any case): epoch seconds,
 * epoch milliseconds (13 digits) or a date text.
 */
import { TextLineParser } from './parser.ts';
import type { FieldMatcher } from '../fields.ts';

const TIME_COLUMNS = /^(ts|time|timestamp|start|start_?time|stime|first_?seen|flow_?start|date|datetime)$/i;

/** Splits one CSV line; undefined when a quote is not closed on the line. */
export function splitCsv(line: string, delim: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q < 0) return undefined;
        v += line.slice(j, q);
        if (line[q + 1] === '"') { v += '"'; j = q + 2; continue; }
        i = q + 1;
        break;
      }
      out.push(v);
    } else {
      const d = line.indexOf(delim, i);
      out.push(line.slice(i, d < 0 ? line.length : d));
      i = d < 0 ? line.length : d;
    }
    if (i >= line.length) return out;
    if (line[i] !== delim) return undefined;
    i++;
  }
}

/** Milliseconds of a CSV time value. */
export function csvTime(v: string): number {
  if (/^\d{13}$/.test(v)) return Number(v);
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  return Date.parse(v);
}

/** Looks up one CSV value by what it looks like. */
export function tryValue(f: FieldMatcher, v: string): void {
  if (v.length < 3 || v.length > 4096) return;
  if (v.includes('://')) f.urlText(v);
  else if (/^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{40}$|^[0-9a-fA-F]{64}$/.test(v)) f.hashText(v);
  else if (v.includes('.') || v.includes(':')) f.hostText(v);
}

/** Parser of CSV flow records; see the module doc. */
export class CsvParser extends TextLineParser {
  #columns: string[] | undefined;
  #delim = ',';
  #timeCol = -1;

  protected line(text: string): void {
    if (this.#columns === undefined) {
      this.#delim = text.includes('\t') && !text.includes(',') ? '\t' : ',';
      this.#columns = splitCsv(text, this.#delim) ?? [];
      this.#timeCol = this.#columns.findIndex((c) => TIME_COLUMNS.test(c.trim()));
      return;
    }
    const values = splitCsv(text, this.#delim);
    if (values === undefined) {
      this.ctx.stats.reject('unterminated-quote', () => text);
      return;
    }
    if (values.length !== this.#columns.length) {
      this.ctx.stats.reject('column-count', () => text);
      return;
    }
    const f = this.ctx.fields;
    f.begin();
    values.forEach((v, k) => {
      if (k !== this.#timeCol) tryValue(f, v.trim());
    });
    this.commit(text, () => (this.#timeCol < 0 ? NaN : csvTime((values[this.#timeCol] ?? '').trim())), 'csv');
  }
}

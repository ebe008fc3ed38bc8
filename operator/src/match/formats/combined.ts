/**
 * NGINX and Apache access logs in the combined format (and the common format, which lacks the
 * last two fields): `client ident user [10/Oct/2000:13:55:36 -0700] "GET /path HTTP/1.1" status
 * bytes "referer" "user-agent"`. Quotes inside quoted fields are escaped (`\"` by Apache,
 * `\x22` by NGINX). Matched: the client address, the request target when it is an absolute URL
 * (a proxy's log) or a CONNECT authority, and the referer URL; each URL's host as a host too.
 */
import { TextLineParser } from './parser.ts';

const LINE = /^(\S+) \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)(?: "((?:[^"\\]|\\.)*)"(?: "((?:[^"\\]|\\.)*)")?)?/;
const MONTHS: Readonly<Record<string, number>> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
const CLF_TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/** Milliseconds of a common-log-format time `10/Oct/2000:13:55:36 -0700`, or NaN. */
export function clfTime(s: string): number {
  const m = CLF_TIME.exec(s);
  const month = m === null ? undefined : MONTHS[m[2] ?? ''];
  if (m === null || month === undefined) return NaN;
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  const offset = (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  return m[7] === '+' ? utc - offset : utc + offset;
}

/** Matches a request target: an absolute URL, or a CONNECT `host:port`. */
export function requestTarget(f: { urlText(u: string): void; hostText(h: string): void }, method: string, target: string): void {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) f.urlText(target);
  else if (method === 'CONNECT') f.hostText(target.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'));
}

/** Parser of combined/common access logs; see the module doc. */
export class CombinedParser extends TextLineParser {
  protected line(text: string): void {
    const m = LINE.exec(text);
    if (m === null) {
      this.ctx.stats.reject('not-combined-format', () => text);
      return;
    }
    const f = this.ctx.fields;
    f.begin();
    f.hostText(m[1] ?? '');
    const request = (m[3] ?? '').split(' ');
    if (request.length >= 2) requestTarget(f, request[0] ?? '', request[1] ?? '');
    const referer = m[6];
    if (referer !== undefined && referer !== '-' && referer.includes('://')) f.urlText(referer);
    this.commit(text, () => clfTime(m[2] ?? ''), 'combined');
  }
}

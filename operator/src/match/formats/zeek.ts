/**
 * Zeek logs, any path (conn, dns, http, ssl, files, x509...), in both of Zeek's writers:
 * - TSV (the ASCII writer): `#separator \x09`, `#set_separator`, `#unset_field`, `#path`,
 *   `#fields` and `#types` header lines, then one record per line. Parsed at the byte level:
 *   fields are found by scanning for the separator, only the columns that can match are looked
 *   at, and the scan of a line stops after its last such column (the rest is skipped with a
 *   native newline search). No string is made per line.
 * - JSON lines (`LogAscii::use_json`): one object per line with flat dotted keys; `ts` is epoch
 *   seconds or an ISO 8601 text.
 * A line starting with '#' is header, '{' is JSON, anything else a TSV record.
 * Matched columns: addresses (`id.orig_h`, `id.resp_h`, every column typed `addr`, `set[addr]`
 * or `vector[addr]`), names (`query`, `server_name`, `host`, `answers`, `san.dns`), `host` +
 * `uri` as a URL, and `md5`/`sha1`/`sha256`.
 */
import type { FieldMatcher } from '../fields.ts';
import type { MatcherSnapshot } from '../snapshot.ts';
import type { LogParser, ParseContext } from './parser.ts';
import { MAX_LINE_BYTES } from './parser.ts';
import { TsvPrefilter } from './tsvprefilter.ts';
import { ipv4Field, nextNewline, nextSeparator, skipColumns, wordView, type WordView } from './tsvscan.ts';

const NONE = 0;
const IP = 1;
const IP_LIST = 2;
const HOST = 3;
const HOST_LIST = 4;
const HASH = 5;
const TS = 6;
const HTTP_HOST = 7;
const URI = 8;

const BY_NAME: Readonly<Record<string, number>> = {
  ts: TS, 'id.orig_h': IP, 'id.resp_h': IP, tx_hosts: IP_LIST, rx_hosts: IP_LIST,
  query: HOST, server_name: HOST, answers: HOST_LIST, 'san.dns': HOST_LIST, 'san.ip': IP_LIST,
  host: HTTP_HOST, uri: URI, md5: HASH, sha1: HASH, sha256: HASH,
};

const BY_TYPE: Readonly<Record<string, number>> = { addr: IP, 'set[addr]': IP_LIST, 'vector[addr]': IP_LIST };

const NL = 10;
const DASH = 45;

/** Whether a column of role `r` can hit an indicator of `snap` (the timestamp is always kept). */
function canHit(r: number, snap: MatcherSnapshot): boolean {
  switch (r) {
    case IP: case IP_LIST: return snap.hasNets;
    case HOST: case HOST_LIST: return snap.hasNets || snap.hasDomains;
    case HTTP_HOST: return snap.hasNets || snap.hasDomains || snap.hasUrls;
    case URI: return snap.hasUrls;
    case HASH: return snap.hasHashes;
    default: return r !== NONE;
  }
}

/** The end of the list element at `s`: the next `sep`, `setSep` or newline. */
function elementEnd(buf: Buffer, s: number, sep: number, setSep: number): number {
  let e = s;
  for (let c = buf[e]; c !== sep && c !== setSep && c !== NL; c = buf[++e]);
  return e;
}

/** Parser of Zeek TSV and JSON logs; see the module doc. */
export class ZeekParser implements LogParser {
  readonly #ctx: ParseContext;
  #sep = 9;
  #setSep = 44;
  #names: string[] = [];
  /** Roles as the #fields/#types header declares them. */
  #declared: Uint8Array | undefined;
  /** The declared roles less those the current snapshot cannot hit (#rolesFor); undefined before a header. */
  #roles: Uint8Array | undefined;
  #rolesFor: MatcherSnapshot | undefined;
  /** Per column: how many columns that cannot match follow it (skipped in one run). */
  #skips = new Uint8Array(0);
  #lastCol = -1;
  #source = 'zeek';
  /** The last IPv4 address ipv4Field parsed. */
  readonly #addr = new Float64Array(1);
  /** Columns before the first one the walk reads (skipped in one run); the ts column. */
  #leadSkip = 0;
  #tsCol = -1;
  /** The current record's `host` and `uri` fields (-1: none). */
  #hostS = -1;
  #hostE = -1;
  #uriS = -1;
  #uriE = -1;
  /** The WebAssembly prefilter of the current snapshot, and whether it serves the current columns. */
  #pre: TsvPrefilter | undefined;
  #preOn = false;

  constructor(ctx: ParseContext) {
    this.#ctx = ctx;
  }

  isHeader(line: string): boolean {
    return line.startsWith('#');
  }

  parse(buf: Buffer, start: number, end: number): void {
    if (this.#ctx.fields.snap !== this.#rolesFor && this.#declared !== undefined) this.#effectiveRoles();
    const words = wordView(buf);
    let pos = start;
    let loaded = false;
    while (pos < end) {
      if (this.#preOn && buf[end - 1] === NL) {
        if (!loaded) (this.#pre as TsvPrefilter).load(buf, pos, end);
        loaded = true;
        pos = this.#prefiltered(buf, words, pos, end);
        if (pos >= end) break;
      }
      // One line the prefilter stopped at (a header, JSON or empty line, or a full flag list), or every line without it.
      const first = buf[pos];
      pos = first === 35 || first === 123 || this.#roles === undefined || first === NL || buf[end - 1] !== NL ? this.#slowLine(buf, pos, end) : this.#tsvLine(buf, words, pos);
    }
  }

  /**
   * Lets the prefilter walk the lines from `pos` and runs the JavaScript walk on the lines it
   * flags, numbered as if every line had been walked here. Returns where the prefilter stopped.
   */
  #prefiltered(buf: Buffer, words: WordView, pos: number, end: number): number {
    const pre = this.#pre as TsvPrefilter;
    const stats = this.#ctx.stats;
    const base = stats.lines;
    const stop = pre.scan(pos, end);
    const n = pre.flagged;
    for (let k = 0; k < n; k++) {
      stats.lines = base + pre.flaggedLine(k);
      this.#tsvLine(buf, words, pre.flaggedAt(k));
    }
    stats.lines = base + pre.lines;
    return stop;
  }

  /** One TSV record at `pos` (the range ends with a newline); returns the start of the next line. */
  #tsvLine(buf: Buffer, words: WordView, pos: number): number {
    const ctx = this.#ctx;
    const f = ctx.fields;
    const roles = this.#roles as Uint8Array;
    const skips = this.#skips;
    const last = this.#lastCol;
    const sep = this.#sep;
    ctx.stats.lines++;
    f.begin();
    this.#hostS = -1;
    this.#uriS = -1;
    let col = 0;
    let i = pos - 1;
    if (this.#leadSkip > 0) {
      i = skipColumns(buf, words, i, this.#leadSkip, sep);
      // A line that ends inside the leading run is short whatever else it holds.
      col = buf[i] === NL ? -1 : this.#leadSkip;
    }
    while (col >= 0) {
      const fs = i + 1;
      const r = roles[col] as number;
      i = r === NONE ? nextSeparator(buf, words, fs, sep) : this.#field(f, r, buf, words, fs);
      if (buf[i] === NL || col === last) break;
      const k = skips[col] as number;
      if (k > 0) {
        // One column: the plain separator search is cheaper than counting.
        i = k === 1 ? nextSeparator(buf, words, i + 1, sep) : skipColumns(buf, words, i, k, sep);
        col += k;
        if (buf[i] === NL) break;
      }
      col++;
    }
    const nl = buf[i] === NL ? i : nextNewline(buf, words, i);
    if (col < last) ctx.stats.reject('missing-fields', () => buf.toString('latin1', pos, nl));
    else if (nl - pos > MAX_LINE_BYTES) ctx.stats.reject('line-too-long', () => buf.toString('latin1', pos, pos + 100));
    else {
      if (this.#hostS >= 0 && this.#uriS >= 0 && f.snap.hasUrls) this.#url(f, buf);
      if (f.hits > 0) this.#commit(buf, pos, nl);
    }
    return nl + 1;
  }

  /** Matches the field of role `r` at `fs`; returns its end (the separator or newline after it). */
  #field(f: FieldMatcher, r: number, buf: Buffer, words: WordView, fs: number): number {
    if (r === IP) return this.#address(f, buf, words, fs);
    if (r === IP_LIST || r === HOST_LIST) return this.#hostList(f, buf, fs);
    const i = nextSeparator(buf, words, fs, this.#sep);
    if (i - fs === 1 && buf[fs] === DASH) return i;
    if (r === HOST) f.hostBytes(buf, fs, i);
    else if (r === HASH) f.hashBytes(buf, fs, i);
    else if (r === HTTP_HOST) {
      f.hostBytes(buf, fs, i);
      this.#hostS = fs;
      this.#hostE = i;
    } else if (r === URI) {
      this.#uriS = fs;
      this.#uriE = i;
    }
    return i;
  }

  /** The record's `host` + `uri` as a URL, when a URL indicator names the host. */
  #url(f: FieldMatcher, buf: Buffer): void {
    if (f.snap.urlHost(buf, this.#hostS, this.#hostE)) f.hostAndTarget(buf.toString('latin1', this.#hostS, this.#hostE), buf.toString('latin1', this.#uriS, this.#uriE));
  }

  /** An address column at `fs`: an IPv4 address is parsed in the pass that finds its end. Returns the end (separator or newline). */
  #address(f: FieldMatcher, buf: Buffer, words: WordView, fs: number): number {
    const e = ipv4Field(buf, fs, this.#sep, this.#sep, this.#addr);
    if (e >= 0) {
      f.hit(f.snap.ipv4(this.#addr[0] as number));
      return e;
    }
    const i = nextSeparator(buf, words, fs, this.#sep);
    if (!(i - fs === 1 && buf[fs] === DASH)) f.ipBytes(buf, fs, i);
    return i;
  }

  /**
   * A set or vector of names and addresses at `fs` (`-` when unset): IPv4 elements are parsed in
   * the pass that splits the list, other elements are matched as hosts. Returns the field's end.
   */
  #hostList(f: FieldMatcher, buf: Buffer, fs: number): number {
    const sep = this.#sep;
    const setSep = this.#setSep;
    if (buf[fs] === DASH && (buf[fs + 1] === sep || buf[fs + 1] === NL)) return fs + 1;
    for (let s = fs; ; s++) {
      let e = ((buf[s] as number) - 48) >>> 0 <= 9 ? ipv4Field(buf, s, sep, setSep, this.#addr) : -1;
      if (e >= 0) f.hit(f.snap.ipv4(this.#addr[0] as number));
      else {
        e = elementEnd(buf, s, sep, setSep);
        if (e > s) f.hostBytes(buf, s, e);
      }
      if (buf[e] !== setSep) return e;
      s = e;
    }
  }

  #commit(buf: Buffer, pos: number, nl: number): void {
    const ts = this.#time(buf, pos);
    if (!Number.isFinite(ts)) {
      this.#ctx.stats.reject('bad-timestamp', () => buf.toString('latin1', pos, nl));
      return;
    }
    const f = this.#ctx.fields;
    this.#ctx.tally.record(f.snap, f.ids, f.hits, ts, this.#source);
  }

  /**
   * Epoch milliseconds of the record's `ts` column (NaN when the log has none, or it is unset or
   * no number). Found only for records that hit, so the walk over every line skips the column.
   */
  #time(buf: Buffer, pos: number): number {
    if (this.#tsCol < 0) return NaN;
    let s = pos;
    for (let c = 0; c < this.#tsCol; c++) s = elementEnd(buf, s, this.#sep, this.#sep) + 1;
    const e = elementEnd(buf, s, this.#sep, this.#sep);
    return e - s === 1 && buf[s] === DASH ? NaN : Number(buf.toString('latin1', s, e)) * 1000;
  }

  /** A header, JSON or empty line, or a record before any #fields header. */
  #slowLine(buf: Buffer, pos: number, end: number): number {
    let nl = buf.indexOf(NL, pos);
    if (nl < 0 || nl > end) nl = end;
    const stats = this.#ctx.stats;
    stats.lines++;
    const first = buf[pos];
    if (nl - pos > MAX_LINE_BYTES) stats.reject('line-too-long', () => buf.toString('latin1', pos, pos + 100));
    else if (first === 35) this.#header(buf.toString('utf8', pos, nl).replace(/\r$/, ''));
    else if (first === 123) this.#json(buf.toString('utf8', pos, nl));
    else if (nl > pos && !(nl === pos + 1 && first === 13)) stats.reject('no-fields-header', () => buf.toString('latin1', pos, nl));
    return nl + 1;
  }

  #header(line: string): void {
    if (line.startsWith('#separator ')) {
      this.#sep = unescapeByte(line.slice(11)) ?? 9;
      if (this.#declared !== undefined) this.#effectiveRoles();
      return;
    }
    const parts = line.split(String.fromCharCode(this.#sep));
    const key = parts[0];
    if (key === '#set_separator') {
      this.#setSep = (parts[1] ?? ',').charCodeAt(0);
      if (this.#declared !== undefined) this.#effectiveRoles();
    } else if (key === '#path') this.#source = `zeek:${parts[1] ?? ''}`;
    else if (key === '#fields') this.#setFields(parts.slice(1), []);
    else if (key === '#types') this.#setFields(this.#names, parts.slice(1));
  }

  #setFields(names: string[], types: readonly string[]): void {
    this.#names = names;
    const roles = new Uint8Array(names.length + 1);
    names.forEach((n, k) => { roles[k] = BY_NAME[n] ?? BY_TYPE[types[k] ?? ''] ?? NONE; });
    this.#declared = roles;
    this.#effectiveRoles();
  }

  /**
   * Drops the columns the current snapshot cannot hit (addresses without address indicators,
   * names without domain or address indicators, hashes without hash indicators, URIs without
   * URL indicators), and finds the runs of columns to skip between those that remain. The scan
   * still goes up to the last column the header declares matchable, so a line too short for the
   * log's fields is rejected whatever the snapshot holds (results do not depend on it).
   */
  #effectiveRoles(): void {
    const snap = this.#ctx.fields.snap;
    const declared = this.#declared ?? new Uint8Array(0);
    // The timestamp is read only for records that hit (#time): the walk skips its column.
    const roles = Uint8Array.from(declared, (r) => (r !== TS && canHit(r, snap) ? r : NONE));
    let last = -1;
    declared.forEach((r, k) => { if (r !== NONE) last = k; });
    let lead = 0;
    while (lead < last && roles[lead] === NONE) lead++;
    this.#leadSkip = lead;
    this.#tsCol = declared.indexOf(TS);
    const skips = new Uint8Array(roles.length);
    // A run never takes in the last column itself: the walk must stop there.
    for (let k = last - 2; k >= 0; k--) if (roles[k + 1] === NONE) skips[k] = Math.min(255, (skips[k + 1] ?? 0) + 1);
    this.#roles = roles;
    this.#rolesFor = snap;
    this.#skips = skips;
    this.#lastCol = last;
    if (this.#ctx.prefilter !== false && this.#pre?.snap !== snap) this.#pre = TsvPrefilter.create(snap);
    this.#preOn = this.#pre?.configure(roles, last, this.#sep, this.#setSep) ?? false;
  }

  #json(line: string): void {
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      this.#ctx.stats.reject('invalid-json', () => line);
      return;
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
      this.#ctx.stats.reject('invalid-json', () => line);
      return;
    }
    zeekJsonRecord(this.#ctx, rec as Record<string, unknown>, line);
  }
}

/** Matches the fields of one Zeek JSON record and commits its hits. */
function zeekJsonRecord(ctx: ParseContext, rec: Record<string, unknown>, line: string): void {
  const f = ctx.fields;
  f.begin();
  for (const [k, v] of Object.entries(rec)) {
    const r = BY_NAME[k];
    if (r === undefined || r === TS || r === URI) continue;
    for (const s of strings(v)) {
      if (r === IP || r === IP_LIST) f.ipText(s);
      else if (r === HASH) f.hashText(s);
      else f.hostText(s);
    }
  }
  if (typeof rec['host'] === 'string' && typeof rec['uri'] === 'string') f.hostAndTarget(rec['host'], rec['uri']);
  if (f.hits === 0) return;
  const ts = timeOf(rec['ts']);
  if (!Number.isFinite(ts)) {
    ctx.stats.reject('bad-timestamp', () => line);
    return;
  }
  const path = typeof rec['_path'] === 'string' ? `zeek:${rec['_path']}` : 'zeek';
  ctx.tally.record(f.snap, f.ids, f.hits, ts, path);
}

function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Milliseconds of a Zeek JSON `ts`: epoch seconds, or an ISO 8601 text. */
export function timeOf(v: unknown): number {
  if (typeof v === 'number') return v * 1000;
  return typeof v === 'string' ? Date.parse(v) : NaN;
}

/** The byte a Zeek header escape such as `\x09` names, or undefined. */
function unescapeByte(s: string): number | undefined {
  const m = /^\\x([0-9a-fA-F]{2})$/.exec(s.trim());
  if (m !== null) return parseInt(m[1] ?? '', 16);
  return s.length === 1 ? s.charCodeAt(0) : undefined;
}

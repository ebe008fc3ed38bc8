/**
 * FieldMatcher: looks up the fields of one log record in a MatcherSnapshot and collects the ids
 * of the indicators they hit. Byte-range methods serve the byte-level parsers (Zeek TSV) and
 * allocate nothing unless a field is IPv6 or a URL whose host is listed; text methods serve the
 * parsers of JSON and text formats. A record is `begin()`, any number of field lookups, then
 * `hits`/`ids` read by the caller; an indicator hit by several fields of one record is kept once.
 */
import { normalize } from '../domain/indicator.ts';
import { parseIpv6 } from '../domain/ip.ts';
import type { MatcherSnapshot } from './snapshot.ts';

const DOT = 46;
const COLON = 58;
const MAX_HITS = 64;
const SCRATCH = 4096;

/**
 * Parses `buf[start, end)` as a strict dotted-quad IPv4 address (no leading zeros); returns the
 * address as an unsigned 32-bit number, or -1.
 */
export function parseIpv4Bytes(buf: Uint8Array, start: number, end: number): number {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (c === DOT) {
      if (digits === 0 || dots === 3) return -1;
      addr = addr * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      const d = c - 48;
      if (d < 0 || d > 9 || (digits === 1 && octet === 0)) return -1;
      octet = octet * 10 + d;
      if (++digits > 3 || octet > 255) return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return addr * 256 + octet;
}

function hasByte(buf: Uint8Array, start: number, end: number, b: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] === b) return true;
  return false;
}

/** The record-level lookup helper; see the module doc. */
export class FieldMatcher {
  snap: MatcherSnapshot;
  readonly ids = new Int32Array(MAX_HITS);
  hits = 0;
  readonly #scratch = Buffer.allocUnsafe(SCRATCH);

  constructor(snap: MatcherSnapshot) {
    this.snap = snap;
  }

  /** Starts a record: forgets the hits of the previous one. */
  begin(): void {
    this.hits = 0;
  }

  /** Records a hit (ids < 0 are misses). */
  hit(id: number): void {
    if (id < 0) return;
    for (let k = 0; k < this.hits; k++) if (this.ids[k] === id) return;
    if (this.hits < MAX_HITS) this.ids[this.hits++] = id;
  }

  /** An IP address field (IPv4 dotted quad or IPv6 text). */
  ipBytes(buf: Uint8Array, start: number, end: number): void {
    const v4 = parseIpv4Bytes(buf, start, end);
    if (v4 >= 0) {
      this.hit(this.snap.ipv4(v4));
      return;
    }
    if (end - start > 2 && end - start < 64 && hasByte(buf, start, end, COLON)) this.ipv6Text(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1'));
  }

  /** A field holding a host name or an IP address. */
  hostBytes(buf: Uint8Array, start: number, end: number): void {
    if (end <= start) return;
    const c = buf[start] as number;
    if ((c >= 48 && c <= 57) || c === COLON || c === 91) {
      const v4 = parseIpv4Bytes(buf, start, end);
      if (v4 >= 0) {
        this.hit(this.snap.ipv4(v4));
        return;
      }
      if (hasByte(buf, start, end, COLON)) {
        this.ipBytes(buf, c === 91 ? start + 1 : start, c === 91 && buf[end - 1] === 93 ? end - 1 : end);
        return;
      }
    }
    this.hit(this.snap.domain(buf, start, end));
  }

  /** A hash field (md5, sha1 or sha256 hex, any case). */
  hashBytes(buf: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n === 32 || n === 40 || n === 64) this.hit(this.snap.hash(buf, start, end));
  }

  /** The same lookups for text (JSON and text formats). */
  ipText(s: string): void {
    if (s.includes(':')) this.ipv6Text(s);
    else this.hostText(s);
  }

  /** A host name or IP address given as text. */
  hostText(s: string): void {
    const n = this.#toScratch(s);
    if (n > 0) this.hostBytes(this.#scratch, 0, n);
  }

  /** A hash given as text. */
  hashText(s: string): void {
    const n = this.#toScratch(s);
    if (n > 0) this.hashBytes(this.#scratch, 0, n);
  }

  ipv6Text(s: string): void {
    const v6 = parseIpv6(s);
    if (v6.ok) this.hit(this.snap.ipv6(v6.groups));
  }

  /**
   * A URL as a log shows it (absolute, or `host` + `path`): normalized the way the domain core
   * normalizes URL indicators, but only when a URL indicator names its host. The host itself is
   * matched as a host too.
   */
  urlText(url: string): void {
    const u = URL.parse(url);
    if (u === null || u.hostname === '') return;
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.hostText(host);
    if (!this.snap.hasUrls) return;
    const n = this.#toScratch(host);
    if (n <= 0 || !this.snap.urlHost(this.#scratch, 0, n)) return;
    const r = normalize('url', url);
    if (r.ok) this.hit(this.snap.url(r.indicator.value));
  }

  /** An HTTP request's host and target as separate fields: the URL `http://host/target` (or the target itself when absolute). */
  hostAndTarget(host: string, target: string, scheme = 'http'): void {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) this.urlText(target);
    else if (host !== '' && host !== '-') this.urlText(`${scheme}://${host}${target.startsWith('/') ? target : `/${target}`}`);
  }

  /** Copies ASCII/Latin-1 text into the scratch buffer; returns its length, or -1 when too long. */
  #toScratch(s: string): number {
    if (s.length === 0 || s.length > SCRATCH) return -1;
    return this.#scratch.write(s, 0, 'latin1');
  }
}

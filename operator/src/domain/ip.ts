/**
 * IP address and CIDR parsing and canonical text, without guessing.
 *
 * IPv4 input must be the strict dotted-quad form (four decimal octets, no
 * leading zeros); inet_aton forms (octal, hex, fewer parts) are reported as
 * ambiguous instead of being interpreted. IPv6 text output follows RFC 5952.
 * Scanners are hand-written char-code loops: no regular expressions, so no
 * backtracking, and linear time in the input length.
 */

/** Why an IPv4 text was refused: `ambiguous` means an inet_aton-style form that some tools read differently. */
export type Ipv4Failure = 'invalid' | 'ambiguous';

/** An IPv4 parse: the address as an unsigned 32-bit integer, or why it failed and a human explanation. */
export type Ipv4Parse = { readonly ok: true; readonly address: number } | { readonly ok: false; readonly failure: Ipv4Failure; readonly message: string };

/** An IPv6 parse: eight 16-bit groups, or a human explanation of what is wrong. */
export type Ipv6Parse = { readonly ok: true; readonly groups: number[] } | { readonly ok: false; readonly message: string };

/** A CIDR block after parsing: family, network address (host bits as given), prefix length. */
export type CidrParse =
  | { readonly ok: true; readonly family: 4; readonly address: number; readonly prefix: number }
  | { readonly ok: true; readonly family: 6; readonly groups: number[]; readonly prefix: number }
  | { readonly ok: false; readonly failure: 'invalid' | 'ambiguous' | 'invalid-ipv6'; readonly message: string };

const DOT = 46;
const COLON = 58;
const ZERO = 48;
const NINE = 57;

interface OctetScan { parts: number; sawHex: boolean; leadingZero: boolean; tooBig: boolean; badChar: boolean; emptyPart: boolean; value: number }

/**
 * Parses `s.slice(start, end)` as a strict dotted-quad IPv4 address.
 * Accepts exactly four decimal octets 0–255 without leading zeros.
 */
export function parseIpv4(s: string, start = 0, end = s.length): Ipv4Parse {
  const scan = scanOctets(s, start, end);
  if (scan.badChar || scan.emptyPart) {
    return { ok: false, failure: 'invalid', message: 'is not a dotted-quad IPv4 address (expected four decimal numbers 0-255 separated by dots, like 192.0.2.1)' };
  }
  if (scan.sawHex || scan.leadingZero || scan.parts < 4) {
    return { ok: false, failure: 'ambiguous', message: `${ambiguousForm(scan)}, which tools read differently (inet_aton); write four decimal octets without leading zeros, like 192.0.2.1` };
  }
  if (scan.parts > 4 || scan.tooBig) {
    return { ok: false, failure: 'invalid', message: 'is not a valid IPv4 address (expected exactly four octets, each 0-255)' };
  }
  return { ok: true, address: scan.value >>> 0 };
}

function ambiguousForm(scan: OctetScan): string {
  if (scan.sawHex) return 'has a hexadecimal part';
  if (scan.leadingZero) return 'has an octet with a leading zero (octal in some tools)';
  return `has ${scan.parts} part${scan.parts === 1 ? '' : 's'} instead of four (a short form)`;
}

function scanOctets(s: string, start: number, end: number): OctetScan {
  const scan: OctetScan = { parts: 0, sawHex: false, leadingZero: false, tooBig: false, badChar: false, emptyPart: false, value: 0 };
  let partStart = start;
  let acc = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? s.charCodeAt(i) : DOT;
    if (c === DOT) {
      closePart(scan, i - partStart, acc, s.charCodeAt(partStart));
      partStart = i + 1;
      acc = 0;
    } else if (c >= ZERO && c <= NINE) {
      acc = acc * 10 + (c - ZERO);
    } else if ((c === 120 || c === 88) && i === partStart + 1 && s.charCodeAt(partStart) === ZERO) {
      scan.sawHex = true; // 0x.. / 0X..: inet_aton hex; we refuse to interpret it
      acc = 0;
    } else if (scan.sawHex && isHexLetter(c)) {
      acc = 0;
    } else {
      scan.badChar = true;
      return scan;
    }
  }
  return scan;
}

function closePart(scan: OctetScan, length: number, acc: number, first: number): void {
  if (length === 0) scan.emptyPart = true;
  if (length > 1 && first === ZERO) scan.leadingZero = true;
  if (length > 3 || acc > 255) scan.tooBig = true;
  scan.parts++;
  scan.value = scan.value * 256 + (acc & 255);
}

function isHexLetter(c: number): boolean {
  return (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Formats an unsigned 32-bit integer as dotted-quad text. */
export function formatIpv4(address: number): string {
  return `${(address >>> 24) & 255}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

/**
 * Parses `s.slice(start, end)` as IPv6 text (RFC 4291 §2.2): hex groups of
 * 1–4 digits, at most one `::`, an optional trailing strict dotted-quad IPv4.
 * Zone ids (`%eth0`) and brackets are refused: an indicator names an address,
 * not an interface.
 */
export function parseIpv6(s: string, start = 0, end = s.length): Ipv6Parse {
  const head: number[] = [];
  const tail: number[] = [];
  let compressed = false;
  let i = start;
  if (end - start >= 2 && s.charCodeAt(i) === COLON && s.charCodeAt(i + 1) === COLON) {
    compressed = true;
    i += 2;
  }
  while (i < end) {
    const groups = compressed ? tail : head;
    const next = readGroup(s, i, end, groups);
    if (typeof next === 'string') return v6Error(next);
    i = next;
    if (i === end) break;
    i++; // past ':'
    if (i < end && s.charCodeAt(i) === COLON) {
      if (compressed) return v6Error('contains "::" more than once');
      compressed = true;
      i++;
    } else if (i === end) {
      return v6Error('ends with a single ":"');
    }
  }
  return assembleGroups(head, tail, compressed);
}

function v6Error(detail: string): Ipv6Parse {
  return { ok: false, message: `is not a valid IPv6 address: ${detail}` };
}

/** Reads one hex group (or a trailing IPv4) at `i`; returns the index after it, or a problem description. */
function readGroup(s: string, i: number, end: number, out: number[]): number | string {
  let value = 0;
  let j = i;
  for (; j < end; j++) {
    const c = s.charCodeAt(j);
    if (c === COLON) break;
    if (c === DOT) return readEmbeddedIpv4(s, i, end, out);
    if (c === 37) return 'zone ids ("%...") are not allowed; give the address alone';
    const h = hexValue(c);
    if (h < 0) return `unexpected character "${s[j] ?? ''}"`;
    value = value * 16 + h;
  }
  if (j === i) return 'has an empty group (a stray ":")';
  if (j - i > 4) return 'a group has more than four hex digits';
  out.push(value);
  return j;
}

function readEmbeddedIpv4(s: string, i: number, end: number, out: number[]): number | string {
  const v4 = parseIpv4(s, i, end);
  if (!v4.ok) return `the embedded IPv4 part ${v4.message}`;
  out.push(v4.address >>> 16, v4.address & 0xffff);
  return end;
}

function assembleGroups(head: number[], tail: number[], compressed: boolean): Ipv6Parse {
  const count = head.length + tail.length;
  if (!compressed) {
    return count === 8 ? { ok: true, groups: head } : v6Error(`has ${count} groups, expected 8 (or use "::")`);
  }
  if (count > 7) return v6Error('"::" must stand for at least one zero group, but 8 groups are already given');
  const groups = head;
  for (let k = count; k < 8; k++) groups.push(0);
  for (let k = 0; k < tail.length; k++) groups[8 - tail.length + k] = tail[k] ?? 0;
  return { ok: true, groups };
}

/**
 * Formats eight 16-bit groups per RFC 5952: lower-case hex, no leading
 * zeros, the first longest run of two or more zero groups as `::`, and
 * IPv4-mapped addresses (::ffff:0:0/96) with a dotted-quad tail (§5).
 */
export function formatIpv6(groups: readonly number[]): string {
  if (isV4Mapped(groups)) {
    return `::ffff:${formatIpv4((((groups[6] ?? 0) << 16) | (groups[7] ?? 0)) >>> 0)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.map(hex).join(':');
  const left = groups.slice(0, bestStart).map(hex).join(':');
  const right = groups.slice(bestStart + bestLen).map(hex).join(':');
  return `${left}::${right}`;
}

function hex(g: number): string {
  return g.toString(16);
}

function isV4Mapped(groups: readonly number[]): boolean {
  return groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff;
}

/**
 * Parses `address/prefix` (IPv4 or IPv6; the family follows from a ':' in
 * the address). A bare address without '/' is a host route: /32 or /128.
 * The prefix must be decimal without leading zeros and within the family's range.
 */
export function parseCidr(s: string): CidrParse {
  const slash = s.indexOf('/');
  const addrEnd = slash < 0 ? s.length : slash;
  const isV6 = s.lastIndexOf(':', addrEnd) >= 0;
  const maxPrefix = isV6 ? 128 : 32;
  const prefix = slash < 0 ? maxPrefix : parsePrefix(s, slash + 1, maxPrefix);
  if (typeof prefix === 'string') return { ok: false, failure: 'invalid', message: prefix };
  if (isV6) {
    const v6 = parseIpv6(s, 0, addrEnd);
    return v6.ok ? { ok: true, family: 6, groups: v6.groups, prefix } : { ok: false, failure: 'invalid-ipv6', message: v6.message };
  }
  const v4 = parseIpv4(s, 0, addrEnd);
  return v4.ok ? { ok: true, family: 4, address: v4.address, prefix } : { ok: false, failure: v4.failure, message: v4.message };
}

function parsePrefix(s: string, start: number, max: number): number | string {
  const len = s.length - start;
  const bad = `has prefix length "${s.slice(start)}"; expected a decimal number 0-${max} without leading zeros after "/"`;
  if (len < 1 || len > 3 || (len > 1 && s.charCodeAt(start) === ZERO)) return bad;
  let value = 0;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < ZERO || c > NINE) return bad;
    value = value * 10 + (c - ZERO);
  }
  return value > max ? bad : value;
}

/** The IPv4 netmask for `prefix` (0–32) as an unsigned 32-bit integer. */
export function ipv4Mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Returns a copy of `groups` with every bit after the first `prefix` bits cleared. */
export function ipv6ClearHostBits(groups: readonly number[], prefix: number): number[] {
  const out = new Array<number>(8);
  for (let k = 0; k < 8; k++) {
    const bitsKept = Math.min(16, Math.max(0, prefix - k * 16));
    const mask = bitsKept === 0 ? 0 : (0xffff << (16 - bitsKept)) & 0xffff;
    out[k] = (groups[k] ?? 0) & mask;
  }
  return out;
}

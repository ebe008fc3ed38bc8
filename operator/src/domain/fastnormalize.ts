/**
 * Fast paths of the normalizer for the common spellings of large feeds: a dotted-quad IPv4
 * without leading zeros, an IPv4 CIDR with its host bits clear, an ASCII host name (any case),
 * hex hashes (any case). Their normalized form is the text itself, lower-cased for names and
 * hashes. Anything else (white space, defanged spellings, IPv6, URLs, e-mail, IDN, `xn--`
 * labels, host bits set, trailing dots, leading zeros, every invalid input) returns undefined
 * and the caller runs the full normalizer (domain/indicator.ts), which gives the same result for
 * every input these functions accept (fastnormalize.test.ts and the normalize fuzz target check
 * that equivalence).
 */
import type { Indicator, IndicatorType } from './indicator.ts';

const DOT = 46;
const SLASH = 47;
const ZERO = 48;
const NINE = 57;
const HYPHEN = 45;
const MAX_DOMAIN_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

/**
 * The normalized text of `raw` as a `type` indicator when `raw` is in one of the forms above,
 * whatever the normalize options (they only change inputs outside these forms); undefined when
 * the full normalizer must decide.
 */
export function quickNormalize(type: IndicatorType, raw: string): string | undefined {
  switch (type) {
    case 'ipv4':
      return dottedQuadEnd(raw, 0) === raw.length ? raw : undefined;
    case 'cidr':
      return isCanonicalCidr4(raw) ? raw : undefined;
    case 'domain':
      return plainHostName(raw);
    case 'md5':
      return raw.length === 32 && isHex(raw) ? raw.toLowerCase() : undefined;
    case 'sha1':
      return raw.length === 40 && isHex(raw) ? raw.toLowerCase() : undefined;
    case 'sha256':
      return raw.length === 64 && isHex(raw) ? raw.toLowerCase() : undefined;
    default:
      return undefined;
  }
}

/** `normalize(type, raw)`'s indicator when `raw` is in one of the forms above; undefined when the full normalizer must decide. */
export function quickIndicator(type: IndicatorType, raw: string): Indicator | undefined {
  const value = typeof raw === 'string' ? quickNormalize(type, raw) : undefined;
  return value === undefined ? undefined : { type, value };
}

/**
 * `normalize(detectType(raw), raw)` when `raw` is in one of the forms above (the same indicator,
 * without the full rules); undefined when the caller must detect and normalize the full way.
 */
export function detectCanonical(raw: string): Indicator | undefined {
  // Feed parsers pass what the feed held; a non-string goes the full way and is refused there.
  const type = typeof raw === 'string' ? plainType(raw) : undefined;
  if (type === undefined) return undefined;
  const value = quickNormalize(type, raw);
  return value === undefined ? undefined : { type, value };
}

/** Character classes of the quick paths (ASCII; anything else is 0, "not quick"). */
const DIGIT = 1;
const HEX_LETTER = 2;
const LETTER = 4;
const UPPER = 8;
const DOT_CLASS = 16;
const HYPHEN_CLASS = 32;
const SLASH_CLASS = 64;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const lower = c | 0x20;
  const letter = lower >= 97 && lower <= 122 ? (lower <= 102 ? HEX_LETTER : LETTER) | (c < 97 ? UPPER : 0) : 0;
  CLASS[c] = c >= ZERO && c <= NINE ? DIGIT : c === DOT ? DOT_CLASS : c === HYPHEN ? HYPHEN_CLASS : c === SLASH ? SLASH_CLASS : letter;
}

function classOf(c: number): number {
  return c < 128 ? (CLASS[c] ?? 0) : 0;
}

/**
 * detectType's guess for a text made only of ASCII letters, digits, dots, hyphens and at most
 * one slash (which needs no trimming or refanging, so detectType's rules reduce to these);
 * undefined for any other text.
 */
function plainType(s: string): IndicatorType | undefined {
  let seen = 0;
  let slash = -1;
  for (let i = 0; i < s.length; i++) {
    const k = classOf(s.charCodeAt(i));
    if (k === 0 || (k === SLASH_CLASS && slash >= 0)) return undefined;
    if (k === SLASH_CLASS) slash = i;
    seen |= k;
  }
  if ((seen & ~(DIGIT | HEX_LETTER | UPPER)) === 0) return s.length === 32 ? 'md5' : s.length === 40 ? 'sha1' : s.length === 64 ? 'sha256' : undefined;
  // A slash: detectType says cidr when the part before it is digits and dots (a candidate v4 address).
  if (slash >= 0) return slash > 0 && onlyDigitsAndDots(s, 0, slash) ? 'cidr' : undefined;
  if ((seen & ~(DIGIT | DOT_CLASS)) === 0) return 'ipv4';
  return (seen & DOT_CLASS) !== 0 ? 'domain' : undefined;
}

function onlyDigitsAndDots(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= ZERO && c <= NINE) || c === DOT)) return false;
  }
  return true;
}

/**
 * Where a canonical dotted quad starting at `start` ends (four decimal octets 0-255 without
 * leading zeros, three dots), or -1. The quad must end at the string's end or at a `/`.
 */
function dottedQuadEnd(s: string, start: number): number {
  let i = start;
  for (let part = 0; part < 4; part++) {
    const end = octetEnd(s, i);
    if (end < 0) return -1;
    i = end;
    if (part < 3) {
      if (s.charCodeAt(i) !== DOT) return -1;
      i++;
    }
  }
  return i === s.length || s.charCodeAt(i) === SLASH ? i : -1;
}

/** The end of a canonical decimal octet (0-255, no leading zero) at `i`, or -1. */
function octetEnd(s: string, i: number): number {
  let value = 0;
  let j = i;
  for (; j < s.length && j - i < 4; j++) {
    const c = s.charCodeAt(j);
    if (c < ZERO || c > NINE) break;
    value = value * 10 + (c - ZERO);
  }
  const len = j - i;
  if (len === 0 || len > 3 || value > 255 || (len > 1 && s.charCodeAt(i) === ZERO)) return -1;
  return j;
}

/** `a.b.c.d/p` with a canonical quad, a prefix 0-32 without leading zeros and no host bits set. */
function isCanonicalCidr4(s: string): boolean {
  const slash = dottedQuadEnd(s, 0);
  if (slash < 0 || slash === s.length) return false;
  const len = s.length - slash - 1;
  if (len < 1 || len > 2 || (len === 2 && s.charCodeAt(slash + 1) === ZERO)) return false;
  let prefix = 0;
  for (let i = slash + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < ZERO || c > NINE) return false;
    prefix = prefix * 10 + (c - ZERO);
  }
  if (prefix > 32) return false;
  const address = ipv4Value(s);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((address & mask) >>> 0) === address;
}

/** The 32-bit value of the canonical dotted quad at the start of `s`. */
function ipv4Value(s: string): number {
  let address = 0;
  let octet = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === DOT || c === SLASH) {
      address = address * 256 + octet;
      octet = 0;
      if (c === SLASH) break;
    } else {
      octet = octet * 10 + (c - ZERO);
    }
  }
  return address;
}

/**
 * The lower-cased name when `s` is a host name the domain rules only lower-case: ASCII letters,
 * digits and inner hyphens in labels of 1-63 characters, at least two labels, at most 253
 * characters, no trailing dot, a top-level label that is not all digits, and no `xn--` label
 * (those need a punycode check); otherwise undefined.
 */
function plainHostName(s: string): string | undefined {
  if (s.length > MAX_DOMAIN_LENGTH) return undefined;
  let seen = 0;
  let labels = 0;
  let start = 0;
  for (let i = 0; i <= s.length; i++) {
    const k = i < s.length ? classOf(s.charCodeAt(i)) : DOT_CLASS;
    if (k === DOT_CLASS) {
      if (!isPlainLabel(s, start, i)) return undefined;
      labels++;
      start = i + 1;
    } else if (k === 0 || k === SLASH_CLASS) {
      return undefined;
    }
    seen |= k;
  }
  const top = s.lastIndexOf('.') + 1;
  if (labels < 2 || onlyDigitsAndDots(s, top, s.length)) return undefined;
  const name = (seen & UPPER) !== 0 ? s.toLowerCase() : s;
  return name.includes('xn--') ? undefined : name;
}

/** 1-63 characters that neither start nor end with a hyphen. */
function isPlainLabel(s: string, start: number, end: number): boolean {
  const len = end - start;
  return len > 0 && len <= MAX_LABEL_LENGTH && s.charCodeAt(start) !== HYPHEN && s.charCodeAt(end - 1) !== HYPHEN;
}

function isHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= ZERO && c <= NINE) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

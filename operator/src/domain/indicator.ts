/**
 * The indicator model and its normalization: one canonical text per
 * indicator, so the same indicator from any feed compares, hashes and names
 * the same everywhere.
 *
 * Decisions (the contract other code relies on):
 * - Every input is trimmed (Unicode white space) and, except hashes, refanged
 *   first (see refang.ts: `example[.]com`, `hxxp://`, `user[at]example.com`).
 * - ipv4: strict dotted quad; leading zeros, hex, octal and short forms
 *   (`1.2.3`, `3232235777`) are rejected as `ambiguous-ipv4`, never guessed.
 * - ipv6: RFC 5952 text; IPv4-mapped addresses keep a dotted-quad tail
 *   (`::ffff:192.0.2.1`); zone ids and brackets are rejected.
 * - cidr: `address/prefix`, v4 or v6, always written with its prefix. A bare
 *   address given as cidr means a host route, /32 or /128 (`192.0.2.1` →
 *   `192.0.2.1/32`); that is a different indicator from ipv4 `192.0.2.1`.
 *   Host bits are cleared by default, or rejected (`cidr-host-bits`) with
 *   `cidrHostBits: 'reject'`.
 * - domain: lower case, one trailing dot removed, IDN converted to punycode
 *   (UTS #46 via node:url domainToASCII), then LDH rules: labels 1–63
 *   characters of letters, digits and inner hyphens, total ≤ 253, at least two
 *   labels, top-level label not all-numeric. Underscores and wildcards are rejected.
 * - url: WHATWG URL parsing (lower-case scheme and host, default port removed,
 *   one trailing dot of the host removed as for domains, path dot-segments
 *   resolved, percent-encoding as WHATWG does); only http,
 *   https and ftp; the query is kept, the fragment dropped (it never reaches
 *   the server). Hosts are taken as WHATWG parses them (it also reads IPv4 in
 *   hex/octal the way browsers do, which is what a URL indicator means).
 * - md5/sha1/sha256: lower-case hex of exactly 32/40/64 digits.
 * - email: `local@domain`; the domain part is normalized like a domain; the
 *   local part keeps its case (RFC 5321 says it is case-sensitive) and must be
 *   an ASCII dot-atom (quoted local parts and SMTPUTF8 are rejected).
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { formatIpv4, formatIpv6, ipv4Mask, ipv6ClearHostBits, parseCidr, parseIpv4, parseIpv6 } from './ip.ts';
import { quickNormalize } from './fastnormalize.ts';
import { refang } from './refang.ts';

/** Every indicator type ThreatMesh handles. */
export const INDICATOR_TYPES = ['ipv4', 'ipv6', 'cidr', 'domain', 'url', 'md5', 'sha1', 'sha256', 'email'] as const;

/** One of INDICATOR_TYPES. */
export type IndicatorType = typeof INDICATOR_TYPES[number];

/** A normalized indicator: `value` is the canonical text for `type` (only `normalize` should build one). */
export interface Indicator { readonly type: IndicatorType; readonly value: string }

/** Every machine-readable rejection reason, kebab-case, stable (used as metric labels and in Feed status). */
export const REJECT_REASONS = [
  'empty', 'too-long', 'invalid-ipv4', 'ambiguous-ipv4', 'invalid-ipv6', 'invalid-cidr', 'cidr-host-bits',
  'invalid-domain', 'invalid-url', 'unsupported-scheme', 'invalid-hash', 'invalid-email', 'unknown-type',
  'invalid-stix-pattern', 'unsupported-stix-pattern', 'not-a-string', 'control-characters',
] as const;

/** Why an input was refused; one of REJECT_REASONS. */
export type RejectReason = typeof REJECT_REASONS[number];

/** A refused input: machine reason, a human message saying what is wrong and what to do, and the input (truncated to 256 characters). */
export interface Rejection { readonly reason: RejectReason; readonly message: string; readonly input: string }

/** The outcome of `normalize`. */
export type NormalizeResult = { readonly ok: true; readonly indicator: Indicator } | { readonly ok: false; readonly rejection: Rejection };

/** Options for `normalize`. */
export interface NormalizeOptions {
  /**
   * What to do with a CIDR whose address has bits set after the prefix.
   * @default 'clear'
   */
  readonly cidrHostBits?: 'clear' | 'reject';
  /**
   * What to do with the trailing dot of a URL's host (`http://example.com./`): strip it, so the
   * URL has one identity (normalization v2, see the ADR addendum), or keep it as WHATWG parses it
   * (v1: only to read entries logged before v2, never for new input).
   * @default 'strip'
   */
  readonly urlHostTrailingDot?: 'strip' | 'keep';
}

/** Longest raw input accepted before any parsing, to bound work on hostile feeds. */
export const MAX_INPUT_LENGTH = 8192;
/** Longest normalized URL accepted. */
export const MAX_URL_LENGTH = 4096;
const MAX_DOMAIN_LENGTH = 253;
const MAX_EMAIL_LENGTH = 254;
const MAX_LOCAL_PART_LENGTH = 64;
const SHOWN_INPUT_LENGTH = 256;
const HASH_LENGTHS = { md5: 32, sha1: 40, sha256: 64 } as const;
const URL_SCHEMES: ReadonlySet<string> = new Set(['http:', 'https:', 'ftp:']);
const TYPE_SET: ReadonlySet<string> = new Set(INDICATOR_TYPES);

interface Failure { readonly reason: RejectReason; readonly message: string }
type Step = string | Failure;

/** True when `s` names one of INDICATOR_TYPES. */
export function isIndicatorType(s: string): s is IndicatorType {
  return TYPE_SET.has(s);
}

/**
 * Normalizes `raw` as an indicator of `type`. Never throws: bad input comes
 * back as a Rejection with a reason code and a message for humans.
 * Normalization is idempotent: normalizing a normalized value returns it unchanged.
 */
export function normalize(type: IndicatorType, raw: string, options?: NormalizeOptions): NormalizeResult {
  // Most feed values are plain IPs, CIDRs, names or hashes: the quick path gives the same result.
  const quick = typeof raw === 'string' ? quickNormalize(type, raw) : undefined;
  if (quick !== undefined) return { ok: true, indicator: { type, value: quick } };
  const step = normalizeValue(type, raw, options);
  if (typeof step === 'string') return { ok: true, indicator: { type, value: step } };
  return { ok: false, rejection: { reason: step.reason, message: step.message, input: shown(String(raw)) } };
}

/**
 * True when `value` is the normalized text of a `type` indicator under the current rules, or
 * under the rules an entry already in a partner log may have been written with (v1: a URL host
 * kept its trailing dot). Only for reading logged history: new input must be `normalize`d.
 */
export function isNormalizedAsLogged(type: IndicatorType, value: string): boolean {
  for (const urlHostTrailingDot of ['strip', 'keep'] as const) {
    const n = normalize(type, value, { urlHostTrailingDot });
    if (n.ok && n.indicator.value === value) return true;
  }
  return false;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function normalizeValue(type: IndicatorType, raw: string, options?: NormalizeOptions): Step {
  if (typeof raw !== 'string') return fail('not-a-string', `the ${String(type)} value is a ${typeof raw}, not text; map the feed field to a string`);
  if (!isIndicatorType(type)) return fail('unknown-type', `"${shown(String(type))}" is not an indicator type; use one of ${INDICATOR_TYPES.join(', ')}`);
  if (raw.length > MAX_INPUT_LENGTH) return fail('too-long', `input has ${raw.length} characters, more than the ${MAX_INPUT_LENGTH} accepted; check the feed's field mapping`);
  const trimmed = raw.trim();
  if (trimmed === '') return fail('empty', `the ${type} value is empty; check the feed's field mapping`);
  // No indicator holds NUL, escapes or line breaks: such a value comes from binary or mis-parsed input.
  if (CONTROL.test(trimmed)) return fail('control-characters', `the ${type} value contains control characters (NUL, escape, line breaks…); is the input binary, or is the field mapping wrong?`);
  switch (type) {
    case 'md5':
    case 'sha1':
    case 'sha256':
      return normalizeHash(type, trimmed);
    default:
      return fixpoint(type, trimmed, normalizeFanged(type, refang(trimmed), options));
  }
}

// Refanging is done once: a result it would still change (nested or escaped defang brackets)
// has two readings, and normalizing the normalized value would give another indicator.
function fixpoint(type: IndicatorType, raw: string, step: Step): Step {
  if (typeof step !== 'string' || refang(step) === step) return step;
  const reason = type === 'url' ? 'invalid-url' : type === 'email' ? 'invalid-email' : 'invalid-domain';
  return fail(reason, `${quoted(raw)} normalizes to ${quoted(step)}, which still reads as defanged (nested or escaped brackets such as [[.]] or (\\)); write the value refanged, like http://example.com/path`);
}

function normalizeFanged(type: Exclude<IndicatorType, 'md5' | 'sha1' | 'sha256'>, s: string, options?: NormalizeOptions): Step {
  switch (type) {
    case 'ipv4': return normalizeIpv4(s);
    case 'ipv6': return normalizeIpv6(s);
    case 'cidr': return normalizeCidr(s, options?.cidrHostBits ?? 'clear');
    case 'domain': return normalizeDomain(s, 'invalid-domain');
    case 'url': return normalizeUrl(s, options?.urlHostTrailingDot ?? 'strip');
    case 'email': return normalizeEmail(s);
  }
}

function fail(reason: RejectReason, message: string): Failure {
  return { reason, message };
}

function shown(s: string): string {
  return s.length > SHOWN_INPUT_LENGTH ? `${s.slice(0, SHOWN_INPUT_LENGTH)}…` : s;
}

function quoted(s: string): string {
  return `"${shown(s)}"`;
}

function normalizeIpv4(s: string): Step {
  const v4 = parseIpv4(s);
  if (v4.ok) return formatIpv4(v4.address);
  const hint = s.includes(':') ? '; if this is an IPv6 address, use type ipv6' : '';
  return fail(v4.failure === 'ambiguous' ? 'ambiguous-ipv4' : 'invalid-ipv4', `${quoted(s)} ${v4.message}${hint}`);
}

function normalizeIpv6(s: string): Step {
  const v6 = parseIpv6(s);
  if (v6.ok) return formatIpv6(v6.groups);
  const hint = s.startsWith('[') ? '; remove the brackets' : '';
  return fail('invalid-ipv6', `${quoted(s)} ${v6.message}${hint}`);
}

function normalizeCidr(s: string, hostBits: 'clear' | 'reject'): Step {
  const c = parseCidr(s);
  if (!c.ok) return fail(c.failure === 'ambiguous' ? 'ambiguous-ipv4' : 'invalid-cidr', `${quoted(s)} ${c.message}`);
  if (c.family === 4) {
    const network = (c.address & ipv4Mask(c.prefix)) >>> 0;
    const text = `${formatIpv4(network)}/${c.prefix}`;
    return network !== c.address && hostBits === 'reject' ? hostBitsFailure(s, text) : text;
  }
  const network = ipv6ClearHostBits(c.groups, c.prefix);
  const text = `${formatIpv6(network)}/${c.prefix}`;
  const changed = network.some((g, k) => g !== c.groups[k]);
  return changed && hostBits === 'reject' ? hostBitsFailure(s, text) : text;
}

function hostBitsFailure(s: string, network: string): Failure {
  return fail('cidr-host-bits', `${quoted(s)} has bits set after the prefix length; did you mean ${network}?`);
}

function normalizeHash(type: 'md5' | 'sha1' | 'sha256', s: string): Step {
  const expected = HASH_LENGTHS[type];
  if (s.length !== expected) {
    return fail('invalid-hash', `${quoted(s)} has ${s.length} characters; a ${type} is exactly ${expected} hex digits${hashLengthHint(s.length)}`);
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) {
      return fail('invalid-hash', `${quoted(s)} contains "${s[i] ?? ''}"; a ${type} holds only hex digits 0-9 and a-f`);
    }
  }
  return s.toLowerCase();
}

function hashLengthHint(length: number): string {
  for (const [name, len] of Object.entries(HASH_LENGTHS)) {
    if (len === length) return `; a ${length}-digit hash is probably a ${name}`;
  }
  return '';
}

/** Normalizes a host name; `reason` is the code used when the name itself is invalid. */
function normalizeDomain(s: string, reason: 'invalid-domain' | 'invalid-email'): Step {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  const ascii = needsIdna(name) ? domainToASCII(name) : name.toLowerCase();
  if (ascii === '') return fail(reason, `${quoted(s)} is not a valid internationalized domain name (IDNA/punycode conversion failed)`);
  if (ascii.length > MAX_DOMAIN_LENGTH) return fail('too-long', `${quoted(s)} has ${ascii.length} characters; a domain name has at most ${MAX_DOMAIN_LENGTH}`);
  const problem = hostnameProblem(ascii) ?? punycodeProblem(ascii);
  return problem === undefined ? ascii : fail(reason, `${quoted(s)} ${problem}`);
}

function needsIdna(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 127) return true;
  }
  return false;
}

/** domainToASCII passes xn-- labels through unchecked; decoding shows whether they are valid punycode. */
function punycodeProblem(ascii: string): string | undefined {
  if (!ascii.startsWith('xn--') && !ascii.includes('.xn--')) return undefined;
  return domainToUnicode(ascii).includes('xn--') ? 'has an "xn--" label that is not valid punycode for an internationalized name' : undefined;
}

interface LabelScan { labels: number; lastNumeric: boolean }

/** Checks LDH rules on a lower-case ASCII host name; returns what is wrong, or undefined. */
function hostnameProblem(h: string): string | undefined {
  const scan: LabelScan = { labels: 0, lastNumeric: false };
  let start = 0;
  for (let i = 0; i <= h.length; i++) {
    const c = i < h.length ? h.charCodeAt(i) : 46;
    if (c === 46) {
      const problem = labelProblem(h, start, i, scan);
      if (problem !== undefined) return problem;
      start = i + 1;
    } else if (!isLdh(c)) {
      return `contains "${h[i] ?? ''}", which a domain name may not contain (letters, digits, hyphens and dots only)`;
    }
  }
  if (scan.labels < 2) return 'has a single label; give a fully qualified name such as example.com';
  if (scan.lastNumeric) return 'has an all-numeric top-level label; if it is an IP address, use type ipv4';
  return undefined;
}

function isLdh(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45;
}

function labelProblem(h: string, start: number, end: number, scan: LabelScan): string | undefined {
  const len = end - start;
  if (len === 0) return 'has an empty label (two dots in a row, or a leading dot)';
  if (len > 63) return `has a label of ${len} characters; labels have at most 63`;
  if (h.charCodeAt(start) === 45 || h.charCodeAt(end - 1) === 45) return 'has a label that starts or ends with a hyphen';
  let numeric = true;
  for (let i = start; i < end && numeric; i++) numeric = h.charCodeAt(i) <= 57 && h.charCodeAt(i) >= 48;
  scan.labels++;
  scan.lastNumeric = numeric;
  return undefined;
}

function normalizeUrl(s: string, trailingDot: 'strip' | 'keep'): Step {
  const url = URL.parse(s);
  if (url === null) return fail('invalid-url', `${quoted(s)} is not an absolute URL; write it with its scheme, like http://example.com/path`);
  if (!URL_SCHEMES.has(url.protocol)) {
    return fail('unsupported-scheme', `${quoted(s)} uses scheme "${url.protocol.slice(0, -1)}"; only http, https and ftp URLs are indicators (use type domain or ipv4 for the host)`);
  }
  if (url.hostname === '') return fail('invalid-url', `${quoted(s)} has no host; write it like http://example.com/path`);
  // `example.com.` and `example.com` are one host (the root label): one spelling, as for domains.
  if (trailingDot === 'strip' && url.hostname.endsWith('.')) {
    url.hostname = url.hostname.slice(0, -1);
    if (url.hostname.endsWith('.')) return fail('invalid-url', `${quoted(s)} has a host that ends in an empty label ("..") or is only a dot; write the host name without trailing dots`);
  }
  const href = url.href;
  const hash = href.indexOf('#');
  const value = hash < 0 ? href : href.slice(0, hash);
  if (value.length > MAX_URL_LENGTH) return fail('too-long', `${quoted(s)} normalizes to ${value.length} characters; URLs longer than ${MAX_URL_LENGTH} are not accepted`);
  return value;
}

function normalizeEmail(s: string): Step {
  const at = s.lastIndexOf('@');
  if (at < 0) return fail('invalid-email', `${quoted(s)} has no "@"; write it as local@example.com`);
  const local = s.slice(0, at);
  const problem = localPartProblem(local);
  if (problem !== undefined) return fail('invalid-email', `${quoted(s)} ${problem}`);
  const domain = normalizeDomain(s.slice(at + 1), 'invalid-email');
  if (typeof domain !== 'string') {
    return domain.reason === 'too-long' ? domain : fail('invalid-email', `${quoted(s)}: the domain part ${domain.message}`);
  }
  const value = `${local}@${domain}`;
  if (value.length > MAX_EMAIL_LENGTH) return fail('too-long', `${quoted(s)} has ${value.length} characters; an address has at most ${MAX_EMAIL_LENGTH}`);
  return value;
}

/** Checks an RFC 5322 dot-atom local part (ASCII only); returns what is wrong, or undefined. */
function localPartProblem(local: string): string | undefined {
  if (local.length === 0) return 'has an empty local part before "@"';
  if (local.length > MAX_LOCAL_PART_LENGTH) return `has a local part of ${local.length} characters; at most ${MAX_LOCAL_PART_LENGTH} are allowed`;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return 'has a local part with a leading, trailing or doubled dot';
  for (let i = 0; i < local.length; i++) {
    if (!isAtext(local.charCodeAt(i))) {
      return `has "${local[i] ?? ''}" in the local part; only letters, digits, dots and !#$%&'*+/=?^_\`{|}~- are accepted (no quoted or non-ASCII local parts)`;
    }
  }
  return undefined;
}

function isAtext(c: number): boolean {
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) return true;
  return c === 46 || "!#$%&'*+/=?^_`{|}~-".includes(String.fromCharCode(c));
}

/**
 * Guesses the indicator type of a feed value that came without one. The
 * value is trimmed and refanged first. Rules, in order: contains `://` → url;
 * 32/40/64 hex digits → md5/sha1/sha256; contains `/` → cidr when the part
 * before it looks like an address; contains `@` → email; contains `:` and
 * only hex digits, colons and dots (before any `%zone`) → ipv6; only digits and dots → ipv4 (even
 * when it will be rejected as ambiguous, so the rejection names the problem);
 * contains a dot → domain. Otherwise undefined. The guess is not a
 * validation: pass the result to `normalize`.
 */
export function detectType(raw: string): IndicatorType | undefined {
  const s = refang(raw.trim());
  if (s === '') return undefined;
  if (s.includes('://')) return 'url';
  const hash = hashTypeByLength(s);
  if (hash !== undefined) return hash;
  const slash = s.indexOf('/');
  if (slash >= 0) return looksLikeAddress(s.slice(0, slash)) ? 'cidr' : undefined;
  if (s.includes('@')) return 'email';
  if (s.includes(':')) return looksLikeAddress(withoutZone(s)) ? 'ipv6' : undefined;
  if (onlyDigitsAndDots(s)) return 'ipv4';
  return s.includes('.') ? 'domain' : undefined;
}

/** Drops an IPv6 zone id (`%eth0`) so the value is detected as ipv6 and then refused with a clear message. */
function withoutZone(s: string): string {
  const pct = s.indexOf('%');
  return pct < 0 ? s : s.slice(0, pct);
}

function hashTypeByLength(s: string): 'md5' | 'sha1' | 'sha256' | undefined {
  const type = s.length === 32 ? 'md5' : s.length === 40 ? 'sha1' : s.length === 64 ? 'sha256' : undefined;
  if (type === undefined) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return undefined;
  }
  return type;
}

function looksLikeAddress(s: string): boolean {
  if (s === '') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 48 && c <= 58) || c === 46 || ((c | 0x20) >= 97 && (c | 0x20) <= 102);
    if (!ok) return false;
  }
  return s.includes(':') || onlyDigitsAndDots(s);
}

function onlyDigitsAndDots(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || c === 46)) return false;
  }
  return true;
}

/**
 * Canonical form and identity of indicators: RFC 8785 (JSON Canonicalization
 * Scheme) text, the SHA-256 digest over the canonical core fields, and the
 * Kubernetes object name derived from it.
 */
import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Indicator } from './indicator.ts';

/** Longest Kubernetes object name (DNS-1123 label rules are the strictest that apply). */
const MAX_OBJECT_NAME = 63;
/** Hex digits of the digest kept in object names: 160 bits, far beyond collision reach. */
const NAME_DIGEST_CHARS = 40;
const MAX_DEPTH = 64;

/**
 * Serializes `value` per RFC 8785: keys sorted by UTF-16 code units, no
 * white space, ECMAScript number formatting, minimal string escapes.
 * Throws a TypeError on anything that is not plain JSON data: undefined
 * (except as an object property, which is omitted like JSON.stringify does),
 * functions, symbols, bigints, NaN/Infinity, lone surrogates, class instances
 * (Date included: pass `toISOString()`), cycles, or nesting deeper than 64.
 */
export function canonicalJson(value: unknown): string {
  const problem = jsonDataProblem(value);
  if (problem !== undefined) throw new TypeError(`canonicalJson: ${problem}`);
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonicalJson: value has no JSON representation');
  return text;
}

/**
 * Why {@link canonicalJson} would refuse `value` (a lone surrogate, NaN, a class instance, too
 * deep...), naming the path from `$`; undefined when it is plain JSON data. For code that must
 * refuse untrusted data with a reason instead of catching a throw.
 */
export function jsonDataProblem(value: unknown): string | undefined {
  return dataProblem(value, 0, '$');
}

function dataProblem(value: unknown, depth: number, path: string): string | undefined {
  if (depth > MAX_DEPTH) return `${path} nests deeper than ${MAX_DEPTH} levels (or is cyclic)`;
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'string') return value.isWellFormed() ? undefined : `${path} contains a lone surrogate`;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot represent`;
  if (Array.isArray(value)) return arrayProblem(value, depth, path);
  if (typeof value === 'object' && isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (!k.isWellFormed()) return `a key under ${path} contains a lone surrogate`;
      const p = v === undefined ? undefined : dataProblem(v, depth + 1, `${path}.${k}`);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  return `${path} is a ${describe(value)}, not JSON data`;
}

function arrayProblem(value: readonly unknown[], depth: number, path: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    const p = item === undefined ? `${path}[${i}] is undefined` : dataProblem(item, depth + 1, `${path}[${i}]`);
    if (p !== undefined) return p;
  }
  return undefined;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null) return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * The identity of an indicator: lower-case hex SHA-256 of
 * `canonicalJson({ type, value })`. Only type and value count, so the same
 * normalized indicator from any feed, partner or time has the same digest.
 * The indicator must already be normalized (see `normalize`).
 */
export function indicatorDigest(ind: Indicator): string {
  return hash('sha256', indicatorCanonicalJson(ind), 'hex');
}

/**
 * `canonicalJson({ type, value })` of an indicator, built directly: with two
 * string members whose keys are already in RFC 8785 order, the canonical text
 * is the template below with JSON.stringify string escaping (RFC 8785 §3.2.2.2
 * is exactly ECMAScript's). Throws on a value with lone surrogates.
 */
export function indicatorCanonicalJson(ind: Indicator): string {
  // Types are fixed lower-case ASCII words (INDICATOR_TYPES), which JSON quoting leaves unchanged.
  // Normalized values are almost always printable ASCII without `"` or `\`, which JSON quotes as
  // they are: skip the well-formedness check and JSON.stringify (this runs for every feed entry).
  if (plainJsonText(ind.value)) return `{"type":"${ind.type}","value":"${ind.value}"}`;
  if (!ind.value.isWellFormed()) throw new TypeError('indicator value contains a lone surrogate; normalize it first');
  return `{"type":"${ind.type}","value":${JSON.stringify(ind.value)}}`;
}

/** True when every character is printable ASCII other than `"` and `\` (JSON.stringify would only add the quotes). */
function plainJsonText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/**
 * The Kubernetes object name of an indicator: `<type>-<first 40 hex digits
 * of the digest>`, at most 63 characters of lower-case letters, digits and
 * '-', so it is a valid DNS-1123 label and subdomain.
 */
export function indicatorObjectName(ind: Indicator): string {
  const name = objectNameOfDigest(ind.type, indicatorDigest(ind));
  if (name.length > MAX_OBJECT_NAME) throw new RangeError(`indicator type "${ind.type}" makes an object name longer than ${MAX_OBJECT_NAME}`);
  return name;
}

/** The object name of an indicator of `type` whose digest is `digest` ({@link indicatorObjectName} without hashing again). */
export function objectNameOfDigest(type: string, digest: string): string {
  return `${type}-${digest.slice(0, NAME_DIGEST_CHARS)}`;
}

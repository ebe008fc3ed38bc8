/**
 * Canonical JSON (domain/canonical.ts) and its decoders (domain/entry.ts parseIndicatorJson,
 * parseMetaJson). Three kinds of cases:
 * - random JSON data: canonicalJson equals an independent RFC 8785 serializer, is idempotent
 *   through JSON.parse, and refuses (TypeError) exactly what jsonDataProblem names;
 * - canonical indicator JSON, mutated with JSON-level changes (white space, escapes, duplicate
 *   or reordered members): accepted only when the canonical form reproduces the input byte for byte;
 * - canonical metadata JSON, mutated the same way: the same property, and never a throw.
 */
import { canonicalJson, indicatorCanonicalJson, jsonDataProblem } from '../../operator/src/domain/canonical.ts';
import { META_TLP, metaJson, parseIndicatorJson, parseMetaJson, validateMeta } from '../../operator/src/domain/entry.ts';
import { normalize } from '../../operator/src/domain/indicator.ts';
import { genValue } from '../gen.ts';
import { mutate, ODD_CHARS } from '../mutate.ts';
import { check, Finding, same, type FuzzTarget } from '../target.ts';
import type { Rng } from '../rng.ts';

/** Tokens that change JSON text without changing (or while changing) its meaning. */
export const JSON_TOKENS: readonly string[] = [' ', '\n', '\t', '\r', ',', ':', '{', '}', '[', ']', '"', '\\', '\\u0041', '\\u00e9', '\\/', '\\ud800', '\\udc00', '\\u0000',
  'null', 'true', 'false', '-0', '0.0', '1e2', '1E+2', '01', '.5', '"__proto__":1,', '"type":"domain",', '"value":"x",', '"tlp":"red",', '"confidence":80,', 'NaN', 'Infinity', '9007199254740993', '1e400'];

const KEY_PARTS = ['a', 'b', 'A', '', '__proto__', 'constructor', 'é', '\u00e9', 'e\u0301', '\ud83d\ude00', '\uffff', '\u0080', 'aa', 'ab', '1', '10', '9'];

/** A random JSON value: nested objects and arrays, unicode strings, awkward numbers. */
export function genJson(rng: Rng, depth = 0): unknown {
  const k = rng.int(depth > 4 ? 4 : 7);
  switch (k) {
    case 0: return rng.pick([null, true, false]);
    case 1: return genNumber(rng);
    case 2: case 3: return genString(rng);
    case 4: return Array.from({ length: rng.small(5) }, () => genJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.small(5); i > 0; i--) Object.defineProperty(o, rng.pick(KEY_PARTS) + (rng.chance(0.5) ? rng.pick(KEY_PARTS) : ''), { value: genJson(rng, depth + 1), enumerable: true, writable: true, configurable: true });
      return o;
    }
  }
}

function genNumber(rng: Rng): number {
  return rng.pick([0, -0, 1, -1, 0.1, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 2 ** 53, 2 ** 53 + 2, 123.456, -1e-300, 1 / 3, rng.int(1e6), (rng.u32() - 2 ** 31) / rng.range(1, 1000), Number.MIN_VALUE * rng.range(1, 9)]);
}

function genString(rng: Rng): string {
  let s = '';
  for (let i = rng.small(8); i > 0; i--) s += rng.chance(0.6) ? String.fromCharCode(rng.range(0x20, 0x7e)) : rng.pick(ODD_CHARS.filter((c) => c.isWellFormed()));
  return s;
}

/** An independent RFC 8785 serializer for plain, well-formed JSON data (the oracle). */
export function referenceCanonical(v: unknown): string {
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Object.is(v, -0) ? '0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(referenceCanonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceCanonical(o[k])}`).join(',')}}`;
}

function dataCase(rng: Rng): void {
  const v = genJson(rng);
  const input = referenceCanonical(v);
  check(jsonDataProblem(v) === undefined, 'data', `plain data refused: ${jsonDataProblem(v)}`, input);
  const c = canonicalJson(v);
  same(c, input, 'rfc8785', input);
  same(canonicalJson(JSON.parse(c)), c, 'idempotent', input);
}

function textCase(rng: Rng): void {
  const text = mutate(rng, referenceCanonical(genJson(rng)), JSON_TOKENS);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return;
  }
  const problem = jsonDataProblem(v);
  try {
    const c = canonicalJson(v);
    check(problem === undefined, 'refuses', `canonicalJson accepted what jsonDataProblem refuses: ${problem}`, text);
    same(canonicalJson(JSON.parse(c)), c, 'idempotent', text);
  } catch (err) {
    if (err instanceof Finding) throw err;
    check(err instanceof TypeError && problem !== undefined, 'throws', `canonicalJson threw ${String(err)} on parsed JSON (problem: ${problem})`, text);
  }
}

function indicatorCase(rng: Rng): void {
  const { type, raw } = genValue(rng);
  const n = normalize(type, raw);
  const base = n.ok ? indicatorCanonicalJson(n.indicator) : JSON.stringify({ type, value: raw }).replace(/[\ud800-\udfff]/g, '?');
  const text = rng.chance(0.15) ? base : mutate(rng, base, JSON_TOKENS);
  const p = parseIndicatorJson(text, { logged: rng.chance(0.3) });
  if (!p.ok) return;
  same(indicatorCanonicalJson(p.indicator), text, 'indicator-canonical', text);
}

/** Metadata as a proposer might send it, sometimes invalid. */
export function genMeta(rng: Rng): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  if (rng.chance(0.6)) m['tlp'] = rng.chance(0.9) ? rng.pick(META_TLP) : rng.pick(['white', 'RED', '', 'amber+']);
  if (rng.chance(0.6)) m['confidence'] = rng.pick([0, 50, 80, 100, 101, -1, 50.5, 1e2]);
  if (rng.chance(0.5)) m['labels'] = Array.from({ length: rng.range(0, 4) }, () => rng.pick(['apt', 'c2', 'phishing', '', 'x'.repeat(65), 'é', 'apt']));
  if (rng.chance(0.4)) m['validFrom'] = rng.pick(['2026-11-25T12:00:00Z', '2026-11-25T12:00:00.123+01:00', '2026-13-01T00:00:00Z', '2026-11-25', 'yesterday']);
  if (rng.chance(0.3)) m['validUntil'] = rng.pick(['2027-11-25T12:00:00Z', '2025-01-01T00:00:00Z', '2026-11-25T12:00:00Z']);
  if (rng.chance(0.4)) m['source'] = rng.pick(['threatmesh/feodo', 'a', '', 'x'.repeat(254)]);
  if (rng.chance(0.05)) m['extra'] = 1;
  return m;
}

function metaCase(rng: Rng): void {
  const m = genMeta(rng);
  const valid = validateMeta(m);
  const base = typeof valid === 'string' ? referenceCanonical(m) : metaJson(valid);
  const text = rng.chance(0.2) ? base : mutate(rng, base, JSON_TOKENS);
  const p = parseMetaJson(text);
  if (!p.ok) return;
  same(metaJson(p.meta), text, 'meta-canonical', text);
}

const CASES = [dataCase, textCase, indicatorCase, indicatorCase, metaCase, metaCase] as const;

/** The canonical JSON target. */
export const canonicalTarget: FuzzTarget = {
  name: 'canonical',
  description: 'canonicalJson against an independent RFC 8785 serializer; parseIndicatorJson/parseMetaJson accept only input their canonical form reproduces',
  run: (rng) => rng.pick(CASES)(rng),
};

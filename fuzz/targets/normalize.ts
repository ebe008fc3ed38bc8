/**
 * The normalizer (domain/indicator.ts): values of every type in feed spellings, often mutated.
 * Properties: never throws; a rejection has a known reason; an accepted value is well-formed
 * Unicode, normalizes to itself (idempotent), is accepted back from its canonical wire JSON
 * with the same digest, and survives its STIX pattern (stixPattern → parseStixPattern) unchanged.
 * The quick paths (domain/fastnormalize.ts) give what the full rules give for every input they take.
 */
import { indicatorCanonicalJson, indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { parseIndicatorJson } from '../../operator/src/domain/entry.ts';
import { detectType, normalize, REJECT_REASONS, type Indicator, type IndicatorType } from '../../operator/src/domain/indicator.ts';
import { detectCanonical, quickNormalize } from '../../operator/src/domain/fastnormalize.ts';
import { parseStixPattern, stixPattern } from '../../operator/src/domain/stix.ts';
import { genValue } from '../gen.ts';
import { check, same, type FuzzTarget } from '../target.ts';
import type { Rng } from '../rng.ts';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Checks every property of one accepted indicator. */
export function checkAccepted(ind: Indicator, input: unknown): void {
  check(ind.value.isWellFormed(), 'well-formed', 'accepted value has a lone surrogate', input);
  const again = normalize(ind.type, ind.value);
  check(again.ok, 'idempotent', `normalized value is refused when normalized again: ${again.ok ? '' : again.rejection.message}`, input);
  same(again.indicator, ind, 'idempotent', input);
  const json = indicatorCanonicalJson(ind);
  const parsed = parseIndicatorJson(json);
  check(parsed.ok, 'wire-roundtrip', `canonical JSON ${json} is refused: ${parsed.ok ? '' : parsed.message}`, input);
  same(parsed.indicator, ind, 'wire-roundtrip', input);
  same(parsed.digest, indicatorDigest(ind), 'wire-roundtrip', input);
  const name = indicatorObjectName(ind);
  check(name.length <= 63 && NAME.test(name), 'object-name', `object name ${name} is not a DNS-1123 label`, input);
  const pattern = stixPattern(ind);
  const back = parseStixPattern(pattern);
  check(back.ok, 'stix-roundtrip', `own pattern ${pattern} is refused: ${back.ok ? '' : back.rejection.message}`, input);
  same(back.indicators, [ind], 'stix-roundtrip', input);
}

/** The quick paths against the full rules, which `' ' + raw` forces (values are trimmed; no quick path takes white space). */
function checkQuick(type: IndicatorType, raw: string, input: unknown): void {
  const q = quickNormalize(type, raw);
  if (q !== undefined) {
    const f = normalize(type, ` ${raw}`);
    check(f.ok && f.indicator.value === q, 'quick-path', `quick path gives ${q}, the full rules ${f.ok ? f.indicator.value : f.rejection.reason}`, input);
  }
  const d = detectCanonical(raw);
  if (d === undefined) return;
  const t = detectType(` ${raw}`);
  check(t === d.type, 'quick-path', `quick detection says ${d.type}, detectType ${String(t)}`, input);
  const f = normalize(d.type, ` ${raw}`);
  check(f.ok && f.indicator.value === d.value, 'quick-path', `quick path gives ${d.value}, the full rules ${f.ok ? f.indicator.value : f.rejection.reason}`, input);
}

function run(rng: Rng): void {
  const { type, raw } = genValue(rng);
  const input = { type, raw };
  if (typeof raw === 'string') checkQuick(type, raw, input);
  const auto = rng.chance(0.3);
  const t = auto ? detectType(raw) : type;
  if (t === undefined) return;
  const r = normalize(t, raw);
  if (!r.ok) {
    check((REJECT_REASONS as readonly string[]).includes(r.rejection.reason), 'reason', `unknown rejection reason ${r.rejection.reason}`, input);
    return;
  }
  same(r.indicator.type, t, 'type-kept', input);
  checkAccepted(r.indicator, input);
}

/** The normalizer target. */
export const normalizeTarget: FuzzTarget = {
  name: 'normalize',
  description: 'normalize()/detectType() on feed-style values of every type: idempotent, canonical wire JSON and STIX pattern round-trip',
  run,
};

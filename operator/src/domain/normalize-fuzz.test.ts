/**
 * Regression tests for what `npm run fuzz` (target normalize) found: values whose normalized
 * form normalized again to another value (normalization v3, ADR addendum of issue 18), and the
 * compatibility of entries logged under v2.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIndicatorJson } from './entry.ts';
import { isNormalizedAsLogged, normalize, type IndicatorType } from './indicator.ts';

describe('normalization is idempotent: a result that would still refang is refused (fuzz: normalize idempotent)', () => {
  const refused: Array<[IndicatorType, string, string]> = [
    ['url', 'HTTP://179(.)00(.)43(.\\)217:0/ü', 'invalid-url'],
    ['url', 'http://a.b/x[[.]]y', 'invalid-url'],
    ['url', 'http://a.b/x(\\)y', 'invalid-url'],
    ['url', 'http://a.b/x((dot))y', 'invalid-url'],
    ['email', 'a{{.}}b@example.com', 'invalid-email'],
  ];
  for (const [type, raw, reason] of refused) {
    test(`${type} ${raw} is refused as ${reason}`, () => {
      const n = normalize(type, raw);
      assert.equal(n.ok, false);
      if (!n.ok) {
        assert.equal(n.rejection.reason, reason);
        assert.match(n.rejection.message, /still reads as defanged.*write the value refanged/);
      }
    });
  }

  const kept: Array<[IndicatorType, string, string]> = [
    ['url', 'hxxp://a(.)b(/)c', 'http://a.b/c'],
    ['url', 'http://a.b/x[.]y', 'http://a.b/x.y'],
    ['url', 'http://a.b/p?q=hxxp://x', 'http://a.b/p?q=hxxp://x'],
    ['email', 'john[at]example[.]com', 'john@example.com'],
  ];
  for (const [type, raw, value] of kept) {
    test(`${type} ${raw} → ${value}, and ${value} → itself`, () => {
      assert.deepEqual(normalize(type, raw), { ok: true, indicator: { type, value } });
      assert.deepEqual(normalize(type, value), { ok: true, indicator: { type, value } });
    });
  }
});

describe('no entry in a log changes identity: what v3 refuses never normalized to itself under v2 either', () => {
  test('the once-refanged spelling http://a.b/x[.]y is not normalized (the sequencer refused it before v3 too)', () => {
    const json = '{"type":"url","value":"http://a.b/x[.]y"}';
    assert.equal(isNormalizedAsLogged('url', 'http://a.b/x[.]y'), false);
    for (const logged of [true, false]) {
      const p = parseIndicatorJson(json, { logged });
      assert.equal(p.ok, false);
      if (!p.ok) assert.equal(p.reason, 'not-normalized');
    }
  });
});

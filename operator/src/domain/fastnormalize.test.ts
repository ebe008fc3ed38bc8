import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { detectCanonical, quickIndicator, quickNormalize } from './fastnormalize.ts';
import { INDICATOR_TYPES, detectType, normalize, type IndicatorType } from './indicator.ts';

/**
 * The full normalizer's answer for `raw`, forced past the quick path: every input is trimmed
 * first, and no quick path accepts white space, so `' ' + raw` takes the full rules.
 */
function full(type: IndicatorType, raw: string, cidrHostBits: 'clear' | 'reject' = 'clear'): string | undefined {
  const r = normalize(type, ` ${raw}`, { cidrHostBits });
  return r.ok ? r.indicator.value : undefined;
}

/** The quick path's claim about `raw`, checked against the full rules (detection included). */
function agrees(raw: string): void {
  for (const type of INDICATOR_TYPES) {
    const q = quickNormalize(type, raw);
    if (q === undefined) continue;
    assert.equal(full(type, raw), q, `${type} ${JSON.stringify(raw)}: quick ${q}`);
    assert.equal(full(type, raw, 'reject'), q, `${type} ${JSON.stringify(raw)} with cidrHostBits reject`);
  }
  const d = detectCanonical(raw);
  if (d === undefined) return;
  assert.equal(detectType(` ${raw}`), d.type, `detectType of ${JSON.stringify(raw)}`);
  assert.equal(full(d.type, raw), d.value, `${d.type} ${JSON.stringify(raw)}`);
}

/** raw, then detectCanonical's expected [type, value] or undefined (the full path decides). */
const DETECT: ReadonlyArray<readonly [string, readonly [IndicatorType, string] | undefined]> = [
  ['192.0.2.1', ['ipv4', '192.0.2.1']],
  ['0.0.0.0', ['ipv4', '0.0.0.0']],
  ['255.255.255.255', ['ipv4', '255.255.255.255']],
  ['256.1.1.1', undefined],
  ['01.2.3.4', undefined],
  ['1.2.3', undefined],
  ['1.2.3.4.5', undefined],
  ['1.2.3.4.', undefined],
  ['1..2.3', undefined],
  ['1234.1.1.1', undefined],
  ['10.0.0.0/8', ['cidr', '10.0.0.0/8']],
  ['0.0.0.0/0', ['cidr', '0.0.0.0/0']],
  ['192.0.2.0/24', ['cidr', '192.0.2.0/24']],
  ['192.0.2.1/24', undefined],
  ['192.0.2.1/32', ['cidr', '192.0.2.1/32']],
  ['192.0.2.0/33', undefined],
  ['192.0.2.0/024', undefined],
  ['192.0.2.0/08', undefined],
  ['192.0.2.0/', undefined],
  ['192.0.2.0/2a', undefined],
  ['192.0.2.0/24/1', undefined],
  ['/24', undefined],
  ['example.com', ['domain', 'example.com']],
  ['Host-1.Evil-2.EXAMPLE.net', ['domain', 'host-1.evil-2.example.net']],
  ['a.b', ['domain', 'a.b']],
  ['1password.com', ['domain', '1password.com']],
  ['example.com.', undefined],
  ['.example.com', undefined],
  ['example..com', undefined],
  ['-a.com', undefined],
  ['a-.com', undefined],
  ['example.123', undefined],
  ['example', undefined],
  ['xn--bcher-kva.example', undefined],
  ['XN--bcher-kva.example', undefined],
  ['under_score.com', undefined],
  [`${'a'.repeat(63)}.com`, ['domain', `${'a'.repeat(63)}.com`]],
  [`${'a'.repeat(64)}.com`, undefined],
  [`${'abcdefghi.'.repeat(25)}com`, ['domain', `${'abcdefghi.'.repeat(25)}com`]],
  [`${'abcdefghi.'.repeat(25)}comx`, undefined],
  ['d41d8cd98f00b204e9800998ecf8427e', ['md5', 'd41d8cd98f00b204e9800998ecf8427e']],
  ['D41D8CD98F00B204E9800998ECF8427E', ['md5', 'd41d8cd98f00b204e9800998ecf8427e']],
  ['12345678901234567890123456789012', ['md5', '12345678901234567890123456789012']],
  ['da39a3ee5e6b4b0d3255bfef95601890afd80709', ['sha1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709']],
  ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', ['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']],
  ['d41d8cd98f00b204e9800998ecf8427', undefined],
  ['deadbeef', undefined],
  ['1234567', undefined],
  ['http://example.com/', undefined],
  ['user@example.com', undefined],
  ['2001:db8::1', undefined],
  ['example[.]com', undefined],
  [' example.com', undefined],
  ['exämple.com', undefined],
  ['', undefined],
];

describe('detectCanonical', () => {
  for (const [raw, expected] of DETECT) {
    test(`${JSON.stringify(raw)} → ${expected === undefined ? 'full path' : expected.join(' ')}`, () => {
      const d = detectCanonical(raw);
      assert.deepEqual(d === undefined ? undefined : [d.type, d.value], expected);
      agrees(raw);
    });
  }
  test('a value that is not a string goes the full way', () => {
    assert.equal(detectCanonical(42 as unknown as string), undefined);
  });
});

/** type, raw, quickNormalize's expected value or undefined. */
const QUICK: ReadonlyArray<readonly [IndicatorType, string, string | undefined]> = [
  ['ipv4', '192.0.2.1', '192.0.2.1'],
  ['ipv4', '192.0.2.1/32', undefined],
  ['cidr', '192.0.2.1', undefined],
  ['domain', '192.0.2.1', undefined],
  ['domain', 'Example.COM', 'example.com'],
  ['md5', 'D41D8CD98F00B204E9800998ECF8427E', 'd41d8cd98f00b204e9800998ecf8427e'],
  ['sha1', 'd41d8cd98f00b204e9800998ecf8427e', undefined],
  ['sha256', 'g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', undefined],
  ['url', 'http://example.com/', undefined],
  ['ipv6', '::1', undefined],
  ['email', 'a@example.com', undefined],
];

describe('quickNormalize', () => {
  for (const [type, raw, expected] of QUICK) {
    test(`${type} ${JSON.stringify(raw)} → ${expected ?? 'full path'}`, () => {
      assert.equal(quickNormalize(type, raw), expected);
      assert.deepEqual(quickIndicator(type, raw), expected === undefined ? undefined : { type, value: expected });
      agrees(raw);
    });
  }
});

test('the quick paths agree with the full normalizer on generated near-canonical text', () => {
  // Small alphabets make the edge cases (leading zeros, octets > 255, empty labels, hex lengths) likely.
  const chars = ['0', '1', '2', '5', '9', '.', '/', '-', 'a', 'f', 'x', 'n', 'z', 'A', 'F', 'Z', '3', '4'];
  const text = fc.array(fc.constantFrom(...chars), { maxLength: 70 }).map((a) => a.join(''));
  const quad = fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300), fc.option(fc.nat(40), { nil: undefined }), fc.boolean())
    .map(([a, b, c, d, p, zero]) => `${zero ? '0' : ''}${a}.${b}.${c}.${d}${p === undefined ? '' : `/${p}`}`);
  const hash = fc.constantFrom(32, 40, 64, 31, 65).chain((n) => fc.array(fc.constantFrom(...'0123456789abcdefABCDEFg'), { minLength: n, maxLength: n }).map((a) => a.join('')));
  fc.assert(fc.property(fc.oneof(text, quad, hash, fc.domain()), (raw) => agrees(raw)), { numRuns: 20000, seed: 14 });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadShippedLists } from '../feeds/warninglists.ts';
import { buildGuard, domainParts, POLICY_ALLOWLIST } from './guard.ts';
import { parseRecord } from './record.ts';
import { decide } from './select.ts';
import { Selection } from './selection.ts';
import { resolved, storedRecord } from './testing.ts';
import type { IndicatorType } from '../domain/indicator.ts';

const shipped = await loadShippedLists();
const guard = buildGuard(shipped, [{ name: POLICY_ALLOWLIST, entries: ['45.0.0.0/16', 'corp.example.org', 'partner.net'] }]);
const NOW = Date.parse('2026-06-01T00:00:00Z');

describe('parseRecord refuses malformed documents with a reason', () => {
  const good = storedRecord('ipv4', '11.1.2.3', { logIndex: 4 });
  const cases: Array<[string, unknown, RegExp]> = [
    ['not a document', 'x', /not a document/],
    ['null', null, /not a document/],
    ['bad digest', { ...good, digest: 'zz' }, /digest is not 64/],
    ['unknown type', { ...good, type: 'asn' }, /not an indicator type/],
    ['value not a string', { ...good, value: 7 }, /value is not a non-empty string/],
    ['value not canonical', { ...storedRecord('domain', 'evil.badsite.xyz'), value: 'EVIL.badsite.xyz' }, /not canonical/],
    ['value widened under the same digest', { ...good, type: 'cidr', value: '0.0.0.0/0' }, /digest does not match/],
    ['state unknown', { ...good, state: 'pending' }, /state "pending"/],
    ['logIndex a string', { ...good, logIndex: '4' }, /logIndex is not/],
    ['revoked without index', { ...good, state: 'revoked' }, /no revokedAtIndex/],
    ['meta not an object', { ...good, meta: [1] }, /meta is not an object/],
    ['tlp unknown', { ...good, meta: { tlp: 'white' } }, /not a TLP marking/],
    ['confidence out of range', { ...good, meta: { confidence: 101 } }, /confidence/],
    ['labels not strings', { ...good, meta: { labels: [1] } }, /labels/],
    ['validUntil not a time', { ...good, meta: { validUntil: 'soon' } }, /validUntil/],
  ];
  for (const [name, doc, why] of cases) {
    test(name, () => {
      const r = parseRecord(doc);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.why, why);
    });
  }
  test('a record as the replica writes it parses', () => {
    const r = parseRecord(good);
    assert.ok(r.ok);
    if (r.ok) assert.deepEqual([r.record.value, r.record.logIndex, r.record.tlp, r.record.confidence], ['11.1.2.3', 4, 'clear', 0]);
  });
});

describe('decide', () => {
  const sel = resolved({ selector: { minConfidence: 50, maxTlp: 'amber', labels: { noneOf: ['benign'] } } }).selector;
  const meta = { confidence: 80 };
  const cases: Array<[string, IndicatorType, string, Record<string, unknown>, string]> = [
    ['active ipv4 is a /32', 'ipv4', '11.1.2.3', { meta }, 'enforce:11.1.2.3/32'],
    ['active ipv6 is a /128', 'ipv6', '2a00:1450::1', { meta }, 'enforce:2a00:1450::1/128'],
    ['cidr kept as is', 'cidr', '11.9.0.0/16', { meta }, 'enforce:11.9.0.0/16'],
    ['domain', 'domain', 'evil.badsite.xyz', { meta }, 'enforce:evil.badsite.xyz'],
    ['revoked', 'ipv4', '11.1.2.3', { meta, state: 'revoked', revokedAtIndex: 9 }, 'revoked'],
    ['url is not enforceable', 'url', 'http://evil.badsite.xyz/x', { meta }, 'type'],
    ['hash is not enforceable', 'sha256', 'a'.repeat(64), { meta }, 'type'],
    ['expired', 'ipv4', '11.1.2.3', { meta: { ...meta, validUntil: '2026-05-31T23:59:59Z' } }, 'expired'],
    ['expires exactly now', 'ipv4', '11.1.2.3', { meta: { ...meta, validUntil: '2026-06-01T00:00:00Z' } }, 'expired'],
    ['not yet valid', 'ipv4', '11.1.2.3', { meta: { ...meta, validFrom: '2026-06-02T00:00:00Z' } }, 'not-yet-valid'],
    ['low confidence', 'ipv4', '11.1.2.3', { meta: { confidence: 49 } }, 'confidence'],
    ['no confidence counts as 0', 'ipv4', '11.1.2.3', {}, 'confidence'],
    ['tlp above max', 'ipv4', '11.1.2.3', { meta: { ...meta, tlp: 'amber+strict' } }, 'tlp'],
    ['tlp at max', 'ipv4', '11.1.2.3', { meta: { ...meta, tlp: 'amber' } }, 'enforce:11.1.2.3/32'],
    ['excluded label', 'ipv4', '11.1.2.3', { meta: { ...meta, labels: ['benign'] } }, 'labels'],
    ['own range (inside)', 'ipv4', '45.0.9.9', { meta }, POLICY_ALLOWLIST],
    ['cidr covering own range', 'cidr', '45.0.0.0/8', { meta }, POLICY_ALLOWLIST],
    ['private range', 'cidr', '10.0.0.0/8', { meta }, 'reserved-ip'],
    ['the whole internet', 'cidr', '0.0.0.0/0', { meta }, 'reserved-ip'],
    ['public resolver', 'ipv4', '8.8.8.8', { meta }, 'public-resolver'],
    ['top domain', 'domain', 'google.com', { meta }, 'top-domain'],
    ['under a top domain', 'domain', 'mail.google.com', { meta }, 'top-domain'],
    ['a suffix map_dom would match inside a top domain', 'domain', 'co.uk', { meta }, 'top-domain'],
    ['own domain', 'domain', 'vpn.corp.example.org', { meta }, POLICY_ALLOWLIST],
    ['parent of own domain', 'domain', 'example.org', { meta }, 'special-domain'],
    ['parent of own domain (not special)', 'domain', 'partner.net', { meta }, POLICY_ALLOWLIST],
  ];
  for (const [name, type, value, opts, want] of cases) {
    test(name, () => {
      const r = parseRecord(storedRecord(type, value, { logIndex: 3, ...opts }));
      assert.ok(r.ok, r.ok ? '' : r.why);
      const d = decide(r.record, sel, guard, NOW);
      assert.equal(d.enforce ? `enforce:${d.candidate.key}` : d.reason, want);
    });
  }
});

test('domainParts lists every dot-delimited run', () => {
  assert.deepEqual(domainParts('a.b.c').sort(), ['a', 'a.b', 'a.b.c', 'b', 'b.c', 'c']);
});

describe('Selection', () => {
  const rules = { selector: resolved().selector, guard };
  test('revocation, re-admission and malformed records are tracked with counts', () => {
    const s = new Selection(rules);
    s.apply(storedRecord('ipv4', '11.1.1.1', { logIndex: 1 }), NOW);
    s.apply(storedRecord('domain', 'evil.badsite.xyz', { logIndex: 2 }), NOW);
    s.apply({ digest: 'f'.repeat(64), type: 'ipv4' }, NOW);
    assert.deepEqual([s.selected, s.skipped(), s.highWater], [2, { malformed: 1 }, 2]);
    const v = s.version;
    s.apply(storedRecord('ipv4', '11.1.1.1', { logIndex: 1, state: 'revoked', revokedAtIndex: 5 }), NOW);
    assert.deepEqual([s.selected, s.skipped(), s.highWater], [1, { malformed: 1, revoked: 1 }, 5]);
    assert.ok(s.version > v);
    s.apply(storedRecord('ipv4', '11.1.1.1', { logIndex: 6 }), NOW);
    assert.deepEqual([s.selected, s.candidates().map((c) => c.key).sort()], [2, ['11.1.1.1/32', 'evil.badsite.xyz']]);
    assert.equal(s.takeMalformed().length, 1);
    assert.equal(s.takeMalformed().length, 0);
  });

  test('re-reading an unchanged record does not bump the version', () => {
    const s = new Selection(rules);
    const r = storedRecord('ipv4', '11.1.1.1', { logIndex: 1 });
    s.apply(r, NOW);
    const v = s.version;
    s.apply(r, NOW);
    assert.equal(s.version, v);
  });

  test('validUntil passing removes, validFrom arriving adds (sweep)', () => {
    const s = new Selection(rules);
    s.apply(storedRecord('ipv4', '11.1.1.1', { logIndex: 1, meta: { validUntil: '2026-06-01T00:00:10Z' } }), NOW);
    s.apply(storedRecord('ipv4', '11.1.1.2', { logIndex: 2, meta: { validFrom: '2026-06-01T00:00:05Z' } }), NOW);
    assert.deepEqual(s.candidates().map((c) => c.key), ['11.1.1.1/32']);
    assert.equal(s.nextEvent, NOW + 5000);
    assert.equal(s.sweep(NOW + 4999), false);
    assert.equal(s.sweep(NOW + 5000), true);
    assert.deepEqual(s.candidates().map((c) => c.key).sort(), ['11.1.1.1/32', '11.1.1.2/32']);
    assert.equal(s.nextEvent, NOW + 10_000);
    assert.equal(s.sweep(NOW + 10_000), true);
    assert.deepEqual(s.candidates().map((c) => c.key), ['11.1.1.2/32']);
    assert.deepEqual(s.skipped(), { expired: 1 });
    assert.equal(s.nextEvent, Number.POSITIVE_INFINITY);
  });
});

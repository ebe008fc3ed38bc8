import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalize, type Indicator, type IndicatorType } from './indicator.ts';
import {
  STIX_ID_NAMESPACE, TLP_MARKING_IDS, UUID_NAMESPACE_DNS, parseStixPattern, stixIndicatorId, stixPattern, stixString,
  tlpMarkingDefinition, toStixIndicator, uuidV5,
} from './stix.ts';

function ind(type: IndicatorType, raw: string): Indicator {
  const r = normalize(type, raw);
  if (!r.ok) throw new Error(`fixture ${type} ${raw}: ${r.rejection.message}`);
  return r.indicator;
}

describe('stixPattern', () => {
  const rows: readonly (readonly [IndicatorType, string, string])[] = [
    ['ipv4', '192.0.2.1', "[ipv4-addr:value = '192.0.2.1']"],
    ['ipv6', '2001:db8::1', "[ipv6-addr:value = '2001:db8::1']"],
    ['cidr', '192.0.2.0/24', "[ipv4-addr:value = '192.0.2.0/24']"],
    ['cidr', '2001:db8::/32', "[ipv6-addr:value = '2001:db8::/32']"],
    ['domain', 'example.com', "[domain-name:value = 'example.com']"],
    ['url', 'http://example.com/a?b=c', "[url:value = 'http://example.com/a?b=c']"],
    ['email', 'user@example.com', "[email-addr:value = 'user@example.com']"],
    ['md5', 'd41d8cd98f00b204e9800998ecf8427e', "[file:hashes.'MD5' = 'd41d8cd98f00b204e9800998ecf8427e']"],
    ['sha1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709', "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']"],
    ['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"],
  ];
  for (const [type, value, pattern] of rows) {
    test(`${type} ${value}`, () => assert.equal(stixPattern(ind(type, value)), pattern));
  }

  test("quotes and backslashes are escaped", () => {
    assert.equal(stixString("it's a \\ test"), "'it\\'s a \\\\ test'");
    const email = ind('email', "o'brien@example.com");
    assert.equal(stixPattern(email), "[email-addr:value = 'o\\'brien@example.com']");
    const url = ind('url', "http://example.com/it's");
    assert.equal(stixPattern(url), "[url:value = 'http://example.com/it\\'s']");
  });
});

describe('parseStixPattern accepts', () => {
  const rows: readonly (readonly [string, readonly (readonly [IndicatorType, string])[]])[] = [
    ["[ipv4-addr:value = '192.0.2.1']", [['ipv4', '192.0.2.1']]],
    ["[ipv4-addr:value='192.0.2.1']", [['ipv4', '192.0.2.1']]],
    ["  [ ipv4-addr:value =\n'192.0.2.1' ]  ", [['ipv4', '192.0.2.1']]],
    ["[ipv4-addr:value = '10.1.2.3/8']", [['cidr', '10.0.0.0/8']]],
    ["[ipv6-addr:value = '2001:DB8::1']", [['ipv6', '2001:db8::1']]],
    ["[ipv6-addr:value = '2001:db8::/32']", [['cidr', '2001:db8::/32']]],
    ["[domain-name:value = 'EXAMPLE.com']", [['domain', 'example.com']]],
    ["[url:value = 'HTTP://Example.com:80/x']", [['url', 'http://example.com/x']]],
    ["[email-addr:value = 'user@Example.com']", [['email', 'user@example.com']]],
    ["[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']", [['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']]],
    ["[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']", [['md5', 'd41d8cd98f00b204e9800998ecf8427e']]],
    ["[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']", [['sha1', 'da39a3ee5e6b4b0d3255bfef95601890afd80709']]],
    ["[file:hashes.'sha256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']", [['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']]],
    ["[url:value = 'http://example.com/it\\'s\\\\']", [['url', "http://example.com/it's/"]]], // WHATWG: '\\' is a path separator in http URLs
    ["[ipv4-addr:value = '192.0.2.1' OR domain-name:value = 'example.com']", [['ipv4', '192.0.2.1'], ['domain', 'example.com']]],
    ["[ipv4-addr:value = '192.0.2.1'] OR [domain-name:value = 'example.com']", [['ipv4', '192.0.2.1'], ['domain', 'example.com']]],
    ["([ipv4-addr:value = '192.0.2.1'] OR ([domain-name:value = 'example.com']))", [['ipv4', '192.0.2.1'], ['domain', 'example.com']]],
    ["[(ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '192.0.2.2')]", [['ipv4', '192.0.2.1'], ['ipv4', '192.0.2.2']]],
    ["[domain-name:value = 'example.com'] OR [domain-name:value = 'EXAMPLE.com.']", [['domain', 'example.com']]],
  ];
  for (const [pattern, expected] of rows) {
    test(pattern, () => {
      const r = parseStixPattern(pattern);
      assert.ok(r.ok, r.ok ? '' : r.rejection.message);
      assert.deepEqual(r.indicators, expected.map(([type, value]) => ({ type, value })));
    });
  }
});

describe('parseStixPattern refuses', () => {
  const rows: readonly (readonly [string, string, RegExp])[] = [
    ["[ipv4-addr:value = '192.0.2.1' AND domain-name:value = 'example.com']", 'unsupported-stix-pattern', /AND/],
    ["[ipv4-addr:value = '192.0.2.1'] AND [domain-name:value = 'example.com']", 'unsupported-stix-pattern', /AND/],
    ["[ipv4-addr:value = '192.0.2.1'] FOLLOWEDBY [domain-name:value = 'example.com']", 'unsupported-stix-pattern', /FOLLOWEDBY/],
    ["[ipv4-addr:value = '192.0.2.1'] WITHIN 300 SECONDS", 'unsupported-stix-pattern', /WITHIN/],
    ["[ipv4-addr:value = '192.0.2.1'] REPEATS 5 TIMES", 'unsupported-stix-pattern', /REPEATS/],
    ["[ipv4-addr:value = '192.0.2.1'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'", 'unsupported-stix-pattern', /START/],
    ["[ipv4-addr:value != '192.0.2.1']", 'unsupported-stix-pattern', /!=/],
    ["[ipv4-addr:value > '192.0.2.1']", 'unsupported-stix-pattern', />/],
    ["[ipv4-addr:value ISSUBSET '192.0.2.0/24']", 'unsupported-stix-pattern', /ISSUBSET/],
    ["[domain-name:value LIKE '%.example.com']", 'unsupported-stix-pattern', /LIKE/],
    ["[domain-name:value MATCHES '^evil']", 'unsupported-stix-pattern', /MATCHES/],
    ["[domain-name:value NOT = 'example.com']", 'unsupported-stix-pattern', /NOT/],
    ["[file:size = 25536]", 'unsupported-stix-pattern', /plain string/],
    ["[file:name = 'evil.exe']", 'unsupported-stix-pattern', /file:name/],
    ["[x-custom:value = 'x']", 'unsupported-stix-pattern', /object path/],
    ["[file:hashes.'SHA-512' = 'ab']", 'unsupported-stix-pattern', /SHA-512/],
    ["[ipv4-addr:value = '192.0.2.1'", 'invalid-stix-pattern', /expected OR/],
    ["ipv4-addr:value = '192.0.2.1'", 'invalid-stix-pattern', /"\["/],
    ["[ipv4-addr:value = '192.0.2.1]", 'invalid-stix-pattern', /unterminated string/],
    ["[ipv4-addr:value = '192.0.2.1'] [domain-name:value = 'example.com']", 'invalid-stix-pattern', /expected OR/],
    ["[ipv4-addr:value = '192.0.2.1' OR]", 'invalid-stix-pattern', /object path/],
    ["[ipv4-addr:value = '1\\n']", 'invalid-stix-pattern', /escape/],
    ["([ipv4-addr:value = '192.0.2.1']", 'invalid-stix-pattern', /unbalanced/],
    ["[ipv4-addr:value = '192.0.2.1'])", 'invalid-stix-pattern', /unbalanced/],
    ["[(ipv4-addr:value = '192.0.2.1']", 'invalid-stix-pattern', /unbalanced/],
    ["[ipv4-addr:value ! '192.0.2.1']", 'invalid-stix-pattern', /!/],
    ['', 'invalid-stix-pattern', /end of the pattern/],
    ['[]', 'invalid-stix-pattern', /object path/],
    ["[ipv4-addr:value = '01.2.3.4']", 'ambiguous-ipv4', /inet_aton/],
    ["[ipv4-addr:value = '2001:db8::1']", 'invalid-ipv4', /IPv4/],
    ["[ipv6-addr:value = '192.0.2.1']", 'invalid-ipv6', /IPv6/],
    ["[domain-name:value = 'exa_mple.com']", 'invalid-domain', /"_"/],
    ["[url:value = 'javascript:alert(1)']", 'unsupported-scheme', /javascript/],
  ];
  for (const [pattern, reason, message] of rows) {
    test(`${JSON.stringify(pattern)} → ${reason}`, () => {
      const r = parseStixPattern(pattern);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.rejection.reason, reason, r.rejection.message);
      assert.match(r.rejection.message, message);
      assert.match(r.rejection.message, /^STIX pattern: /);
      assert.equal(r.rejection.input, pattern);
    });
  }
  test('a huge pattern is refused without parsing it', () => {
    const r = parseStixPattern(`[url:value = '${'a'.repeat(1 << 20)}']`);
    assert.ok(!r.ok && r.rejection.reason === 'unsupported-stix-pattern' && r.rejection.input.length === 257);
  });
});

const rawIndicator: fc.Arbitrary<readonly [IndicatorType, string]> = fc.oneof(
  fc.tuple(fc.constant<IndicatorType>('ipv4'), fc.ipV4()),
  fc.tuple(fc.constant<IndicatorType>('ipv6'), fc.ipV6()),
  fc.tuple(fc.constant<IndicatorType>('cidr'), fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`)),
  fc.tuple(fc.constant<IndicatorType>('cidr'), fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`)),
  fc.tuple(fc.constant<IndicatorType>('domain'), fc.domain()),
  fc.tuple(fc.constant<IndicatorType>('url'), fc.webUrl({ withQueryParameters: true, withFragments: true })),
  fc.tuple(fc.constant<IndicatorType>('email'), fc.emailAddress()),
  fc.tuple(fc.constant<IndicatorType>('md5'), fc.stringMatching(/^[0-9a-fA-F]{32}$/)),
  fc.tuple(fc.constant<IndicatorType>('sha1'), fc.stringMatching(/^[0-9a-fA-F]{40}$/)),
  fc.tuple(fc.constant<IndicatorType>('sha256'), fc.stringMatching(/^[0-9a-fA-F]{64}$/)),
);

describe('round trip', () => {
  test("parseStixPattern(stixPattern(x)) is [x] for every normalized indicator", () => {
    let accepted = 0;
    fc.assert(fc.property(rawIndicator, ([type, raw]) => {
      const n = normalize(type, raw);
      fc.pre(n.ok);
      if (!n.ok) return;
      accepted++;
      const r = parseStixPattern(stixPattern(n.indicator));
      assert.ok(r.ok, r.ok ? '' : r.rejection.message);
      assert.deepEqual(r.indicators, [n.indicator]);
    }), { numRuns: 500 });
    assert.ok(accepted > 250, `only ${accepted} generated indicators normalized`);
  });

  test('values with quotes and backslashes survive the round trip', () => {
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom('a', "'", '\\', 'b', '/', '%') , maxLength: 20 }), (path) => {
      const n = normalize('url', `http://example.com/${path}`);
      fc.pre(n.ok);
      if (!n.ok) return;
      const r = parseStixPattern(stixPattern(n.indicator));
      assert.ok(r.ok && r.indicators.length === 1 && r.indicators[0]?.value === n.indicator.value);
    }));
  });
});

describe('parseStixPattern robustness', () => {
  test('never throws on arbitrary input built from pattern fragments', () => {
    const fragment = fc.constantFrom('[', ']', '(', ')', ' ', "'", '\\', '=', '!=', 'OR', 'AND', 'ipv4-addr:value', "file:hashes.'SHA-256'",
      "'192.0.2.1'", "'example.com'", 'domain-name:value', 'WITHIN', '.', ':', 'x');
    fc.assert(fc.property(fc.array(fragment, { maxLength: 30 }), (parts) => {
      const r = parseStixPattern(parts.join(''));
      if (!r.ok) assert.match(r.rejection.reason, /^[a-z0-9-]+$/);
    }), { numRuns: 2000 });
  });
});

describe('uuidV5', () => {
  test('known answer from the Python uuid documentation', () => {
    assert.equal(uuidV5(UUID_NAMESPACE_DNS, 'python.org'), '886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });
  test('the ThreatMesh namespace is derived as documented', () => {
    assert.equal(uuidV5(UUID_NAMESPACE_DNS, 'threatmesh.io'), STIX_ID_NAMESPACE);
  });
  test('refuses a malformed namespace', () => {
    assert.throws(() => uuidV5('not-a-uuid', 'x'), TypeError);
  });
});

describe('toStixIndicator', () => {
  const created = new Date('2026-01-02T03:04:05.678Z');

  test('known answer: deterministic id from the digest, and the required properties', () => {
    const obj = toStixIndicator(ind('domain', 'example.com'), { created });
    assert.deepEqual(obj, {
      type: 'indicator',
      spec_version: '2.1',
      // uuid5(uuid5(NAMESPACE_DNS, 'threatmesh.io'), sha256('{"type":"domain","value":"example.com"}')) in Python
      id: 'indicator--0d0947ff-da67-53bd-9800-d6ef2a29baac',
      created: '2026-01-02T03:04:05.678Z',
      modified: '2026-01-02T03:04:05.678Z',
      name: 'example.com',
      pattern: "[domain-name:value = 'example.com']",
      pattern_type: 'stix',
      pattern_version: '2.1',
      valid_from: '2026-01-02T03:04:05.678Z',
    });
  });

  test('all options', () => {
    const obj = toStixIndicator(ind('ipv4', '192.0.2.1'), {
      created,
      validFrom: new Date('2026-01-01T00:00:00Z'),
      validUntil: new Date('2026-02-01T00:00:00Z'),
      name: 'C2 server',
      labels: ['c2', 'botnet'],
      confidence: 85,
      tlp: 'amber+strict',
      createdByRef: 'identity--f431f809-377b-45e0-aa1c-6a4751cae5ff',
      indicatorTypes: ['malicious-activity'],
    });
    assert.equal(obj.valid_from, '2026-01-01T00:00:00.000Z');
    assert.equal(obj.valid_until, '2026-02-01T00:00:00.000Z');
    assert.equal(obj.name, 'C2 server');
    assert.deepEqual(obj.labels, ['c2', 'botnet']);
    assert.equal(obj.confidence, 85);
    assert.deepEqual(obj.object_marking_refs, ['marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003']);
    assert.equal(obj.created_by_ref, 'identity--f431f809-377b-45e0-aa1c-6a4751cae5ff');
    assert.deepEqual(obj.indicator_types, ['malicious-activity']);
    assert.equal(obj.id, stixIndicatorId(ind('ipv4', '192.0.2.1')));
  });

  test('the same indicator from two feeds gets the same id', () => {
    assert.equal(toStixIndicator(ind('domain', 'EXAMPLE.com.'), { created }).id, toStixIndicator(ind('domain', 'example.com'), { created: new Date(0) }).id);
    assert.notEqual(stixIndicatorId(ind('ipv4', '192.0.2.1')), stixIndicatorId(ind('cidr', '192.0.2.1')));
  });

  test('TLP 2.0 marking ids, one per level, with the published definitions', () => {
    assert.deepEqual(TLP_MARKING_IDS, {
      clear: 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
      green: 'marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb',
      amber: 'marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421',
      'amber+strict': 'marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003',
      red: 'marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1',
    });
    const def = tlpMarkingDefinition('amber+strict');
    assert.equal(def.name, 'TLP:AMBER+STRICT');
    assert.equal(def.id, TLP_MARKING_IDS['amber+strict']);
    assert.deepEqual(Object.values(def.extensions), [{ extension_type: 'property-extension', tlp_2_0: 'amber+strict' }]);
  });

  const bad: readonly (readonly [string, Parameters<typeof toStixIndicator>[1], RegExp])[] = [
    ['confidence above 100', { created, confidence: 101 }, /confidence/],
    ['fractional confidence', { created, confidence: 50.5 }, /confidence/],
    ['valid_until before valid_from', { created, validUntil: new Date('2025-01-01T00:00:00Z') }, /validUntil/],
    ['valid_until equal to valid_from', { created, validUntil: created }, /validUntil/],
    ['invalid date', { created: new Date('nope') }, /invalid Date/],
    ['created_by_ref not an identity', { created, createdByRef: 'organization--x' }, /identity--/],
    ['empty label', { created, labels: [''] }, /labels/],
  ];
  for (const [name, options, message] of bad) {
    test(`refuses ${name}`, () => assert.throws(() => toStixIndicator(ind('domain', 'example.com'), options), message));
  }
});

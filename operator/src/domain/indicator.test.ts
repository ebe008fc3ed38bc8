import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { INDICATOR_TYPES, REJECT_REASONS, detectType, isIndicatorType, normalize, type IndicatorType, type NormalizeOptions } from './indicator.ts';
import { parseIpv6 } from './ip.ts';

/** expected: the normalized value, or a RejectReason when the row must be rejected. */
type Row = readonly [type: IndicatorType, raw: string, expected: string, options?: NormalizeOptions];

function check([type, raw, expected, options]: Row): void {
  const r = normalize(type, raw, options);
  if ((REJECT_REASONS as readonly string[]).includes(expected)) {
    assert.equal(r.ok, false, `${type} ${JSON.stringify(raw)} should be rejected, got ${r.ok ? r.indicator.value : ''}`);
    if (!r.ok) {
      assert.equal(r.rejection.reason, expected, `${type} ${JSON.stringify(raw)}: ${r.rejection.message}`);
      assert.ok(r.rejection.message.length > 20, 'message explains the problem');
    }
    return;
  }
  assert.ok(r.ok, `${type} ${JSON.stringify(raw)} rejected: ${r.ok ? '' : r.rejection.message}`);
  assert.deepEqual(r.indicator, { type, value: expected });
  // Normalization is idempotent.
  const again = normalize(type, r.indicator.value, options);
  assert.ok(again.ok && again.indicator.value === expected, `idempotent for ${expected}`);
}

function table(name: string, rows: readonly Row[]): void {
  describe(name, () => {
    for (const row of rows) test(`${row[0]} ${JSON.stringify(row[1])} → ${row[2]}`, () => check(row));
  });
}

table('ipv4', [
  ['ipv4', '192.0.2.1', '192.0.2.1'],
  ['ipv4', '0.0.0.0', '0.0.0.0'],
  ['ipv4', '255.255.255.255', '255.255.255.255'],
  ['ipv4', '  10.0.0.1\t', '10.0.0.1'],
  ['ipv4', '1.2.3[.]4', '1.2.3.4'],
  ['ipv4', '1(.)2(.)3(.)4', '1.2.3.4'],
  ['ipv4', '', 'empty'],
  ['ipv4', '   ', 'empty'],
  ['ipv4', '01.2.3.4', 'ambiguous-ipv4'],
  ['ipv4', '1.2.3.010', 'ambiguous-ipv4'],
  ['ipv4', '0x7f.0.0.1', 'ambiguous-ipv4'],
  ['ipv4', '0X7F.0.0.1', 'ambiguous-ipv4'],
  ['ipv4', '1.2.3', 'ambiguous-ipv4'],
  ['ipv4', '127.1', 'ambiguous-ipv4'],
  ['ipv4', '3232235777', 'ambiguous-ipv4'],
  ['ipv4', '256.1.1.1', 'invalid-ipv4'],
  ['ipv4', '1.2.3.4.5', 'invalid-ipv4'],
  ['ipv4', '1..3.4', 'invalid-ipv4'],
  ['ipv4', '1.2.3.4.', 'invalid-ipv4'],
  ['ipv4', '1.2.3.4/32', 'invalid-ipv4'],
  ['ipv4', '1.2.3.a', 'invalid-ipv4'],
  ['ipv4', '1.2.3.99999999999999999999', 'invalid-ipv4'],
  ['ipv4', '::1', 'invalid-ipv4'],
  ['ipv4', 'x'.repeat(9000), 'too-long'],
]);

table('ipv6 (RFC 5952)', [
  ['ipv6', '2001:0DB8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
  ['ipv6', '2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
  ['ipv6', '2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // longest run wins
  ['ipv6', '2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
  ['ipv6', '2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
  ['ipv6', '::', '::'],
  ['ipv6', '::1', '::1'],
  ['ipv6', '1::', '1::'],
  ['ipv6', 'FE80::ABCD', 'fe80::abcd'],
  ['ipv6', '::ffff:192.0.2.1', '::ffff:192.0.2.1'],
  ['ipv6', '::FFFF:c000:0201', '::ffff:192.0.2.1'], // §5: mapped addresses keep a dotted quad
  ['ipv6', '0:0:0:0:0:ffff:192.0.2.1', '::ffff:192.0.2.1'],
  ['ipv6', '64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
  ['ipv6', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ['ipv6', 'fe80::1%eth0', 'invalid-ipv6'],
  ['ipv6', '[::1]', 'invalid-ipv6'],
  ['ipv6', '1:2:3:4:5:6:7:8:9', 'invalid-ipv6'],
  ['ipv6', '1:2:3:4:5:6:7', 'invalid-ipv6'],
  ['ipv6', '1:2:3:4:5:6:7:8::', 'invalid-ipv6'],
  ['ipv6', '1::2::3', 'invalid-ipv6'],
  ['ipv6', ':1::', 'invalid-ipv6'],
  ['ipv6', '1:', 'invalid-ipv6'],
  ['ipv6', '12345::', 'invalid-ipv6'],
  ['ipv6', 'g::1', 'invalid-ipv6'],
  ['ipv6', '::ffff:01.2.3.4', 'invalid-ipv6'],
  ['ipv6', '::1.2.3.4:5', 'invalid-ipv6'],
  ['ipv6', '192.0.2.1', 'invalid-ipv6'],
]);

table('cidr', [
  ['cidr', '10.1.2.3/8', '10.0.0.0/8'],
  ['cidr', '192.0.2.0/24', '192.0.2.0/24'],
  ['cidr', '192.0.2.255/0', '0.0.0.0/0'],
  ['cidr', '192.0.2.1', '192.0.2.1/32'], // bare address = host route
  ['cidr', '2001:db8::1', '2001:db8::1/128'],
  ['cidr', '2001:DB8:0:0:1::/32', '2001:db8::/32'],
  ['cidr', '2001:db8::ffff/127', '2001:db8::fffe/127'],
  ['cidr', '::ffff:192.0.2.77/120', '::ffff:192.0.2.0/120'],
  ['cidr', '192.0.2[.]0/24', '192.0.2.0/24'],
  ['cidr', '192.0.2.0/24', '192.0.2.0/24', { cidrHostBits: 'reject' }],
  ['cidr', '10.1.2.3/8', 'cidr-host-bits', { cidrHostBits: 'reject' }],
  ['cidr', '2001:db8::1/64', 'cidr-host-bits', { cidrHostBits: 'reject' }],
  ['cidr', '192.0.2.0/33', 'invalid-cidr'],
  ['cidr', '2001:db8::/129', 'invalid-cidr'],
  ['cidr', '192.0.2.0/024', 'invalid-cidr'],
  ['cidr', '192.0.2.0/', 'invalid-cidr'],
  ['cidr', '192.0.2.0/2a', 'invalid-cidr'],
  ['cidr', '192.0.2.0/24/1', 'invalid-cidr'],
  ['cidr', '300.0.0.0/8', 'invalid-cidr'],
  ['cidr', '010.0.0.0/8', 'ambiguous-ipv4'],
  ['cidr', '2001:db8:::/32', 'invalid-cidr'],
  ['cidr', 'example.com/24', 'invalid-cidr'],
]);

table('domain', [
  ['domain', 'example.com', 'example.com'],
  ['domain', 'EXAMPLE.com.', 'example.com'],
  ['domain', 'Sub.Example.CO.uk', 'sub.example.co.uk'],
  ['domain', 'evil[.]example[dot]com', 'evil.example.com'],
  ['domain', 'bücher.de', 'xn--bcher-kva.de'],
  ['domain', 'BÜCHER.DE', 'xn--bcher-kva.de'],
  ['domain', 'xn--bcher-kva.de', 'xn--bcher-kva.de'],
  ['domain', '例え.テスト', 'xn--r8jz45g.xn--zckzah'],
  ['domain', 'example。com', 'example.com'], // ideographic full stop is a dot under UTS #46
  ['domain', 'a-b.c0m', 'a-b.c0m'],
  ['domain', `${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ['domain', `${'a'.repeat(64)}.com`, 'invalid-domain'],
  ['domain', `${'abcdefghi.'.repeat(25)}com`, `${'abcdefghi.'.repeat(25)}com`], // exactly 253
  ['domain', `${'abcdefghi.'.repeat(25)}comm`, 'too-long'],
  ['domain', 'localhost', 'invalid-domain'],
  ['domain', 'example..com', 'invalid-domain'],
  ['domain', '.example.com', 'invalid-domain'],
  ['domain', 'example.com..', 'invalid-domain'],
  ['domain', '-example.com', 'invalid-domain'],
  ['domain', 'example-.com', 'invalid-domain'],
  ['domain', 'ex_ample.com', 'invalid-domain'],
  ['domain', '*.example.com', 'invalid-domain'],
  ['domain', 'exa mple.com', 'invalid-domain'],
  ['domain', '192.0.2.1', 'invalid-domain'],
  ['domain', 'example.123', 'invalid-domain'],
  ['domain', 'http://example.com', 'invalid-domain'],
  ['domain', 'xn--zz.com', 'invalid-domain'], // not valid punycode
  ['domain', 'XN--BCHER-KVA.DE', 'xn--bcher-kva.de'],
]);

table('url', [
  ['url', 'http://example.com/', 'http://example.com/'],
  ['url', 'http://example.com', 'http://example.com/'],
  ['url', 'HTTP://EXAMPLE.COM:80/Path?Q=1', 'http://example.com/Path?Q=1'],
  ['url', 'https://example.com:443/a/../b/./c', 'https://example.com/b/c'],
  ['url', 'https://example.com:8443/x', 'https://example.com:8443/x'],
  ['url', 'http://example.com/a?b=c#fragment', 'http://example.com/a?b=c'],
  ['url', 'http://example.com/#', 'http://example.com/'],
  ['url', 'hxxp://evil[.]example/payload.exe', 'http://evil.example/payload.exe'],
  ['url', 'hXXps[:]//evil[.]example/x', 'https://evil.example/x'],
  ['url', 'fxp://files.example/a', 'ftp://files.example/a'],
  ['url', 'ftp://files.example:21/a', 'ftp://files.example/a'],
  ['url', 'http://bücher.de/ä', 'http://xn--bcher-kva.de/%C3%A4'],
  ['url', 'http://[2001:DB8::1]:8080/', 'http://[2001:db8::1]:8080/'],
  ['url', 'http://192.0.2.1/x', 'http://192.0.2.1/x'],
  ['url', 'http://user:pass@example.com/', 'http://user:pass@example.com/'],
  ['url', 'javascript:alert(1)', 'unsupported-scheme'],
  ['url', 'file:///etc/passwd', 'unsupported-scheme'],
  ['url', 'mailto:a@example.com', 'unsupported-scheme'],
  ['url', 'example.com/path', 'invalid-url'],
  ['url', 'http://', 'invalid-url'],
  ['url', 'http://exa mple.com/', 'invalid-url'],
  ['url', 'http://example.com:99999/', 'invalid-url'],
  ['url', `http://example.com/${'é'.repeat(1000)}`, 'too-long'],
  // One identity per URL: the host's trailing dot (the DNS root) goes, as for domains (ADR addendum, normalization v2).
  ['url', 'http://example.com./a', 'http://example.com/a'],
  ['url', 'HTTP://Example.COM.:8080/a', 'http://example.com:8080/a'],
  ['url', 'http://user@localhost./x', 'http://user@localhost/x'],
  ['url', 'http://bücher.de./', 'http://xn--bcher-kva.de/'],
  ['url', 'http://example.com../', 'invalid-url'],
  ['url', 'http://./', 'invalid-url'],
]);

table('hashes', [
  ['md5', 'D41D8CD98F00B204E9800998ECF8427E', 'd41d8cd98f00b204e9800998ecf8427e'],
  ['sha1', ' da39a3ee5e6b4b0d3255bfef95601890afd80709 ', 'da39a3ee5e6b4b0d3255bfef95601890afd80709'],
  ['sha256', 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['md5', 'd41d8cd98f00b204e9800998ecf8427', 'invalid-hash'],
  ['md5', 'd41d8cd98f00b204e9800998ecf8427e0', 'invalid-hash'],
  ['md5', 'g41d8cd98f00b204e9800998ecf8427e', 'invalid-hash'],
  ['sha1', 'd41d8cd98f00b204e9800998ecf8427e', 'invalid-hash'],
  ['sha256', 'da39a3ee5e6b4b0d3255bfef95601890afd80709', 'invalid-hash'],
  ['sha256', 'e3b0c44298fc1c149afbf4c8996fb924 27ae41e4649b934ca495991b7852b855', 'invalid-hash'],
]);

table('email', [
  ['email', 'user@example.com', 'user@example.com'],
  ['email', 'John.Doe@EXAMPLE.COM.', 'John.Doe@example.com'], // local part keeps its case
  ['email', "o'brien+tag@example.com", "o'brien+tag@example.com"],
  ['email', 'phish[at]evil[.]example', 'phish@evil.example'],
  ['email', 'user@bücher.de', 'user@xn--bcher-kva.de'],
  ['email', 'example.com', 'invalid-email'],
  ['email', '@example.com', 'invalid-email'],
  ['email', 'user@', 'invalid-email'],
  ['email', 'user@localhost', 'invalid-email'],
  ['email', '.user@example.com', 'invalid-email'],
  ['email', 'us..er@example.com', 'invalid-email'],
  ['email', '"quoted"@example.com', 'invalid-email'],
  ['email', 'üser@example.com', 'invalid-email'],
  ['email', 'a b@example.com', 'invalid-email'],
  ['email', 'a@b@example.com', 'invalid-email'],
  ['email', `${'a'.repeat(65)}@example.com`, 'invalid-email'],
  ['email', `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}.com`, 'too-long'],
]);

describe('rejections', () => {
  test('an unknown type is rejected, not thrown', () => {
    const r = normalize('ftp-site' as IndicatorType, 'x');
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.rejection.reason, 'unknown-type');
  });
  test('a non-string value from an untyped feed is rejected, not thrown', () => {
    for (const raw of [42, null, undefined, { a: 1 }]) {
      const r = normalize('ipv4', raw as unknown as string);
      assert.ok(!r.ok && r.rejection.reason === 'not-a-string', JSON.stringify(raw) ?? 'undefined');
    }
  });
  test('the rejection carries the raw input, truncated when huge', () => {
    const r = normalize('md5', 'nothex');
    assert.ok(!r.ok && r.rejection.input === 'nothex');
    const big = normalize('domain', 'a'.repeat(5000));
    assert.ok(!big.ok && big.rejection.input.length === 257);
  });
  test('every reason is kebab-case', () => {
    for (const r of REJECT_REASONS) assert.match(r, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  });
});

describe('isIndicatorType', () => {
  test('accepts exactly the listed types', () => {
    for (const t of INDICATOR_TYPES) assert.equal(isIndicatorType(t), true);
    for (const t of ['', 'IPV4', 'ip', 'hash', 'toString', '__proto__']) assert.equal(isIndicatorType(t), false);
  });
});

describe('detectType', () => {
  const rows: readonly (readonly [string, IndicatorType | undefined])[] = [
    ['192.0.2.1', 'ipv4'],
    [' 192.0.2[.]1 ', 'ipv4'],
    ['1.2.3', 'ipv4'], // detected as ipv4 so the rejection says "ambiguous"
    ['2001:db8::1', 'ipv6'],
    ['::ffff:192.0.2.1', 'ipv6'],
    ['fe80::1%eth0', 'ipv6'], // detected, then refused by normalize with a zone-id message
    ['10.0.0.0/8', 'cidr'],
    ['2001:db8::/32', 'cidr'],
    ['http://example.com/x', 'url'],
    ['hxxp://evil[.]example', 'url'],
    ['ftp://a.example', 'url'],
    ['user@example.com', 'email'],
    ['user[at]example[.]com', 'email'],
    ['example.com', 'domain'],
    ['evil[.]example', 'domain'],
    ['d41d8cd98f00b204e9800998ecf8427e', 'md5'],
    ['DA39A3EE5E6B4B0D3255BFEF95601890AFD80709', 'sha1'],
    ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'sha256'],
    ['', undefined],
    ['hello', undefined],
    ['example.com/path', undefined],
    ['not:an:address:zz', undefined],
    ['d41d8cd98f00b204e9800998ecf8427', undefined],
  ];
  for (const [raw, expected] of rows) test(`${JSON.stringify(raw)} → ${expected ?? 'undefined'}`, () => assert.equal(detectType(raw), expected));
});

describe('feeds agree', () => {
  test('different raw spellings of one indicator normalize to the same value', () => {
    const groups: readonly (readonly [IndicatorType, readonly string[]])[] = [
      ['domain', ['EXAMPLE.com.', 'example.com', ' example[.]com ', 'Example(dot)Com']],
      ['ipv6', ['2001:DB8::1', '2001:0db8:0:0:0:0:0:1', '2001:db8:0::0:1']],
      ['url', ['HTTP://Example.com:80/a?b#c', 'hxxp://example[.]com/a?b', 'http://example.com/x/../a?b']],
    ];
    for (const [type, raws] of groups) {
      const values = new Set(raws.map((r) => { const n = normalize(type, r); return n.ok ? n.indicator.value : `rejected ${r}`; }));
      assert.equal(values.size, 1, `${type}: ${[...values].join(' | ')}`);
    }
  });
});

const group = fc.integer({ min: 0, max: 0xffff });
const sparseGroup = fc.oneof(fc.constant(0), fc.constant(0), group);
const groups8 = fc.array(sparseGroup, { minLength: 8, maxLength: 8 });

function fullForm(gs: readonly number[], pad: boolean, upper: boolean): string {
  const text = gs.map((g) => (pad ? g.toString(16).padStart(4, '0') : g.toString(16))).join(':');
  return upper ? text.toUpperCase() : text;
}

describe('properties', () => {
  test('IPv4: every address round-trips through its dotted quad', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
      const text = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
      const r = normalize('ipv4', text);
      assert.ok(r.ok && r.indicator.value === text);
    }));
  });

  test('IPv4: a leading zero in any octet is always ambiguous', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 3 }), (octets, k) => {
      const text = octets.map((o, i) => (i === k ? `0${o}` : String(o))).join('.');
      const r = normalize('ipv4', text);
      assert.ok(!r.ok && r.rejection.reason === 'ambiguous-ipv4');
    }));
  });

  test('IPv6: normalize is idempotent, keeps the address, and matches the WHATWG serializer', () => {
    fc.assert(fc.property(groups8, fc.boolean(), fc.boolean(), (gs, pad, upper) => {
      const r = normalize('ipv6', fullForm(gs, pad, upper));
      assert.ok(r.ok);
      const value = r.indicator.value;
      const back = parseIpv6(value);
      assert.ok(back.ok);
      assert.deepEqual(back.groups, gs, 'same address');
      const again = normalize('ipv6', value);
      assert.ok(again.ok && again.indicator.value === value, 'idempotent');
      // WHATWG compresses exactly like RFC 5952 but never writes a dotted tail.
      const whatwg = new URL(`http://[${value}]/`).hostname.slice(1, -1);
      const mapped = value.startsWith('::ffff:') && value.includes('.');
      if (!mapped) assert.equal(value, whatwg);
      assert.equal(value, value.toLowerCase());
    }));
  });

  test('CIDR: the network contains the input and host bits are clear', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (n, prefix) => {
      const text = `${[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')}/${prefix}`;
      const r = normalize('cidr', text);
      assert.ok(r.ok);
      const size = 2 ** (32 - prefix);
      const network = Math.floor(n / size) * size; // arithmetic, independent of the bit masks in ip.ts
      const expected = [Math.floor(network / 2 ** 24), Math.floor(network / 2 ** 16) % 256, Math.floor(network / 256) % 256, network % 256].join('.');
      assert.equal(r.indicator.value, `${expected}/${prefix}`);
      const again = normalize('cidr', r.indicator.value, { cidrHostBits: 'reject' });
      assert.ok(again.ok && again.indicator.value === r.indicator.value);
    }));
  });

  test('domain: normalization is idempotent for random LDH names', () => {
    const label = fc.stringMatching(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?$/);
    fc.assert(fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), fc.stringMatching(/^[a-z]{2,6}$/), fc.boolean(), (labels, tld, dot) => {
      const raw = `${labels.join('.')}.${tld}${dot ? '.' : ''}`;
      const r = normalize('domain', raw);
      assert.ok(r.ok, raw);
      assert.equal(r.indicator.value, raw.toLowerCase().replace(/\.$/, ''));
    }));
  });

  test('URLs and domains from generators normalize idempotently', () => {
    fc.assert(fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), fc.domain(), (url, domain) => {
      for (const [type, raw] of [['url', url], ['domain', domain]] as const) {
        const r = normalize(type, raw);
        assert.ok(r.ok, `${raw}: ${r.ok ? '' : r.rejection.message}`);
        const again = normalize(type, r.indicator.value);
        assert.ok(again.ok && again.indicator.value === r.indicator.value);
        if (type === 'url') assert.ok(!r.indicator.value.includes('#'), 'fragment dropped');
      }
    }));
  });

  test('normalize never throws on arbitrary input', () => {
    fc.assert(fc.property(fc.constantFrom(...INDICATOR_TYPES), fc.string({ maxLength: 80, unit: 'binary' }), (type, raw) => {
      const r = normalize(type, raw);
      if (r.ok) {
        const again = normalize(type, r.indicator.value);
        assert.ok(again.ok && again.indicator.value === r.indicator.value, `idempotent: ${JSON.stringify(raw)}`);
      }
    }), { numRuns: 2000 });
  });
});

describe('lone UTF-16 surrogates never reach a normalized value (it is hashed as canonical JSON)', () => {
  const inputs = ['a\ud800.example.net', 'http://a.example.net/\ud800', 'http://a.example.net/?q=\udc00', 'http://u\ud800@a.example.net/', 'x\ud800@a.example.net', '1.2.3.4\ud800', '\udfff'];
  for (const type of INDICATOR_TYPES) {
    test(type, () => {
      for (const raw of inputs) {
        const r = normalize(type, raw);
        assert.ok(!r.ok || r.indicator.value.isWellFormed(), `${type} ${JSON.stringify(raw)} → ${r.ok ? JSON.stringify(r.indicator.value) : r.rejection.reason}`);
      }
    });
  }
});

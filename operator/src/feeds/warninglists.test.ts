import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalize, type IndicatorType } from '../domain/indicator.ts';
import { buildWarningList, loadWarningLists } from './warninglists.ts';
import { FeedError } from './types.ts';

describe('shipped warning lists', () => {
  const cases: Array<[IndicatorType, string, string | undefined]> = [
    ['ipv4', '10.1.2.3', 'reserved-ip'],
    ['ipv4', '172.31.255.255', 'reserved-ip'],
    ['ipv4', '172.32.0.1', undefined],
    ['ipv4', '192.168.0.1', 'reserved-ip'],
    ['ipv4', '100.64.0.1', 'reserved-ip'],
    ['ipv4', '127.0.0.1', 'reserved-ip'],
    ['ipv4', '169.254.169.254', 'reserved-ip'],
    ['ipv4', '198.51.100.7', 'reserved-ip'],
    ['ipv4', '224.0.0.251', 'reserved-ip'],
    ['ipv4', '255.255.255.255', 'reserved-ip'],
    ['ipv4', '8.8.8.8', 'public-resolver'],
    ['ipv4', '1.1.1.1', 'public-resolver'],
    ['ipv4', '9.9.9.9', 'public-resolver'],
    ['ipv4', '208.67.222.222', 'public-resolver'],
    ['ipv4', '8.8.8.9', undefined],
    ['ipv4', '51.178.161.32', undefined],
    ['ipv6', '::1', 'reserved-ip'],
    ['ipv6', 'fe80::1', 'reserved-ip'],
    ['ipv6', 'fd00::1', 'reserved-ip'],
    ['ipv6', '2001:db8::1', 'reserved-ip'],
    ['ipv6', '::ffff:192.0.2.1', 'reserved-ip'],
    ['ipv6', '2001:4860:4860::8888', 'public-resolver'],
    ['ipv6', '2001:41d0:303:4b5b::1', undefined],
    ['cidr', '10.0.0.0/16', 'reserved-ip'],
    ['cidr', '0.0.0.0/0', 'reserved-ip'],
    ['cidr', '8.0.0.0/8', 'public-resolver'],
    ['cidr', '1.10.16.0/20', undefined],
    // First octets without a listed network are answered without parsing, but only for /8 or longer.
    ['cidr', '11.0.0.0/8', undefined],
    ['cidr', '11.0.0.0/9', undefined],
    ['cidr', '10.0.0.0/7', 'reserved-ip'],
    ['cidr', '64.0.0.0/2', 'reserved-ip'],
    ['cidr', '96.0.0.0/3', 'reserved-ip'],
    ['domain', 'google.com', 'top-domain'],
    ['domain', 'mail.google.com', 'top-domain'],
    ['domain', 'notgoogle.com', undefined],
    ['domain', 'evil.blogspot.com', undefined],
    ['domain', 'printer.local', 'special-domain'],
    ['domain', 'www.example.com', 'special-domain'],
    ['url', 'http://10.0.0.5/payload.sh', 'reserved-ip'],
    ['url', 'http://[fe80::1]/x', 'reserved-ip'],
    ['url', 'http://localhost:8080/x', 'special-domain'],
    ['url', 'https://drive.google.com/file/d/1/view', undefined],
    ['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'known-good-hash'],
    ['md5', 'b1946ac92492d2347c6235b4d2611184', undefined],
    ['email', 'billing@paypa1-verify.com', undefined],
  ];
  for (const [type, raw, want] of cases) {
    test(`${type} ${raw} → ${want ?? 'allowed'}`, async () => {
      const wl = await loadWarningLists();
      const n = normalize(type, raw);
      assert.ok(n.ok, raw);
      assert.equal(wl.match(n.indicator), want);
    });
  }
});

describe('extra allowlist entries', () => {
  test('IPs, CIDRs, domains with subdomains and exact values', async () => {
    const wl = await loadWarningLists(['203.0.112.0/24', 'partner.example-corp.net', 'https://intranet.example-corp.org/x', '51.178.161.32']);
    const m = (type: IndicatorType, v: string): string | undefined => {
      const n = normalize(type, v);
      assert.ok(n.ok);
      return wl.match(n.indicator);
    };
    assert.equal(m('ipv4', '203.0.112.9'), 'allowlist');
    assert.equal(m('cidr', '203.0.112.128/25'), 'allowlist');
    assert.equal(m('domain', 'vpn.partner.example-corp.net'), 'allowlist');
    assert.equal(m('url', 'https://intranet.example-corp.org/x'), 'allowlist');
    assert.equal(m('url', 'https://intranet.example-corp.org/y'), undefined);
    assert.equal(m('ipv4', '51.178.161.32'), 'allowlist');
  });

  test('named allowlists report drops under their own name; the first list holding an entry wins', async () => {
    const wl = await loadWarningLists(['51.178.161.32'], [
      { name: 'allowlist:corp', entries: ['203.0.112.0/24', 'corp.example-corp.net', 'https://intranet.example-corp.org/x', '51.178.161.32'] },
      { name: 'allowlist:other', entries: ['203.0.112.7', 'corp.example-corp.net', '2001:db8:1::/48'] },
    ]);
    const cases: Array<[IndicatorType, string, string | undefined]> = [
      ['ipv4', '51.178.161.32', 'allowlist'],
      ['ipv4', '203.0.112.7', 'allowlist:corp'],
      ['cidr', '203.0.112.128/25', 'allowlist:corp'],
      ['domain', 'vpn.corp.example-corp.net', 'allowlist:corp'],
      ['url', 'https://intranet.example-corp.org/x', 'allowlist:corp'],
      ['ipv4', '93.184.216.34', undefined],
    ];
    for (const [type, v, want] of cases) {
      const n = normalize(type, v);
      assert.ok(n.ok);
      assert.equal(wl.match(n.indicator), want, `${type} ${v}`);
    }
  });

  test('a bad entry in a named allowlist names the list', () => {
    assert.throws(
      () => buildWarningList({ reservedCidrs: [], resolvers: [], specialDomains: [], topDomains: [], knownGoodHashes: [], allowLists: [{ name: 'allowlist:corp', entries: ['not valid!'] }] }),
      (e: unknown) => e instanceof FeedError && e.code === 'bad-config' && e.message.startsWith('allowlist:corp entry "not valid!"'),
    );
  });

  test('a bad entry is a configuration error', () => {
    assert.throws(() => buildWarningList({ reservedCidrs: [], resolvers: [], specialDomains: [], topDomains: [], knownGoodHashes: [], allow: ['not valid!'] }), (e: unknown) => e instanceof FeedError && e.code === 'bad-config');
    assert.throws(() => buildWarningList({ reservedCidrs: ['10.0.0.0/99'], resolvers: [], specialDomains: [], topDomains: [], knownGoodHashes: [] }), (e: unknown) => e instanceof FeedError);
  });
});

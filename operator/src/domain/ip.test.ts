import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatIpv4, formatIpv6, ipv4Mask, ipv6ClearHostBits, parseCidr, parseIpv4, parseIpv6 } from './ip.ts';

describe('parseIpv4', () => {
  test('parses a slice of a longer string', () => {
    const r = parseIpv4('x192.0.2.1/24', 1, 10);
    assert.ok(r.ok && formatIpv4(r.address) === '192.0.2.1');
  });
  test('returns unsigned addresses', () => {
    const r = parseIpv4('255.255.255.255');
    assert.ok(r.ok && r.address === 0xffffffff);
  });
  test('classifies failures', () => {
    const rows: readonly (readonly [string, string])[] = [
      ['1.2.3', 'ambiguous'], ['0x1.2.3.4', 'ambiguous'], ['1.2.3.00', 'ambiguous'], ['4294967295', 'ambiguous'],
      ['1.2.3.256', 'invalid'], ['a.b.c.d', 'invalid'], ['1.2.3.4.5', 'invalid'], ['.1.2.3', 'invalid'], ['', 'invalid'],
    ];
    for (const [s, failure] of rows) {
      const r = parseIpv4(s);
      assert.ok(!r.ok && r.failure === failure, `${s}: ${r.ok ? 'accepted' : r.failure}`);
    }
  });
});

describe('formatIpv6 (RFC 5952 §4 examples)', () => {
  const rows: readonly (readonly [readonly number[], string])[] = [
    [[0x2001, 0xdb8, 0, 0, 0, 0, 2, 1], '2001:db8::2:1'],
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'], // §4.2.2: one zero group stays
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'], // §4.2.3: the longest run
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'], // §4.2.3: the first of equal runs
    [[0x2001, 0xdb8, 0xaaaa, 0xbbbb, 0xcccc, 0xdddd, 0xeeee, 0xaaaa], '2001:db8:aaaa:bbbb:cccc:dddd:eeee:aaaa'],
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0xffff, 0xc000, 0x280], '::ffff:192.0.2.128'], // §5
    [[0, 0, 0, 0, 0, 0, 0xc000, 0x280], '::c000:280'],
  ];
  for (const [groups, text] of rows) test(text, () => assert.equal(formatIpv6(groups), text));
});

describe('parseIpv6', () => {
  test('every formatted address parses back to the same groups', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }), (groups) => {
      const r = parseIpv6(formatIpv6(groups));
      assert.ok(r.ok);
      assert.deepEqual(r.groups, groups);
    }));
  });
  test('explains the problem', () => {
    const r = parseIpv6('fe80::1%eth0');
    assert.ok(!r.ok && r.message.includes('zone'));
  });
});

describe('CIDR helpers', () => {
  test('parseCidr reads the family from the address', () => {
    const v4 = parseCidr('10.0.0.0/8');
    assert.ok(v4.ok && v4.family === 4 && v4.prefix === 8);
    const v6 = parseCidr('::/0');
    assert.ok(v6.ok && v6.family === 6 && v6.prefix === 0);
    const host = parseCidr('::1');
    assert.ok(host.ok && host.prefix === 128);
  });
  test('ipv4Mask', () => {
    assert.equal(ipv4Mask(0), 0);
    assert.equal(ipv4Mask(1), 0x80000000);
    assert.equal(ipv4Mask(24), 0xffffff00);
    assert.equal(ipv4Mask(32), 0xffffffff);
  });
  test('ipv6ClearHostBits', () => {
    const all = [0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff];
    assert.deepEqual(ipv6ClearHostBits(all, 0), [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ipv6ClearHostBits(all, 20), [0xffff, 0xf000, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(ipv6ClearHostBits(all, 128), all);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr } from './ip.ts';
import { NetTableBuilder, type NetTable } from './nettable.ts';

function table(nets: readonly string[], big = false): NetTable {
  const b = new NetTableBuilder();
  nets.forEach((n, id) => {
    const c = parseCidr(n);
    if (!c.ok) throw new Error(n);
    if (c.family === 4) b.addV4(c.address, c.prefix, id);
    else b.addV6(c.groups, c.prefix, id);
  });
  // Pads the table past the small-table size, so the /24 filter is used.
  if (big) for (let i = 0; i < 70_000; i++) b.addV4((0xc6000000 + i * 256) >>> 0, 32, 1000 + i);
  return b.build();
}

function lookup(t: NetTable, addr: string): number {
  const c = parseCidr(addr);
  if (!c.ok) throw new Error(addr);
  return c.family === 4 ? t.lookupV4(c.address) : t.lookupV6(c.groups);
}

const NETS = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3', '192.0.2.0/24', '2001:db8::/32', '2001:db8:1::/48', '2001:db8:1::5', '0.0.0.0/0', '203.0.113.7', '203.0.113.7/32'];

for (const big of [false, true]) {
  test(`longest prefix wins (${big ? '/24' : '/16'} filter)`, () => {
    const t = table(NETS.filter((n) => n !== '0.0.0.0/0'), big);
    const cases: Array<[string, number]> = [
      ['10.1.2.3', 2], ['10.1.2.4', 1], ['10.2.0.1', 0], ['192.0.2.255', 3], ['192.0.3.1', -1], ['11.0.0.1', -1],
      ['2001:db8:1::5', 6], ['2001:db8:1::6', 5], ['2001:db8:2::1', 4], ['2001:db9::1', -1],
      ['::ffff:10.1.2.3', 2], ['::ffff:8.8.8.8', -1], ['203.0.113.7', 7],
    ];
    for (const [addr, want] of cases) assert.equal(lookup(t, addr), want, addr);
  });
}

test('a /0 network holds every IPv4 address; duplicates keep the first id', () => {
  const t = table(NETS);
  assert.equal(lookup(t, '8.8.8.8'), 7);
  assert.equal(lookup(t, '10.1.2.3'), 2);
  assert.equal(lookup(t, '203.0.113.7'), 8, 'the bare address and its /32 are one network: the first id');
  assert.equal([...t.v4()].length, NETS.filter((n) => !n.includes(':')).length - 1);
});

test('overlaps: contains a network or lies inside one', () => {
  const t = table(['10.1.0.0/16', '2001:db8:1::/48', '192.0.2.255/32', '198.51.100.0/32', '255.255.255.255/32']);
  const cases: Array<[number, string, boolean]> = [
    [4, '10.0.0.0/8', true], [4, '10.1.2.0/24', true], [4, '10.2.0.0/16', false],
    // A network of the table at the last or the first address of the query, or just outside it.
    [4, '192.0.2.0/24', true], [4, '192.0.3.0/24', false], [4, '198.51.100.0/24', true], [4, '198.51.99.0/24', false],
    [4, '255.255.255.0/24', true], [4, '0.0.0.0/0', true], [4, '11.0.0.0/8', false],
    [6, '2001:db8::/32', true], [6, '2001:db8:1:2::/64', true], [6, '2001:db8:2::/48', false],
  ];
  for (const [fam, cidr, want] of cases) {
    const c = parseCidr(cidr);
    if (!c.ok) throw new Error(cidr);
    assert.equal(c.family === 4 && fam === 4 ? t.overlapsV4(c.address, c.prefix) : c.family === 6 ? t.overlapsV6(c.groups, c.prefix) : false, want, cidr);
  }
});

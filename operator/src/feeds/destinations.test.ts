import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { destinationPolicy, guardedLookup, hostRefusal } from './destinations.ts';
import { FeedError } from './types.ts';

describe('destination policy', () => {
  // address, refused without an allowance (and what the message names)
  const cases: Array<[string, RegExp | undefined]> = [
    ['127.0.0.1', /loopback/],
    ['127.200.3.4', /loopback/],
    ['10.1.2.3', /private/],
    ['172.31.255.255', /private/],
    ['192.168.1.1', /private/],
    ['169.254.169.254', /link-local, home of the cloud metadata service/],
    ['100.64.0.1', /shared address space/],
    ['0.0.0.0', /unspecified/],
    ['224.0.0.251', /multicast/],
    ['255.255.255.255', /reserved or broadcast/],
    ['::1', /loopback/],
    ['::', /unspecified/],
    ['fe80::1', /link-local/],
    ['fd00:ec2::254', /unique-local/],
    ['ff02::1', /multicast/],
    ['::ffff:127.0.0.1', /IPv4-mapped form of an IPv4 address that is loopback/],
    ['::ffff:a9fe:a9fe', /IPv4-mapped form .* cloud metadata/],
    ['::127.0.0.1', /IPv4-compatible form .* loopback/],
    ['64:ff9b::a00:1', /NAT64 form .* private/],
    ['2002:a9fe:a9fe::1', /6to4 form .* cloud metadata/],
    ['172.32.0.1', undefined],
    ['8.8.8.8', undefined],
    ['2001:4860:4860::8888', undefined],
    ['::ffff:8.8.8.8', undefined],
    ['2002:808:808::1', undefined],
  ];
  const policy = destinationPolicy();
  for (const [ip, want] of cases) {
    test(`${ip}: ${want === undefined ? 'allowed' : 'refused'}`, () => {
      const why = policy.refusal(ip);
      if (want === undefined) assert.equal(why, undefined);
      else assert.match(why ?? '', want);
    });
  }

  test('an allowance admits exactly its CIDRs, also through an embedding IPv6 form', () => {
    const p = destinationPolicy(['127.0.0.1/32', '10.20.0.0/16', 'fd00:1::/32']);
    assert.deepEqual(['127.0.0.1', '::ffff:127.0.0.1', '10.20.9.9', 'fd00:1::5'].map((ip) => p.refusal(ip)), [undefined, undefined, undefined, undefined]);
    assert.deepEqual(['127.0.0.2', '10.21.0.1', '169.254.169.254', 'fd00:2::5', '::1'].map((ip) => p.refusal(ip) === undefined), [false, false, false, false, false]);
  });

  test('a malformed allowance is a configuration error naming the flag', () => {
    assert.throws(() => destinationPolicy(['10.0.0.0/33']), (e: unknown) => e instanceof FeedError && e.code === 'bad-config' && /--allow-internal-feeds: "10.0.0.0\/33"/.test(e.message));
  });

  test('host literals are refused before connecting; names are left to the guarded lookup', () => {
    assert.equal(hostRefusal(policy, '[::1]')?.code, 'forbidden-destination');
    assert.equal(hostRefusal(policy, '169.254.169.254')?.code, 'forbidden-destination');
    assert.equal(hostRefusal(policy, 'feeds.example.org'), undefined);
  });

  test('the guarded lookup refuses a name whose address is internal (localhost)', async () => {
    const err = await new Promise<Error | null>((resolve) => guardedLookup(policy)('localhost', { all: true }, (e) => resolve(e)));
    assert.ok(err instanceof FeedError && err.code === 'forbidden-destination', String(err));
    assert.match(err.message, /refusing to connect to localhost: its address .* is loopback/);
  });
});

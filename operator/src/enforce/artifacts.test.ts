import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OBJECT_SIZE_LIMIT } from '../api/schemas/enforcementpolicy.ts';
import { ArtifactIndex, takeLimited } from './artifacts.ts';
import { CidrShards, planCilium, type CiliumInput } from './cilium.ts';
import { ipKey, mapContent } from './haproxytarget.ts';
import { chunkLines, parseMapList, parsePreparedVersion, parseRuntimeAddress } from './haproxy/runtime.ts';
import type { Candidate } from './select.ts';
import { publicIpv4 } from './testing.ts';

function cand(key: string, confidence = 50, logIndex = 0, kind: Candidate['kind'] = key.includes('/') ? 'cidr' : 'domain'): Candidate {
  return { digest: `${key}-digest`.padEnd(64, '0'), kind, key, confidence, logIndex, validUntil: undefined };
}

describe('ArtifactIndex', () => {
  test('one entry per key, named by the best indicator; keys changed are reported once', () => {
    const a = cand('11.1.1.7/32', 90, 1);
    const b = { ...cand('11.1.1.7/32', 40, 2), digest: 'b'.repeat(64) };
    const x = ArtifactIndex.from([a, b, cand('evil.xyz', 70, 3)]);
    assert.deepEqual([x.size('cidr'), x.size('domain'), x.takeDirty('cidr')], [1, 1, []]);
    assert.equal(x.entry('cidr', '11.1.1.7/32')?.confidence, 90);
    x.apply([{ before: a, after: undefined }]);
    assert.equal(x.entry('cidr', '11.1.1.7/32')?.digest, 'b'.repeat(64), 'the next best takes over');
    x.apply([{ before: b, after: undefined }, { before: undefined, after: cand('12.0.0.0/8', 10, 4) }]);
    assert.equal(x.entry('cidr', '11.1.1.7/32'), undefined);
    assert.deepEqual(x.takeDirty('cidr').sort(), ['11.1.1.7/32', '12.0.0.0/8']);
    assert.deepEqual(x.takeDirty('cidr'), []);
    assert.deepEqual(x.entries('cidr').map((e) => e.key), ['12.0.0.0/8']);
  });
  const e = (key: string, confidence: number, logIndex: number): { key: string; digest: string; confidence: number; logIndex: number } => ({ key, digest: '', confidence, logIndex });
  test('takeLimited keeps everything that fits, else the highest confidence, then the newest', () => {
    const all = [e('c', 50, 1), e('a', 90, 0), e('b', 50, 7)];
    assert.deepEqual(takeLimited(all, 3), { entries: all, leftOut: 0 });
    const r = takeLimited(all, 2);
    assert.deepEqual([r.entries.map((x) => x.key), r.leftOut], [['a', 'b'], 1]);
  });
});

describe('Cilium shards', () => {
  const base: CiliumInput = { base: 'threatmesh-ns-p', id: 'abc', owner: 'ns/p', cidrs: [], enforce: true, matchLabels: {}, maxCidrsPerGroup: 20_000, maxGroupBytes: 512 * 1024 };

  test('no CIDR means no group and, above all, no deny policy (an empty toCIDRSet must never exist)', () => {
    assert.deepEqual(planCilium(base), { groups: [], policy: undefined });
  });

  test('LogOnly writes the groups but no policy', () => {
    const p = planCilium({ ...base, cidrs: ['11.0.0.1/32'], enforce: false });
    assert.equal(p.groups.length, 1);
    assert.equal(p.policy, undefined);
  });

  test('the policy never switches endpoints to default-deny and references every shard', () => {
    const p = planCilium({ ...base, cidrs: Array.from({ length: 50_000 }, (_, i) => `${publicIpv4(i)}/32`) });
    const spec = p.policy?.object.spec as { enableDefaultDeny: unknown; egressDeny: Array<{ toCIDRSet: Array<{ cidrGroupRef: string }> }> };
    assert.deepEqual(spec.enableDefaultDeny, { egress: false, ingress: false });
    assert.deepEqual(spec.egressDeny[0]?.toCIDRSet.map((r) => r.cidrGroupRef).sort(), p.groups.map((g) => g.object.metadata.name).sort());
  });

  test('a huge set never produces an object over the limits (measured serialized size)', () => {
    // 300k of the longest CIDR strings there are: full IPv6 /128s, plus IPv4.
    const v6 = Array.from({ length: 150_000 }, (_, i) => `2a0${i % 10}:${(i * 7919).toString(16).padStart(4, 'f')}:ffff:ffff:ffff:ffff:${(i >>> 16).toString(16).padStart(4, 'e')}:${(i & 0xffff).toString(16).padStart(4, 'e')}/128`);
    const v4 = Array.from({ length: 150_000 }, (_, i) => `${publicIpv4(i)}/32`);
    for (const maxGroupBytes of [64 * 1024, 512 * 1024, 900 * 1024]) {
      const p = planCilium({ ...base, cidrs: [...v6, ...v4], maxGroupBytes });
      const total = p.groups.reduce((n, g) => n + g.entries, 0);
      assert.equal(total, 300_000, 'every CIDR lands in exactly one shard');
      for (const g of p.groups) {
        assert.ok(g.bytes <= maxGroupBytes, `${g.object.metadata.name}: ${g.bytes} > ${maxGroupBytes}`);
        assert.equal(g.bytes, Buffer.byteLength(JSON.stringify(g.object)));
        assert.ok(g.entries <= 20_000);
      }
      assert.ok((p.policy?.bytes ?? 0) < OBJECT_SIZE_LIMIT / 4);
    }
  });

  test('one more CIDR changes one shard, not all of them (stable hashing)', () => {
    const cidrs = Array.from({ length: 40_000 }, (_, i) => `${publicIpv4(i)}/32`);
    const a = planCilium({ ...base, cidrs });
    const b = planCilium({ ...base, cidrs: [...cidrs, '99.99.99.99/32'] });
    assert.equal(a.groups.length, b.groups.length);
    const changed = a.groups.filter((g, i) => JSON.stringify(g.object) !== JSON.stringify(b.groups[i]?.object));
    assert.equal(changed.length, 1);
  });

  test('following changes key by key gives the same shards as building from scratch', () => {
    const { cidrs: _c, enforce: _e, ...settings } = base;
    const all = Array.from({ length: 30_000 }, (_, i) => `${publicIpv4(i)}/32`);
    const shards = CidrShards.build(settings, all.slice(0, 29_000));
    assert.ok(shards.update([...all.slice(29_000).map((c) => [c, true] as const), [all[0] ?? '', false]]));
    const want = planCilium({ ...base, cidrs: all.slice(1) });
    const got = shards.plan(true);
    assert.equal(shards.count, 2);
    assert.deepEqual(got.groups.map((g) => g.object), want.groups.map((g) => g.object));
    assert.deepEqual(got.policy?.object, want.policy?.object);
  });

  test('a shard that would break a limit makes update report false (the caller re-shards)', () => {
    const { cidrs: _c, enforce: _e, ...settings } = base;
    const shards = CidrShards.build({ ...settings, maxCidrsPerGroup: 10 }, ['11.0.0.1/32']);
    assert.equal(shards.update(Array.from({ length: 40 }, (_, i) => [`${publicIpv4(i + 5)}/32`, true] as const)), false);
  });

  test('an impossible budget is a clear error', () => {
    assert.throws(() => planCilium({ ...base, cidrs: ['11.0.0.1/32'], maxGroupBytes: 10 }), /raise maxGroupBytes/);
  });
});

describe('HAProxy maps and runtime API text', () => {
  test('map content: bare addresses for host routes, digest prefixes as values, limits', () => {
    const c = mapContent([{ key: 'evil.xyz', digest: 'ab'.repeat(32), confidence: 0, logIndex: 0 }], [{ key: '11.0.0.1/32', digest: 'cd'.repeat(32), confidence: 9, logIndex: 0 }, { key: '11.2.0.0/16', digest: 'ef'.repeat(32), confidence: 0, logIndex: 1 }], 1);
    assert.deepEqual([...c.hosts], [['evil.xyz', 'abababababababab']]);
    assert.deepEqual([...c.ips], [['11.0.0.1', 'cdcdcdcdcdcdcdcd']]);
    assert.equal(c.leftOut, 1);
    assert.equal(ipKey('2a00::1/128'), '2a00::1');
  });

  test('show map lines parse', () => {
    const text = "# id (file) description\n0 (/etc/haproxy/maps/a.map) pattern loaded from file '/etc/haproxy/maps/a.map' used by map at file 'h.cfg' line 11. curr_ver=1 next_ver=3 entry_cnt=2\n\n";
    assert.deepEqual(parseMapList(text), [{ id: 0, file: '/etc/haproxy/maps/a.map', currentVersion: 1, nextVersion: 3, entries: 2 }]);
    assert.equal(parsePreparedVersion('New version created: 7\n\n'), 7);
    assert.equal(parsePreparedVersion('Unknown map identifier.'), undefined);
  });

  test('payload chunks stay under the request budget', () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `${publicIpv4(i)} 0123456789abcdef`);
    const chunks = chunkLines(lines, 60, 12_000);
    assert.equal(chunks.flat().length, 5000);
    for (const c of chunks) assert.ok(60 + Buffer.byteLength(c.join('\n')) + 1 <= 12_000);
  });

  const addresses: Array<[string, string]> = [
    ['unix:/var/run/haproxy/admin.sock', 'unix /var/run/haproxy/admin.sock'],
    ['tcp:127.0.0.1:9999', 'tcp 127.0.0.1 9999'],
    ['tcp:[::1]:9999', 'tcp ::1 9999'],
    ['tcp:haproxy.threatmesh-system.svc:9999', 'tcp haproxy.threatmesh-system.svc 9999'],
  ];
  for (const [text, want] of addresses) {
    test(`runtime address ${text}`, () => {
      const a = parseRuntimeAddress(text);
      assert.equal(a.kind === 'unix' ? `unix ${a.path}` : `tcp ${a.host} ${a.port}`, want);
    });
  }
  for (const bad of ['/var/run/admin.sock', 'tcp:host', 'tcp:host:0', 'http://x:1']) {
    test(`runtime address ${bad} is refused with the accepted forms`, () => assert.throws(() => parseRuntimeAddress(bad), /unix:<absolute socket path> or tcp:<host>:<port>/));
  }
});

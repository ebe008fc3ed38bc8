import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PartnerNode, PartnerNodeSpec } from './types.ts';
import { createValidators, validatorFor } from './validate.ts';
import { partner } from '../controllers/fixtures.ts';
import { fingerprintOfHex, networkDirectory, partnerEntry } from './partners.ts';

const validator = validatorFor(createValidators(), 'PartnerNode');

function node(name: string, spec: Partial<PartnerNodeSpec> = {}): PartnerNode {
  const p = partner(spec.partnerId ?? name, spec).node;
  return { ...p, metadata: { ...p.metadata, name } };
}

const alpha = node('alpha', { roles: ['contributor', 'voter'] });
const bravo = node('bravo', { roles: ['voter'], tls: { pinnedCertSha256: 'ab'.repeat(32) } });
const hub = node('hub', { roles: ['sequencer'] });

describe('networkDirectory (what the sequencer and every partner trust)', () => {
  test('partners by id with roles and pins; sequencers apart', () => {
    const dir = networkDirectory([hub, bravo, alpha], validator);
    assert.deepEqual(dir.partners.map((p) => [p.entry.partnerId, [...p.entry.roles], p.entry.certFingerprint256]), [['alpha', ['contributor', 'voter'], undefined], ['bravo', ['voter'], fingerprintOfHex('ab'.repeat(32))]]);
    assert.deepEqual(dir.sequencers.map((s) => s.node.metadata.name), ['hub']);
    assert.deepEqual(dir.skipped, []);
  });

  // A hostile or careless cluster admin adds PartnerNodes; none of these may add a vote.
  const hostile: Array<[string, PartnerNode[], string[], Array<[string, RegExp]>]> = [
    ['a second PartnerNode reusing a voter key under a new id: both claims are left out', [alpha, node('alpha-sock', { publicKey: alpha.spec.publicKey })], [], [['alpha', /same public key as alpha-sock/], ['alpha-sock', /same public key as alpha/]]],
    ['the same partner twice with the same key counts once', [alpha, node('alpha-copy', { partnerId: 'alpha', publicKey: alpha.spec.publicKey })], ['alpha'], []],
    ['one id with two keys is ambiguous: left out', [alpha, node('alpha-rekeyed', { partnerId: 'alpha' })], [], [['alpha', /claimed by 2 PartnerNodes with different public keys/]]],
    ['an object the schema refuses (written around the API server validation) is skipped', [alpha, node('broken', { endpoint: 'no port' })], ['alpha'], [['broken', /invalid PartnerNode: .*endpoint/]]],
    ['a key that is not Ed25519 raw 32 bytes is skipped', [alpha, node('badkey', { publicKey: `${'A'.repeat(42)}B=` })], ['alpha'], [['badkey', /publicKey must be a raw 32-byte Ed25519 key/]]],
    ['an object being deleted is left out silently', [alpha, { ...bravo, metadata: { ...bravo.metadata, deletionTimestamp: '2026-11-25T10:00:00Z' } }], ['alpha'], []],
  ];
  for (const [name, nodes, ids, skipped] of hostile) {
    test(name, () => {
      const dir = networkDirectory(nodes, validator);
      assert.deepEqual(dir.partners.map((p) => p.entry.partnerId), ids);
      assert.equal(dir.skipped.length, skipped.length, JSON.stringify(dir.skipped));
      for (const [i, [who, re]] of skipped.entries()) {
        assert.equal(dir.skipped[i]!.name, who);
        assert.match(dir.skipped[i]!.reason, re);
      }
    });
  }

  test('the result does not depend on list order', () => {
    const sock = node('alpha-sock', { publicKey: alpha.spec.publicKey });
    const strip = (d: ReturnType<typeof networkDirectory>) => ({ ids: d.partners.map((p) => p.entry.partnerId), skipped: d.skipped });
    assert.deepEqual(strip(networkDirectory([sock, bravo, alpha, hub], validator)), strip(networkDirectory([hub, alpha, bravo, sock], validator)));
  });

  test('fingerprintOfHex writes the form node reports', () => {
    assert.equal(fingerprintOfHex('0a1b2c'), '0A:1B:2C');
  });
});

describe('partnerEntry: retired keys (rotation and compromise)', () => {
  const retired = partner('old').node.spec.publicKey;
  const rows: Array<[string, Partial<PartnerNodeSpec>, RegExp | undefined]> = [
    ['a retired key with its validUntil', { retiredKeys: [{ publicKey: retired, validUntil: '2026-12-06T12:00:00Z' }] }, undefined],
    ['a retired key that is not Ed25519', { retiredKeys: [{ publicKey: 'AAAA', validUntil: '2026-12-06T12:00:00Z' }] }, /retiredKeys\[0\]\.publicKey is not a usable Ed25519 public key/],
    ['a validUntil that is not a date', { retiredKeys: [{ publicKey: retired, validUntil: 'soon' }] }, /retiredKeys\[0\]\.validUntil "soon" is not a date-time/],
  ];
  for (const [name, spec, problem] of rows) {
    test(name, () => {
      const p = partnerEntry('tm/alpha', node('alpha', spec));
      if (problem === undefined) {
        assert.ok(p.ok);
        assert.deepEqual(p.entry.retiredKeys?.map((k) => [k.publicKey.toRawBase64(), k.validUntil]), [[retired, '2026-12-06T12:00:00Z']]);
      } else {
        assert.ok(!p.ok);
        assert.match(p.message, problem);
      }
    });
  }
  test('the current key listed as retired too is refused', () => {
    const n = node('alpha');
    const p = partnerEntry('tm/alpha', { ...n, spec: { ...n.spec, retiredKeys: [{ publicKey: n.spec.publicKey, validUntil: '2026-12-06T12:00:00Z' }] } });
    assert.ok(!p.ok && /is the current spec\.publicKey/.test(p.message));
  });
  test('the schema takes retiredKeys and refuses a malformed one', () => {
    assert.deepEqual(validator.validate(node('alpha', { retiredKeys: [{ publicKey: retired, validUntil: '2026-12-06T12:00:00Z' }] })), { ok: true });
    assert.equal(validator.validate(node('alpha', { retiredKeys: [{ publicKey: retired } as never] })).ok, false);
  });
});

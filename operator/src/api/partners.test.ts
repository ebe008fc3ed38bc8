import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PartnerNode, PartnerNodeSpec } from './types.ts';
import { createValidators, validatorFor } from './validate.ts';
import { partner } from '../controllers/fixtures.ts';
import { fingerprintOfHex, networkDirectory } from './partners.ts';

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

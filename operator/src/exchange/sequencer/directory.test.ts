import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PartnerNode, PartnerNodeSpec } from '../../api/types.ts';
import { createValidators, validatorFor } from '../../api/validate.ts';
import { partner } from '../../controllers/fixtures.ts';
import { SigningKey } from '../../domain/signature.ts';
import { fingerprintOfHex } from '../../api/partners.ts';
import { sequencerDirectory } from './directory.ts';

const validator = validatorFor(createValidators(), 'PartnerNode');
const seqKey = SigningKey.generate();

function node(name: string, spec: Partial<PartnerNodeSpec> = {}): PartnerNode {
  const p = partner(spec.partnerId ?? name, spec).node;
  return { ...p, metadata: { ...p.metadata, name } };
}

const sequencerNode = node('hub', { partnerId: 'hub', roles: ['sequencer'], publicKey: seqKey.publicKey.toRawBase64() });
const alpha = node('alpha', { roles: ['contributor', 'voter'] });
const bravo = node('bravo', { roles: ['voter'], tls: { pinnedCertSha256: 'ab'.repeat(32) } });

describe('sequencerDirectory', () => {
  const cases: Array<[string, PartnerNode[], string[], Array<[string, RegExp]>]> = [
    ['partners by id; the sequencer node is not a partner', [bravo, sequencerNode, alpha], ['alpha', 'bravo'], []],
    ['a schema-invalid PartnerNode is skipped with the reason', [alpha, node('broken', { endpoint: 'no port' })], ['alpha'], [['broken', /invalid PartnerNode: .*endpoint/]]],
    ['an unusable public key is skipped', [alpha, node('badkey', { publicKey: `${'A'.repeat(42)}B=` })], ['alpha'], [['badkey', /publicKey must be a raw 32-byte Ed25519 key/]]],
    ['sequencer together with voter is skipped', [alpha, node('both', { roles: ['sequencer', 'voter'] })], ['alpha'], [['both', /sequencer|voter/]]],
    ['a partner id claimed with two keys is dropped entirely', [alpha, node('alpha-copy', { partnerId: 'alpha' })], [], [['alpha', /claimed by 2 PartnerNodes with different public keys/]]],
    ['another sequencer PartnerNode is reported', [alpha, node('rival', { roles: ['sequencer'] })], ['alpha'], [['rival', /role sequencer with partnerId "rival", but this sequencer is "hub"/]]],
    ['a PartnerNode being deleted is left out silently', [alpha, { ...bravo, metadata: { ...bravo.metadata, deletionTimestamp: '2026-11-25T10:00:00Z' } }], ['alpha'], []],
  ];
  for (const [name, nodes, ids, skipped] of cases) {
    test(name, () => {
      const dir = sequencerDirectory(nodes, 'hub', validator);
      assert.deepEqual(dir.partners.map((p) => p.partnerId), ids);
      assert.equal(dir.skipped.length, skipped.length, JSON.stringify(dir.skipped));
      for (const [i, [who, re]] of skipped.entries()) {
        assert.equal(dir.skipped[i]!.name, who);
        assert.match(dir.skipped[i]!.reason, re);
      }
    });
  }

  test("the sequencer's own PartnerNode gives the tree-head key; roles and pins carry over", () => {
    const dir = sequencerDirectory([alpha, bravo, sequencerNode], 'hub', validator);
    assert.ok(dir.selfKey?.equals(seqKey.publicKey));
    assert.deepEqual(dir.partners.map((p) => [p.partnerId, [...p.roles], p.certFingerprint256]), [['alpha', ['contributor', 'voter'], undefined], ['bravo', ['voter'], fingerprintOfHex('ab'.repeat(32))]]);
    assert.equal(sequencerDirectory([alpha], 'hub', validator).selfKey, undefined);
  });
});

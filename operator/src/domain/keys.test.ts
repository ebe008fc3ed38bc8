import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { everyKey, keysValidAt } from './keys.ts';
import { MerkleLog } from './merkle.ts';
import { signVote, verifyVote, type Voter } from './quorum.ts';
import { SigningKey } from './signature.ts';
import { signLogHead } from './treehead.ts';
import { checkTreeHead } from './verify.ts';

const old = SigningKey.generate();
const current = SigningKey.generate();
const SWITCH = '2026-12-06T12:00:00.000Z';
const at = (offsetMs: number): Date => new Date(Date.parse(SWITCH) + offsetMs);
const voter: Voter = { partnerId: 'alpha', publicKey: current.publicKey, retiredKeys: [{ publicKey: old.publicKey, validUntil: SWITCH }], roles: ['voter'] };
const vote = (key: SigningKey, when: Date) => signVote(key, { partnerId: 'alpha', digest: 'a'.repeat(64), decision: 'approve', signedAt: when.toISOString() });

describe('keysValidAt / everyKey', () => {
  test('before validUntil both keys, from validUntil on only the current one; every key for undated signatures', () => {
    assert.deepEqual(keysValidAt(voter, at(-1).getTime()).map((k) => k.id), [current.publicKey.id, old.publicKey.id]);
    assert.deepEqual(keysValidAt(voter, at(0).getTime()).map((k) => k.id), [current.publicKey.id]);
    assert.deepEqual(keysValidAt(voter, NaN).map((k) => k.id), [current.publicKey.id], 'an unparseable date gets the current key only');
    assert.deepEqual(everyKey(voter).map((k) => k.id), [current.publicKey.id, old.publicKey.id]);
  });
});

describe('votes after a rotation or a compromise', () => {
  const rows: Array<[string, SigningKey, number, boolean]> = [
    ['the old key, signed before it was retired (history stays verifiable)', old, -60_000, true],
    ['the old key, signed after it was retired (a compromised key is refused)', old, 1, false],
    ['the new key, any time', current, 1, true],
    ['the new key, signed before the switch', current, -60_000, true],
    ['a key the partner never had', SigningKey.generate(), -60_000, false],
  ];
  for (const [name, key, offset, ok] of rows) test(`${name} → ${ok ? 'valid' : 'refused'}`, () => assert.equal(verifyVote(voter, vote(key, at(offset))), ok));
});

describe('tree heads after a sequencer key rotation', () => {
  const anchors = { sequencerKey: current.publicKey, sequencerRetiredKeys: [{ publicKey: old.publicKey, validUntil: SWITCH }], partners: [] };
  test('a head by the old key dated before validUntil verifies; one dated after does not; without the retired key neither', () => {
    assert.equal(checkTreeHead(anchors, signLogHead(old, new MerkleLog(), at(-1))), undefined);
    assert.equal(checkTreeHead(anchors, signLogHead(old, new MerkleLog(), at(1)))?.reason, 'bad-tree-head');
    assert.equal(checkTreeHead({ sequencerKey: current.publicKey, partners: [] }, signLogHead(old, new MerkleLog(), at(-1)))?.reason, 'bad-tree-head');
    assert.equal(checkTreeHead(anchors, signLogHead(current, new MerkleLog(), at(-1))), undefined);
  });
});

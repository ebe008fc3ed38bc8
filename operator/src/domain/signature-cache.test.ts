/**
 * The verified-signature memory of PublicKey (signature.ts): a repeated check of a signature
 * that verified costs no Ed25519 verification; a failure is never remembered as a success; the
 * memory is per key, per kind (domain separation) and bounded. Ed25519 verifications are
 * counted by wrapping node:crypto's `verify`, as the benchmarks do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SigningKey, VERIFIED_SIGNATURES_KEPT, VerifiedSignatures, type PublicKey, type SignatureKind } from './signature.ts';
import { countVerifications } from '../../../e2e/harness/verifycount.ts';

const verifies = countVerifications();

const alice = SigningKey.generate();
const mallory = SigningKey.generate();
const good = alice.sign('vote', 'digest-1');

function flip(sig: string): string {
  const b = Buffer.from(sig, 'base64');
  b[0]! ^= 1;
  return b.toString('base64');
}

/** One check: key, kind, message, signature, the answer expected. */
type Check = readonly [PublicKey, SignatureKind, string, string, boolean];

const CASES: ReadonlyArray<{ name: string; checks: readonly Check[]; verifications: number }> = [
  { name: 'the same good signature twice: one verification', checks: [[alice.publicKey, 'vote', 'digest-1', good, true], [alice.publicKey, 'vote', 'digest-1', good, true]], verifications: 1 },
  { name: 'a bad signature twice: verified both times, never true', checks: [[alice.publicKey, 'vote', 'digest-1', flip(good), false], [alice.publicKey, 'vote', 'digest-1', flip(good), false]], verifications: 2 },
  { name: 'a failure first does not poison the good signature', checks: [[alice.publicKey, 'vote', 'digest-1', flip(good), false], [alice.publicKey, 'vote', 'digest-1', good, true], [alice.publicKey, 'vote', 'digest-1', flip(good), false]], verifications: 3 },
  { name: 'the remembered signature under another message', checks: [[alice.publicKey, 'vote', 'digest-1', good, true], [alice.publicKey, 'vote', 'digest-2', good, false]], verifications: 2 },
  { name: 'the remembered signature as another kind (domain separation)', checks: [[alice.publicKey, 'vote', 'digest-1', good, true], [alice.publicKey, 'proposal', 'digest-1', good, false]], verifications: 2 },
  { name: 'the remembered signature under another key', checks: [[alice.publicKey, 'vote', 'digest-1', good, true], [mallory.publicKey, 'vote', 'digest-1', good, false]], verifications: 2 },
];

test('a PublicKey verifies each good signature once and never remembers a failure', () => {
  for (const c of CASES) {
    // Fresh keys per case so one case's memory cannot serve another.
    const keys = new Map([[alice.publicKey, SigningKey.fromRawBase64(alice.toRawBase64()).publicKey], [mallory.publicKey, SigningKey.fromRawBase64(mallory.toRawBase64()).publicKey]]);
    verifies.reset();
    for (const [key, kind, message, sig, expected] of c.checks) assert.equal(keys.get(key)!.verify(kind, message, sig), expected, c.name);
    assert.equal(verifies.count, c.verifications, c.name);
  }
});

test('the memory is bounded: past the limit the oldest id is forgotten, the newest kept', () => {
  const set = new VerifiedSignatures(3);
  const ids = [0, 1, 2, 3, 4].map((i) => VerifiedSignatures.id(Buffer.from(`m${i}`), Buffer.alloc(64, i)));
  for (const id of ids) set.add(id);
  assert.equal(set.size, 3);
  assert.deepEqual(ids.map((id) => set.has(id)), [false, false, true, true, true]);
  assert.ok(VERIFIED_SIGNATURES_KEPT >= 1024, 'the default bound is too small to catch a voter-then-replica repeat');
});

test('ids differ whenever the signed bytes or the signature differ, including where they meet', () => {
  const a = VerifiedSignatures.id(Buffer.from('ab'), Buffer.alloc(64, 1));
  const cases: Array<[string, string]> = [
    ['another message', VerifiedSignatures.id(Buffer.from('ac'), Buffer.alloc(64, 1))],
    ['another signature', VerifiedSignatures.id(Buffer.from('ab'), Buffer.alloc(64, 2))],
    ['a byte moved from the message into the signature', VerifiedSignatures.id(Buffer.from('a'), Buffer.concat([Buffer.from('b'), Buffer.alloc(63, 1)]))],
  ];
  for (const [what, other] of cases) assert.notEqual(other, a, what);
});

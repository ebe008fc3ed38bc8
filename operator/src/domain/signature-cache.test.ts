/**
 * The verified-signature memory of PublicKey (signature.ts): a repeated check of a signature
 * that verified costs no Ed25519 verification; a failure is never remembered as a success; the
 * memory is per key, per kind (domain separation) and bounded; keys parsed again with one shared
 * memory find what it remembers. Ed25519 verifications are
 * counted by wrapping node:crypto's `verify`, as the benchmarks do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PublicKey, SigningKey, VERIFIED_SIGNATURES_KEPT, VerifiedSignatures, type SignatureKind } from './signature.ts';
import { countVerifications } from '../../../e2e/harness/verifycount.ts';

const verifies = countVerifications();

const alice = SigningKey.generate();
const mallory = SigningKey.generate();
const good = alice.sign('vote', 'digest-1');
const KEY = Buffer.alloc(32, 7);

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

test('the memory is bounded: past the limit a new id replaces an old one, and the newest is kept', () => {
  const set = new VerifiedSignatures(3);
  const ids = [0, 1, 2, 3, 4].map((i) => VerifiedSignatures.id(KEY, Buffer.from(`m${i}`), Buffer.alloc(64, i)));
  for (const id of ids) {
    set.add(id);
    assert.ok(set.has(id), 'the id just added is kept');
    assert.ok(set.size <= 3);
  }
  assert.equal(set.size, 3);
  assert.equal(ids.filter((id) => set.has(id)).length, 3);
  assert.ok(VERIFIED_SIGNATURES_KEPT >= 1024, 'the default bound is too small to catch a voter-then-replica repeat');
});

test('a scan of more signatures than the limit, repeated in the same order, still finds some (first-in-first-out finds none)', () => {
  const limit = 1000;
  const set = new VerifiedSignatures(limit);
  const ids = Array.from({ length: 1500 }, (_, i) => VerifiedSignatures.id(KEY, Buffer.from(`vote ${i}`), Buffer.alloc(64, i % 251)));
  const scan = (): number => {
    let found = 0;
    for (const id of ids) {
      if (set.has(id)) found++;
      else set.add(id);
    }
    return found;
  };
  assert.equal(scan(), 0);
  // Random replacement at 1.5 times the limit settles near h = e^(-1.5(1-h)) ≈ 42 %.
  for (let pass = 0; pass < 3; pass++) assert.ok(scan() > 0.3 * ids.length, `pass ${pass + 2} found too few`);
  assert.equal(set.size, limit);
});

test('keys parsed again with one shared memory verify a remembered signature once, and never under another key', () => {
  const memory = new VerifiedSignatures(100);
  const first = SigningKey.fromRawBase64(alice.toRawBase64()).publicKey;
  const again = (): PublicKey => PublicKey.fromRawBase64(alice.publicKey.toRawBase64(), memory);
  verifies.reset();
  assert.equal(again().verify('vote', 'digest-1', good), true);
  assert.equal(again().verify('vote', 'digest-1', good), true, 'a second parse of the key finds it');
  assert.equal(verifies.count, 1);
  assert.equal(PublicKey.fromRawBase64(mallory.publicKey.toRawBase64(), memory).verify('vote', 'digest-1', good), false, 'another key with the same memory verifies, and refuses');
  assert.equal(again().verify('vote', 'digest-1', flip(good)), false);
  assert.equal(again().verify('vote', 'digest-1', flip(good)), false);
  assert.equal(verifies.count, 4, 'failures are verified every time');
  assert.equal(first.verify('vote', 'digest-1', good), true);
  assert.equal(verifies.count, 5, 'a key parsed without the shared memory has its own');
});

// The key is always the 32 raw bytes (PublicKey passes its own), so only the message/signature border can move.
test('ids differ whenever the key, the signed bytes or the signature differ, including where they meet', () => {
  const a = VerifiedSignatures.id(KEY, Buffer.from('ab'), Buffer.alloc(64, 1));
  const cases: Array<[string, string]> = [
    ['another key', VerifiedSignatures.id(Buffer.alloc(32, 8), Buffer.from('ab'), Buffer.alloc(64, 1))],
    ['another message', VerifiedSignatures.id(KEY, Buffer.from('ac'), Buffer.alloc(64, 1))],
    ['another signature', VerifiedSignatures.id(KEY, Buffer.from('ab'), Buffer.alloc(64, 2))],
    ['a byte moved from the message into the signature', VerifiedSignatures.id(KEY, Buffer.from('a'), Buffer.concat([Buffer.from('b'), Buffer.alloc(63, 1)]))],
  ];
  for (const [what, other] of cases) assert.notEqual(other, a, what);
});

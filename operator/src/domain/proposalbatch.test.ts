/**
 * Batch proposals (proposalbatch.ts): every proposal of a batch verifies on its own with its
 * proof; a root or proof moved onto another indicator or other metadata, a proof at another
 * index or size or in a second spelling, a batch signature presented as another kind (or
 * another kind as a batch signature), a batch REVOKE, and another proposer's key are refused; a
 * party pays one Ed25519 verification per (signer, root); an entry without a batch proposal
 * keeps its version-1 bytes. Ed25519 verifications are counted by wrapping node:crypto's `verify`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { entryLeafData, isVersion2, proposalPayload, signProposal, type EntryBody, type IndicatorMeta } from './entry.ts';
import type { Indicator } from './indicator.ts';
import { entryProposalProof, proposalBatchPayload, signProposalBatch, verifySignedProposal, type ProposalItem, type ProposalProof } from './proposalbatch.ts';
import { signVoteBatch, verifyVote } from './quorum.ts';
import { PublicKey, SigningKey } from './signature.ts';
import { MAX_VOTE_BATCH, voteBatchPayload } from './votebatch.ts';
import { countVerifications } from '../../../e2e/harness/verifycount.ts';

const verifies = countVerifications();

const alice = SigningKey.generate();
const bob = SigningKey.generate();
const AT = '2026-12-07T00:00:00.000Z';
const domain = (i: number): Indicator => ({ type: 'domain', value: `d${i}.example` });
const META: IndicatorMeta = { tlp: 'amber', confidence: 80, validUntil: '2027-01-01T00:00:00Z' };
const itemsOf = (n: number, from = 0): ProposalItem[] => Array.from({ length: n }, (_, i) => ({ indicator: domain(from + i), ...(i % 2 === 0 ? { meta: META } : {}) }));
// A fresh key object per check, so one case's remembered signatures never answer another's.
const keyOf = (key: SigningKey): PublicKey => SigningKey.fromRawBase64(key.toRawBase64()).publicKey;

const items = itemsOf(5);
const batch = signProposalBatch(alice, items);
const other = signProposalBatch(alice, itemsOf(3, 100));
const bobs = signProposalBatch(bob, items);
const parts = (p: ProposalProof): string[] => p.batch!.split(' ');
const withParts = (p: ProposalProof, edit: (x: string[]) => void): ProposalProof => {
  const x = parts(p);
  edit(x);
  return { ...p, batch: x.join(' ') };
};

interface Case {
  readonly name: string;
  readonly proof: ProposalProof;
  readonly indicator?: Indicator;
  /** `null`: no metadata. @default the item's own */
  readonly meta?: IndicatorMeta | null;
  readonly kind?: 'add' | 'revoke';
  readonly by?: SigningKey;
  /** The item whose indicator and metadata are checked. @default the item the proof was signed for */
  readonly of?: number;
}

describe('signProposalBatch and verifySignedProposal', () => {
  test('every proposal of batches of 1 to 9 verifies alone with its proof, with or without metadata', () => {
    for (let n = 1; n <= 9; n++) {
      const its = itemsOf(n);
      const proofs = signProposalBatch(alice, its);
      const key = keyOf(alice);
      proofs.forEach((p, i) => assert.ok(verifySignedProposal(key, 'add', its[i]!.indicator, p, its[i]!.meta), `proposal ${p.batch} of ${n}`));
      assert.equal(new Set(proofs.map((p) => p.signature)).size, 1, 'one signature for the batch');
    }
  });

  // Item 0 carries META; item 1 carries none.
  const REFUSED: readonly Case[] = [
    { name: 'the root and proof moved onto another indicator', proof: batch[0]!, indicator: domain(3) },
    { name: 'an indicator the proposer never put in its batch, with a genuine proof', proof: batch[1]!, indicator: domain(999) },
    { name: 'the TLP changed under the same root', proof: batch[0]!, meta: { ...META, tlp: 'clear' } },
    { name: 'the confidence changed under the same root', proof: batch[0]!, meta: { ...META, confidence: 100 } },
    { name: 'validUntil moved under the same root', proof: batch[0]!, meta: { ...META, validUntil: '2030-01-01T00:00:00Z' } },
    { name: 'the metadata stripped', proof: batch[0]!, meta: null },
    { name: 'metadata added to a proposal signed without', proof: batch[1]!, meta: META },
    { name: 'the proof of proposal 1 on proposal 0', proof: { ...batch[0]!, batch: batch[1]!.batch! }, of: 0 },
    { name: 'another batch\'s root, proof and signature', proof: other[0]! },
    { name: 'this batch\'s proof with another batch\'s signature', proof: { ...batch[0]!, signature: other[0]!.signature } },
    { name: 'the index changed', proof: withParts(batch[0]!, (x) => { x[0] = '1'; }) },
    { name: 'the size changed (the signature binds it)', proof: withParts(batch[4]!, (x) => { x[1] = '6'; }) },
    { name: 'a proof hash dropped', proof: withParts(batch[0]!, (x) => { x.pop(); }) },
    { name: 'the index with a leading zero', proof: withParts(batch[1]!, (x) => { x[0] = '01'; }), meta: null },
    { name: 'the root in upper case', proof: withParts(batch[0]!, (x) => { x[2] = x[2]!.toUpperCase(); }) },
    { name: 'two spaces between fields', proof: { ...batch[0]!, batch: batch[0]!.batch!.replace(' ', '  ') } },
    { name: 'the batch signature presented as a single proposal (kind confusion)', proof: { signature: batch[0]!.signature } },
    { name: 'a single proposal signature presented with a batch proof (kind confusion)', proof: { signature: signProposal(alice, 'add', domain(0), META), batch: batch[0]!.batch! } },
    { name: 'a vote-batch signature over the same root (kind confusion)', proof: { ...batch[0]!, signature: alice.sign('vote-batch', proposalBatchPayload(parts(batch[0]!)[2]!, 5)) } },
    { name: 'a tree-head signature over the root as the batch signature', proof: { ...batch[0]!, signature: alice.sign('tree-head', proposalBatchPayload(parts(batch[0]!)[2]!, 5)) } },
    { name: 'a batch proof on a REVOKE (only ADD is batched)', proof: { signature: alice.sign('proposal-batch', proposalBatchPayload(parts(batch[0]!)[2]!, 5)), batch: batch[0]!.batch! }, kind: 'revoke', meta: null },
    { name: 'bob\'s batch checked with alice\'s key (another proposer\'s batch)', proof: bobs[0]! },
    { name: 'alice\'s batch checked with bob\'s key', proof: batch[0]!, by: bob },
    { name: 'a batch that is not a string', proof: { ...batch[0]!, batch: 7 as unknown as string } },
  ];
  for (const c of REFUSED) {
    test(`refused: ${c.name}`, () => {
      const index = batch.findIndex((p) => p.batch === c.proof.batch);
      const item = items[c.of ?? Math.max(index, 0)]!;
      const meta = c.meta === null ? undefined : (c.meta ?? item.meta);
      assert.equal(verifySignedProposal(keyOf(c.by ?? alice), c.kind ?? 'add', c.indicator ?? item.indicator, c.proof, meta), false);
    });
  }

  test('a proposal-batch signature is no vote-batch, proposal or vote signature, nor the reverse (domain separation)', () => {
    const root = parts(batch[0]!)[2]!;
    const key = keyOf(alice);
    for (const kind of ['vote-batch', 'proposal', 'vote'] as const) assert.equal(key.verify(kind, proposalBatchPayload(root, 5), batch[0]!.signature), false, kind);
    assert.equal(key.verify('proposal-batch', proposalBatchPayload(root, 5), batch[0]!.signature), true);
    // A voter's batch root presented as a proposal batch, and the reverse.
    const votes = signVoteBatch(alice, [{ partnerId: 'alice', digest: 'a'.repeat(64), decision: 'approve', signedAt: AT }]);
    const voteRoot = votes[0]!.batch!.split(' ')[2]!;
    assert.equal(key.verify('proposal-batch', voteBatchPayload('alice', voteRoot, 1), votes[0]!.signature), false);
    assert.equal(verifyVote({ partnerId: 'alice', publicKey: key, roles: ['voter'] }, { partnerId: 'alice', digest: 'a'.repeat(64), decision: 'approve', signedAt: AT, signature: batch[0]!.signature, batch: batch[0]!.batch! }), false);
  });

  test('refuses to sign an empty or oversized batch, or an item that cannot be signed', () => {
    assert.throws(() => signProposalBatch(alice, []), RangeError);
    assert.throws(() => signProposalBatch(alice, itemsOf(MAX_VOTE_BATCH + 1)), RangeError);
    assert.throws(() => signProposalBatch(alice, [{ indicator: { type: 'domain', value: '\uD800' } }]));
  });

  test('the leaf is exactly the text a single proposal signs', () => {
    const single = proposalPayload('add', domain(0), META).text;
    assert.equal(single, '{"indicator":{"type":"domain","value":"d0.example"},"meta":{"confidence":80,"tlp":"amber","validUntil":"2027-01-01T00:00:00Z"}}');
    const one = signProposalBatch(alice, [{ indicator: domain(0), meta: META }])[0]!;
    assert.equal(parts(one).length, 3, 'a batch of one: index, size, root, no proof hash');
  });
});

describe('cost and compatibility', () => {
  test('one Ed25519 verification per (signer, root): a batch of 64 costs 1, a second check 0; a forgery costs 1 each time', () => {
    const its = itemsOf(64);
    const proofs = signProposalBatch(alice, its);
    const key = keyOf(alice);
    verifies.reset();
    proofs.forEach((p, i) => assert.ok(verifySignedProposal(key, 'add', its[i]!.indicator, p, its[i]!.meta)));
    assert.equal(verifies.count, 1);
    proofs.forEach((p, i) => assert.ok(verifySignedProposal(key, 'add', its[i]!.indicator, p, its[i]!.meta)));
    assert.equal(verifies.count, 1);
    const forged = { ...proofs[0]!, signature: other[0]!.signature };
    assert.equal(verifySignedProposal(key, 'add', its[0]!.indicator, forged, its[0]!.meta), false);
    assert.equal(verifySignedProposal(key, 'add', its[0]!.indicator, forged, its[0]!.meta), false);
    assert.equal(verifies.count, 3);
  });

  test('an entry without a batch proposal keeps its version-1 bytes; one with it is marked v 2 and carries the proof', () => {
    const body: EntryBody = { kind: 'add', indicator: domain(1), proposerId: 'alice', proposalSignature: signProposal(alice, 'add', domain(1)), window: { opensAt: AT, closesAt: AT }, votes: [] };
    assert.equal(isVersion2(body), false);
    assert.doesNotMatch(entryLeafData(body), /"v":2|proposalBatch/);
    assert.deepEqual(entryProposalProof(body), { signature: body.proposalSignature });
    const v2: EntryBody = { ...body, proposalSignature: batch[1]!.signature, proposalBatch: batch[1]!.batch! };
    assert.equal(isVersion2(v2), true);
    assert.match(entryLeafData(v2), /"proposalBatch":"1 5 [0-9a-f]{64} .*","proposalSignature":.*"v":2/);
    assert.deepEqual(entryProposalProof(v2), batch[1]);
  });
});

/**
 * Batch votes (votebatch.ts, quorum.ts signVoteBatch/verifyVote): every vote of a batch
 * verifies on its own with its proof; a root, proof, index, size or signature moved onto another
 * vote, a subject the voter never put in its batch, a batch signature presented as another kind
 * (or another kind as a batch signature), and malformed proofs are refused; a party pays one
 * Ed25519 verification per (signer, root), not one per vote; the leaf bytes of an entry without
 * batch votes are unchanged. Ed25519 verifications are counted by wrapping node:crypto's
 * `verify`, as the benchmarks do.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { entryLeafData, isVersion2, signProposal, type EntryBody } from './entry.ts';
import { decideQuorum, QuorumInputError, signVote, signVoteBatch, verifyVote, voteSigningPayload, type Vote, type VoteFields, type Voter } from './quorum.ts';
import { SigningKey } from './signature.ts';
import { inclusionProofLength, MAX_VOTE_BATCH, parseVoteBatch, voteBatchPayload, voteBatchText } from './votebatch.ts';
import { MerkleLog } from './merkle.ts';
import { countVerifications } from '../../../e2e/harness/verifycount.ts';

const verifies = countVerifications();

const alice = SigningKey.generate();
const bob = SigningKey.generate();
const AT = '2026-12-07T00:00:00.000Z';
const subject = (i: number): string => i.toString(16).padStart(64, '0');
const fieldsOf = (partnerId: string, n: number, from = 0): VoteFields[] => Array.from({ length: n }, (_, i) => ({ partnerId, digest: subject(from + i), decision: 'approve', signedAt: AT }));
// A fresh key object per check, so one case's remembered signatures never answer another's.
const voter = (key: SigningKey, partnerId: string): Voter => ({ partnerId, publicKey: SigningKey.fromRawBase64(key.toRawBase64()).publicKey, roles: ['voter'] });

const batch = signVoteBatch(alice, fieldsOf('alice', 5));
const other = signVoteBatch(alice, fieldsOf('alice', 3, 100));
const bobs = signVoteBatch(bob, fieldsOf('bob', 5));
const parts = (v: Vote): string[] => v.batch!.split(' ');
const withParts = (v: Vote, edit: (p: string[]) => void): Vote => {
  const p = parts(v);
  edit(p);
  return { ...v, batch: p.join(' ') };
};

describe('signVoteBatch and verifyVote', () => {
  test('every vote of batches of 1 to 9 verifies alone with its proof', () => {
    for (let n = 1; n <= 9; n++) {
      const votes = signVoteBatch(alice, fieldsOf('alice', n));
      const key = voter(alice, 'alice');
      for (const v of votes) assert.ok(verifyVote(key, v), `vote ${v.batch} of ${n}`);
      assert.equal(new Set(votes.map((v) => v.signature)).size, 1, 'one signature for the batch');
    }
  });

  const REFUSED: ReadonlyArray<{ name: string; vote: Vote; by?: [SigningKey, string] }> = [
    { name: 'the root and proof moved onto another subject (the sequencer swaps a vote)', vote: { ...batch[0]!, digest: subject(3) } },
    { name: 'a subject the voter never put in its batch, with a genuine proof of the batch', vote: { ...batch[1]!, digest: subject(999) } },
    { name: 'the decision flipped under the same root', vote: { ...batch[2]!, decision: 'reject' } },
    { name: 'a reason added under the same root', vote: { ...batch[2]!, reason: 'added later' } },
    { name: 'the vote re-dated into another window (replay under the same root)', vote: { ...batch[2]!, signedAt: '2026-12-09T00:00:00.000Z' } },
    { name: 'the proof of vote 1 on vote 0', vote: { ...batch[0]!, batch: batch[1]!.batch! } },
    { name: 'another batch\'s root, proof and signature on this vote', vote: { ...batch[0]!, batch: other[0]!.batch!, signature: other[0]!.signature } },
    { name: 'this batch\'s proof with another batch\'s signature', vote: { ...batch[0]!, signature: other[0]!.signature } },
    { name: 'the index changed', vote: withParts(batch[0]!, (p) => { p[0] = '1'; }) },
    { name: 'the size changed (signature binds it)', vote: withParts(batch[4]!, (p) => { p[1] = '6'; }) },
    { name: 'a proof hash changed', vote: withParts(batch[0]!, (p) => { p[3] = subject(7); }) },
    { name: 'a proof hash dropped', vote: withParts(batch[0]!, (p) => { p.pop(); }) },
    { name: 'a proof hash added', vote: withParts(batch[4]!, (p) => { p.push(subject(7)); }) },
    { name: 'the index with a leading zero', vote: withParts(batch[1]!, (p) => { p[0] = '01'; }) },
    { name: 'an index at the size', vote: withParts(batch[4]!, (p) => { p[0] = '5'; }) },
    { name: 'the root in upper case', vote: withParts(batch[0]!, (p) => { p[2] = p[2]!.toUpperCase(); }) },
    { name: 'two spaces between fields', vote: { ...batch[0]!, batch: batch[0]!.batch!.replace(' ', '  ') } },
    { name: 'the batch signature presented as a single vote (kind confusion)', vote: (({ batch: _b, ...rest }) => rest)(batch[0]!) },
    { name: 'a single vote\'s signature presented with a batch proof (kind confusion)', vote: { ...signVote(alice, fieldsOf('alice', 1)[0]!), batch: batch[0]!.batch! } },
    { name: 'another voter\'s batch signature and proof under alice\'s name', vote: { ...bobs[0]!, partnerId: 'alice' } },
    { name: 'a batch of alice verified as bob', vote: batch[0]!, by: [bob, 'alice'] },
    { name: 'a proposal signature as the batch signature (kind confusion)', vote: { ...batch[0]!, signature: alice.sign('proposal', voteBatchPayload('alice', parts(batch[0]!)[2]!, 5)) } },
    { name: 'a tree-head signature over the root as the batch signature', vote: { ...batch[0]!, signature: alice.sign('tree-head', voteBatchPayload('alice', parts(batch[0]!)[2]!, 5)) } },
    { name: 'a batch that is not a string', vote: { ...batch[0]!, batch: 7 as unknown as string } },
  ];
  for (const c of REFUSED) {
    test(`refused: ${c.name}`, () => {
      const [key, id] = c.by ?? [alice, 'alice'];
      assert.equal(verifyVote(voter(key, id), c.vote), false);
    });
  }

  test('a vote-batch signature is not a vote signature, nor the reverse (domain separation)', () => {
    const root = parts(batch[0]!)[2]!;
    const key = voter(alice, 'alice').publicKey;
    assert.equal(key.verify('vote', voteBatchPayload('alice', root, 5), batch[0]!.signature), false);
    assert.equal(key.verify('proposal', voteBatchPayload('alice', root, 5), batch[0]!.signature), false);
    assert.equal(key.verify('vote-batch', voteBatchPayload('alice', root, 5), batch[0]!.signature), true);
    const single = signVote(alice, fieldsOf('alice', 1)[0]!);
    assert.equal(key.verify('vote-batch', voteSigningPayload(single), single.signature), false);
  });

  test('refuses to sign an empty, oversized or mixed batch, or a malformed vote', () => {
    const cases: Array<[string, VoteFields[]]> = [
      ['empty', []],
      ['oversized', fieldsOf('alice', MAX_VOTE_BATCH + 1)],
      ['mixed partners', [...fieldsOf('alice', 1), ...fieldsOf('bob', 1)]],
      ['bad time', [{ ...fieldsOf('alice', 1)[0]!, signedAt: 'yesterday' }]],
    ];
    for (const [name, fields] of cases) assert.throws(() => signVoteBatch(alice, fields), (e: unknown) => e instanceof QuorumInputError && e.reason === 'invalid-vote', name);
  });
});

describe('parseVoteBatch', () => {
  const root = subject(1);
  const TABLE: ReadonlyArray<[string, unknown, string | undefined]> = [
    ['a single vote: index 0 of 1, no proof', `0 1 ${root}`, undefined],
    ['leaf 2 of 3', `2 3 ${root} ${subject(2)}`, undefined],
    ['leaf 2 of 3 with two hashes', `2 3 ${root} ${subject(2)} ${subject(3)}`, 'needs 1 proof hashes, got 2'],
    ['size 0', `0 0 ${root}`, 'size must be from 1'],
    ['size above the limit', `0 ${MAX_VOTE_BATCH + 1} ${root}`, 'size must be from 1'],
    ['negative index', `-1 3 ${root}`, 'decimal'],
    ['index as a float', `1.0 3 ${root}`, 'decimal'],
    ['no root', '0 1', 'lowercase hex'],
    ['short root', `0 1 ${root.slice(1)}`, 'lowercase hex'],
    ['trailing space', `0 1 ${root} `, 'lowercase hex'],
    ['too long', `0 1 ${root}${' '.repeat(2000)}`, 'at most'],
    ['not a string', 12, 'must be a string'],
  ];
  for (const [name, text, problem] of TABLE) {
    test(`${problem === undefined ? 'reads' : 'refuses'}: ${name}`, () => {
      const parsed = parseVoteBatch(text);
      if (problem === undefined) {
        assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
        assert.equal(voteBatchText(parsed.batch), text, 'one spelling');
      } else {
        assert.ok(!parsed.ok);
        assert.match(parsed.message, new RegExp(problem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      }
    });
  }

  test('inclusionProofLength matches the Merkle log for every leaf of sizes 1 to 40', () => {
    for (let size = 1; size <= 40; size++) {
      const log = new MerkleLog();
      for (let i = 0; i < size; i++) log.append(String(i));
      for (let i = 0; i < size; i++) assert.equal(inclusionProofLength(i, size), log.inclusionProof(i).length, `${i} of ${size}`);
    }
  });
});

describe('cost and compatibility', () => {
  test('one Ed25519 verification per (signer, root): a batch of 64 costs 1, a second check of it 0', () => {
    const votes = signVoteBatch(alice, fieldsOf('alice', 64));
    const key = voter(alice, 'alice');
    verifies.reset();
    for (const v of votes) assert.ok(verifyVote(key, v));
    assert.equal(verifies.count, 1);
    for (const v of votes) assert.ok(verifyVote(key, v));
    assert.equal(verifies.count, 1);
    // A forged batch signature is verified, and refused, every time: failures are never remembered.
    const forged = { ...votes[0]!, signature: other[0]!.signature };
    assert.equal(verifyVote(key, forged), false);
    assert.equal(verifyVote(key, forged), false);
    assert.equal(verifies.count, 3);
  });

  test('decideQuorum counts batch votes as it counts single votes; a swapped proof is bad-signature', () => {
    const voters = [voter(alice, 'alice'), voter(bob, 'bob')];
    const window = { opensAt: '2026-12-06T23:00:00.000Z', closesAt: '2026-12-08T00:00:00.000Z' };
    const ok = decideQuorum({ voters, votes: [batch[3]!, bobs[3]!], digest: subject(3), quorum: 2, window, now: AT });
    assert.equal(ok.decision, 'approved');
    const swapped = decideQuorum({ voters, votes: [{ ...batch[0]!, digest: subject(3) }, bobs[3]!], digest: subject(3), quorum: 2, window, now: AT });
    assert.deepEqual(swapped.ignored, [{ partnerId: 'alice', reason: 'bad-signature' }]);
    const late = decideQuorum({ voters, votes: [batch[3]!, bobs[3]!], digest: subject(3), quorum: 2, window: { opensAt: '2026-12-07T01:00:00.000Z', closesAt: '2026-12-08T00:00:00.000Z' }, now: AT });
    assert.deepEqual(late.ignored.map((i) => i.reason), ['outside-window', 'outside-window'], 'a batch vote replayed into a later round is outside its window');
  });

  test('an entry without batch votes keeps its version-1 bytes; one with a batch vote is marked v 2', () => {
    const indicator = { type: 'domain', value: 'evil.example' } as const;
    const body: EntryBody = { kind: 'add', indicator, proposerId: 'alice', proposalSignature: signProposal(alice, 'add', indicator), window: { opensAt: AT, closesAt: AT }, votes: [signVote(alice, fieldsOf('alice', 1)[0]!)] };
    assert.equal(isVersion2(body), false);
    assert.doesNotMatch(entryLeafData(body), /"v":2|batch/);
    const v2 = { ...body, votes: [batch[0]!] };
    assert.equal(isVersion2(v2), true);
    assert.match(entryLeafData(v2), /^\{"indicator":.*"v":2,"votes":\[\{"batch":"0 5 /);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { signVote, signVoteBatch } from '../../domain/quorum.ts';
import { SigningKey } from '../../domain/signature.ts';
import { signProposalBatch } from '../../domain/proposalbatch.ts';
import { entryLeafHash, parseIndicatorJson, signProposal, type IndexedEntry } from '../../domain/entry.ts';
import { entryFromWire, entryToWire, voteFromWire, voteToWire, voteWireProblem } from './wire.ts';
import type { LogEntry__Output } from './gen/threatmesh/exchange/v1/LogEntry.ts';
import type { SignedVote__Output } from './gen/threatmesh/exchange/v1/SignedVote.ts';
import type { Vote } from '../../domain/quorum.ts';

const key = SigningKey.generate();
const indicator = { type: 'ipv4', value: '198.51.100.7' } as const;
const withReason = signVote(key, { partnerId: 'a', digest: 'd'.repeat(64), decision: 'reject', reason: 'seen benign', signedAt: '2026-03-01T12:00:00Z' });
const withoutReason = signVote(key, { partnerId: 'b', digest: 'd'.repeat(64), decision: 'approve', signedAt: '2026-03-01T12:00:00Z' });
const entry: IndexedEntry = {
  index: 7, kind: 'add', indicator, proposerId: 'a', proposalSignature: signProposal(key, 'add', indicator),
  window: { opensAt: '2026-03-01T11:59:00Z', closesAt: '2026-03-01T13:00:00Z' }, votes: [withReason, withoutReason],
};
const meta = { tlp: 'amber', confidence: 85, labels: ['c2', 'emotet'], validFrom: '2026-03-01T00:00:00Z', source: 'feeds/abuse-ch' } as const;
const withMetaEntry: IndexedEntry = { ...entry, meta, proposalSignature: signProposal(key, 'add', indicator, meta) };

// What the loader delivers (defaults on): every field present.
function receivedVote(v: Vote): SignedVote__Output {
  const w = voteToWire(v);
  return { partnerId: w.partnerId ?? '', digest: w.digest ?? '', decision: w.decision ?? '', reason: w.reason ?? '', hasReason: w.hasReason ?? false, signedAt: w.signedAt ?? '', signature: w.signature ?? '', batchProof: w.batchProof ?? '' };
}

function asReceived(e: IndexedEntry, proof: string[]): LogEntry__Output {
  const w = entryToWire(e, proof);
  return {
    index: e.index, kind: w.kind === 'ADD' ? 'ADD' : 'REVOKE', indicatorJson: w.indicatorJson ?? '', proposerId: e.proposerId,
    proposalSignature: e.proposalSignature, window: { ...e.window }, votes: e.votes.map(receivedVote), inclusionProof: proof, metaJson: w.metaJson ?? '',
    proposalBatchProof: w.proposalBatchProof ?? '',
  };
}

describe('wire conversions', () => {
  test('a vote keeps an absent reason absent and a present one present', () => {
    assert.deepEqual(voteFromWire(receivedVote(withoutReason)), withoutReason);
    assert.deepEqual(voteFromWire(receivedVote(withReason)), withReason);
  });

  test('a batch vote (protocol v2) keeps its proof; a v1 vote travels with an empty batch_proof', () => {
    const [first, second] = signVoteBatch(key, [{ partnerId: 'a', digest: 'd'.repeat(64), decision: 'approve', signedAt: '2026-03-01T12:00:00Z' }, { partnerId: 'a', digest: 'e'.repeat(64), decision: 'reject', reason: 'benign', signedAt: '2026-03-01T12:00:00Z' }]);
    assert.equal(voteToWire(withReason).batchProof, '');
    assert.equal('batch' in voteFromWire(receivedVote(withReason)), false);
    assert.deepEqual(voteFromWire(receivedVote(first!)), first);
    assert.deepEqual(voteFromWire(receivedVote(second!)), second);
    const v2: IndexedEntry = { ...entry, votes: [withReason, first!] };
    const back = entryFromWire(asReceived(v2, []));
    assert.ok(back.ok);
    assert.equal(entryLeafHash(back.entry), entryLeafHash(v2));
    assert.notEqual(entryLeafHash(v2), entryLeafHash({ ...v2, votes: [withReason, { ...first!, batch: second!.batch! }] }));
  });

  test('a wire vote with a reason but has_reason false is malformed (the sequencer refuses it as invalid-vote)', () => {
    assert.equal(voteWireProblem(receivedVote(withReason)), undefined);
    assert.equal(voteWireProblem(receivedVote(withoutReason)), undefined);
    assert.equal(voteWireProblem({ ...receivedVote(withReason), reason: '', hasReason: true }), undefined);
    assert.match(voteWireProblem({ ...receivedVote(withoutReason), reason: 'x' }) ?? '', /set has_reason/);
  });

  test('an entry survives the round trip with the same leaf hash', () => {
    const back = entryFromWire(asReceived(entry, ['a'.repeat(64)]));
    assert.ok(back.ok);
    assert.equal(entryLeafHash(back.entry), entryLeafHash(entry));
    assert.deepEqual(back.proof, ['a'.repeat(64)]);
  });

  test('a batch proposal (protocol v2) keeps its proof: same leaf hash, marked v 2; a v1 entry travels with an empty proposal_batch_proof', () => {
    assert.equal(entryToWire(entry, []).proposalBatchProof, '');
    assert.equal('proposalBatch' in (entryFromWire(asReceived(entry, [])) as { entry: IndexedEntry }).entry, false);
    const [proof] = signProposalBatch(key, [{ indicator, meta }, { indicator: { type: 'ipv4', value: '198.51.100.8' } }]);
    const v2: IndexedEntry = { ...withMetaEntry, proposalSignature: proof!.signature, proposalBatch: proof!.batch! };
    assert.equal(entryToWire(v2, []).proposalBatchProof, proof!.batch);
    const back = entryFromWire(asReceived(v2, []));
    assert.ok(back.ok);
    assert.equal(back.entry.proposalBatch, proof!.batch);
    assert.equal(entryLeafHash(back.entry), entryLeafHash(v2));
    assert.notEqual(entryLeafHash(v2), entryLeafHash({ ...v2, proposalBatch: undefined }));
  });

  test('an entry without metadata travels with an empty meta_json and comes back without meta', () => {
    assert.equal(entryToWire(entry, []).metaJson, '');
    const back = entryFromWire(asReceived(entry, []));
    assert.ok(back.ok);
    assert.equal('meta' in back.entry, false);
  });

  test('an entry with metadata survives the round trip: same meta, same leaf hash, different from the entry without it', () => {
    assert.equal(entryToWire(withMetaEntry, []).metaJson, '{"confidence":85,"labels":["c2","emotet"],"source":"feeds/abuse-ch","tlp":"amber","validFrom":"2026-03-01T00:00:00Z"}');
    const back = entryFromWire(asReceived(withMetaEntry, []));
    assert.ok(back.ok);
    assert.deepEqual(back.entry.meta, meta);
    assert.equal(entryLeafHash(back.entry), entryLeafHash(withMetaEntry));
    assert.notEqual(entryLeafHash(withMetaEntry), entryLeafHash({ ...withMetaEntry, meta: { ...meta, confidence: 86 } }));
  });

  test('an entry logged before normalization v2 (URL host with a trailing dot) still decodes, with its logged identity; a new proposal of it is refused', () => {
    const v1 = '{"type":"url","value":"http://example.net./a"}';
    const back = entryFromWire({ ...asReceived(entry, []), indicatorJson: v1 });
    assert.ok(back.ok);
    assert.equal(back.entry.indicator.value, 'http://example.net./a');
    const fresh = parseIndicatorJson(v1);
    assert.equal(fresh.ok, false);
    if (!fresh.ok) assert.match(fresh.message, /propose "http:\/\/example.net\/a"/);
  });

  const bad: Array<[string, Partial<LogEntry__Output>, RegExp]> = [
    ['unspecified kind', { kind: 'ENTRY_KIND_UNSPECIFIED' }, /kind ENTRY_KIND_UNSPECIFIED/],
    ['non-canonical indicator', { indicatorJson: '{"value":"198.51.100.7","type":"ipv4"}' }, /canonical/],
    ['un-normalized indicator', { indicatorJson: '{"type":"ipv4","value":"198.051.100.7"}' }, /not a valid ipv4|not normalized/],
    ['non-canonical meta', { metaJson: '{"tlp":"amber","confidence":85}' }, /meta JSON is not in RFC 8785 canonical form/],
    ['meta with an unknown member', { metaJson: '{"severity":"high"}' }, /unknown member\(s\) "severity"/],
    ['meta that does not parse', { metaJson: '{tlp:amber}' }, /meta JSON does not parse/],
    // Fuzz finding (npm run fuzz, target votes/entries): the reason was dropped and the entry still verified.
    ['a vote that carries a reason with has_reason false', { votes: [receivedVote(withReason), { ...receivedVote(withoutReason), reason: 'S' }] }, /"b" carries a reason with has_reason false/],
  ];
  for (const [name, change, message] of bad) {
    test(`refuses an entry with ${name}`, () => {
      const r = entryFromWire({ ...asReceived(entry, []), ...change });
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, message);
    });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../domain/canonical.ts';
import { CorruptRecordError, certificateText, readRecord, storedRecord, type StoredIndicatorRecord } from './certificate.ts';
import type { IndicatorRecord } from './indicators.ts';

const VOTE = { partnerId: 'alpha', digest: 'a'.repeat(64), decision: 'approve', signedAt: '2026-12-07T00:00:00.000Z', signature: 'c2ln', batch: '0 2 ' + 'b'.repeat(64) + ' ' + 'c'.repeat(64) };
const RECORD: IndicatorRecord = {
  _id: 'd'.repeat(64), digest: 'd'.repeat(64), type: 'domain', value: 'x.example', state: 'active', logIndex: 7, proposerId: 'alpha',
  votes: [VOTE, { ...VOTE, partnerId: 'bravo', reason: 'seen "here"\u2028' }], window: { opensAt: '2026-12-07T00:00:00.000Z', closesAt: '2026-12-10T00:00:00.000Z' },
  proposalSignature: 'cHJvcA==', proposalBatch: '1 2 ' + 'e'.repeat(64) + ' ' + 'f'.repeat(64), name: 'domain-' + 'd'.repeat(40),
};

test('the certificate text is RFC 8785 canonical JSON of the three fields, whatever the key order it is given in', () => {
  const shuffled = RECORD.votes.map((v) => Object.fromEntries(Object.entries(v).reverse()));
  const want = canonicalJson({ votes: RECORD.votes, proposalSignature: RECORD.proposalSignature, proposalBatch: RECORD.proposalBatch });
  assert.equal(certificateText(RECORD), want);
  assert.equal(certificateText({ ...RECORD, votes: shuffled }), want);
  assert.equal(certificateText({ votes: [] }), '{"votes":[]}');
});

test('a record stored with its certificate as text reads back as the record it was', () => {
  const stored = storedRecord(RECORD);
  assert.equal(typeof stored.cert, 'string');
  for (const f of ['votes', 'proposalSignature', 'proposalBatch'] as const) assert.equal(f in stored, false, f);
  assert.deepEqual(readRecord(stored), RECORD);
  const single = { ...RECORD, proposalBatch: undefined };
  delete single.proposalBatch;
  assert.deepEqual(readRecord(storedRecord(single)), single, 'a single proposal: no batch proof');
});

test('records stored before the text (certificate fields) and records read without the certificate are returned as they are', () => {
  assert.equal(readRecord(RECORD as StoredIndicatorRecord), RECORD);
  const projected = { digest: RECORD.digest, type: 'domain', value: 'x.example' } as unknown as StoredIndicatorRecord;
  assert.equal(readRecord(projected), projected);
});

const corrupt: ReadonlyArray<[string, unknown, RegExp]> = [
  ['not JSON', '{"votes":[', /cert is not JSON/],
  ['not a text', 42, /cert is a number, not a text/],
  ['not an object', '[1]', /not a JSON object/],
  ['an unknown field', '{"votes":[],"extra":"1"}', /unknown field "extra"/],
  ['no votes list', '{"proposalSignature":"x"}', /no votes list/],
  ['a vote that is not an object', '{"votes":["v"]}', /vote 0 is not an object/],
  ['a vote with a field that is not text', JSON.stringify({ votes: [{ ...VOTE, signature: 1 }] }), /vote 0 field signature is not a text/],
  ['a vote without a signature', JSON.stringify({ votes: [VOTE, { ...VOTE, signature: undefined }] }), /vote 1 has no signature/],
  ['a vote with an unknown field', JSON.stringify({ votes: [{ ...VOTE, weight: '2' }] }), /unknown field "weight"/],
  ['a proposal signature that is not text', JSON.stringify({ votes: [], proposalSignature: 5 }), /proposalSignature is not a text/],
  ['a batch proof that is not text', JSON.stringify({ votes: [], proposalBatch: ['x'] }), /proposalBatch is not a text/],
];

for (const [name, cert, why] of corrupt) {
  test(`a certificate text with ${name} is refused, naming the record and the fix`, () => {
    const { votes: _v, proposalSignature: _s, proposalBatch: _b, ...rest } = RECORD;
    assert.throws(() => readRecord({ ...rest, cert } as StoredIndicatorRecord), (err: unknown) => {
      assert.ok(err instanceof CorruptRecordError);
      assert.equal(err.digest, RECORD.digest);
      assert.match(err.message, why);
      assert.match(err.message, /threatmesh replica rebuild/);
      return true;
    });
  });
}

test('a record with both a certificate text and certificate fields is refused (changed outside the replica)', () => {
  for (const extra of [{ votes: [] }, { proposalSignature: 'x' }, { proposalBatch: 'x' }]) {
    assert.throws(() => readRecord({ ...storedRecord(RECORD), ...extra }), /both a certificate text and certificate fields/);
  }
});

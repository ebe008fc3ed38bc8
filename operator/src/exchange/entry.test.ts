import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { entryLeafData, entryLeafHash, proposalPayload, type EntryBody } from './entry.ts';

// Computed with the code before signed metadata existed (commit 88da51b): an entry without
// meta must keep exactly these bytes, so stored logs and signed tree heads keep verifying.
const PINNED_LEAF_HASH = '4d8a2fed07288e82599d1090667516e6a204b8533ddf5c5ea4fce6ca568d8e13';
const LEGACY: EntryBody = {
  kind: 'add', indicator: { type: 'domain', value: 'evil.example' }, proposerId: 'alpha', proposalSignature: 'cHJvcG9zYWw=',
  window: { opensAt: '2026-11-25T12:00:00.000Z', closesAt: '2026-11-26T12:00:00.000Z' },
  votes: [
    { partnerId: 'bravo', digest: 'd1', decision: 'approve', signedAt: '2026-11-25T12:01:00.000Z', signature: 'c2ln' },
    { partnerId: 'alpha', digest: 'd1', decision: 'reject', reason: 'no', signedAt: '2026-11-25T12:02:00.000Z', signature: 'c2lnMg==' },
  ],
};

describe('entries without metadata keep their bytes', () => {
  test('leaf hash of an entry without meta is the one pinned before metadata existed', () => {
    assert.equal(entryLeafHash(LEGACY), PINNED_LEAF_HASH);
    assert.doesNotMatch(entryLeafData(LEGACY), /meta/);
  });

  test('an ADD proposal without meta signs the canonical indicator alone', () => {
    assert.deepEqual(proposalPayload('add', LEGACY.indicator), { kind: 'proposal', text: '{"type":"domain","value":"evil.example"}' });
  });
});

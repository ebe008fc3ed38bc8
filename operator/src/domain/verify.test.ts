import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indicatorDigest } from './canonical.ts';
import type { Indicator } from './indicator.ts';
import { MerkleLog } from './merkle.ts';
import { signVote, type Vote, type Voter } from './quorum.ts';
import { SigningKey } from './signature.ts';
import { signLogHead, type SignedTreeHead } from './treehead.ts';
import { entryLeafData, entryLeafHash, parseIndicatorJson, signProposal, voteSubject, type EntryKind, type IndexedEntry, type IndicatorMeta, type LogEntryKind } from './entry.ts';
import { MAX_HEAD_AGE_MS, checkConsistency, checkEntry, checkHistory, checkPeerHead, checkTreeHead, headFreshness, type IndicatorHistory, type TrustAnchors } from './verify.ts';

const NOW = new Date('2026-03-01T12:00:00Z');
const WINDOW = { opensAt: '2026-03-01T11:59:00Z', closesAt: '2026-03-01T13:00:00Z' };
const keys = { a: SigningKey.generate(), b: SigningKey.generate(), c: SigningKey.generate() };
const partners: Voter[] = Object.entries(keys).map(([id, k]) => ({ partnerId: id, publicKey: k.publicKey, roles: ['contributor', 'voter'] }));
const sequencer = SigningKey.generate();
const anchors: TrustAnchors = { sequencerKey: sequencer.publicKey, partners, quorum: 2 };
const ind: Indicator = { type: 'domain', value: 'evil.example' };
const meta: IndicatorMeta = { tlp: 'amber', confidence: 90, source: 'feeds/abuse-ch' };

function vote(id: keyof typeof keys, subject: string, key: SigningKey = keys[id]): Vote {
  return signVote(key, { partnerId: id, digest: subject, decision: 'approve', signedAt: '2026-03-01T12:00:01Z' });
}

function entry(kind: EntryKind = 'add', votes?: Vote[]): IndexedEntry {
  const subject = voteSubject(kind, indicatorDigest(ind));
  return { index: 0, kind, indicator: ind, proposerId: 'a', proposalSignature: signProposal(keys.a, kind, ind), window: WINDOW, votes: votes ?? [vote('a', subject), vote('b', subject)] };
}

function rejectVote(id: keyof typeof keys, subject: string, key: SigningKey = keys[id]): Vote {
  return signVote(key, { partnerId: id, digest: subject, decision: 'reject', signedAt: '2026-03-01T12:00:02Z', reason: 'warning list' });
}

function rejectEntry(votes: Vote[]): IndexedEntry {
  return { ...entry('add', votes), kind: 'reject' };
}

function logOf(entries: readonly IndexedEntry[]): { log: MerkleLog; head: SignedTreeHead } {
  const log = new MerkleLog();
  for (const e of entries) log.appendLeafHash(entryLeafHash(e));
  return { log, head: signLogHead(sequencer, log, NOW) };
}

describe('parseIndicatorJson', () => {
  const cases: Array<[string, string, string]> = [
    ['canonical and normalized', '{"type":"domain","value":"evil.example"}', 'ok'],
    ['not JSON', '{type:domain}', 'malformed-indicator'],
    ['extra member', '{"confidence":5,"type":"domain","value":"evil.example"}', 'malformed-indicator'],
    ['unknown type', '{"type":"asn","value":"AS1"}', 'malformed-indicator'],
    ['value not normalized', '{"type":"domain","value":"EVIL.example"}', 'not-normalized'],
    ['invalid value', '{"type":"ipv4","value":"999.1.1.1"}', 'not-normalized'],
    ['members out of order', '{"value":"evil.example","type":"domain"}', 'not-canonical'],
    ['white space', '{"type": "domain","value":"evil.example"}', 'not-canonical'],
  ];
  for (const [name, json, want] of cases) {
    test(name, () => {
      const r = parseIndicatorJson(json);
      assert.equal(r.ok ? 'ok' : r.reason, want);
    });
  }
});

describe('entry encoding', () => {
  test('leaf data is canonical JSON independent of vote order', () => {
    const e = entry();
    const reversed = { ...e, votes: [...e.votes].reverse() };
    assert.equal(entryLeafData(e), entryLeafData(reversed));
    assert.match(entryLeafData(e), /^\{"indicator":\{"type":"domain","value":"evil.example"\},"kind":"add",/);
  });

  test('every field changes the leaf hash', () => {
    const e = entry();
    const variants: IndexedEntry[] = [
      { ...e, kind: 'revoke' },
      { ...e, indicator: { type: 'domain', value: 'other.example' } },
      { ...e, proposerId: 'b' },
      { ...e, proposalSignature: signProposal(keys.b, 'add', ind) },
      { ...e, window: { ...WINDOW, closesAt: '2026-03-01T14:00:00Z' } },
      { ...e, votes: e.votes.slice(1) },
      { ...e, meta },
      { ...e, meta: { ...meta, confidence: 10 } },
    ];
    const hashes = new Set([entryLeafHash(e), ...variants.map(entryLeafHash)]);
    assert.equal(hashes.size, variants.length + 1);
  });

  test('a REJECT leaf differs from the ADD leaf of the same round; ADD and REVOKE leaves keep their bytes', () => {
    const e = entry();
    assert.notEqual(entryLeafHash({ ...e, kind: 'reject' }), entryLeafHash(e));
    assert.match(entryLeafData({ ...e, kind: 'reject' }), /"kind":"reject"/);
    // The leaf of an ADD without metadata is exactly the canonical JSON it was before REJECT existed.
    const v = e.votes.map((x) => ({ decision: x.decision, digest: x.digest, partnerId: x.partnerId, signature: x.signature, signedAt: x.signedAt })).sort((a, b) => (a.partnerId < b.partnerId ? -1 : 1));
    const before = `{"indicator":{"type":"domain","value":"evil.example"},"kind":"add","proposalSignature":${JSON.stringify(e.proposalSignature)},"proposerId":"a","votes":${JSON.stringify(v)},"window":${JSON.stringify({ closesAt: WINDOW.closesAt, opensAt: WINDOW.opensAt })}}`;
    assert.equal(entryLeafData(e), before);
  });

  test('revocation votes sign a subject distinct from the digest', () => {
    const d = indicatorDigest(ind);
    assert.equal(voteSubject('add', d), d);
    assert.notEqual(voteSubject('revoke', d), d);
  });
});

describe('checkEntry', () => {
  const subject = indicatorDigest(ind);
  const other = indicatorDigest({ type: 'domain', value: 'other.example' });
  const cases: Array<[string, IndexedEntry, string]> = [
    ['valid add with quorum', entry(), 'ok'],
    ['valid revoke with revocation votes', entry('revoke', [vote('a', voteSubject('revoke', subject)), vote('c', voteSubject('revoke', subject))]), 'ok'],
    ['a vote signed by the wrong key', entry('add', [vote('a', subject), vote('b', subject, keys.c)]), 'forged-vote'],
    ['a vote for another digest', entry('add', [vote('a', subject), vote('b', other)]), 'replayed-vote'],
    ['add votes reused for a revoke', entry('revoke', [vote('a', subject), vote('b', subject)]), 'replayed-vote'],
    ['one approval of two required', entry('add', [vote('a', subject)]), 'no-quorum'],
    ['proposal signed by someone else', { ...entry(), proposalSignature: signProposal(keys.b, 'add', ind) }, 'bad-proposal-signature'],
    ['proposer unknown', { ...entry(), proposerId: 'mallory' }, 'unknown-proposer'],
    ['valid add with signed metadata', { ...entry(), meta, proposalSignature: signProposal(keys.a, 'add', ind, meta) }, 'ok'],
    // The sequencer logs (and the tree head commits to) metadata the proposer did not sign.
    ['metadata swapped by the sequencer', { ...entry(), meta: { ...meta, confidence: 20 }, proposalSignature: signProposal(keys.a, 'add', ind, meta) }, 'bad-proposal-signature'],
    ['metadata added to a proposal signed without it', { ...entry(), meta }, 'bad-proposal-signature'],
    ['signed metadata stripped', { ...entry(), proposalSignature: signProposal(keys.a, 'add', ind, meta) }, 'bad-proposal-signature'],
    ['metadata on a revoke', { ...entry('revoke', [vote('a', voteSubject('revoke', subject)), vote('c', voteSubject('revoke', subject))]), meta }, 'bad-proposal-signature'],
    // REJECT: reject votes on the ADD subject derived from the indicator; 3 voters, quorum 2, so 2 rejections make it unreachable.
    ['valid reject with two reject votes', rejectEntry([rejectVote('b', subject), rejectVote('c', subject)]), 'ok'],
    ['valid reject with signed metadata', { ...rejectEntry([rejectVote('b', subject), rejectVote('c', subject)]), meta, proposalSignature: signProposal(keys.a, 'add', ind, meta) }, 'ok'],
    ['reject with one reject vote (quorum still reachable)', rejectEntry([rejectVote('b', subject)]), 'no-quorum'],
    ['reject with the same reject vote twice', rejectEntry([rejectVote('b', subject), rejectVote('b', subject)]), 'no-quorum'],
    ['reject proven by approvals', rejectEntry([vote('b', subject), vote('c', subject)]), 'no-quorum'],
    ['reject holding an approval besides enough rejections', rejectEntry([rejectVote('b', subject), rejectVote('c', subject), vote('a', subject)]), 'no-quorum'],
    ['reject votes for another indicator', rejectEntry([rejectVote('b', other), rejectVote('c', other)]), 'replayed-vote'],
    ['reject votes on the revocation subject', rejectEntry([rejectVote('b', voteSubject('revoke', subject)), rejectVote('c', voteSubject('revoke', subject))]), 'replayed-vote'],
    ['a forged reject vote', rejectEntry([rejectVote('b', subject), rejectVote('c', subject, keys.a)]), 'forged-vote'],
    ['reject with no votes (an expired round)', rejectEntry([]), 'no-quorum'],
    ['reject with a revocation signature as its proposal', { ...rejectEntry([rejectVote('b', subject), rejectVote('c', subject)]), proposalSignature: signProposal(keys.a, 'revoke', ind) }, 'bad-proposal-signature'],
  ];
  for (const [name, e, want] of cases) {
    test(name, () => {
      const { log, head } = logOf([e]);
      const r = checkEntry(anchors, head, e, log.inclusionProof(0));
      assert.equal('reason' in r ? r.reason : 'ok', want, 'reason' in r ? r.message : '');
    });
  }

  test('an entry changed after the tree head was signed is a tampered entry', () => {
    const e = entry();
    const { log, head } = logOf([e]);
    const changed = { ...e, indicator: { type: 'domain' as const, value: 'benign.example' } };
    const r = checkEntry(anchors, head, changed, log.inclusionProof(0));
    assert.equal('reason' in r ? r.reason : 'ok', 'tampered-entry');
  });

  test('metadata changed after the tree head was signed is a tampered entry', () => {
    const e = { ...entry(), meta, proposalSignature: signProposal(keys.a, 'add', ind, meta) };
    const { log, head } = logOf([e]);
    const r = checkEntry(anchors, head, { ...e, meta: { ...meta, tlp: 'clear' } }, log.inclusionProof(0));
    assert.equal('reason' in r ? r.reason : 'ok', 'tampered-entry');
  });

  test('an entry claimed at another index is a tampered entry', () => {
    const e0 = entry();
    const e1 = { ...entry('add', [vote('a', subject), vote('c', subject)]), index: 1 };
    const { log, head } = logOf([e0, e1]);
    const r = checkEntry(anchors, head, { ...e1, index: 0 }, log.inclusionProof(1));
    assert.equal('reason' in r ? r.reason : 'ok', 'tampered-entry');
  });
});

describe('tree heads', () => {
  test('a head signed by another key is refused', () => {
    const { head } = logOf([entry()]);
    assert.equal(checkTreeHead(anchors, head), undefined);
    const rogue = signLogHead(SigningKey.generate(), new MerkleLog(), NOW);
    assert.equal(checkTreeHead(anchors, rogue)?.reason, 'bad-tree-head');
  });

  test('an extension is consistent; a rewritten history and a rollback are forks', () => {
    const e0 = entry();
    const e1 = { ...entry('add', [vote('a', indicatorDigest(ind)), vote('c', indicatorDigest(ind))]), index: 1 };
    const { log, head: h2 } = logOf([e0, e1]);
    const h1 = signTreeHeadAt(log, 1);
    assert.equal(checkConsistency(undefined, h1, []), undefined);
    assert.equal(checkConsistency(h1, h2, log.consistencyProof(1, 2)), undefined);
    const { log: other, head: forked } = logOf([e1, e0]);
    assert.equal(checkConsistency(h1, forked, other.consistencyProof(1, 2))?.reason, 'fork');
    assert.equal(checkConsistency(h2, h1, [])?.reason, 'fork');
  });
});

describe('checkPeerHead', () => {
  const e0 = entry();
  const e1 = { ...entry('add', [vote('a', indicatorDigest(ind)), vote('c', indicatorDigest(ind))]), index: 1 };
  const { log, head: h2 } = logOf([e0, e1]);
  const h1 = signTreeHeadAt(log, 1);
  const { log: other, head: forked2 } = logOf([e1, e0]);
  const cases: Array<[string, () => string | undefined]> = [
    ['same head', () => checkPeerHead(anchors, h2, h2, [])?.reason],
    ['peer behind, consistent', () => checkPeerHead(anchors, h2, h1, log.consistencyProof(1, 2))?.reason],
    ['peer ahead, consistent', () => checkPeerHead(anchors, h1, h2, log.consistencyProof(1, 2))?.reason],
    ['same size, different root', () => checkPeerHead(anchors, h2, forked2, [])?.reason],
    ['peer ahead on another history', () => checkPeerHead(anchors, h1, forked2, other.consistencyProof(1, 2))?.reason],
    ['peer head not signed by the sequencer', () => checkPeerHead(anchors, h2, signLogHead(SigningKey.generate(), log, NOW), [])?.reason],
  ];
  const want = [undefined, undefined, undefined, 'fork', 'fork', 'bad-tree-head'];
  for (const [i, [name, run]] of cases.entries()) {
    test(name, () => assert.equal(run(), want[i]));
  }
});

function signTreeHeadAt(log: MerkleLog, size: number): SignedTreeHead {
  const prefix = new MerkleLog();
  for (let i = 0; i < size; i++) prefix.appendLeafHash(log.leafHash(i));
  return signLogHead(sequencer, prefix, NOW);
}

describe('headFreshness (the heartbeat a partner checks)', () => {
  const now = new Date('2026-12-06T12:00:00.000Z');
  const at = (ms: number): SignedTreeHead => signLogHead(SigningKey.generate(), new MerkleLog(), new Date(now.getTime() + ms));
  const rows: Array<[string, number, string, number]> = [
    ['signed just now', 0, 'fresh', 0],
    ['signed a minute ago', -60_000, 'fresh', 60_000],
    ['signed exactly at the limit', -MAX_HEAD_AGE_MS, 'fresh', MAX_HEAD_AGE_MS],
    ['older than the limit', -MAX_HEAD_AGE_MS - 1, 'stale', MAX_HEAD_AGE_MS + 1],
    ['ahead within the clock skew', 30_000, 'fresh', 0],
    ['ahead by more than the skew', 3_600_000, 'future', 0],
  ];
  for (const [name, offset, status, ageMs] of rows) {
    test(`${name} → ${status}`, () => assert.deepEqual(headFreshness(at(offset), now), { status, ageMs }));
  }
  test('an unparseable timestamp is treated as dated ahead (never fresh)', () => {
    assert.equal(headFreshness({ ...at(0), timestamp: 'soon' }, now).status, 'future');
  });
});

describe('checkHistory (per-indicator order at the partner)', () => {
  const anchors: TrustAnchors = { sequencerKey: SigningKey.generate().publicKey, partners: [] };
  const window = (opensAt: string) => ({ opensAt, closesAt: '2026-12-09T00:00:00.000Z' });
  const entry = (index: number, kind: LogEntryKind, opensAt = '2026-12-02T00:00:00.000Z'): IndexedEntry => ({ index, kind, indicator: { type: 'domain', value: 'h.example' }, proposerId: 'p', proposalSignature: 's', window: window(opensAt), votes: [] });
  const added: IndicatorHistory = { kind: 'add', index: 5, window: window('2026-12-02T00:00:00.000Z') };
  const revoked: IndicatorHistory = { kind: 'revoke', index: 7, window: window('2026-12-03T00:00:00.000Z'), readmitFloorMs: Date.parse('2026-12-03T01:00:00.000Z') };
  const rejected: IndicatorHistory = { kind: 'reject', index: 7, window: window('2026-12-03T00:00:00.000Z'), readmitFloorMs: Date.parse('2026-12-03T01:00:00.000Z') };
  const rows: Array<[string, IndexedEntry, IndicatorHistory | undefined, boolean]> = [
    ['a first ADD', entry(5, 'add'), undefined, true],
    ['an ADD of an active indicator at a later index (a replay)', entry(9, 'add'), added, false],
    ['the ADD already applied, verified again after a lost cursor', entry(5, 'add'), added, true],
    ['an older entry, verified again after a lost cursor', entry(2, 'add'), revoked, true],
    ['a REVOKE of an active indicator', entry(7, 'revoke', '2026-12-03T00:00:00.000Z'), added, true],
    ['a REVOKE of an indicator never admitted', entry(7, 'revoke'), undefined, false],
    ['a REVOKE of an earlier admission (its round opened before the admission\'s)', entry(8, 'revoke', '2026-12-01T00:00:00.000Z'), added, false],
    ['a re-admission opening after the revocation\'s last vote', entry(9, 'add', '2026-12-03T02:00:00.000Z'), revoked, true],
    ['a re-admission opening before it (the first admission\'s votes)', entry(9, 'add', '2026-12-02T00:00:00.000Z'), revoked, false],
    ['a first REJECT', entry(3, 'reject'), undefined, true],
    ['a REJECT of an active indicator (an old rejection replayed after the admission)', entry(9, 'reject', '2026-12-03T00:00:00.000Z'), added, false],
    ['a REJECT after a revocation, opening after its last vote', entry(9, 'reject', '2026-12-03T02:00:00.000Z'), revoked, true],
    ['a REJECT after a revocation, opening before its last vote', entry(9, 'reject', '2026-12-02T00:00:00.000Z'), revoked, false],
    ['the same REJECT again at a later index (duplicated leaf)', entry(9, 'reject', '2026-12-03T00:00:00.000Z'), rejected, false],
    ['a REJECT of a round opening before the last rejection\'s votes (reordered)', entry(9, 'reject', '2026-12-02T00:00:00.000Z'), rejected, false],
    ['a later REJECT, opening after the last rejection\'s votes', entry(9, 'reject', '2026-12-03T02:00:00.000Z'), rejected, true],
    ['an ADD after a REJECT, opening after its votes', entry(9, 'add', '2026-12-03T02:00:00.000Z'), rejected, true],
    ['an ADD after a REJECT reusing that round (opening before its votes)', entry(9, 'add', '2026-12-03T00:00:00.000Z'), rejected, false],
    ['a REVOKE of a rejected indicator', entry(9, 'revoke', '2026-12-03T02:00:00.000Z'), rejected, false],
  ];
  for (const [name, e, last, ok] of rows) {
    test(`${name} → ${ok ? 'accepted' : 'replayed-entry'}`, () => assert.equal(checkHistory(anchors, e, last)?.reason, ok ? undefined : 'replayed-entry'));
  }
});

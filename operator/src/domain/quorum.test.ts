import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SigningKey } from './signature.ts';
import {
  QuorumInputError, decideQuorum, defaultQuorum, indexVoters, signVote, verifyVote, voteSigningPayload,
  type IgnoredVote, type PartnerRole, type QuorumOutcome, type Vote, type Voter, type VoteDecision,
} from './quorum.ts';

const DIGEST = 'a'.repeat(64);
const OTHER_DIGEST = 'b'.repeat(64);
const OPENS = Date.parse('2026-03-01T00:00:00Z');
const CLOSES = OPENS + 3_600_000;
const window = { opensAt: new Date(OPENS).toISOString(), closesAt: new Date(CLOSES).toISOString() };
const minutes = (m: number): string => new Date(OPENS + m * 60_000).toISOString();

// Ten partners p1..p10 with keys made once; each case picks its voter set from them.
const keys = new Map<string, SigningKey>(Array.from({ length: 10 }, (_, i) => [`p${i + 1}`, SigningKey.generate()] as const));
const key = (id: string): SigningKey => keys.get(id) ?? assert.fail(`no key for ${id}`);
const voter = (id: string, roles: readonly PartnerRole[] = ['voter']): Voter => ({ partnerId: id, publicKey: key(id).publicKey, roles });
const votersNamed = (n: number): Voter[] => Array.from({ length: n }, (_, i) => voter(`p${i + 1}`));

interface VoteSpec {
  from: string;
  decision?: VoteDecision;
  at?: number;
  digest?: string;
  signedBy?: string;
  tamper?: (v: Vote) => Vote;
}
function vote(spec: VoteSpec): Vote {
  const fields = { partnerId: spec.from, digest: spec.digest ?? DIGEST, decision: spec.decision ?? 'approve', signedAt: minutes(spec.at ?? 10) };
  const signed = signVote(key(spec.signedBy ?? spec.from), fields);
  return spec.tamper ? spec.tamper(signed) : signed;
}
const approve = (from: string, at = 10): VoteSpec => ({ from, decision: 'approve', at });
const reject = (from: string, at = 10): VoteSpec => ({ from, decision: 'reject', at });

interface Case {
  name: string;
  voters: Voter[];
  votes: VoteSpec[];
  quorum?: number;
  now?: number;
  expect: Omit<QuorumOutcome, 'ignored'> & { ignored?: IgnoredVote[] };
}

const cases: Case[] = [
  // n = 1: quorum 1.
  { name: 'n=1, no votes yet', voters: votersNamed(1), votes: [], expect: { decision: 'pending', approvals: 0, rejections: 0, required: 1, eligible: 1 } },
  { name: 'n=1, approved', voters: votersNamed(1), votes: [approve('p1')], expect: { decision: 'approved', approvals: 1, rejections: 0, required: 1, eligible: 1 } },
  { name: 'n=1, rejected', voters: votersNamed(1), votes: [reject('p1')], expect: { decision: 'rejected', approvals: 0, rejections: 1, required: 1, eligible: 1 } },
  // n = 3: quorum 3, a single reject makes it unreachable.
  { name: 'n=3, two approvals pending', voters: votersNamed(3), votes: [approve('p1'), approve('p2')], expect: { decision: 'pending', approvals: 2, rejections: 0, required: 3, eligible: 3 } },
  { name: 'n=3, unanimous', voters: votersNamed(3), votes: [approve('p1'), approve('p2'), approve('p3')], expect: { decision: 'approved', approvals: 3, rejections: 0, required: 3, eligible: 3 } },
  { name: 'n=3, one reject makes quorum unreachable', voters: votersNamed(3), votes: [approve('p1'), reject('p2')], expect: { decision: 'rejected', approvals: 1, rejections: 1, required: 3, eligible: 3 } },
  // n = 4: quorum 3.
  { name: 'n=4, 3 of 4 approve', voters: votersNamed(4), votes: [approve('p1'), approve('p2'), reject('p3'), approve('p4')], expect: { decision: 'approved', approvals: 3, rejections: 1, required: 3, eligible: 4 } },
  { name: 'n=4, tie 2-2 is rejected', voters: votersNamed(4), votes: [approve('p1'), approve('p2'), reject('p3'), reject('p4')], expect: { decision: 'rejected', approvals: 2, rejections: 2, required: 3, eligible: 4 } },
  { name: 'n=4, 2-1 with one outstanding is pending', voters: votersNamed(4), votes: [approve('p1'), approve('p2'), reject('p3')], expect: { decision: 'pending', approvals: 2, rejections: 1, required: 3, eligible: 4 } },
  { name: 'n=2, tie 1-1 is rejected (quorum 2)', voters: votersNamed(2), votes: [approve('p1'), reject('p2')], expect: { decision: 'rejected', approvals: 1, rejections: 1, required: 2, eligible: 2 } },
  // n = 7: quorum 5.
  { name: 'n=7, 5 approvals', voters: votersNamed(7), votes: ['p1', 'p2', 'p3', 'p4', 'p5'].map((p) => approve(p)), expect: { decision: 'approved', approvals: 5, rejections: 0, required: 5, eligible: 7 } },
  { name: 'n=7, 4 approvals 2 rejects pending', voters: votersNamed(7), votes: [...['p1', 'p2', 'p3', 'p4'].map((p) => approve(p)), reject('p5'), reject('p6')], expect: { decision: 'pending', approvals: 4, rejections: 2, required: 5, eligible: 7 } },
  { name: 'n=7, 3 rejects make 5 unreachable', voters: votersNamed(7), votes: [approve('p1'), reject('p2'), reject('p3'), reject('p4')], expect: { decision: 'rejected', approvals: 1, rejections: 3, required: 5, eligible: 7 } },
  { name: 'n=7, configured quorum 4 reached', voters: votersNamed(7), quorum: 4, votes: ['p1', 'p2', 'p3', 'p4'].map((p) => approve(p)), expect: { decision: 'approved', approvals: 4, rejections: 0, required: 4, eligible: 7 } },
  { name: 'n=7, quorum 7 needs everyone', voters: votersNamed(7), quorum: 7, votes: [...['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((p) => approve(p)), reject('p7')], expect: { decision: 'rejected', approvals: 6, rejections: 1, required: 7, eligible: 7 } },
  // Votes that must not count.
  {
    name: 'forged signature (signed by another partner\'s key)', voters: votersNamed(3),
    votes: [approve('p1'), approve('p2'), { from: 'p3', signedBy: 'p1' }],
    expect: { decision: 'pending', approvals: 2, rejections: 0, required: 3, eligible: 3, ignored: [{ partnerId: 'p3', reason: 'bad-signature' }] },
  },
  {
    name: 'decision flipped after signing', voters: votersNamed(1),
    votes: [{ from: 'p1', decision: 'reject', tamper: (v) => ({ ...v, decision: 'approve' }) }],
    expect: { decision: 'pending', approvals: 0, rejections: 0, required: 1, eligible: 1, ignored: [{ partnerId: 'p1', reason: 'bad-signature' }] },
  },
  {
    name: 'garbage signature', voters: votersNamed(1), votes: [{ from: 'p1', tamper: (v) => ({ ...v, signature: 'not-a-signature' }) }],
    expect: { decision: 'pending', approvals: 0, rejections: 0, required: 1, eligible: 1, ignored: [{ partnerId: 'p1', reason: 'bad-signature' }] },
  },
  {
    name: 'vote replayed for another digest (digest field rewritten)', voters: votersNamed(1),
    votes: [{ from: 'p1', digest: OTHER_DIGEST, tamper: (v) => ({ ...v, digest: DIGEST }) }],
    expect: { decision: 'pending', approvals: 0, rejections: 0, required: 1, eligible: 1, ignored: [{ partnerId: 'p1', reason: 'bad-signature' }] },
  },
  {
    name: 'valid vote for another digest', voters: votersNamed(1), votes: [{ from: 'p1', digest: OTHER_DIGEST }],
    expect: { decision: 'pending', approvals: 0, rejections: 0, required: 1, eligible: 1, ignored: [{ partnerId: 'p1', reason: 'wrong-digest' }] },
  },
  {
    name: 'votes before and after the window', voters: votersNamed(3),
    votes: [approve('p1', -1), approve('p2', 61), approve('p3', 60)], now: 30,
    expect: { decision: 'pending', approvals: 1, rejections: 0, required: 3, eligible: 3, ignored: [{ partnerId: 'p1', reason: 'outside-window' }, { partnerId: 'p2', reason: 'outside-window' }] },
  },
  {
    name: 'window closed without quorum', voters: votersNamed(3), votes: [approve('p1'), approve('p2')], now: 61,
    expect: { decision: 'rejected', approvals: 2, rejections: 0, required: 3, eligible: 3 },
  },
  {
    name: 'quorum reached inside the window stays approved after it closes', voters: votersNamed(1), votes: [approve('p1', 59)], now: 600,
    expect: { decision: 'approved', approvals: 1, rejections: 0, required: 1, eligible: 1 },
  },
  {
    name: 'conflicting duplicate: the earlier vote counts whatever the order', voters: votersNamed(1),
    votes: [reject('p1', 20), approve('p1', 5)],
    expect: { decision: 'approved', approvals: 1, rejections: 0, required: 1, eligible: 1, ignored: [{ partnerId: 'p1', reason: 'duplicate' }] },
  },
  {
    name: 'identical re-delivery counts once', voters: votersNamed(3), votes: [approve('p1'), approve('p1'), approve('p2')],
    expect: { decision: 'pending', approvals: 2, rejections: 0, required: 3, eligible: 3, ignored: [{ partnerId: 'p1', reason: 'duplicate' }] },
  },
  {
    name: 'an invalid vote does not block a later valid one', voters: votersNamed(1),
    votes: [{ from: 'p1', signedBy: 'p2' }, approve('p1', 30)],
    expect: { decision: 'approved', approvals: 1, rejections: 0, required: 1, eligible: 1, ignored: [{ partnerId: 'p1', reason: 'bad-signature' }] },
  },
  {
    name: 'unknown partner and non-voters', voters: [...votersNamed(3), voter('p4', ['contributor', 'consumer'])],
    votes: [approve('p1'), approve('p2'), approve('p4'), approve('p9')],
    expect: { decision: 'pending', approvals: 2, rejections: 0, required: 3, eligible: 3, ignored: [{ partnerId: 'p4', reason: 'not-a-voter' }, { partnerId: 'p9', reason: 'unknown-partner' }] },
  },
  {
    name: 'non-voters do not count towards n', voters: [voter('p1'), voter('p2', ['contributor']), voter('p3', ['consumer'])], votes: [approve('p1')],
    expect: { decision: 'approved', approvals: 1, rejections: 0, required: 1, eligible: 1 },
  },
];

describe('decideQuorum', () => {
  for (const c of cases) {
    test(c.name, () => {
      const outcome = decideQuorum({ voters: c.voters, votes: c.votes.map(vote), digest: DIGEST, quorum: c.quorum, window, now: minutes(c.now ?? 30) });
      assert.deepEqual(outcome, { ignored: [], ...c.expect });
    });
  }

  test('an index of the same voter array gives the same outcomes; an index of another array is not used', () => {
    for (const c of cases) {
      const input = { voters: c.voters, votes: c.votes.map(vote), digest: DIGEST, quorum: c.quorum, window, now: minutes(c.now ?? 30) };
      let plain: unknown;
      try {
        plain = decideQuorum(input);
      } catch (err) {
        plain = err instanceof QuorumInputError ? 'invalid input' : err;
      }
      if (typeof plain === 'string') continue;
      assert.deepEqual(decideQuorum({ ...input, index: indexVoters(c.voters) }), plain, c.name);
    }
    // An index made for a larger directory (another array) must not widen this one's voter set.
    const two = votersNamed(2);
    const votes = [approve('p1'), approve('p3')].map(vote);
    const stale = decideQuorum({ voters: two, index: indexVoters(votersNamed(3)), votes, digest: DIGEST, quorum: 2, window, now: minutes(30) });
    assert.equal(stale.decision, 'pending');
    assert.deepEqual(stale.ignored, [{ partnerId: 'p3', reason: 'unknown-partner' }]);
  });

  test('the outcome does not depend on vote order', () => {
    const votes = [reject('p1', 20), approve('p1', 5), approve('p2'), { from: 'p3', signedBy: 'p2' }, approve('p4')].map(vote);
    const first = decideQuorum({ voters: votersNamed(4), votes, digest: DIGEST, window, now: minutes(30) });
    const reversed = decideQuorum({ voters: votersNamed(4), votes: [...votes].reverse(), digest: DIGEST, window, now: minutes(30) });
    assert.deepEqual(reversed, first);
    assert.equal(first.decision, 'approved');
  });

  test('a vote the caller already verified with the same key object is not verified again; with another key it is', () => {
    // A badly signed vote stands in for one verified earlier: only a skipped check lets it count.
    const forged: Vote = { ...vote(approve('p1')), signature: vote(approve('p2')).signature };
    const voters = votersNamed(2);
    const seen = new Map<Vote, unknown>([[forged, voters[0]!.publicKey]]);
    const verified = (v: Voter, x: Vote): boolean => seen.get(x) === v.publicKey;
    const decide = (vs: readonly Voter[]) => decideQuorum({ voters: vs, votes: [forged], digest: DIGEST, quorum: 1, window, now: minutes(30), verified });
    assert.equal(decide(voters).decision, 'approved');
    const rekeyed = [{ ...voters[0]!, publicKey: key('p3').publicKey }, voters[1]!];
    assert.deepEqual(decide(rekeyed).ignored, [{ partnerId: 'p1', reason: 'bad-signature' }]);
    assert.deepEqual(decideQuorum({ voters, votes: [forged], digest: DIGEST, quorum: 1, window, now: minutes(30) }).ignored, [{ partnerId: 'p1', reason: 'bad-signature' }]);
  });

  test('one key listed under two partner ids is one party: n counts it once and its second vote is shared-key', () => {
    // p2 and "p2-alias" share p2's key: a partner that registers twice must not vote twice.
    const voters = [voter('p1'), voter('p2'), { partnerId: 'p2-alias', publicKey: key('p2').publicKey, roles: ['voter'] as const }];
    const alias = (v: Vote): Vote => signVote(key('p2'), { partnerId: 'p2-alias', digest: v.digest, decision: v.decision, signedAt: minutes(11) });
    const outcome = decideQuorum({ voters, votes: [vote(approve('p2')), vote({ from: 'p2', tamper: alias })], digest: DIGEST, window, now: minutes(30) });
    assert.deepEqual(outcome, { decision: 'pending', approvals: 1, rejections: 0, required: 2, eligible: 2, ignored: [{ partnerId: 'p2-alias', reason: 'shared-key' }] });
  });

  test('votes from the network that are not objects are reported, not thrown', () => {
    const outcome = decideQuorum({ voters: votersNamed(1), votes: [null, 7, {}] as unknown as Vote[], digest: DIGEST, window, now: minutes(30) });
    assert.equal(outcome.decision, 'pending');
    assert.equal(outcome.ignored.length, 3);
  });

  const isReason = (reason: string) => (e: unknown): boolean => e instanceof QuorumInputError && e.reason === reason;
  const bad: Array<[string, () => unknown, string]> = [
    ['no voters at all', () => decideQuorum({ voters: [], votes: [], digest: DIGEST, window, now: minutes(1) }), 'no-voters'],
    ['only non-voters', () => decideQuorum({ voters: [voter('p1', ['consumer'])], votes: [], digest: DIGEST, window, now: minutes(1) }), 'no-voters'],
    ['quorum 0', () => decideQuorum({ voters: votersNamed(3), votes: [], digest: DIGEST, quorum: 0, window, now: minutes(1) }), 'invalid-quorum'],
    ['quorum above n', () => decideQuorum({ voters: votersNamed(3), votes: [], digest: DIGEST, quorum: 4, window, now: minutes(1) }), 'invalid-quorum'],
    ['fractional quorum', () => decideQuorum({ voters: votersNamed(3), votes: [], digest: DIGEST, quorum: 1.5, window, now: minutes(1) }), 'invalid-quorum'],
    ['partner listed twice', () => decideQuorum({ voters: [voter('p1'), voter('p1')], votes: [], digest: DIGEST, window, now: minutes(1) }), 'duplicate-voter'],
    ['window closes before it opens', () => decideQuorum({ voters: votersNamed(1), votes: [], digest: DIGEST, window: { opensAt: window.closesAt, closesAt: window.opensAt }, now: minutes(1) }), 'invalid-time'],
    ['unparseable now', () => decideQuorum({ voters: votersNamed(1), votes: [], digest: DIGEST, window, now: 'yesterday' }), 'invalid-time'],
    ['invalid Date', () => decideQuorum({ voters: votersNamed(1), votes: [], digest: DIGEST, window: { opensAt: new Date(NaN), closesAt: window.closesAt }, now: minutes(1) }), 'invalid-time'],
  ];
  for (const [name, fn, reason] of bad) {
    test(`refuses configuration: ${name}`, () => assert.throws(fn, isReason(reason)));
  }
});

describe('default quorum', () => {
  for (const [n, q] of [[1, 1], [2, 2], [3, 3], [4, 3], [5, 4], [6, 5], [7, 5], [10, 7], [100, 67]] as const) {
    test(`n=${n} needs ${q}`, () => assert.equal(defaultQuorum(n), q));
  }
});

describe('signVote / verifyVote', () => {
  const fields = { partnerId: 'p1', digest: DIGEST, decision: 'reject' as const, reason: 'on a warning list', signedAt: '2026-03-01T00:10:00Z' };
  test('the signed payload is canonical JSON with kind "vote"', () => {
    assert.equal(voteSigningPayload(fields),
      `{"decision":"reject","digest":"${DIGEST}","kind":"vote","partnerId":"p1","reason":"on a warning list","signedAt":"2026-03-01T00:10:00Z"}`);
    const { reason: _reason, ...noReason } = fields;
    assert.doesNotMatch(voteSigningPayload(noReason), /reason/);
  });
  test('round trip, and every field is covered by the signature', () => {
    const v = signVote(key('p1'), fields);
    assert.equal(verifyVote(voter('p1'), v), true);
    const changes: Array<Partial<Vote>> = [
      { partnerId: 'p2' }, { digest: OTHER_DIGEST }, { decision: 'approve' }, { reason: 'other' }, { reason: undefined }, { signedAt: '2026-03-01T00:10:01Z' },
    ];
    for (const change of changes) assert.equal(verifyVote(voter('p1'), { ...v, ...change }), false, JSON.stringify(change));
  });
  test('a vote signature is not valid as another kind', () => {
    const v = signVote(key('p1'), fields);
    assert.equal(key('p1').publicKey.verify('proposal', voteSigningPayload(v), v.signature), false);
  });
  test('a vote from another partner id does not verify against this voter', () => {
    const v = signVote(key('p2'), { ...fields, partnerId: 'p2' });
    assert.equal(verifyVote(voter('p1'), v), false);
  });
  const badFields: Array<[string, Record<string, unknown>]> = [
    ['empty partnerId', { partnerId: '' }],
    ['empty digest', { digest: '' }],
    ['unknown decision', { decision: 'abstain' }],
    ['non-ISO signedAt', { signedAt: 'March 1st' }],
    ['signedAt without zone', { signedAt: '2026-03-01T00:10:00' }],
    ['signedAt at 24:00 (Date.parse reads the next day)', { signedAt: '2026-02-28T24:00:00Z' }],
    ['signedAt on February 30', { signedAt: '2026-02-30T00:10:00Z' }],
    ['numeric reason', { reason: 5 }],
    ['a reason with a lone surrogate', { reason: 'benign \ud800' }],
    ['a partner id with a lone surrogate', { partnerId: 'p1\udc00' }],
  ];
  for (const [name, change] of badFields) {
    test(`signVote refuses ${name}; verifyVote gives false`, () => {
      const broken = { ...fields, ...change };
      assert.throws(() => signVote(key('p1'), broken), (e: unknown) => e instanceof QuorumInputError && e.reason === 'invalid-vote');
      assert.equal(verifyVote(voter('p1'), { ...signVote(key('p1'), fields), ...change }), false);
    });
  }
  test('a reason with a lone surrogate gives false, not a throw', () => {
    assert.equal(verifyVote(voter('p1'), { ...signVote(key('p1'), fields), reason: '\ud800' }), false);
  });
});

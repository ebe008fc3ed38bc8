/**
 * The automatic voter's delivery: a vote is settled only by the sequencer's answer. Found by
 * `npm run chaos` (votes lost when a call failed during a sequencer failover) and by the
 * clear-failure tests (a vote batch over the sequencer's message limit).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { indicatorCanonicalJson, indicatorDigest } from '../../domain/canonical.ts';
import { signProposal } from '../../domain/entry.ts';
import type { Indicator } from '../../domain/indicator.ts';
import { verifyVote, type Vote } from '../../domain/quorum.ts';
import { SigningKey } from '../../domain/signature.ts';
import { createLogger } from '../../log.ts';
import { ExchangeCallError, type ItemRefusal } from '../protocol/client.ts';
import type { PendingRound, VoteResult } from '../protocol/messages.ts';
import { AutoVoter, type VoterClient } from './voter.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const proposer = SigningKey.generate();
const mine = SigningKey.generate();
const partners = [{ partnerId: 'alpha', publicKey: proposer.publicKey, roles: ['contributor' as const, 'voter' as const] }];
const window = { opensAt: '2026-12-01T00:00:00.000Z', closesAt: '2026-12-04T00:00:00.000Z' };

function round(n: number): PendingRound {
  const indicator: Indicator = { type: 'domain', value: `v${n}.example` };
  const digest = indicatorDigest(indicator);
  return { kind: 'add', indicator, indicatorJson: indicatorCanonicalJson(indicator), digest, subject: digest, proposerId: 'alpha', signature: signProposal(proposer, 'add', indicator), window };
}

const counted: VoteResult = { status: 'counted', approvals: 1, rejections: 0, required: 2 };

/** A sequencer that fails calls as `answer` says and records the votes it received. */
function client(rounds: readonly PendingRound[], answer: (batch: readonly Vote[], call: number) => 'ok' | 'unavailable' | 'too-large' | 'refused'): VoterClient & { received: string[] } {
  let calls = 0;
  const received: string[] = [];
  return {
    received,
    listPending: () => Promise.resolve([...rounds]),
    vote: () => Promise.reject(new Error('voteBatch is used')),
    voteBatch: (vs) => {
      const a = answer(vs, calls++);
      if (a === 'unavailable') return Promise.reject(new ExchangeCallError(grpc.status.UNAVAILABLE, 'VoteBatch: UNAVAILABLE: failover', undefined));
      if (a === 'too-large') return Promise.reject(new ExchangeCallError(grpc.status.RESOURCE_EXHAUSTED, 'VoteBatch: RESOURCE_EXHAUSTED: Received message larger than max', undefined));
      received.push(...vs.map((v) => v.digest));
      return Promise.resolve(vs.map((): VoteResult | ItemRefusal => (a === 'refused' ? { status: 'refused', reason: 'outside-window', message: 'late' } : counted)));
    },
  };
}

function voter(c: VoterClient, batching?: { maxSize?: number }): AutoVoter {
  return new AutoVoter({ partnerId: 'bravo', key: mine, client: c, policy: { judge: () => ({ decision: 'approve' }) }, partners, now: () => new Date('2026-12-01T01:00:00.000Z'), log: quiet, ...(batching !== undefined ? { batching } : {}) });
}

describe('AutoVoter batch votes (protocol v2)', () => {
  const TABLE: ReadonlyArray<{ name: string; rounds: number; batching?: { maxSize?: number }; signatures: number }> = [
    { name: 'without batching: one signature per vote (protocol v1)', rounds: 5, signatures: 5 },
    { name: 'max size 2: 5 votes in batches of 2, 2 and 1', rounds: 5, batching: { maxSize: 2 }, signatures: 3 },
    { name: 'default size: 5 votes under one root', rounds: 5, batching: {}, signatures: 1 },
  ];
  for (const c of TABLE) {
    test(c.name, async () => {
      const sent: Vote[] = [];
      const rounds = Array.from({ length: c.rounds }, (_, i) => round(100 + i));
      const v = voter({ listPending: () => Promise.resolve(rounds), vote: () => Promise.reject(new Error('voteBatch is used')), voteBatch: (vs) => { sent.push(...vs); return Promise.resolve(vs.map(() => counted)); } }, c.batching);
      assert.equal(await v.voteOnce(), c.rounds);
      assert.equal(new Set(sent.map((s) => s.signature)).size, c.signatures);
      assert.deepEqual(sent.map((s) => s.digest), rounds.map((r) => r.subject), 'one vote per round, on the subject derived here');
      const me = { partnerId: 'bravo', publicKey: mine.publicKey, roles: ['voter' as const] };
      assert.ok(sent.every((s) => verifyVote(me, s) && (s.batch !== undefined) === (c.batching !== undefined)));
    });
  }
});

describe('AutoVoter delivery', () => {
  test('votes of a call that failed are signed and sent again on the next look (none lost across a failover)', async () => {
    const rounds = [round(1), round(2)];
    const c = client(rounds, (_b, call) => (call === 0 ? 'unavailable' : 'ok'));
    const v = voter(c);
    await assert.rejects(v.voteOnce(), /failover/);
    assert.equal(v.hasVoted(rounds[0]!.subject), false);
    assert.equal(await v.voteOnce(), 2);
    assert.deepEqual(c.received.sort(), rounds.map((r) => r.subject).sort());
    assert.equal(await v.voteOnce(), 0, 'answered votes are not sent again');
  });

  test('a batch over the sequencer\'s message limit is sent in halves', async () => {
    const rounds = [round(1), round(2), round(3), round(4), round(5)];
    const c = client(rounds, (b) => (b.length > 2 ? 'too-large' : 'ok'));
    await voter(c).voteOnce();
    assert.deepEqual(c.received.sort(), rounds.map((r) => r.subject).sort());
  });

  test('a vote the sequencer refused with a reason is not sent again', async () => {
    const c = client([round(1)], () => 'refused');
    const v = voter(c);
    await v.voteOnce();
    await v.voteOnce();
    assert.equal(c.received.length, 1);
  });
});

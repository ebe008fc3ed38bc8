import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { indicatorDigest, indicatorObjectName } from '../domain/canonical.ts';
import type { Indicator } from '../domain/indicator.ts';
import { ExchangeCallError } from '../exchange/protocol/client.ts';
import type { PendingRound } from '../exchange/protocol/messages.ts';
import { closest, editDistance, explainCallError, findRound, formatList, formatOutcome, pendingView, type CastOutcome } from './vote.ts';

function round(ind: Indicator, kind: PendingRound['kind'] = 'add'): PendingRound {
  const digest = indicatorDigest(ind);
  return { kind, indicator: ind, indicatorJson: '', digest, subject: kind === 'add' ? digest : `revoke:${digest}`, proposerId: 'alpha', signature: '', window: { opensAt: '2026-01-01T00:00:00.000Z', closesAt: '2026-01-01T01:00:00.000Z' } };
}

const evil = round({ type: 'domain', value: 'evil.example' });
const ip = round({ type: 'ipv4', value: '203.0.113.9' });
const rounds = [evil, ip];

describe('findRound', () => {
  const cases: Array<[string, string, PendingRound]> = [
    ['object name', indicatorObjectName(evil.indicator), evil],
    ['digest', ip.digest, ip],
    ['indicator value', '203.0.113.9', ip],
    ['value with surrounding blanks', '  evil.example ', evil],
  ];
  for (const [name, query, want] of cases) test(`finds by ${name}`, () => assert.equal(findRound(rounds, query, 'seq:1'), want));

  test('an unknown name lists the closest pending ones first', () => {
    assert.throws(() => findRound(rounds, 'evil.exampel', 'seq:1'), (err: Error) => {
      const lines = err.message.split('\n');
      assert.match(lines[0]!, /no pending proposal named "evil.exampel" on the sequencer at seq:1/);
      assert.ok(lines[1]!.includes('evil.example'), err.message);
      return /threatmesh vote list/.test(err.message);
    });
  });
  test('nothing pending says so', () => {
    assert.throws(() => findRound([], 'x', 'seq:1'), /has no pending proposals/);
  });
  test('an addition and a revocation of one indicator ask for the subject', () => {
    assert.throws(() => findRound([evil, round(evil.indicator, 'revoke')], 'evil.example', 'seq:1'), /matches 2 pending rounds.*pass the vote subject/);
  });
});

describe('closest and editDistance', () => {
  const distances: Array<[string, string, number]> = [['', '', 0], ['abc', '', 3], ['kitten', 'sitting', 3], ['same', 'same', 0]];
  for (const [a, b, d] of distances) test(`editDistance(${a}, ${b}) = ${d}`, () => assert.equal(editDistance(a, b), d));
  test('orders by the nearest of name, value and digest', () => {
    assert.deepEqual(closest(rounds, '203.0.113.8', 2), [ip, evil]);
    assert.equal(closest(rounds, 'x', 1).length, 1);
  });
});

describe('formatting', () => {
  const base: CastOutcome = { name: 'domain-abc', value: 'evil.example', subject: 's', decision: 'approve', status: 'counted', approvals: 1, rejections: 0, required: 2, quorumReached: false };
  const cases: Array<[CastOutcome, string]> = [
    [base, 'approve vote on domain-abc (evil.example) accepted; quorum not reached yet (1 approve, 0 reject, 2 required)'],
    [{ ...base, status: 'approved', approvals: 2, quorumReached: true, logIndex: 7 }, 'approve vote on domain-abc (evil.example) accepted; quorum reached (2 approve, 0 reject, 2 required): approved, log index 7'],
    [{ ...base, decision: 'reject', status: 'rejected', approvals: 0, rejections: 2, quorumReached: true }, 'reject vote on domain-abc (evil.example) accepted; quorum can no longer be reached (0 approve, 2 reject, 2 required): rejected'],
    [{ ...base, status: 'duplicate' }, 'approve vote on domain-abc (evil.example) not counted again: this partner already voted (1 approve, 0 reject, 2 required)'],
  ];
  for (const [o, want] of cases) test(`outcome ${o.status}`, () => assert.equal(formatOutcome(o), want));
  test('list is an aligned table, or says nothing is pending', () => {
    const lines = formatList([{ ...evil, meta: { tlp: 'amber' as const, confidence: 80, source: 'tm/abuse-ch' }, tally: { approvals: 1, rejections: 0, required: 2 } }, ip].map(pendingView)).trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[1]!.indexOf('TLP:AMBER conf 80 tm/abuse-ch'), lines[0]!.indexOf('SIGNED METADATA'));
    assert.match(lines[2]!.slice(lines[0]!.indexOf('SIGNED METADATA')), /^- +\?/);
    assert.equal(lines[1]!.indexOf('evil.example'), lines[0]!.indexOf('VALUE'));
    assert.equal(lines[1]!.indexOf('1/2 approve, 0 reject'), lines[0]!.indexOf('VOTES'));
    assert.equal(lines[2]!.indexOf('?'), lines[0]!.indexOf('VOTES'));
    assert.equal(formatList([]), 'no proposals are pending\n');
  });
});

describe('explainCallError', () => {
  const cases: Array<[grpc.status, string | undefined, RegExp]> = [
    [grpc.status.UNAVAILABLE, undefined, /cannot reach the sequencer at h:1.*--tls-ca/],
    [grpc.status.PERMISSION_DENIED, 'missing-role', /refused: PERMISSION_DENIED \(missing-role\).*voter role/],
    [grpc.status.UNAUTHENTICATED, undefined, /did not accept the client certificate.*--tls-cert/],
    [grpc.status.DEADLINE_EXCEEDED, undefined, /did not answer in time.*--timeout/],
    [grpc.status.NOT_FOUND, 'unknown-proposal', /refused the call \(unknown-proposal\)/],
  ];
  for (const [code, reason, want] of cases) test(grpc.status[code], () => assert.match(explainCallError(new ExchangeCallError(code, 'Vote: details', reason), 'h:1'), want));
});

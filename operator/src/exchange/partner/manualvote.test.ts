import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createValidators, validatorFor } from '../../api/validate.ts';
import { reviewThreatIndicator, type AdmissionRequest } from '../../api/webhook.ts';
import type { ThreatIndicator } from '../../api/types.ts';
import { partnerEntry } from '../../api/partners.ts';
import { partner } from '../../controllers/fixtures.ts';
import { indicatorCanonicalJson, indicatorDigest, indicatorObjectName } from '../../domain/canonical.ts';
import type { Indicator } from '../../domain/indicator.ts';
import { SigningKey } from '../../domain/signature.ts';
import { signProposal } from '../../domain/entry.ts';
import { specOf } from './kubesink.ts';
import { MANUAL_VOTE, answerKey, answeredBy, formatVoteResult, needsAnswer, parseVoteAnnotation, pendingSpec, roundKey, type ManualVoteOutcome, type VoteAnnotation } from './manualvote.ts';
import type { PendingRound } from '../protocol/messages.ts';

const V = MANUAL_VOTE.vote;
const R = MANUAL_VOTE.reason;
const RESULT = MANUAL_VOTE.result;

describe('parseVoteAnnotation', () => {
  const table: Array<[string, Record<string, string> | undefined, VoteAnnotation]> = [
    ['no annotations', undefined, { kind: 'none' }],
    ['no vote annotation', { other: 'x' }, { kind: 'none' }],
    ['approve', { [V]: 'approve' }, { kind: 'vote', decision: 'approve' }],
    ['reject with a reason', { [V]: 'reject', [R]: ' sinkholed since May ' }, { kind: 'vote', decision: 'reject', reason: 'sinkholed since May' }],
    ['case and spaces ignored', { [V]: ' Approve\n' }, { kind: 'vote', decision: 'approve' }],
    ['an empty reason is no reason', { [V]: 'approve', [R]: '  ' }, { kind: 'vote', decision: 'approve' }],
    ['yes is invalid', { [V]: 'yes' }, { kind: 'invalid', value: 'yes' }],
    ['approved is invalid', { [V]: ' approved ' }, { kind: 'invalid', value: 'approved' }],
    ['empty is invalid', { [V]: '' }, { kind: 'invalid', value: '' }],
  ];
  for (const [name, annotations, want] of table) test(name, () => assert.deepEqual(parseVoteAnnotation(annotations), want));
});

describe('formatVoteResult', () => {
  const counts = { approvals: 1, rejections: 0, required: 2 };
  const table: Array<[ManualVoteOutcome, string]> = [
    [{ status: 'counted', decision: 'approve', result: { status: 'counted', ...counts } }, 'counted: approve counted; quorum not reached yet (1 approve, 0 reject, 2 required)'],
    [{ status: 'approved', decision: 'approve', result: { status: 'approved', approvals: 2, rejections: 0, required: 2, logIndex: 7 } }, 'approved: approve counted; quorum reached (2 approve, 0 reject, 2 required), log index 7'],
    [{ status: 'rejected', decision: 'reject', result: { status: 'rejected', approvals: 0, rejections: 2, required: 2 } }, 'rejected: reject counted; quorum can no longer be reached (0 approve, 2 reject, 2 required)'],
    [{ status: 'duplicate', decision: 'reject', result: { status: 'duplicate', ...counts } }, 'duplicate: reject not counted again: this partner already voted on this round (1 approve, 0 reject, 2 required)'],
    [{ status: 'refused', decision: 'approve', why: 'the sequencer refused it (missing-role): bravo does not have the voter role' }, 'refused: approve refused: the sequencer refused it (missing-role): bravo does not have the voter role'],
    [{ status: 'no-open-round', decision: 'approve', revokePending: false }, 'no-open-round: approve not sent: the sequencer has no open round for this indicator (already decided, expired or never proposed)'],
    [{ status: 'invalid', value: 'yes please' }, 'invalid: use approve or reject, not "yes please"'],
    [{ status: 'counted', decision: 'approve', result: { status: 'counted', ...counts }, revocation: true }, 'counted: approve counted on the revocation; quorum not reached yet (1 approve, 0 reject, 2 required)'],
    [{ status: 'approved', decision: 'approve', result: { status: 'approved', approvals: 2, rejections: 0, required: 2, logIndex: 8 }, revocation: true }, 'approved: approve counted on the revocation; quorum reached (2 approve, 0 reject, 2 required), revoked at log index 8'],
    [{ status: 'rejected', decision: 'reject', result: { status: 'rejected', approvals: 0, rejections: 2, required: 2 }, revocation: true }, 'rejected: reject counted on the revocation; quorum can no longer be reached (0 approve, 2 reject, 2 required)'],
  ];
  for (const [outcome, want] of table) {
    test(`${outcome.status} reads as it should and answers its value`, () => {
      const text = formatVoteResult(outcome);
      assert.equal(text, want);
      assert.equal(answeredBy(text), outcome.status === 'invalid' ? outcome.value : outcome.decision);
    });
  }

  test('a revocation round being open is pointed out', () => {
    assert.match(formatVoteResult({ status: 'no-open-round', decision: 'reject', revokePending: true }), /a revocation round is open: vote on it with `threatmesh vote approve\|reject <subject>`$/);
  });

  test('long sequencer messages are clipped so the annotation stays small', () => {
    const text = formatVoteResult({ status: 'refused', decision: 'approve', why: 'x'.repeat(5000) });
    assert.ok(text.length < 1100, `length ${text.length}`);
    assert.equal(answeredBy(text), 'approve');
  });
});

describe('answeredBy and needsAnswer (the result annotation is the memory)', () => {
  const table: Array<[string, Record<string, string> | undefined, boolean]> = [
    ['nothing to answer', undefined, false],
    ['a new approve', { [V]: 'approve' }, true],
    ['approve already answered', { [V]: 'approve', [RESULT]: 'counted: approve counted; quorum not reached yet (1 approve, 0 reject, 2 required)' }, false],
    ['same vote in other case', { [V]: 'APPROVE', [RESULT]: 'duplicate: approve not counted again: x' }, false],
    ['changed to reject after an approve', { [V]: 'reject', [RESULT]: 'counted: approve counted; x' }, true],
    ['invalid value already answered', { [V]: 'yes', [RESULT]: 'invalid: use approve or reject, not "yes"' }, false],
    ['a different invalid value', { [V]: 'no', [RESULT]: 'invalid: use approve or reject, not "yes"' }, true],
    ['corrected after invalid', { [V]: 'reject', [RESULT]: 'invalid: use approve or reject, not "rejekt"' }, true],
    ['a hand-written result is not ours', { [V]: 'approve', [RESULT]: 'done' }, true],
    ['a garbled invalid result', { [V]: 'yes', [RESULT]: 'invalid: use approve or reject, not "yes' }, true],
  ];
  for (const [name, annotations, want] of table) test(name, () => assert.equal(needsAnswer(annotations), want));

  test('answerKey of none is undefined', () => assert.equal(answerKey({ kind: 'none' }), undefined));
});

const proposerKey = SigningKey.generate();
const evil: Indicator = { type: 'domain', value: 'c2.mirror.example' };

function round(ind: Indicator): PendingRound {
  const digest = indicatorDigest(ind);
  return {
    kind: 'add', indicator: ind, indicatorJson: indicatorCanonicalJson(ind), digest, subject: digest, proposerId: 'alpha',
    signature: signProposal(proposerKey, 'add', ind), window: { opensAt: '2026-11-25T12:00:00.000Z', closesAt: '2026-11-28T12:00:00.000Z' },
  };
}

describe('pendingSpec', () => {
  test('is the spec the Kubernetes sink writes once the entry is admitted', () => {
    const r = round(evil);
    const logged = { indicator: r.indicator, logIndex: 3, proposerId: r.proposerId, proposalSignature: r.signature, window: r.window, votes: [] };
    assert.deepEqual(pendingSpec(r), specOf(logged));
    assert.deepEqual(pendingSpec(r).provenance, { partner: 'alpha', proposedAt: r.window.opensAt });
  });
});

describe('the ThreatIndicator webhook and the mirror\'s metadata patches', () => {
  const partners = ['alpha', 'bravo'].map((id) => partner(id)).map((p) => {
    const e = partnerEntry(`tm/${p.id}`, p.node);
    assert.ok(e.ok);
    return e.entry;
  });
  const deps = { validator: validatorFor(createValidators(), 'ThreatIndicator'), partners: () => partners, now: () => new Date('2026-11-25T13:00:00Z') };
  const mirrored: ThreatIndicator = {
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator',
    metadata: { name: indicatorObjectName(evil), namespace: 'threatmesh', labels: { [MANUAL_VOTE.pendingLabel]: 'true' } },
    spec: pendingSpec(round(evil)), status: { phase: 'Proposed' },
  };
  const update = (object: ThreatIndicator): AdmissionRequest => ({ uid: 'u', kind: { group: 'threatmesh.io', version: 'v1alpha1', kind: 'ThreatIndicator' }, operation: 'UPDATE', object, oldObject: mirrored });
  const annotated = (extra: Partial<ThreatIndicator['metadata']>, spec = mirrored.spec): ThreatIndicator => ({ ...mirrored, metadata: { ...mirrored.metadata, ...extra }, spec });

  const table: Array<[string, AdmissionRequest, boolean]> = [
    ['creating the mirrored proposal', { ...update(mirrored), operation: 'CREATE', oldObject: undefined }, true],
    ['the analyst\'s vote annotation', update(annotated({ annotations: { [V]: 'reject', [R]: 'sinkholed' } })), true],
    ['the result annotations', update(annotated({ annotations: { [V]: 'approve', [RESULT]: 'counted: approve counted; x', [MANUAL_VOTE.votedAt]: '2026-11-25T13:00:00.000Z' } })), true],
    ['dropping the pending label', update(annotated({ labels: {} })), true],
    ['an annotation together with a spec change', update(annotated({ annotations: { [V]: 'approve' } }, { ...mirrored.spec, confidence: 90 })), false],
  ];
  for (const [name, req, allowed] of table) test(`${name}: ${allowed ? 'allowed' : 'denied'}`, () => assert.equal(reviewThreatIndicator(req, deps).allowed, allowed));
});

describe('roundKey', () => {
  const w = (opensAt: string): { opensAt: string; closesAt: string } => ({ opensAt, closesAt: '2026-02-01T00:00:00.000Z' });
  test('names kind, subject and window start, so a re-opened round of the same subject is another round', () => {
    assert.equal(roundKey({ kind: 'revoke', subject: 'ab', window: w('2026-01-01T00:00:00.000Z') }), 'revoke ab 2026-01-01T00:00:00.000Z');
    assert.notEqual(roundKey({ kind: 'revoke', subject: 'ab', window: w('2026-01-01T00:00:00.000Z') }), roundKey({ kind: 'revoke', subject: 'ab', window: w('2026-01-09T00:00:00.000Z') }));
    assert.notEqual(roundKey({ kind: 'add', subject: 'ab', window: w('2026-01-01T00:00:00.000Z') }), roundKey({ kind: 'revoke', subject: 'ab', window: w('2026-01-01T00:00:00.000Z') }));
  });
});

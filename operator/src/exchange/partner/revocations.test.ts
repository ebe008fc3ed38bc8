import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Phase, ThreatIndicator } from '../../api/types.ts';
import { indicatorObjectName } from '../../domain/canonical.ts';
import type { Indicator } from '../../domain/indicator.ts';
import { formatRevocationResult, MAX_REVOKE_REASON, REVOKE_REQUEST, revocationRequest, type RevocationOutcome } from './revocations.ts';

const evil: Indicator = { type: 'domain', value: 'evil.example' };

function ti(reason: string | undefined, phase: Phase | undefined, spec: Indicator = evil, name = indicatorObjectName(evil)): ThreatIndicator {
  return {
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator',
    metadata: { name, namespace: 'threatmesh', ...(reason !== undefined ? { annotations: { [REVOKE_REQUEST.request]: reason } } : {}) },
    spec: { type: spec.type, value: spec.value }, ...(phase !== undefined ? { status: { phase } } : {}),
  };
}

describe('revocationRequest', () => {
  test('an Approved object with a reason gives the trimmed reason and its indicator', () => {
    assert.deepEqual(revocationRequest(ti('  sinkholed  ', 'Approved')), { ok: true, reason: 'sinkholed', indicator: evil });
  });
  const refused: Array<[string, ThreatIndicator, RegExp]> = [
    ['no reason', ti('', 'Approved'), /^give the reason as the value: kubectl annotate ti domain-[0-9a-f]+ threatmesh\.io\/revoke="<why it is withdrawn>"$/],
    ['a blank reason', ti(' \n', 'Approved'), /^give the reason as the value/],
    ['a reason over the limit', ti('x'.repeat(MAX_REVOKE_REASON + 1), 'Approved'), /^the reason is 1025 characters; keep it under 1025/],
    ['Proposed', ti('r', 'Proposed'), /^only Approved indicators can be revoked; this one is Proposed$/],
    ['already Revoked', ti('r', 'Revoked'), /this one is Revoked$/],
    ['no status yet', ti('r', undefined), /this one is not yet reconciled$/],
    ['a spec that is not the object name\'s indicator', ti('r', 'Approved', { type: 'domain', value: 'other.example' }), /^the spec \(domain "other\.example"\) does not name this object's indicator/],
    ['a value that does not normalize', ti('r', 'Approved', { type: 'ipv4', value: 'not-an-ip' }), /does not name this object's indicator/],
  ];
  for (const [name, obj, want] of refused) {
    test(name, () => {
      const r = revocationRequest(obj);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, want);
    });
  }
});

describe('formatRevocationResult', () => {
  const table: Array<[RevocationOutcome, string]> = [
    [{ status: 'opened', subject: 's1', closesAt: '2026-01-04T00:00:00.000Z', vote: 'approve vote with the reason counted (1 approve, 0 reject, 2 required)' }, 'opened: revocation round s1 opened by alpha, voting closes at 2026-01-04T00:00:00.000Z; approve vote with the reason counted (1 approve, 0 reject, 2 required)'],
    [{ status: 'already-pending', subject: 's1', vote: 'alpha had already voted on this round (1 approve, 0 reject, 2 required)' }, 'already-pending: revocation round s1 already open by alpha; alpha had already voted on this round (1 approve, 0 reject, 2 required)'],
    [{ status: 'refused', message: 'the sequencer refused it (not-active): gone' }, 'refused: the sequencer refused it (not-active): gone'],
  ];
  for (const [o, want] of table) test(o.status, () => assert.equal(formatRevocationResult(o, 'alpha'), want));
  test('long messages are clipped', () => {
    assert.ok(formatRevocationResult({ status: 'refused', message: 'x'.repeat(5000) }, 'alpha').length < 1100);
  });
});

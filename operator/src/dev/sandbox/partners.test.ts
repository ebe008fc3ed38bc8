import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ThreatIndicator } from '../../api/types.ts';
import { indicatorCanonicalJson, indicatorDigest } from '../../domain/canonical.ts';
import { verifyVote } from '../../domain/quorum.ts';
import { SigningKey } from '../../domain/signature.ts';
import { loadOrCreatePartners, missingVotes, partnerNode, proposedLocally, type LocalPartner } from './partners.ts';

const local = (id: string, roles: LocalPartner['roles']): LocalPartner => ({ id, roles, key: SigningKey.generate(), keyPath: '' });
const a = local('a', ['contributor', 'voter']);
const b = local('b', ['voter']);
const c = local('c', ['consumer']);
const partners = [a, b, c];
const now = new Date('2026-11-25T12:00:00Z');

function indicator(signer: LocalPartner | undefined, status?: ThreatIndicator['status'], value = '192.0.2.7'): ThreatIndicator {
  const proposal = signer ? { partnerId: signer.id, signature: signer.key.sign('proposal', indicatorCanonicalJson({ type: 'ipv4', value: '192.0.2.7' })) } : undefined;
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: 'ipv4-x', namespace: 'ns' }, spec: { type: 'ipv4', value, ...(proposal ? { proposal } : {}) }, ...(status ? { status } : {}) };
}

describe('proposedLocally', () => {
  const cases: Array<[string, ThreatIndicator, boolean]> = [
    ['signed by a local contributor', indicator(a), true],
    ['unsigned', indicator(undefined), false],
    ['signed by a local partner without the contributor role', indicator(b), false],
    ['signature over another value', indicator(a, undefined, '192.0.2.8'), false],
    ['signed by an unknown partner', indicator(local('a', ['contributor'])), false],
  ];
  for (const [name, ti, want] of cases) test(name, () => assert.equal(proposedLocally(ti, partners), want));
});

describe('missingVotes', () => {
  test('every local voter that has not voted signs a valid approve vote', () => {
    const votes = missingVotes(indicator(a), partners, now);
    assert.deepEqual(votes.map((v) => [v.partnerId, v.decision, v.signedAt]), [['a', 'approve', now.toISOString()], ['b', 'approve', now.toISOString()]]);
    const digest = indicatorDigest({ type: 'ipv4', value: '192.0.2.7' });
    for (const v of votes) {
      const voter = partners.find((p) => p.id === v.partnerId);
      assert.ok(voter && verifyVote({ partnerId: voter.id, publicKey: voter.key.publicKey, roles: voter.roles }, { ...v, digest }), v.partnerId);
    }
  });

  test('no votes for decided, already voted or foreign indicators', () => {
    const [first] = missingVotes(indicator(a), partners, now);
    assert.ok(first);
    assert.deepEqual(missingVotes(indicator(a, { votes: [first] }), partners, now).map((v) => v.partnerId), ['b']);
    assert.deepEqual(missingVotes(indicator(a, { phase: 'Approved' }), partners, now), []);
    assert.deepEqual(missingVotes(indicator(undefined), partners, now), []);
  });
});

test('loadOrCreatePartners keeps keys across calls, private key mode 0600', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-partners-'));
  try {
    const plan = [{ id: 'x', roles: ['voter'] as const }];
    const [first] = await loadOrCreatePartners(dir, plan);
    const [again] = await loadOrCreatePartners(dir, plan);
    assert.ok(first && again);
    assert.equal(again.key.id, first.key.id);
    assert.equal((await stat(first.keyPath)).mode & 0o777, 0o600);
    assert.equal(partnerNode(first, 'ns').spec.publicKey, first.key.publicKey.toRawBase64());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

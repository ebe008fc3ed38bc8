import { test } from 'node:test';
import assert from 'node:assert/strict';
import { indicatorPhaseCounts, seedRegistry } from './setup.ts';
import { VoterRegistry } from '../api/partners.ts';
import { indicator, partner } from './fixtures.ts';
import { createValidators, validatorFor } from '../api/validate.ts';

test('seedRegistry registers valid voters and skips invalid or deleted PartnerNodes', () => {
  const registry = new VoterRegistry();
  const good = partner('acme').node;
  const consumer = partner('globex', { roles: ['consumer'] }).node;
  const badEndpoint = partner('initech', { endpoint: 'no-port' }).node;
  const deleted = partner('gone').node;
  deleted.metadata.deletionTimestamp = '2026-11-25T00:00:00Z';
  seedRegistry(registry, [good, consumer, badEndpoint, deleted], validatorFor(createValidators(), 'PartnerNode'));
  assert.deepEqual(registry.voters().map((v) => v.partnerId), ['acme']);
  assert.equal(registry.partner('globex')?.partnerId, 'globex');
  assert.equal(registry.partner('initech'), undefined);
});

test('indicator phase counts list every phase, Revoked included, and Unknown for objects without one', () => {
  const withPhase = (phase?: 'Approved' | 'Revoked') => ({ ...indicator(), ...(phase ? { status: { phase } } : {}) });
  const counts = indicatorPhaseCounts([withPhase('Revoked'), withPhase('Revoked'), withPhase('Approved'), withPhase()]);
  assert.deepEqual(Object.fromEntries(counts), { Proposed: 0, Approved: 1, Rejected: 0, Expired: 0, Revoked: 2, Unknown: 1 });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Indicator } from '../../domain/indicator.ts';
import { buildWarningList } from '../../feeds/warninglists.ts';
import { evaluate, parseVotingPolicy, roundJudge, validateVotingPolicy, VotingPolicyError, type PolicyContext, type PolicyProposal, type VotingPolicy } from './policy.ts';
import type { PendingRound } from '../protocol/messages.ts';

const warningList = buildWarningList({ reservedCidrs: ['10.0.0.0/8'], resolvers: ['8.8.8.8'], specialDomains: ['example'], topDomains: ['google.com'], knownGoodHashes: [] });
const corroboratedDigest = 'c'.repeat(64);
const context: PolicyContext = { warningList, corroborated: (d) => d === corroboratedDigest };

function proposal(value: string, extra: Partial<PolicyProposal> = {}, type: Indicator['type'] = 'domain'): PolicyProposal {
  return { kind: 'add', indicator: { type, value }, digest: 'd'.repeat(64), proposerId: 'alpha', ...extra };
}

const auto: VotingPolicy = { mode: 'automatic', warningLists: true };
const sighting2 = { minParties: 2, withinMs: 30 * 86_400_000 };

describe('evaluate', () => {
  const cases: Array<[string, VotingPolicy, PolicyProposal, PolicyContext, 'approve' | 'reject' | 'abstain', RegExp]> = [
    ['manual mode abstains', { mode: 'manual', warningLists: true }, proposal('evil.test'), context, 'abstain', /manual/],
    ['plain automatic approves', auto, proposal('evil.test'), context, 'approve', /passes/],
    ['warning list hit rejects', auto, proposal('www.google.com'), context, 'reject', /top-domain/],
    ['warning lists off lets it through', { mode: 'automatic', warningLists: false }, proposal('www.google.com'), context, 'approve', /passes/],
    ['warning lists on but not loaded abstains', auto, proposal('evil.test'), { corroborated: () => false }, 'abstain', /not loaded/],
    ['reserved IP rejects', auto, proposal('10.1.2.3', {}, 'ipv4'), context, 'reject', /reserved-ip/],
    ['denied type rejects', { ...auto, denyTypes: ['email'] }, proposal('a@evil.test', {}, 'email'), context, 'reject', /denyTypes/],
    ['type outside allowTypes rejects', { ...auto, allowTypes: ['ipv4'] }, proposal('evil.test'), context, 'reject', /allowTypes/],
    ['allowed type approves', { ...auto, allowTypes: ['domain'] }, proposal('evil.test'), context, 'approve', /passes/],
    ['low confidence rejects', { ...auto, minConfidence: 70 }, proposal('evil.test', { confidence: 50 }), context, 'reject', /50 is below the minimum 70/],
    ['enough confidence approves', { ...auto, minConfidence: 70 }, proposal('evil.test', { confidence: 70 }), context, 'approve', /passes/],
    ['unknown confidence abstains', { ...auto, minConfidence: 70 }, proposal('evil.test'), context, 'abstain', /confidence unknown/],
    ['uncorroborated abstains when corroboration is required', { ...auto, requireCorroboration: true }, proposal('evil.test'), context, 'abstain', /not corroborated/],
    ['corroborated approves', { ...auto, requireCorroboration: true }, proposal('evil.test', { digest: corroboratedDigest }), context, 'approve', /corroborated/],
    ['trusted proposer needs no corroboration', { ...auto, requireCorroboration: true, trustedSources: ['alpha'] }, proposal('evil.test'), context, 'approve', /trusted source alpha/],
    ['trusted feed needs no corroboration', { ...auto, requireCorroboration: true, trustedSources: ['abuse-ch'] }, proposal('evil.test', { source: 'abuse-ch' }), context, 'approve', /trusted source abuse-ch/],
    ['untrusted proposer abstains when sources are listed', { ...auto, trustedSources: ['bravo'] }, proposal('evil.test'), context, 'abstain', /not a trusted source/],
    ['trust does not override a warning list', { ...auto, trustedSources: ['alpha'] }, proposal('8.8.8.8', {}, 'ipv4'), context, 'reject', /public-resolver/],
    ['trusted revocation approves', { ...auto, trustedSources: ['alpha'] }, proposal('evil.test', { kind: 'revoke' }), context, 'approve', /revocation/],
    ['untrusted revocation abstains', auto, proposal('evil.test', { kind: 'revoke' }), context, 'abstain', /revocation/],
    ['TLP above maxTlp rejects', { ...auto, maxTlp: 'amber' }, proposal('evil.test', { tlp: 'red' }), context, 'reject', /TLP red is more restrictive than the maximum amber/],
    ['amber+strict is above amber', { ...auto, maxTlp: 'amber' }, proposal('evil.test', { tlp: 'amber+strict' }), context, 'reject', /amber\+strict/],
    ['TLP at maxTlp approves', { ...auto, maxTlp: 'amber' }, proposal('evil.test', { tlp: 'amber' }), context, 'approve', /passes/],
    ['unmarked proposal passes maxTlp', { ...auto, maxTlp: 'clear' }, proposal('evil.test'), context, 'approve', /passes/],
    ['maxTlp does not let a trusted source through', { ...auto, maxTlp: 'green', trustedSources: ['alpha'] }, proposal('evil.test', { tlp: 'amber' }), context, 'reject', /TLP amber/],
    ['sightings of enough parties corroborate', { ...auto, requireCorroboration: true, sightingCorroboration: sighting2 }, proposal('evil.test'), { ...context, sightedBy: () => 2 }, 'approve', /sightings of 2 parties/],
    ['sightings of too few parties do not', { ...auto, requireCorroboration: true, sightingCorroboration: sighting2 }, proposal('evil.test'), { ...context, sightedBy: () => 1 }, 'abstain', /not corroborated/],
    ['sightings without the rule do not', { ...auto, requireCorroboration: true }, proposal('evil.test'), { ...context, sightedBy: () => 9 }, 'abstain', /not corroborated/],
    ['sightings do not override a warning list', { ...auto, sightingCorroboration: sighting2 }, proposal('www.google.com'), { ...context, sightedBy: () => 5 }, 'reject', /top-domain/],
    ['a revocation of a still-sighted indicator waits for an analyst, even from a trusted source', { ...auto, trustedSources: ['alpha'], sightingCorroboration: sighting2 }, proposal('evil.test', { kind: 'revoke' }), { ...context, sightedBy: () => 3 }, 'abstain', /3 parties still see/],
    ['a revocation of an indicator nobody sees goes on as before', { ...auto, trustedSources: ['alpha'], sightingCorroboration: sighting2 }, proposal('evil.test', { kind: 'revoke' }), { ...context, sightedBy: () => 0 }, 'approve', /trusted source/],
  ];
  for (const [name, policy, p, ctx, decision, reason] of cases) {
    test(name, () => {
      const d = evaluate(policy, p, ctx);
      assert.equal(d.decision, decision, d.reason);
      assert.match(d.reason, reason);
    });
  }
});

describe('parseVotingPolicy', () => {
  test('reads YAML with every field', () => {
    const p = parseVotingPolicy('mode: automatic\nminConfidence: 60\ntrustedSources: [alpha, abuse-ch]\nrequireCorroboration: true\nwarningLists: false\nallowTypes: [ipv4, domain]\ndenyTypes: [email]\n');
    assert.deepEqual(p, { mode: 'automatic', minConfidence: 60, trustedSources: ['alpha', 'abuse-ch'], requireCorroboration: true, warningLists: false, allowTypes: ['ipv4', 'domain'], denyTypes: ['email'] });
  });
  test('reads JSON and defaults warningLists to on', () => {
    assert.deepEqual(parseVotingPolicy('{"mode":"manual"}'), { mode: 'manual', warningLists: true });
  });
  const bad: Array<[string, string, string]> = [
    ['not a mapping', '- a\n- b\n', '(root)'],
    ['bad syntax', 'mode: [automatic\n', '(document)'],
    ['missing mode', 'warningLists: true\n', 'mode'],
    ['unknown mode', 'mode: auto\n', 'mode'],
    ['unknown field (typo)', 'mode: automatic\nminConfidense: 50\n', 'minConfidense'],
    ['confidence out of range', 'mode: automatic\nminConfidence: 101\n', 'minConfidence'],
    ['confidence not a number', 'mode: automatic\nminConfidence: high\n', 'minConfidence'],
    ['warningLists not boolean', 'mode: automatic\nwarningLists: yes please\n', 'warningLists'],
    ['trustedSources not a list', 'mode: automatic\ntrustedSources: alpha\n', 'trustedSources'],
    ['empty trusted source', 'mode: automatic\ntrustedSources: [alpha, ""]\n', 'trustedSources[1]'],
    ['unknown type', 'mode: automatic\nallowTypes: [ipv4, fqdn]\n', 'allowTypes[1]'],
    ['type both allowed and denied', 'mode: automatic\nallowTypes: [ipv4]\ndenyTypes: [ipv4]\n', 'denyTypes'],
    ['unknown TLP', 'mode: automatic\nmaxTlp: white\n', 'maxTlp'],
    ['sighting rule not a mapping', 'mode: automatic\nsightingCorroboration: 2\n', 'sightingCorroboration'],
    ['sighting rule without parties', 'mode: automatic\nsightingCorroboration: {within: 30d}\n', 'sightingCorroboration.minParties'],
    ['sighting rule with zero parties', 'mode: automatic\nsightingCorroboration: {minParties: 0}\n', 'sightingCorroboration.minParties'],
    ['sighting rule with a bad window', 'mode: automatic\nsightingCorroboration: {minParties: 2, within: 2w}\n', 'sightingCorroboration.within'],
    ['sighting rule with a typo', 'mode: automatic\nsightingCorroboration: {minParties: 2, whithin: 3d}\n', 'sightingCorroboration.whithin'],
  ];
  for (const [name, text, field] of bad) {
    test(`refuses ${name}, naming ${field}`, () => {
      assert.throws(() => parseVotingPolicy(text), (err: unknown) => err instanceof VotingPolicyError && err.field === field && err.message.includes(field));
    });
  }
  test('reads the sighting rule; its window defaults to 30 days', () => {
    assert.deepEqual(parseVotingPolicy('mode: automatic\nsightingCorroboration: {minParties: 2, within: 72h}\n').sightingCorroboration, { minParties: 2, withinMs: 72 * 3_600_000 });
    assert.deepEqual(parseVotingPolicy('mode: automatic\nsightingCorroboration: {minParties: 3}\n').sightingCorroboration, { minParties: 3, withinMs: 30 * 86_400_000 });
  });
  test('reads maxTlp', () => {
    assert.equal(parseVotingPolicy('mode: automatic\nmaxTlp: amber+strict\n').maxTlp, 'amber+strict');
  });
  test('validateVotingPolicy takes an already parsed object', () => {
    assert.equal(validateVotingPolicy({ mode: 'automatic', requireCorroboration: false }).requireCorroboration, false);
  });
});

describe('roundJudge', () => {
  const round = (value: string, meta?: PendingRound['meta']): PendingRound => ({
    kind: 'add', indicator: { type: 'domain', value }, indicatorJson: '', ...(meta !== undefined ? { meta } : {}), digest: 'd'.repeat(64), subject: 's', proposerId: 'alpha', signature: '', window: { opensAt: '', closesAt: '' },
  });
  test('abstentions become no vote, so a manual policy never votes', () => {
    assert.equal(roundJudge({ mode: 'manual', warningLists: true }, context).judge(round('evil.test')), undefined);
  });
  test('decisions carry their reason', () => {
    assert.deepEqual(roundJudge(auto, context).judge(round('www.google.com')), { decision: 'reject', reason: 'on warning list top-domain' });
  });
  test('lookup supplies confidence and source', () => {
    const judge = roundJudge({ ...auto, minConfidence: 80 }, context, () => ({ confidence: 90 }));
    assert.equal(judge.judge(round('evil.test'))?.decision, 'approve');
  });
  const byMeta: Array<[string, VotingPolicy, PendingRound['meta'], 'approve' | 'reject' | undefined, RegExp | undefined]> = [
    ['signed confidence below minConfidence rejects', { ...auto, minConfidence: 80 }, { confidence: 50 }, 'reject', /50 is below the minimum 80/],
    ['signed confidence at minConfidence approves', { ...auto, minConfidence: 80 }, { confidence: 80 }, 'approve', /passes/],
    ['no metadata leaves minConfidence to an analyst', { ...auto, minConfidence: 80 }, undefined, undefined, undefined],
    ['signed source feed is trusted', { ...auto, requireCorroboration: true, trustedSources: ['feeds/abuse-ch'] }, { source: 'feeds/abuse-ch' }, 'approve', /trusted source feeds\/abuse-ch/],
    ['signed TLP above maxTlp rejects', { ...auto, maxTlp: 'green' }, { tlp: 'amber' }, 'reject', /TLP amber/],
  ];
  for (const [name, policy, meta, decision, reason] of byMeta) {
    test(`default lookup uses the round's metadata: ${name}`, () => {
      const j = roundJudge(policy, context).judge(round('evil.test', meta));
      assert.equal(j?.decision, decision);
      if (reason !== undefined) assert.match(j?.reason ?? '', reason);
    });
  }
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ThreatIndicatorReconciler } from './threatindicator.ts';
import { evaluateIndicator, judgeRevocation } from '../api/admission.ts';
import { VoterRegistry, partnerEntry } from '../api/partners.ts';
import { MemoryKube, TestClock, indicator, partner, signedRevocation, signedVote, testContext, type TestPartner } from './fixtures.ts';
import { THREAT_INDICATORS } from '../api/schemas/index.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import { TerminalError } from '../runtime/types.ts';
import type { ThreatIndicator, ThreatIndicatorSpec, ThreatIndicatorStatus } from '../api/types.ts';
import { REASON } from '../api/reasons.ts';
import { indicatorDigest } from '../domain/canonical.ts';
import { signVoteBatch } from '../domain/quorum.ts';
import type { VoteRecord } from '../api/types.ts';

const validator = validatorFor(createValidators(), 'ThreatIndicator');
const HOUR = 3_600_000;

function setup(voterIds: string[], spec: Partial<ThreatIndicatorSpec> = {}, status?: ThreatIndicatorStatus) {
  const kube = new MemoryKube();
  const clock = new TestClock('2026-11-25T12:00:00Z');
  const ctx = testContext(clock);
  const registry = new VoterRegistry();
  const partners: Record<string, TestPartner> = {};
  for (const id of voterIds) {
    const p = partner(id);
    partners[id] = p;
    const e = partnerEntry(`tm/${id}`, p.node);
    if (e.ok) registry.upsert(e.entry);
  }
  const r = new ThreatIndicatorReconciler({ status: kube, registry, validator, policy: { votingWindowMs: 24 * HOUR } });
  const base = indicator('ti', spec);
  kube.seed(THREAT_INDICATORS, status ? { ...base, status } : base);
  const current = () => kube.peek<ThreatIndicator>(THREAT_INDICATORS, 'ti', 'tm') as ThreatIndicator;
  const step = () => r.reconcile(ctx, 'tm/ti', current());
  const vote = (id: string, decision: 'approve' | 'reject', at?: string) => signedVote(partners[id] as TestPartner, base, decision, at);
  const setVotes = (votes: ThreatIndicatorStatus['votes']) => {
    const o = kube.objects.get('threatindicators/tm/ti') as ThreatIndicator;
    o.status = { ...o.status, votes };
  };
  return { kube, clock, ctx, registry, partners, current, step, vote, setVotes };
}

const ready = (ti: ThreatIndicator) => ti.status?.conditions?.find((c) => c.type === 'Ready');

describe('ThreatIndicatorReconciler', () => {
  test('without voters the indicator stays Proposed and says why', async () => {
    const { step, current } = setup([]);
    assert.deepEqual(await step(), {});
    assert.equal(current().status?.phase, 'Proposed');
    assert.equal(ready(current())?.reason, REASON.NoVoters);
  });

  test('all three voters approve → Approved with counts, Event, observedGeneration', async () => {
    const { step, current, setVotes, vote, ctx } = setup(['acme', 'globex', 'initech']);
    setVotes([vote('acme', 'approve'), vote('globex', 'approve'), vote('initech', 'approve')]);
    await step();
    const s = current().status;
    assert.equal(s?.phase, 'Approved');
    assert.deepEqual(s?.quorum, { required: 3, approvals: 3, rejections: 0, summary: '3/3' });
    assert.equal(s?.observedGeneration, 1);
    assert.equal(ready(current())?.status, 'True');
    assert.deepEqual(ctx.recorder.events.map((e) => e.reason), [REASON.Approved]);
  });

  test('pending: requeued exactly when the voting window closes, then Rejected', async () => {
    const { step, current, setVotes, vote, clock } = setup(['acme', 'globex', 'initech']);
    setVotes([vote('acme', 'approve')]);
    // created 11:00, window 24 h: closes 2026-11-26T11:00:00Z inclusive
    assert.deepEqual(await step(), { requeueAfterMs: 23 * HOUR + 1 });
    assert.equal(current().status?.phase, 'Proposed');
    clock.advance(23 * HOUR + 1);
    assert.deepEqual(await step(), {});
    assert.equal(current().status?.phase, 'Rejected');
    assert.match(ready(current())?.message ?? '', /voting window closed/);
  });

  test('two rejections of three make quorum unreachable → Rejected', async () => {
    const { step, current, setVotes, vote } = setup(['acme', 'globex', 'initech']);
    setVotes([vote('acme', 'reject'), vote('globex', 'reject')]);
    await step();
    assert.equal(current().status?.phase, 'Rejected');
    assert.match(ready(current())?.message ?? '', /quorum can no longer be reached/);
  });

  test('a forged Approved phase without signatures is recomputed and flagged', async () => {
    const { step, current, ctx } = setup(['acme', 'globex', 'initech'], {}, { phase: 'Approved', quorum: { required: 3, approvals: 3, rejections: 0 } });
    await step();
    assert.equal(current().status?.phase, 'Proposed');
    assert.deepEqual(current().status?.quorum, { required: 3, approvals: 0, rejections: 0, summary: '0/3' });
    assert.equal(ctx.recorder.events[0]?.reason, REASON.PhaseCorrected);
    assert.equal(ctx.recorder.events[0]?.type, 'Warning');
  });

  test('batch votes (protocol v2) in status count as their single votes would; one moved onto another indicator does not', async () => {
    const { step, current, setVotes, partners } = setup(['acme', 'globex', 'initech']);
    const digest = indicatorDigest({ type: current().spec.type, value: current().spec.value });
    const other = indicatorDigest({ type: 'ipv4', value: '192.0.2.68' });
    const batchVote = (id: string, subjects: string[]): VoteRecord[] => signVoteBatch((partners[id] as TestPartner).key, subjects.map((d) => ({ partnerId: id, digest: d, decision: 'approve' as const, signedAt: '2026-11-25T11:30:00Z' })))
      .map((v) => ({ partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature, batch: v.batch! }));
    const moved = batchVote('initech', [other, digest])[0]!;
    setVotes([batchVote('acme', [other, digest])[1]!, batchVote('globex', [digest])[0]!, moved]);
    assert.deepEqual(validator.validate({ ...current(), status: { ...current().status, votes: [moved] } }), { ok: true }, 'the CRD schema accepts status.votes[].batch');
    assert.equal(validator.validate({ ...current(), status: { ...current().status, votes: [{ ...moved, batch: 'x'.repeat(2000) }] } }).ok, false, 'and bounds it');
    await step();
    assert.equal(current().status?.quorum?.approvals, 2);
    assert.equal(current().status?.conditions?.find((c) => c.type === 'VotesVerified')?.message, 'not counted: initech: bad-signature');
  });

  test('votes with a wrong key, an unknown partner or made for another digest do not count (status votes carry no digest: a vote for another indicator fails its signature)', async () => {
    const { step, current, setVotes, vote, partners } = setup(['acme', 'globex', 'initech']);
    const forged = { ...vote('acme', 'approve'), partnerId: 'globex' };
    const outsider = signedVote(partner('mallory'), indicator('ti'), 'approve');
    const otherDigest = signedVote(partners['initech'] as TestPartner, indicator('ti', { value: '192.0.2.67' }), 'approve');
    setVotes([vote('acme', 'approve'), forged, outsider, otherDigest]);
    await step();
    assert.equal(current().status?.phase, 'Proposed');
    assert.equal(current().status?.quorum?.approvals, 1);
    const verified = current().status?.conditions?.find((c) => c.type === 'VotesVerified');
    assert.equal(verified?.status, 'False');
    assert.equal(verified?.message, 'not counted: globex: bad-signature, initech: bad-signature, mallory: unknown-partner');
  });

  test('after a key rotation, votes signed with the retired key before its validUntil still count; after it they do not', async () => {
    const { step, current, setVotes, vote, registry, partners } = setup(['acme', 'globex']);
    const rotated = partner('acme');
    // acme's PartnerNode now publishes a new key and retires the one its vote used.
    const node = { ...rotated.node, spec: { ...rotated.node.spec, retiredKeys: [{ publicKey: partners['acme']!.node.spec.publicKey, validUntil: '2026-11-25T11:45:00Z' }] } };
    const e = partnerEntry('tm/acme', node);
    assert.ok(e.ok);
    registry.upsert(e.entry);
    setVotes([vote('acme', 'approve', '2026-11-25T11:30:00Z'), vote('globex', 'approve')]);
    await step();
    assert.equal(current().status?.phase, 'Approved');
    setVotes([vote('acme', 'approve', '2026-11-25T11:50:00Z'), vote('globex', 'approve')]);
    await step();
    assert.notEqual(current().status?.phase, 'Approved', 'signed after the key was retired');
  });

  test('Approved is requeued exactly at validUntil and then Expired', async () => {
    const { step, current, setVotes, vote, clock } = setup(['acme'], { validUntil: '2026-11-25T13:30:00Z' });
    setVotes([vote('acme', 'approve')]);
    assert.deepEqual(await step(), { requeueAfterMs: 1.5 * HOUR });
    assert.equal(current().status?.phase, 'Approved');
    clock.set('2026-11-25T13:30:00Z');
    assert.deepEqual(await step(), {});
    assert.equal(current().status?.phase, 'Expired');
  });

  test('a second reconcile with nothing new writes nothing', async () => {
    const { step, kube, setVotes, vote } = setup(['acme']);
    setVotes([vote('acme', 'approve')]);
    await step();
    await step();
    assert.equal(kube.writes.filter((w) => w.subresource === 'status').length, 1);
  });

  const bad: Array<[string, Partial<ThreatIndicatorSpec>, string, RegExp]> = [
    ['non-canonical ipv6', { type: 'ipv6', value: '2001:db8:0:0::1' }, REASON.NotNormalized, /not normalized: use "2001:db8::1"/],
    ['schema violation', { type: 'ipv4', value: '192.0.2.001' }, REASON.InvalidSpec, /spec\.value: an ipv4 value must be a dotted quad/],
  ];
  for (const [name, spec, reason, re] of bad) {
    test(`${name} → TerminalError ${reason}`, async () => {
      const { step } = setup(['acme'], spec);
      await assert.rejects(step(), (err: unknown) => err instanceof TerminalError && err.reason === reason && re.test(err.message));
    });
  }
});

describe('evaluateIndicator', () => {
  test('consumer-only partners are not voters', () => {
    const p = partner('c', { roles: ['consumer'] });
    const e = partnerEntry('tm/c', p.node);
    assert.ok(e.ok);
    const ev = evaluateIndicator(indicator(), [e.entry], new Date('2026-11-25T12:00:00Z'));
    assert.equal(ev.reason, REASON.NoVoters);
  });
});

describe('revocation certificates', () => {
  const trio = ['acme', 'globex', 'initech'].map((id) => partner(id));
  const [acme, globex] = trio as [TestPartner, TestPartner, TestPartner];
  const entries = trio.map((p) => {
    const e = partnerEntry(`tm/${p.id}`, p.node);
    assert.ok(e.ok);
    return e.entry;
  });
  const admitted = indicator('ti', { provenance: { partner: 'acme', proposedAt: '2026-11-25T11:00:00Z' } });
  const approvals = trio.map((p) => signedVote(p, admitted, 'approve'));
  const now = new Date('2026-11-25T12:00:00Z');
  const policy = { votingWindowMs: 24 * HOUR, quorum: 2 };
  const judge = (revocation: ThreatIndicatorStatus['revocation'], extra: Partial<ThreatIndicatorStatus> = {}, ti = admitted) =>
    evaluateIndicator({ ...ti, status: { votes: approvals, logIndex: 3, ...extra, ...(revocation ? { revocation } : {}) } }, entries, now, policy);
  const addVotesAsRevoke = { ...signedRevocation(admitted, acme, [acme, globex]), votes: approvals.slice(0, 2) };

  const table: Array<[string, ThreatIndicatorStatus['revocation'], Partial<ThreatIndicatorStatus>, string, RegExp]> = [
    ['no revocation: the admission decides', undefined, {}, 'Approved', /^quorum reached/],
    ['a quorum of revoke approvals from known voters', signedRevocation(admitted, acme, [acme, globex]), {}, 'Revoked', /revoked at log index 5: 2 revoke approval\(s\) of 3 voters; 2 required/],
    ['one revoke approval is short of quorum', signedRevocation(admitted, acme, [acme]), {}, 'Approved', /status\.revocation ignored: the revocation at log index 5 lacks quorum: 1 revoke approval/],
    ['admission votes replayed as revoke votes', addVotesAsRevoke, {}, 'Approved', /lacks quorum: 0 revoke approval.*acme: bad-signature, globex: bad-signature/],
    ['a revoke vote signed by an unknown partner', signedRevocation(admitted, acme, [acme, partner('mallory')]), {}, 'Approved', /mallory: unknown-partner/],
    ['the proposer signed an ADD proposal, not a revocation', { ...signedRevocation(admitted, acme, trio), signature: acme.key.sign('proposal', '{"type":"ipv4","value":"192.0.2.66"}') }, {}, 'Approved', /not genuine: the signature is not acme's revocation signature/],
    ['a proposer outside the voter registry (a contributor): the revoke votes decide', signedRevocation(admitted, partner('contrib'), [acme, globex]), {}, 'Revoked', /revoked at log index 5/],
    ['votes signed outside the revocation window', signedRevocation(admitted, acme, trio, { signedAt: '2026-11-25T11:39:59Z' }), {}, 'Approved', /lacks quorum: 0 revoke approval/],
    ['a revocation of an earlier admission (round opened before this one)', signedRevocation(admitted, acme, trio, { opensAt: '2026-11-25T10:00:00Z', signedAt: '2026-11-25T10:05:00Z' }), {}, 'Approved', /does not apply: its round opened at 2026-11-25T10:00:00Z, before this admission \(spec.provenance.proposedAt 2026-11-25T11:00:00Z, less 60s of clock skew\)/],
    ['a revocation opened within the clock-skew allowance before the admission (proposed right after it): applies', signedRevocation(admitted, acme, trio, { opensAt: '2026-11-25T10:59:30Z', signedAt: '2026-11-25T11:00:10Z' }), {}, 'Revoked', /revoked at log index 5/],
    ['a revocation whose log index is not after the admission', signedRevocation(admitted, acme, trio, { logIndex: 3 }), {}, 'Approved', /does not apply: its log index 3 is not after the admission's log index 3/],
  ];
  for (const [name, revocation, extra, phase, message] of table) {
    test(name, () => {
      const ev = judge(revocation, extra);
      assert.equal(ev.phase, phase, ev.message);
      assert.match(ev.message, message);
    });
  }

  test('Revoked keeps the admission counts and wins over Expired', () => {
    const expired = indicator('ti', { provenance: { partner: 'acme', proposedAt: '2026-11-25T11:00:00Z' }, validUntil: '2026-11-25T11:50:00Z' });
    const ev = judge(signedRevocation(expired, acme, [acme, globex]), {}, expired);
    assert.deepEqual([ev.phase, ev.reason, ev.approvals, ev.required], ['Revoked', REASON.Revoked, 3, 2]);
  });

  test('a forged certificate is reported as forged, a short one is not', () => {
    assert.match(judgeRevocation({ ...admitted, status: { revocation: signedRevocation(admitted, acme, [acme, partner('mallory')]) } }, entries, policy)?.forged ?? '', /mallory: unknown-partner/);
    assert.equal(judgeRevocation({ ...admitted, status: { revocation: signedRevocation(admitted, acme, [acme]) } }, entries, policy)?.forged, undefined);
  });

  test('the reconciler moves an Approved indicator to Revoked, Ready, with a Normal event', async () => {
    const { step, current, setVotes, vote, ctx, kube, partners } = setup(['acme', 'globex', 'initech']);
    setVotes([vote('acme', 'approve'), vote('globex', 'approve'), vote('initech', 'approve')]);
    await step();
    const [a, g, i] = ['acme', 'globex', 'initech'].map((id) => partners[id] as TestPartner) as [TestPartner, TestPartner, TestPartner];
    const o = kube.objects.get('threatindicators/tm/ti') as ThreatIndicator;
    o.status = { ...o.status, revocation: signedRevocation(o, g, [a, g, i]) };
    assert.deepEqual(await step(), {});
    assert.equal(current().status?.phase, 'Revoked');
    assert.equal(current().status?.revocation?.logIndex, 5);
    assert.deepEqual([ready(current())?.status, ready(current())?.reason], ['True', REASON.Revoked]);
    assert.deepEqual(ctx.recorder.events.map((e) => [e.type, e.reason]), [['Normal', REASON.Approved], ['Normal', REASON.Revoked]]);
  });
});

/**
 * A new term's resync (issues 14 and 18): each term of leadership builds a new voter registry
 * from the PartnerNodes and judges every ThreatIndicator of its informer again, as startOperator
 * does. With the process's shared memory of verified signatures (OperatorOptions.signatures),
 * unchanged objects cost no Ed25519 verification; anything that changed what a signature covers
 * (a forged or replayed vote, a rotated or compromised key) is verified again and refused.
 * Ed25519 verifications are counted by wrapping node:crypto's `verify`, as the benchmarks do.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ThreatIndicatorReconciler } from './threatindicator.ts';
import { PartnerNodeReconciler } from './partnernode.ts';
import { seedRegistry } from './setup.ts';
import { MemoryKube, TestClock, indicator, partner, signedVote, testContext, type TestPartner } from './fixtures.ts';
import { PARTNER_NODES, THREAT_INDICATORS } from '../api/schemas/index.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import { VoterRegistry, rotatedPartnerNode } from '../api/partners.ts';
import type { PartnerNode, ThreatIndicator, VoteRecord } from '../api/types.ts';
import { SigningKey, VerifiedSignatures } from '../domain/signature.ts';
import { countVerifications } from '../../../e2e/harness/verifycount.ts';

const verifies = countVerifications();
const validators = createValidators();
const HOUR = 3_600_000;
const COUNT = 20;

/** A partner cluster: three voters, COUNT approved-by-all indicators, the process's memory. */
function cluster() {
  const kube = new MemoryKube();
  const ctx = testContext(new TestClock('2026-11-25T12:00:00Z'));
  const voters: TestPartner[] = ['acme', 'globex', 'initech'].map((id) => partner(id));
  let nodes: PartnerNode[] = voters.map((p) => p.node);
  const names: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const ti = indicator(`ti-${i}`, { value: `192.0.2.${i + 1}` });
    kube.seed(THREAT_INDICATORS, { ...ti, status: { votes: voters.map((p) => signedVote(p, ti, 'approve')) } });
    names.push(ti.metadata.name);
  }
  const signatures = new VerifiedSignatures();
  const get = (name: string): ThreatIndicator => kube.peek<ThreatIndicator>(THREAT_INDICATORS, name, 'tm') as ThreatIndicator;
  /** One term: a new registry seeded from the PartnerNodes and a new reconciler judge every object (startOperator's wiring). */
  const term = async (): Promise<{ verified: number; registry: VoterRegistry }> => {
    const registry = new VoterRegistry();
    seedRegistry(registry, nodes, validatorFor(validators, 'PartnerNode'), signatures);
    const r = new ThreatIndicatorReconciler({ status: kube, registry, validator: validatorFor(validators, 'ThreatIndicator'), policy: { votingWindowMs: 24 * HOUR } });
    verifies.reset();
    for (const name of names) await r.reconcile(ctx, `tm/${name}`, get(name));
    return { verified: verifies.count, registry };
  };
  const editVotes = (name: string, edit: (votes: VoteRecord[]) => VoteRecord[]): void => {
    const o = kube.objects.get(`threatindicators/tm/${name}`) as ThreatIndicator;
    o.status = { ...o.status, votes: edit([...(o.status?.votes ?? [])]) };
  };
  const setNodes = (next: PartnerNode[]): void => { nodes = next; };
  return { kube, ctx, voters, nodes: () => nodes, setNodes, names, get, term, editVotes, signatures };
}

const phases = (c: ReturnType<typeof cluster>): string[] => [...new Set(c.names.map((n) => c.get(n).status?.phase ?? 'none'))];
const ignoredOf = (ti: ThreatIndicator): string | undefined => ti.status?.conditions?.find((x) => x.type === 'VotesVerified')?.message;

describe('a new term judges unchanged ThreatIndicators without verifying their votes again', () => {
  test('the second term verifies 0 signatures; every object stays Approved', async () => {
    const c = cluster();
    assert.equal((await c.term()).verified, 3 * COUNT, 'the first term verifies every vote once');
    assert.deepEqual(phases(c), ['Approved']);
    assert.equal((await c.term()).verified, 0, 'a new term re-verified unchanged votes');
    assert.deepEqual(phases(c), ['Approved']);
  });

  test('a PartnerNode reconciled again (new key objects) keeps what its key verified', async () => {
    const c = cluster();
    const { registry } = await c.term();
    const pn = new PartnerNodeReconciler({ status: c.kube, registry, validator: validatorFor(validators, 'PartnerNode'), signatures: c.signatures });
    for (const node of c.nodes()) {
      await pn.reconcile(c.ctx, `tm/${node.metadata.name}`, c.kube.seed(PARTNER_NODES, node));
    }
    const r = new ThreatIndicatorReconciler({ status: c.kube, registry, validator: validatorFor(validators, 'ThreatIndicator'), policy: { votingWindowMs: 24 * HOUR } });
    verifies.reset();
    for (const name of c.names) await r.reconcile(c.ctx, `tm/${name}`, c.get(name));
    assert.equal(verifies.count, 0);
  });
});

describe('what a term must still verify and refuse (adversarial)', () => {
  test('a forged vote added to a remembered object is verified and refused', async () => {
    const c = cluster();
    await c.term();
    const mallory = SigningKey.generate();
    // initech's vote on ti-0 replaced by one in initech's name, signed by another key.
    const forged = signedVote({ ...c.voters[2]!, key: mallory }, c.get('ti-0'), 'approve');
    c.editVotes('ti-0', (votes) => votes.map((v) => (v.partnerId === 'initech' ? forged : v)));
    assert.equal((await c.term()).verified, 1, 'exactly the forged vote is verified');
    assert.equal(c.get('ti-0').status?.phase, 'Proposed');
    assert.match(ignoredOf(c.get('ti-0')) ?? '', /initech: bad-signature/);
    assert.equal((await c.term()).verified, 1, 'a failure is never remembered: verified again the next term');
  });

  test('a genuine vote replayed onto another indicator is verified and refused', async () => {
    const c = cluster();
    await c.term();
    const replayed = c.get('ti-1').status!.votes!.find((v) => v.partnerId === 'initech')!;
    c.editVotes('ti-0', (votes) => votes.map((v) => (v.partnerId === 'initech' ? replayed : v)));
    assert.equal((await c.term()).verified, 1);
    assert.equal(c.get('ti-0').status?.phase, 'Proposed');
    assert.match(ignoredOf(c.get('ti-0')) ?? '', /initech: bad-signature/);
    assert.equal(c.get('ti-1').status?.phase, 'Approved');
  });

  test('a rotated key without the old one retired: every vote of that voter is verified again and refused', async () => {
    const c = cluster();
    await c.term();
    const next = SigningKey.generate();
    c.setNodes(c.nodes().map((n) => (n.spec.partnerId === 'initech' ? { ...n, spec: { ...n.spec, publicKey: next.publicKey.toRawBase64() } } : n)));
    assert.equal((await c.term()).verified, COUNT, 'each of initech\'s votes is checked under its new key');
    assert.deepEqual(phases(c), ['Proposed']);
  });

  test('a key retired after the votes keeps them without verifying again; retired before them (compromise), refuses them', async () => {
    const c = cluster();
    await c.term();
    const original = c.nodes();
    const next = SigningKey.generate().publicKey;
    const rotate = (validUntil: string): PartnerNode[] => original.map((n) => (n.spec.partnerId === 'initech' ? rotatedPartnerNode(n, next, new Date(validUntil)) : n));
    c.setNodes(rotate('2026-11-25T11:45:00Z'));
    assert.equal((await c.term()).verified, 0, 'the votes (11:30) are older than validUntil: the old key still covers them');
    assert.deepEqual(phases(c), ['Approved']);
    c.setNodes(rotate('2026-11-25T11:00:00Z'));
    assert.equal((await c.term()).verified, COUNT, 'only the new key is valid at 11:30: each vote is checked under it');
    assert.deepEqual(phases(c), ['Proposed']);
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PartnerNodeReconciler } from './partnernode.ts';
import { VoterRegistry, partnerEntry, registryFrom } from '../api/partners.ts';
import { MemoryKube, TestClock, partner, testContext } from './fixtures.ts';
import { PARTNER_NODES } from '../api/schemas/index.ts';
import { createValidators, validatorFor } from '../api/validate.ts';
import { TerminalError } from '../runtime/types.ts';
import type { PartnerNode } from '../api/types.ts';
import { REASON } from '../api/reasons.ts';

const validator = validatorFor(createValidators(), 'PartnerNode');

function setup() {
  const kube = new MemoryKube();
  const registry = new VoterRegistry();
  const clock = new TestClock();
  const ctx = testContext(clock);
  const r = new PartnerNodeReconciler({ status: kube, registry, validator });
  return { kube, registry, ctx, r };
}

describe('PartnerNodeReconciler', () => {
  test('a valid voter is registered and Ready', async () => {
    const { kube, registry, ctx, r } = setup();
    const p = partner('acme');
    const obj = kube.seed(PARTNER_NODES, p.node);
    assert.deepEqual(await r.reconcile(ctx, 'tm/acme', obj), {});
    assert.deepEqual(registry.voters().map((v) => v.partnerId), ['acme']);
    const stored = kube.peek<PartnerNode>(PARTNER_NODES, 'acme', 'tm');
    const ready = stored?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.equal(ready?.reason, REASON.VoterRegistered);
    assert.equal(stored?.status?.observedGeneration, 1);
  });

  test('a consumer is a partner but not a voter', async () => {
    const { kube, registry, ctx, r } = setup();
    const obj = kube.seed(PARTNER_NODES, partner('globex', { roles: ['consumer'] }).node);
    await r.reconcile(ctx, 'tm/globex', obj);
    assert.deepEqual(registry.voters(), []);
    assert.equal(registry.partner('globex')?.partnerId, 'globex');
  });

  test('a sequencer PartnerNode is registered, Ready, and never a voter', async () => {
    const { kube, registry, ctx, r } = setup();
    const obj = kube.seed(PARTNER_NODES, partner('seq', { roles: ['sequencer'] }).node);
    await r.reconcile(ctx, 'tm/seq', obj);
    assert.deepEqual(registry.voters(), []);
    assert.equal(registry.partner('seq')?.roles[0], 'sequencer');
    const ready = kube.peek<PartnerNode>(PARTNER_NODES, 'seq', 'tm')?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'True');
    assert.equal(ready?.reason, REASON.SequencerRegistered);
  });

  test('sequencer together with voter → TerminalError InvalidSpec (the CRD rule), not registered', async () => {
    const { kube, registry, ctx, r } = setup();
    const obj = kube.seed(PARTNER_NODES, partner('seq', { roles: ['sequencer', 'voter'] }).node);
    await assert.rejects(r.reconcile(ctx, 'tm/seq', obj), (err: unknown) => err instanceof TerminalError && err.reason === REASON.InvalidSpec && /spec\.roles: the sequencer role cannot be combined with voter/.test(err.message));
    assert.deepEqual(registry.voters(), []);
    assert.equal(registry.partner('seq'), undefined);
  });

  test('partnerEntry refuses sequencer with voter even without the CRD rule; registryFrom skips it', () => {
    const node = partner('seq', { roles: ['sequencer', 'voter'] }).node;
    const parsed = partnerEntry('tm/seq', node);
    assert.equal(parsed.ok, false);
    assert.equal(!parsed.ok && parsed.reason, 'roles');
    assert.equal(registryFrom([node]).partner('seq'), undefined);
  });

  test('reconciling twice writes status once', async () => {
    const { kube, ctx, r } = setup();
    kube.seed(PARTNER_NODES, partner('acme').node);
    await r.reconcile(ctx, 'tm/acme', kube.peek(PARTNER_NODES, 'acme', 'tm'));
    await r.reconcile(ctx, 'tm/acme', kube.peek(PARTNER_NODES, 'acme', 'tm'));
    assert.equal(kube.writes.filter((w) => w.subresource === 'status').length, 1);
  });

  const bad: Array<[string, Partial<PartnerNode['spec']>, string, RegExp]> = [
    ['short key', { publicKey: 'AAAA' }, REASON.InvalidSpec, /spec\.publicKey: publicKey must be a raw 32-byte Ed25519 key/],
    ['endpoint without port', { endpoint: 'acme.example' }, REASON.InvalidSpec, /spec\.endpoint: endpoint must be host:port/],
    ['no roles', { roles: [] }, REASON.InvalidSpec, /spec\.roles: must NOT have fewer than 1 items/],
  ];
  for (const [name, spec, reason, message] of bad) {
    test(`${name} → TerminalError ${reason}, removed from the registry`, async () => {
      const { kube, registry, ctx, r } = setup();
      const good = partner('acme');
      await r.reconcile(ctx, 'tm/acme', kube.seed(PARTNER_NODES, good.node));
      const broken = { ...good.node, spec: { ...good.node.spec, ...spec } };
      await assert.rejects(r.reconcile(ctx, 'tm/acme', broken), (err: unknown) => err instanceof TerminalError && err.reason === reason && message.test(err.message));
      assert.deepEqual(registry.voters(), []);
    });
  }

  test('two PartnerNodes claiming one partner id with different keys: neither votes', async () => {
    const { kube, registry, ctx, r } = setup();
    const a = partner('acme');
    const b = partner('acme');
    b.node.metadata.name = 'acme-impostor';
    await r.reconcile(ctx, 'tm/acme', kube.seed(PARTNER_NODES, a.node));
    await r.reconcile(ctx, 'tm/acme-impostor', kube.seed(PARTNER_NODES, b.node));
    assert.deepEqual(registry.voters(), []);
    const ready = kube.peek<PartnerNode>(PARTNER_NODES, 'acme-impostor', 'tm')?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, REASON.DuplicatePartnerId);
    assert.match(ready?.message ?? '', /also claimed with a different key by tm\/acme/);
    assert.deepEqual(ctx.recorder.events.map((e) => e.reason), [REASON.DuplicatePartnerId]);
  });

  test('deletion forgets the partner and notifies listeners', async () => {
    const { kube, registry, ctx, r } = setup();
    let changes = 0;
    registry.onChange(() => changes++);
    await r.reconcile(ctx, 'tm/acme', kube.seed(PARTNER_NODES, partner('acme').node));
    await r.reconcile(ctx, 'tm/acme', undefined);
    assert.deepEqual(registry.voters(), []);
    assert.equal(changes, 2);
  });
});

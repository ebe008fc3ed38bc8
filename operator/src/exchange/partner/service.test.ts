import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { indicator, partner } from '../../controllers/fixtures.ts';
import { partnerNetwork } from './network.ts';
import { createValidators, validatorFor } from '../../api/validate.ts';
import { LagTracker, haltConditionReason } from './status.ts';
import { ProposalForwarder, localProposal, ownProposalDigests, proposalBatches, type ProposalSink } from './forwarder.ts';
import { MemoryKube } from '../../controllers/fixtures.ts';
import { THREAT_INDICATORS } from '../../api/schemas/index.ts';
import { Sequencer } from '../sequencer/sequencer.ts';
import { MemoryLogStore } from '../../store/memory.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import { signVote, type Voter } from '../../domain/quorum.ts';
import { createLogger } from '../../log.ts';
import { Writable } from 'node:stream';
import { indicatorDigest } from '../../domain/canonical.ts';
import type { ProposalInput } from '../protocol/messages.ts';
import { serverNameFor } from './gossip.ts';
import { repairWaitMs } from './workingset.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import type { HaltReason } from '../../domain/verify.ts';
import { SigningKey } from '../../domain/signature.ts';
import { signProposal } from '../../domain/entry.ts';

const head = (treeSize: number, timestamp: string): SignedTreeHead => ({ treeSize, rootHash: 'ab'.repeat(32), timestamp, logId: 'x', signature: 'y' });

const validator = validatorFor(createValidators(), 'PartnerNode');
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');

describe('partnerNetwork', () => {
  const seq = partner('seq', { roles: ['sequencer'], endpoint: 'seq.example:8443' });
  const a = partner('alpha', { roles: ['contributor', 'voter'] });
  const b = partner('bravo', { roles: ['voter'] });

  test('finds the sequencer, the peers (not self, not the sequencer) and the partner directory', () => {
    const n = partnerNetwork([b.node, seq.node, a.node], 'alpha', 'tm', validator);
    assert.equal(n.problem, undefined);
    assert.equal(n.sequencer?.endpoint, 'seq.example:8443');
    assert.ok(n.sequencer?.key.equals(seq.key.publicKey));
    assert.deepEqual(n.peers.map((p) => p.spec.partnerId), ['bravo']);
    assert.deepEqual(n.partners.map((p) => [p.partnerId, p.roles]), [['alpha', ['contributor', 'voter']], ['bravo', ['voter']]]);
  });

  const problems: Array<[string, Parameters<typeof partnerNetwork>[0], RegExp]> = [
    ['no sequencer', [a.node, b.node], /no PartnerNode with role sequencer in namespace tm/],
    ['two sequencers', [seq.node, { ...partner('seq2', { roles: ['sequencer'] }).node }, a.node], /2 PartnerNodes with role sequencer in namespace tm \(seq, seq2\); keep exactly one/],
  ];
  for (const [name, nodes, re] of problems) {
    test(`${name}: no sequencer, a clear problem`, () => {
      const n = partnerNetwork(nodes, 'alpha', 'tm', validator);
      assert.equal(n.sequencer, undefined);
      assert.match(n.problem ?? '', re);
    });
  }

  test('the fingerprint changes with the sequencer key or a partner key, not with list order', () => {
    const base = partnerNetwork([seq.node, a.node, b.node], 'alpha', 'tm', validator).fingerprint;
    assert.equal(partnerNetwork([b.node, a.node, seq.node], 'alpha', 'tm', validator).fingerprint, base);
    assert.notEqual(partnerNetwork([partner('seq', { roles: ['sequencer'], endpoint: 'seq.example:8443' }).node, a.node, b.node], 'alpha', 'tm', validator).fingerprint, base);
    assert.notEqual(partnerNetwork([seq.node, a.node, partner('bravo').node], 'alpha', 'tm', validator).fingerprint, base);
  });

  test('pinned certificates reach the partner directory (gossip checks them too), and a shared key leaves both ids out', () => {
    const pinned = partner('charlie', { tls: { pinnedCertSha256: 'cd'.repeat(32) } });
    const sock = partner('sock', { publicKey: b.node.spec.publicKey });
    const n = partnerNetwork([seq.node, a.node, b.node, pinned.node, sock.node], 'alpha', 'tm', validator);
    assert.deepEqual(n.partners.map((p) => [p.partnerId, p.certFingerprint256]), [['alpha', undefined], ['charlie', 'CD:'.repeat(31) + 'CD']]);
    assert.deepEqual(n.skipped.map((s) => s.name), ['bravo', 'sock']);
  });

  test('a PartnerNode with an unusable key is left out', () => {
    const broken = partner('charlie', { publicKey: 'AAAA' });
    assert.deepEqual(partnerNetwork([seq.node, a.node, broken.node], 'alpha', 'tm', validator).partners.map((p) => p.partnerId), ['alpha']);
  });
});

describe('LagTracker', () => {
  test('lag is the sequencer size minus applied, aged from the oldest head not applied', () => {
    const t = new LagTracker();
    t.observe(head(2, '2026-01-01T00:00:00Z'));
    t.observe(head(5, '2026-01-01T00:00:30Z'));
    const now = new Date('2026-01-01T00:01:00Z');
    assert.deepEqual(t.lag(0, 5, now), { entries: 5, seconds: 60 });
    assert.deepEqual(t.lag(2, 5, now), { entries: 3, seconds: 30 });
    assert.deepEqual(t.lag(5, 5, now), { entries: 0, seconds: 0 });
  });

  test('a head no larger than the last one seen is not recorded again', () => {
    const t = new LagTracker();
    t.observe(head(3, '2026-01-01T00:00:00Z'));
    t.observe(head(3, '2026-01-01T00:00:50Z'));
    assert.deepEqual(t.lag(1, 3, new Date('2026-01-01T00:01:00Z')), { entries: 2, seconds: 60 });
  });
});

describe('haltConditionReason', () => {
  const table: Array<[HaltReason, string]> = [['fork', 'Fork'], ['bad-tree-head', 'BadTreeHead'], ['out-of-order', 'OutOfOrder']];
  for (const [reason, want] of table) test(`${reason} → ${want}`, () => assert.equal(haltConditionReason(reason), want));
});

describe('localProposal', () => {
  const proposal = { partnerId: 'alpha', signature: 'sig' };
  const table: Array<[string, Parameters<typeof localProposal>[0], boolean]> = [
    ['no phase, proposed by us', indicator('a', { proposal }), true],
    ['Proposed, by us', { ...indicator('a', { proposal }), status: { phase: 'Proposed' } }, true],
    ['Approved', { ...indicator('a', { proposal }), status: { phase: 'Approved' } }, false],
    ['proposed by another partner', indicator('a', { proposal: { partnerId: 'bravo', signature: 'sig' } }), false],
    ['no proposal', indicator('a'), false],
  ];
  for (const [name, ti, want] of table) {
    test(`${name} → ${want ? 'forwarded' : 'not forwarded'}`, () => {
      const p = localProposal(ti, 'alpha');
      assert.equal(p !== undefined, want);
      if (p) assert.deepEqual(p, { kind: 'add', indicatorJson: '{"type":"ipv4","value":"192.0.2.66"}', proposerId: 'alpha', signature: 'sig' });
    });
  }
});

test('ownProposalDigests: the digests of this partner\'s own pending proposals (what corroborates a round)', () => {
  const mine = indicator('a', { proposal: { partnerId: 'alpha', signature: 'sig' } });
  const theirs = { ...indicator('b', { proposal: { partnerId: 'bravo', signature: 'sig' } }), spec: { ...indicator('b').spec, value: '198.51.100.7' } };
  const decided = { ...indicator('c', { proposal: { partnerId: 'alpha', signature: 'sig' } }), status: { phase: 'Approved' as const } };
  assert.deepEqual([...ownProposalDigests([mine, theirs, decided], 'alpha')], [indicatorDigest({ type: 'ipv4', value: '192.0.2.66' })]);
  assert.equal(ownProposalDigests([mine], 'bravo').size, 0);
});

describe('localProposal with metadata', () => {
  const key = SigningKey.generate();
  const ind = { type: 'ipv4', value: '192.0.2.66' } as const;
  const meta = { confidence: 70, tlp: 'green', source: 'tm/feed' } as const;
  const spec = { confidence: 70, tlp: 'green', provenance: { feed: 'tm/feed' } } as const;
  test('sends the spec metadata the ingest signed', () => {
    const ti = indicator('a', { ...spec, proposal: { partnerId: 'alpha', signature: signProposal(key, 'add', ind, meta) } });
    assert.equal(localProposal(ti, 'alpha', key.publicKey)?.metaJson, '{"confidence":70,"source":"tm/feed","tlp":"green"}');
  });
  test('an object signed over the indicator alone (before metadata was signed) goes without metadata', () => {
    const ti = indicator('a', { ...spec, proposal: { partnerId: 'alpha', signature: signProposal(key, 'add', ind) } });
    assert.equal(localProposal(ti, 'alpha', key.publicKey)?.metaJson, undefined);
    assert.equal(localProposal(ti, 'alpha')?.metaJson, '{"confidence":70,"source":"tm/feed","tlp":"green"}', 'without the key the spec metadata is sent and the sequencer judges');
  });
});

describe('proposalBatches', () => {
  const item = (valueBytes: number, metaBytes = 0): { p: ProposalInput } => ({ p: { kind: 'add', indicatorJson: 'u'.repeat(valueBytes), metaJson: 'm'.repeat(metaBytes), proposerId: 'alpha', signature: 's' } });
  test('at most 250 items per batch', () => {
    assert.deepEqual(proposalBatches(Array.from({ length: 501 }, () => item(40))).map((b) => b.length), [250, 250, 1]);
  });
  test('at most 2 MiB per batch: 250 long URLs with metadata go in several calls', () => {
    const batches = proposalBatches(Array.from({ length: 250 }, () => item(8000, 2600)));
    assert.deepEqual(batches.map((b) => b.length), [193, 57]);
  });
  test('an item larger than the budget still goes, alone', () => {
    assert.deepEqual(proposalBatches([item(10), item(3 * 1024 * 1024), item(10)]).map((b) => b.length), [1, 1, 1]);
  });
});

describe('serverNameFor', () => {
  const table: Array<[string, string]> = [['127.0.0.1:8443', 'localhost'], ['[::1]:8444', 'localhost'], ['seq.partner.example:8443', 'seq.partner.example']];
  for (const [endpoint, want] of table) test(`${endpoint} → ${want}`, () => assert.equal(serverNameFor(endpoint), want));
});

describe('ProposalForwarder and the round quota', () => {
  test('proposals refused round-quota wait and go out once rounds are decided; other refusals are final', async () => {
    const kube = new MemoryKube();
    const alpha = SigningKey.generate();
    const bravo = SigningKey.generate();
    const voters: Voter[] = [{ partnerId: 'alpha', publicKey: alpha.publicKey, roles: ['contributor', 'voter'] }, { partnerId: 'bravo', publicKey: bravo.publicKey, roles: ['voter'] }];
    const seq = await Sequencer.open({ store: new MemoryLogStore(), key: SigningKey.generate(), partners: voters, quorum: 1, maxOpenRoundsPerProposer: 3, now: () => new Date(), log: quiet });
    const values = Array.from({ length: 5 }, (_, i) => `192.0.2.${i + 1}`);
    for (const value of values) kube.seed(THREAT_INDICATORS, indicator(`ipv4-${value}`, { value, proposal: { partnerId: 'alpha', signature: signProposal(alpha, 'add', { type: 'ipv4', value }) } }));
    kube.seed(THREAT_INDICATORS, indicator('forged', { value: '198.51.100.1', proposal: { partnerId: 'alpha', signature: signProposal(bravo, 'add', { type: 'ipv4', value: '198.51.100.1' }) } }));
    const sink: ProposalSink = { proposeBatch: (ps) => Promise.all(ps.map((p) => seq.propose('alpha', p).catch((e: ExchangeRefusal) => ({ status: 'refused' as const, reason: e.reason, message: e.message })))) };
    const fwd = new ProposalForwarder({ client: kube, namespace: 'tm', partnerId: 'alpha', log: quiet });
    assert.equal(await fwd.forwardOnce(sink), 3, 'three rounds open: the quota');
    assert.equal(seq.pendingCount, 3);
    for (const r of seq.pending()) await seq.vote('bravo', signVote(bravo, { partnerId: 'bravo', digest: r.subject, decision: 'approve', signedAt: new Date().toISOString() }));
    assert.equal(await fwd.forwardOnce(sink), 2, 'the two that waited go out; the forged one is not retried');
    assert.equal(await fwd.forwardOnce(sink), 0);
    assert.deepEqual([seq.size, seq.pendingCount], [3, 2]);
  });
});

describe('when the next drift repair is due', () => {
  const cases: Array<[string, number, number]> = [
    ['after a repair that worked: the period', 0, 300_000],
    ['after one failure: the first retry wait', 1, 5_000],
    ['after three failures in a row: doubled twice', 3, 20_000],
    ['after many failures: never longer than the period', 40, 300_000],
  ];
  for (const [name, failures, want] of cases) {
    test(name, () => {
      assert.equal(repairWaitMs(failures, 300_000, 5_000), want);
    });
  }
});

/**
 * Trust model, protocol version 2 batch proposals (docs/adr/2026-12-06-million-indicators.md,
 * Decision 4): a proposer signs the Merkle root of the texts its single ADD proposals would sign
 * (kind `proposal-batch`) and each proposal carries its inclusion proof. A sequencer sees every
 * batch and holds the log key, so it may move a root or proof onto another indicator or other
 * metadata (TLP, confidence, validUntil), present a proposal-batch signature as another kind (or
 * a vote-batch signature as one), send malformed proofs, attribute a batch to another proposer,
 * or replay a batch proposal into another round or after a revocation. The real sequencer refuses
 * each proposal (`bad-proposal-signature`, votes `outside-window`), a voter never votes on a
 * round whose proposal does not verify, and every partner halts on each such log entry
 * (`bad-proposal-signature`, `forged-vote`, `replayed-entry`, `no-quorum`) and applies nothing
 * from it. Honest batches admit, replicate mixed with version-1 entries, and cost one Ed25519
 * verification per (signer, root) at a partner. Real parts: the real sequencer (log on FerretDB)
 * or a hostile log with genuine signatures, behind the real exchange endpoint over gRPC with
 * mutual TLS; each partner's real replica and MongoDB sink on FerretDB.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import { entryLeafData, metaJson, roundSubject, signProposal, type EntryBody, type IndicatorMeta } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signProposalBatch, type ProposalProof } from '../../operator/src/domain/proposalbatch.ts';
import { signVote, signVoteBatch, type Vote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import type { ProposalInput } from '../../operator/src/exchange/protocol/messages.ts';
import { AutoVoter } from '../../operator/src/exchange/partner/voter.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { MemoryLogStore } from '../../operator/src/store/memory.ts';
import { BATCH_NET_WINDOW_MS as WINDOW, batchNetHooks, refusalOf, type BatchNetId as Id } from '../harness/batchnet.ts';
import { HostileLog } from '../harness/hostile.ts';
import { countVerifications } from '../harness/verifycount.ts';

const net = batchNetHooks('threatmesh-attack-batchproposals', 'tm_attack_bprop');
const { keys, partners, quiet, suffix, ownDirectory, realNetwork, partnerOf, haltsOn } = net;
const HOUR = 3_600_000;
const ind = (value: string): Indicator => ({ type: 'domain', value: `${value}-${suffix}.bprop.example` });
const META: IndicatorMeta = { tlp: 'amber', confidence: 80, validUntil: '2030-01-01T00:00:00Z' };
const approveAll = { judge: () => ({ decision: 'approve' as const }) };

// Ed25519 verifications of this process, counted as the benchmarks count them.
const verifies = countVerifications();

/** `by`'s ADD proposals of `items` signed as one batch, in order. */
function batchProposals(by: Id, items: ReadonlyArray<{ indicator: Indicator; meta?: IndicatorMeta }>): ProposalInput[] {
  const proofs = signProposalBatch(keys[by], items);
  return items.map((it, i) => ({ kind: 'add', indicatorJson: indicatorCanonicalJson(it.indicator), ...(it.meta !== undefined ? { metaJson: metaJson(it.meta) } : {}), proposerId: by, ...proofs[i]! }));
}

function single(by: Id, kind: 'add' | 'revoke', indicator: Indicator): ProposalInput {
  return { kind, indicatorJson: indicatorCanonicalJson(indicator), proposerId: by, signature: signProposal(keys[by], kind, indicator) };
}

/** Replaces one space-separated field of a batch proof. */
function editProof<T extends { readonly batch?: string }>(p: T, edit: (parts: string[]) => void): T {
  const parts = p.batch!.split(' ');
  edit(parts);
  return { ...p, batch: parts.join(' ') };
}

/** `by`'s approvals of the ADD subjects of `indicators`, as one vote batch signed at `at`. */
function votesOf(by: Id, indicators: readonly Indicator[], at = new Date()): Vote[] {
  return signVoteBatch(keys[by], indicators.map((i) => ({ partnerId: by, digest: roundSubject('add', i), decision: 'approve' as const, signedAt: at.toISOString() })));
}

/** An ADD entry of `indicator` proposed by alpha with `proof` (a batch proposal unless told otherwise). */
function addEntry(indicator: Indicator, proof: ProposalProof, votes: Vote[], opensAt: number, extra: Partial<EntryBody> = {}): EntryBody {
  return {
    kind: 'add', indicator, proposerId: 'alpha', proposalSignature: proof.signature, ...(proof.batch !== undefined ? { proposalBatch: proof.batch } : {}),
    window: { opensAt: new Date(opensAt).toISOString(), closesAt: new Date(opensAt + WINDOW).toISOString() }, votes, ...extra,
  };
}

describe('protocol v2 batch proposals through the real sequencer (gRPC, mutual TLS, FerretDB)', () => {
  test('a batch of proposals admits through voters that check each one; a partner replicates it after a v1 entry, one verification per (signer, root)', async () => {
    const { seq, clients, key } = await realNetwork();
    const v1 = ind('single');
    const { subject } = await clients.alpha.propose(single('alpha', 'add', v1));
    for (const by of ['bravo', 'charlie'] as const) await clients[by].vote(signVote(keys[by], { partnerId: by, digest: subject, decision: 'approve', signedAt: new Date().toISOString() }));
    const items = Array.from({ length: 5 }, (_, i) => ({ indicator: ind(`batched-${i}`), ...(i % 2 === 0 ? { meta: META } : {}) }));
    const acks = await clients.alpha.proposeBatch(batchProposals('alpha', items));
    assert.deepEqual(acks.map((a) => (a.status === 'refused' ? a.reason : a.status)), Array(5).fill('opened'));
    // The voters' own directories: each checks every batch proposal (checkRound) before it votes.
    for (const by of ['bravo', 'charlie'] as const) {
      const voter = new AutoVoter({ partnerId: by, key: keys[by], client: clients[by], policy: approveAll, partners: ownDirectory(), now: () => new Date(), log: quiet, batching: { maxSize: 4 } });
      assert.equal(await voter.voteOnce(), 5, `${by} voted on every batch proposal`);
    }
    assert.equal(seq.size, 6, 'every round admitted');
    const logged: EntryBody[] = [];
    for await (const { entry } of seq.entries(0, seq.size)) logged.push(entry);
    assert.doesNotMatch(entryLeafData(logged[0]!), /"v":2|[bB]atch/, 'the v1 entry keeps v1 bytes');
    for (const e of logged.slice(1)) assert.match(entryLeafData(e), /"proposalBatch":"\d 5 [0-9a-f]{64}.*"v":2/);
    assert.equal(new Set(logged.slice(1).map((e) => e.proposalSignature)).size, 1, 'one proposal signature for the batch');

    const { replica, sink } = await partnerOf(seq, key);
    verifies.reset();
    assert.equal((await replica.sync()).applied, 6);
    // v1 entry: 1 proposal + 2 votes; the batch: 1 proposal root + 4 vote roots (2 voters, batches of 4 and 1); 1 tree head.
    assert.equal(verifies.count, 3 + 1 + 4 + 1);
    const records = await sink.all();
    assert.deepEqual(records.map((r) => r.state), Array(6).fill('active'));
    assert.equal(records.filter((r) => r.proposalBatch !== undefined).length, 5, 'records keep the proposal proofs: each verifies from the record alone');
    assert.deepEqual(records.filter((r) => r.meta !== undefined).map((r) => r.meta), [META, META, META]);
  });

  test('the sequencer refuses batch proposals that do not verify: moved onto another indicator or metadata, kind confusion both ways, malformed, another proposer\'s', async () => {
    const { clients, seq } = await realNetwork();
    const items = [{ indicator: ind('p-x'), meta: META }, { indicator: ind('p-y') }, { indicator: ind('p-z'), meta: META }];
    const [px, py] = batchProposals('alpha', items);
    const voteBatch = votesOf('alpha', [items[0]!.indicator])[0]!;
    const cases: Array<[string, Id, ProposalInput]> = [
      ['x\'s root and proof on indicator y', 'alpha', { ...px!, indicatorJson: py!.indicatorJson }],
      ['x\'s root and proof on an indicator never in the batch', 'alpha', { ...px!, indicatorJson: indicatorCanonicalJson(ind('p-never')) }],
      ['the TLP lowered', 'alpha', { ...px!, metaJson: metaJson({ ...META, tlp: 'clear' }) }],
      ['the confidence raised', 'alpha', { ...px!, metaJson: metaJson({ ...META, confidence: 100 }) }],
      ['validUntil extended', 'alpha', { ...px!, metaJson: metaJson({ ...META, validUntil: '2040-01-01T00:00:00Z' }) }],
      ['the metadata stripped', 'alpha', (({ metaJson: _m, ...rest }) => rest)(px!)],
      ['metadata added to a proposal signed without', 'alpha', { ...py!, metaJson: metaJson(META) }],
      ['the proof of y on x', 'alpha', { ...px!, batch: py!.batch! }],
      ['a vote-batch signature and proof presented as a batch proposal', 'alpha', { ...px!, signature: voteBatch.signature, batch: voteBatch.batch! }],
      ['the proposal-batch signature presented as a single proposal', 'alpha', (({ batch: _b, ...rest }) => rest)(px!)],
      ['a single proposal signature presented with a batch proof', 'alpha', { ...px!, signature: signProposal(keys.alpha, 'add', items[0]!.indicator, META) }],
      ['a wrong index', 'alpha', editProof(px!, (p) => { p[0] = '1'; })],
      ['a wrong size', 'alpha', editProof(px!, (p) => { p[1] = '4'; })],
      ['a proof one hash short', 'alpha', editProof(px!, (p) => { p.pop(); })],
      ['an index with a leading zero', 'alpha', editProof(px!, (p) => { p[0] = '00'; })],
      ['the root in upper case', 'alpha', editProof(px!, (p) => { p[2] = p[2]!.toUpperCase(); })],
      ['a batch proof on a REVOKE', 'alpha', { ...px!, kind: 'revoke', metaJson: '' }],
      ['alpha\'s batch proposal sent as bravo\'s', 'bravo', { ...px!, proposerId: 'bravo' }],
    ];
    for (const [name, by, p] of cases) {
      const err = await refusalOf(clients[by].propose(p));
      assert.equal(err.reason, 'bad-proposal-signature', `${name}: ${err.message}`);
    }
    // The other way: the proposal-batch signature and proof presented as a vote.
    const asVote: Vote = { partnerId: 'alpha', digest: roundSubject('add', items[0]!.indicator), decision: 'approve', signedAt: new Date().toISOString(), signature: px!.signature, batch: px!.batch! };
    assert.equal((await clients.alpha.propose(px!)).status, 'opened', 'the genuine batch proposal still opens after every refusal');
    assert.equal((await refusalOf(clients.alpha.vote(asVote))).reason, 'bad-vote-signature');
    assert.deepEqual(seq.pending().map((r) => r.digest), [(await clients.alpha.propose(px!)).digest], 'only x is pending');
  });

  test('a voter shown a batch proposal moved onto other metadata or another indicator does not vote on it', async () => {
    const { clients, hostile } = await realNetwork();
    const items = [{ indicator: ind('shown-x'), meta: META }, { indicator: ind('shown-y'), meta: META }, { indicator: ind('honest-w') }];
    await clients.alpha.proposeBatch(batchProposals('alpha', items));
    const [x, y] = [roundSubject('add', items[0]!.indicator), roundSubject('add', items[1]!.indicator)];
    // X shown with a lowered TLP; Y shown with X's proof.
    hostile.pendingLie = (rounds) => {
      const proofOfX = rounds.find((r) => r.subject === x)!.batch!;
      return rounds.map((r) => (r.subject === x ? { ...r, meta: { ...META, tlp: 'clear' } } : r.subject === y ? { ...r, batch: proofOfX } : r));
    };
    const sent: Vote[] = [];
    const client = { listPending: () => clients.charlie.listPending(), vote: (v: Vote) => clients.charlie.vote(v), voteBatch: (vs: readonly Vote[]) => { sent.push(...vs); return clients.charlie.voteBatch(vs); } };
    const voter = new AutoVoter({ partnerId: 'charlie', key: keys.charlie, client, policy: approveAll, partners: ownDirectory(), now: () => new Date(), log: quiet, batching: {} });
    assert.equal(await voter.voteOnce(), 1, 'only W is voted');
    assert.deepEqual(sent.map((v) => v.digest), [roundSubject('add', items[2]!.indicator)]);
  });

  test('a batch proposal replayed after its revocation opens a new round only: its first admission\'s votes are refused outside-window', async () => {
    const { clients } = await realNetwork();
    const z = ind('readmitted');
    const [pz] = batchProposals('alpha', [{ indicator: z, meta: META }, { indicator: ind('readmitted-other') }]);
    await clients.alpha.propose(pz!);
    const first = { alpha: votesOf('alpha', [z]), bravo: votesOf('bravo', [z]) };
    await clients.alpha.voteBatch(first.alpha);
    assert.equal((await clients.bravo.voteBatch(first.bravo))[0]?.status, 'approved');
    assert.equal((await clients.alpha.propose(pz!)).status, 'already-admitted', 'replayed while admitted: nothing opens');
    const revoke = await clients.bravo.propose(single('bravo', 'revoke', z));
    for (const by of ['alpha', 'bravo'] as const) await clients[by].vote(signVote(keys[by], { partnerId: by, digest: revoke.subject, decision: 'approve', signedAt: new Date().toISOString() }));
    const again = await clients.alpha.propose(pz!);
    assert.equal(again.status, 'opened', 'a proposal is undated, as a single one is: it may propose again');
    assert.equal((await refusalOf(clients.alpha.vote(first.alpha[0]!))).reason, 'outside-window', 'the first admission\'s votes');
    assert.equal((await refusalOf(clients.bravo.vote(first.bravo[0]!))).reason, 'outside-window');
  });
});

describe('a hostile sequencer logs batch proposals: every partner halts and applies nothing from the entry', () => {
  const items = [{ indicator: ind('log-x'), meta: META }, { indicator: ind('log-y') }, { indicator: ind('log-w'), meta: META }];
  const [x, y] = [items[0]!.indicator, items[1]!.indicator];
  const never = ind('log-never');
  const [px, py, pw] = signProposalBatch(keys.alpha, items);
  const at = new Date();
  const opens = at.getTime() - 60_000;
  const alpha = votesOf('alpha', [x, y, never], at);
  const bravo = votesOf('bravo', [x, y, never], at);
  const xVotes = [alpha[0]!, bravo[0]!];
  const cases: ReadonlyArray<{ name: string; entry: EntryBody; reason: string }> = [
    { name: 'X\'s root and proof logged on Y (with Y\'s genuine votes)', entry: addEntry(y, px!, [alpha[1]!, bravo[1]!], opens, { meta: META }), reason: 'bad-proposal-signature' },
    { name: 'X\'s root and proof on an indicator the proposer never batched', entry: addEntry(never, px!, [alpha[2]!, bravo[2]!], opens, { meta: META }), reason: 'bad-proposal-signature' },
    { name: 'X logged with its TLP lowered to clear', entry: addEntry(x, px!, xVotes, opens, { meta: { ...META, tlp: 'clear' } }), reason: 'bad-proposal-signature' },
    { name: 'X logged with its confidence raised', entry: addEntry(x, px!, xVotes, opens, { meta: { ...META, confidence: 100 } }), reason: 'bad-proposal-signature' },
    { name: 'X logged with validUntil extended', entry: addEntry(x, px!, xVotes, opens, { meta: { ...META, validUntil: '2040-01-01T00:00:00Z' } }), reason: 'bad-proposal-signature' },
    { name: 'X logged with its metadata stripped', entry: addEntry(x, px!, xVotes, opens), reason: 'bad-proposal-signature' },
    { name: 'the proofs of X and W exchanged', entry: addEntry(x, { ...px!, batch: pw!.batch! }, xVotes, opens, { meta: META }), reason: 'bad-proposal-signature' },
    { name: 'a vote-batch signature and proof presented as the batch proposal', entry: addEntry(x, { signature: alpha[0]!.signature, batch: alpha[0]!.batch! }, xVotes, opens, { meta: META }), reason: 'bad-proposal-signature' },
    { name: 'the proposal-batch signature presented as a single proposal', entry: addEntry(x, { signature: px!.signature }, xVotes, opens, { meta: META }), reason: 'bad-proposal-signature' },
    { name: 'the proposal-batch signature and proof presented as a vote', entry: addEntry(x, px!, [{ ...alpha[0]!, signature: px!.signature, batch: px!.batch! }, bravo[0]!], opens, { meta: META }), reason: 'forged-vote' },
    { name: 'a wrong leaf index', entry: addEntry(x, editProof(px!, (p) => { p[0] = '1'; }), xVotes, opens, { meta: META }), reason: 'bad-proposal-signature' },
    { name: 'a wrong batch size', entry: addEntry(x, editProof(px!, (p) => { p[1] = '4'; }), xVotes, opens, { meta: META }), reason: 'bad-proposal-signature' },
    { name: 'a second spelling of the proof (two spaces)', entry: addEntry(x, { ...px!, batch: px!.batch!.replace(' ', '  ') }, xVotes, opens, { meta: META }), reason: 'bad-proposal-signature' },
    { name: 'alpha\'s batch proposal attributed to bravo', entry: addEntry(x, px!, xVotes, opens, { meta: META, proposerId: 'bravo' }), reason: 'bad-proposal-signature' },
    { name: 'a REVOKE carrying the batch proposal', entry: { ...addEntry(y, py!, [{ ...alpha[1]!, digest: roundSubject('revoke', y) }], opens), kind: 'revoke', votes: signVoteBatch(keys.alpha, [{ partnerId: 'alpha', digest: roundSubject('revoke', y), decision: 'approve', signedAt: at.toISOString() }]).concat(signVoteBatch(keys.bravo, [{ partnerId: 'bravo', digest: roundSubject('revoke', y), decision: 'approve', signedAt: at.toISOString() }])) }, reason: 'bad-proposal-signature' },
    { name: 'genuine batch proposal and votes in a window that opened after the votes (replayed into another round)', entry: addEntry(x, px!, xVotes, at.getTime() + 1000, { meta: META }), reason: 'no-quorum' },
  ];
  for (const c of cases) {
    test(`${c.name}: halt ${c.reason}`, async () => {
      const { sink } = await haltsOn([c.entry], c.reason, 0);
      assert.deepEqual(await sink.all(), []);
    });
  }

  test('the genuine batch entries replicate after a v1 entry (the control of every case above)', async () => {
    const log = new HostileLog();
    const v1 = ind('log-v1');
    log.append(
      addEntry(v1, { signature: signProposal(keys.alpha, 'add', v1) }, [signVote(keys.alpha, { partnerId: 'alpha', digest: roundSubject('add', v1), decision: 'approve', signedAt: at.toISOString() }), signVote(keys.bravo, { partnerId: 'bravo', digest: roundSubject('add', v1), decision: 'approve', signedAt: at.toISOString() })], opens),
      addEntry(x, px!, xVotes, opens, { meta: META }), addEntry(y, py!, [alpha[1]!, bravo[1]!], opens),
    );
    const { replica, sink } = await partnerOf(log, log.key);
    assert.equal((await replica.sync()).applied, 3);
    const records = await sink.all();
    assert.deepEqual(records.map((r) => r.proposalBatch ?? '').sort(), ['', px!.batch, py!.batch].sort());
  });

  test('a batch admission replayed after its revocation does not re-activate the indicator: halt replayed-entry', async () => {
    const z = ind('log-readmitted');
    let clock = Date.parse('2026-12-01T00:00:00.000Z');
    const seq = await Sequencer.open({ store: new MemoryLogStore(), key: SigningKey.generate(), partners, quorum: 2, now: () => new Date(clock), log: quiet });
    const [pz] = batchProposals('alpha', [{ indicator: z, meta: META }, { indicator: ind('log-readmitted-other') }]);
    for (const [by, p] of [['alpha', pz!], ['bravo', single('bravo', 'revoke', z)]] as const) {
      const { subject } = await seq.propose(by, p);
      for (const v of ['alpha', 'bravo'] as const) await seq.vote(v, signVote(keys[v], { partnerId: v, digest: subject, decision: 'approve', signedAt: new Date(clock).toISOString() }));
      clock += HOUR;
    }
    const history: EntryBody[] = [];
    for await (const { entry } of seq.entries(0, seq.size)) history.push(entry);
    const [add, revoke] = history;
    assert.equal(add!.proposalBatch, pz!.batch, 'the genuine history holds the batch proposal');
    const { sink } = await haltsOn([add!, revoke!, add!], 'replayed-entry', 2);
    assert.equal((await sink.all())[0]?.state, 'revoked');
  });
});

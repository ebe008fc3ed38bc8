/**
 * Trust model, protocol version 2 batch votes (docs/adr/2026-12-06-million-indicators.md,
 * Decision 4): a voter signs the Merkle root of a batch of its own votes (kind `vote-batch`) and
 * each vote carries its inclusion proof. A sequencer sees every batch and holds the log key, so it
 * may move a root or proof onto another subject, claim a subject the voter never derived, replay a
 * batch into another round, present a batch signature as another kind (or another kind as one),
 * or send malformed proofs. The real sequencer refuses each vote (`bad-vote-signature`,
 * `outside-window`); every partner halts on each such log entry (`forged-vote`,
 * `bad-proposal-signature`, `replayed-entry`, `no-quorum`) and applies nothing from it. Honest
 * batches admit, replicate mixed with version-1 entries, and cost one Ed25519 verification per
 * (signer, root) at a partner. Real parts: the real sequencer (log on FerretDB) or a hostile log
 * with genuine signatures, behind the real exchange endpoint over gRPC with mutual TLS; each
 * partner's real replica and MongoDB sink on FerretDB.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import { entryLeafData, roundSubject, signProposal, type EntryBody, type EntryKind } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote, signVoteBatch, type Vote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import type { ProposalResult } from '../../operator/src/exchange/protocol/messages.ts';
import { AutoVoter } from '../../operator/src/exchange/partner/voter.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { MemoryLogStore } from '../../operator/src/store/memory.ts';
import { BATCH_NET_WINDOW_MS as WINDOW, batchNetHooks, haltOf, refusalOf, type BatchNetId as Id } from '../harness/batchnet.ts';
import { HostileLog } from '../harness/hostile.ts';
import { countVerifications } from '../harness/verifycount.ts';

const net = batchNetHooks('threatmesh-attack-batches', 'tm_attack_batch');
const { keys, partners, quiet, suffix, realNetwork, partnerOf, haltsOn } = net;
const HOUR = 3_600_000;
const ind = (value: string): Indicator => ({ type: 'domain', value: `${value}-${suffix}.batch.example` });
const approveAll = { judge: () => ({ decision: 'approve' as const }) };

// Ed25519 verifications of this process, counted as the benchmarks count them.
const verifies = countVerifications();

function proposal(by: Id, kind: EntryKind, indicator: Indicator) {
  return { kind, indicatorJson: indicatorCanonicalJson(indicator), proposerId: by, signature: signProposal(keys[by], kind, indicator) };
}

/** A batch of `by`'s approvals (signed now, or at `at`) over the ADD subjects of `indicators`, in order. */
function batchOf(by: Id, indicators: readonly Indicator[], at = new Date()): Vote[] {
  return signVoteBatch(keys[by], indicators.map((i) => ({ partnerId: by, digest: roundSubject('add', i), decision: 'approve' as const, signedAt: at.toISOString() })));
}

function addEntry(indicator: Indicator, votes: Vote[], opensAt: number, extra: Partial<EntryBody> = {}): EntryBody {
  return { kind: 'add', indicator, proposerId: 'alpha', proposalSignature: signProposal(keys.alpha, 'add', indicator), window: { opensAt: new Date(opensAt).toISOString(), closesAt: new Date(opensAt + WINDOW).toISOString() }, votes, ...extra };
}

/** Replaces one space-separated field of a vote's batch proof. */
function editProof(v: Vote, edit: (parts: string[]) => void): Vote {
  const parts = v.batch!.split(' ');
  edit(parts);
  return { ...v, batch: parts.join(' ') };
}

describe('protocol v2 batch votes through the real sequencer (gRPC, mutual TLS, FerretDB)', () => {
  test('batching voters admit; a partner replicates the v2 entries after a v1 one, with one verification per (signer, root)', async () => {
    const { seq, clients, key } = await realNetwork();
    const v1 = ind('single');
    const { subject } = await clients.alpha.propose(proposal('alpha', 'add', v1));
    for (const by of ['bravo', 'charlie'] as const) await clients[by].vote(signVote(keys[by], { partnerId: by, digest: subject, decision: 'approve', signedAt: new Date().toISOString() }));
    const batched = Array.from({ length: 5 }, (_, i) => ind(`batched-${i}`));
    await clients.alpha.proposeBatch(batched.map((i) => proposal('alpha', 'add', i)));
    for (const by of ['alpha', 'bravo'] as const) {
      const voter = new AutoVoter({ partnerId: by, key: keys[by], client: clients[by], policy: approveAll, partners, now: () => new Date(), log: quiet, batching: { maxSize: 4 } });
      assert.equal(await voter.voteOnce(), 5);
    }
    assert.equal(seq.size, 6, 'every round admitted');
    const logged: EntryBody[] = [];
    for await (const { entry } of seq.entries(0, seq.size)) logged.push(entry);
    assert.doesNotMatch(entryLeafData(logged[0]!), /"v":2|"batch"/, 'the v1 entry keeps v1 bytes');
    for (const e of logged.slice(1)) assert.match(entryLeafData(e), /"v":2/);
    assert.equal(new Set(logged.slice(1).flatMap((e) => e.votes.map((v) => `${v.partnerId} ${v.batch!.split(' ')[2]!}`))).size, 4, 'two roots per voter (batches of 4 and 1)');

    const { replica, sink } = await partnerOf(seq, key);
    verifies.reset();
    assert.equal((await replica.sync()).applied, 6);
    // 6 proposals + 2 single votes + 4 batch roots + 1 tree head; version 1 would need 6 + 12 + 1.
    assert.equal(verifies.count, 6 + 2 + 4 + 1);
    const records = await sink.all();
    assert.deepEqual(records.map((r) => r.state), Array(6).fill('active'));
    assert.equal(records.filter((r) => r.votes.some((v) => v['batch'] !== undefined)).length, 5, 'records keep the batch proofs: each certificate verifies from the record alone');
  });

  test('the sequencer refuses batch votes that do not verify: kind confusion both ways, proofs moved or malformed', async () => {
    const { clients, seq } = await realNetwork();
    const [x1, x2, x3] = [ind('confused-1'), ind('confused-2'), ind('never-in-batch')];
    await clients.alpha.proposeBatch([x1, x2, x3].map((i) => proposal('alpha', 'add', i)));
    const [b1, b2] = batchOf('bravo', [x1, x2]);
    const cases: Array<[string, Vote, string]> = [
      ['the vote-batch signature presented as a single vote', (({ batch: _b, ...rest }) => rest)(b1!), 'bad-vote-signature'],
      ['a single vote signature presented with a batch proof', { ...signVote(keys.bravo, { partnerId: 'bravo', digest: roundSubject('add', x1), decision: 'approve', signedAt: b1!.signedAt }), batch: b1!.batch! }, 'bad-vote-signature'],
      ['a proposal signature presented as the batch signature', { ...b1!, signature: signProposal(keys.bravo, 'add', x1) }, 'bad-vote-signature'],
      ['x1\'s root and proof on the vote for x2', { ...b1!, digest: roundSubject('add', x2) }, 'bad-vote-signature'],
      ['the batch on x3, a subject the voter never put in it', { ...b1!, digest: roundSubject('add', x3) }, 'bad-vote-signature'],
      ['the proof of x2 on x1', { ...b1!, batch: b2!.batch! }, 'bad-vote-signature'],
      ['a wrong index', editProof(b1!, (p) => { p[0] = '1'; }), 'bad-vote-signature'],
      ['a wrong size', editProof(b1!, (p) => { p[1] = '3'; }), 'bad-vote-signature'],
      ['a proof one hash short', editProof(b1!, (p) => { p.pop(); }), 'bad-vote-signature'],
      ['a proof one hash long', editProof(b1!, (p) => { p.push(p[2]!); }), 'bad-vote-signature'],
      ['an index with a leading zero', editProof(b1!, (p) => { p[0] = '00'; }), 'bad-vote-signature'],
    ];
    for (const [name, vote, reason] of cases) {
      const err = await refusalOf(clients.bravo.vote(vote));
      assert.equal(err.reason, reason, name);
    }
    const proposalErr = await refusalOf(clients.alpha.propose({ ...proposal('alpha', 'add', ind('batch-signature-as-proposal')), signature: batchOf('alpha', [x1])[0]!.signature }));
    assert.equal(proposalErr.reason, 'bad-proposal-signature', 'a vote-batch signature is no proposal signature');
    assert.equal((await clients.bravo.vote(b1!)).status, 'counted', 'the genuine batch vote still counts after every refusal');
    assert.equal(seq.pending().find((r) => r.subject === roundSubject('add', x3))?.tally?.approvals, 0, 'x3 collected nothing');
  });

  test('a batch vote replayed into the re-admission round, or dated before the round opened, is refused outside-window', async () => {
    const { clients } = await realNetwork();
    const z = ind('readmitted');
    await clients.alpha.propose(proposal('alpha', 'add', z));
    const first = { alpha: batchOf('alpha', [z]), bravo: batchOf('bravo', [z]) };
    await clients.alpha.voteBatch(first.alpha);
    assert.equal((await clients.bravo.voteBatch(first.bravo))[0]?.status, 'approved');
    const revoke = await clients.bravo.propose(proposal('bravo', 'revoke', z));
    for (const by of ['alpha', 'bravo'] as const) await clients[by].vote(signVote(keys[by], { partnerId: by, digest: revoke.subject, decision: 'approve', signedAt: new Date().toISOString() }));
    const again: ProposalResult = await clients.alpha.propose(proposal('alpha', 'add', z));
    assert.equal(again.status, 'opened');
    assert.equal((await refusalOf(clients.alpha.vote(first.alpha[0]!))).reason, 'outside-window', 'the first admission\'s batch vote');
    const early = batchOf('charlie', [z], new Date(Date.parse(again.window!.opensAt) - 1000));
    assert.equal((await refusalOf(clients.charlie.vote(early[0]!))).reason, 'outside-window', 'a batch dated before the round opened');
  });

  test('a voter shown X under Y\'s subject leaves Y out of its batch; its root put under Y in the log halts the partner forged-vote', async () => {
    const { clients, hostile, key } = await realNetwork();
    const [x, y, w] = [ind('shown-x'), ind('hidden-y'), ind('honest-w')];
    await clients.alpha.proposeBatch([x, w].map((i) => proposal('alpha', 'add', i)));
    const yAck = await clients.bravo.propose(proposal('bravo', 'add', y));
    hostile.pendingLie = (rounds) => rounds.filter((r) => r.subject !== yAck.subject).map((r) => (r.subject === roundSubject('add', x) ? { ...r, digest: yAck.digest, subject: yAck.subject } : r));
    const reports: string[] = [];
    const sent: Vote[] = [];
    const client = { listPending: () => clients.charlie.listPending(), vote: (v: Vote) => clients.charlie.vote(v), voteBatch: (vs: readonly Vote[]) => { sent.push(...vs); return clients.charlie.voteBatch(vs); } };
    const voter = new AutoVoter({ partnerId: 'charlie', key: keys.charlie, client, policy: approveAll, partners, now: () => new Date(), log: quiet, batching: {}, onMisbehaviour: (r) => reports.push(r) });
    assert.equal(await voter.voteOnce(), 1, 'only W is voted');
    assert.deepEqual(reports, ['subject-mismatch']);
    assert.deepEqual(sent.map((v) => v.digest), [roundSubject('add', w)], 'the batch holds only subjects the voter derived');
    hostile.pendingLie = undefined;
    // The sequencer now logs Y with charlie's batch vote relabelled, next to a genuine approval.
    const log = new HostileLog(key);
    const now = Date.now();
    log.append(addEntry(y, [{ ...sent[0]!, digest: yAck.subject }, ...batchOf('alpha', [y])], now - 60_000, { proposerId: 'bravo', proposalSignature: signProposal(keys.bravo, 'add', y) }));
    const { replica, sink } = await partnerOf(log, log.key);
    const halt = await haltOf(replica);
    assert.deepEqual([halt.reason, halt.index], ['forged-vote', 0]);
    assert.match(halt.message, /charlie/);
    assert.deepEqual(await sink.all(), []);
  });
});

describe('a hostile sequencer logs batch votes: every partner halts and applies nothing from the entry', () => {
  const [x, y, never] = [ind('log-x'), ind('log-y'), ind('log-never')];
  const at = new Date();
  const opens = at.getTime() - 60_000;
  const alpha = batchOf('alpha', [x, y], at);
  const bravo = batchOf('bravo', [x, y], at);
  const relabel = (v: Vote, i: Indicator): Vote => ({ ...v, digest: roundSubject('add', i) });
  const cases: ReadonlyArray<{ name: string; entry: EntryBody; reason: string }> = [
    { name: 'Y logged with alpha\'s root and proof of X (swapped onto another subject)', entry: addEntry(y, [relabel(alpha[0]!, y), bravo[1]!], opens), reason: 'forged-vote' },
    { name: 'X and Y proofs exchanged (a reordered batch)', entry: addEntry(x, [{ ...alpha[0]!, batch: alpha[1]!.batch! }, bravo[0]!], opens), reason: 'forged-vote' },
    { name: 'a subject the voter never derived under its genuine root and proof', entry: addEntry(never, [relabel(alpha[0]!, never), relabel(bravo[0]!, never)], opens), reason: 'forged-vote' },
    { name: 'X\'s ADD approvals relabelled as votes to revoke X (the revocation subject under the same root)', entry: { ...addEntry(x, [{ ...alpha[0]!, digest: roundSubject('revoke', x) }, { ...bravo[0]!, digest: roundSubject('revoke', x) }], opens), kind: 'revoke', proposalSignature: signProposal(keys.alpha, 'revoke', x) }, reason: 'forged-vote' },
    { name: 'X\'s ADD approvals as they are in a REVOKE of X', entry: { ...addEntry(x, [alpha[0]!, bravo[0]!], opens), kind: 'revoke', proposalSignature: signProposal(keys.alpha, 'revoke', x) }, reason: 'replayed-vote' },
    { name: 'the root reused for a reject the voter never signed', entry: { ...addEntry(x, [{ ...alpha[0]!, decision: 'reject' }, { ...bravo[0]!, decision: 'reject' }], opens), kind: 'reject' }, reason: 'forged-vote' },
    { name: 'the vote-batch signature presented as a single vote', entry: addEntry(x, [(({ batch: _b, ...rest }) => rest)(alpha[0]!), bravo[0]!], opens), reason: 'forged-vote' },
    { name: 'a single vote signature presented with a batch proof', entry: addEntry(x, [{ ...signVote(keys.alpha, { partnerId: 'alpha', digest: roundSubject('add', x), decision: 'approve', signedAt: at.toISOString() }), batch: alpha[0]!.batch! }, bravo[0]!], opens), reason: 'forged-vote' },
    { name: 'the vote-batch signature presented as the proposal signature', entry: addEntry(x, [alpha[0]!, bravo[0]!], opens, { proposalSignature: alpha[0]!.signature }), reason: 'bad-proposal-signature' },
    { name: 'a wrong leaf index', entry: addEntry(x, [editProof(alpha[0]!, (p) => { p[0] = '1'; }), bravo[0]!], opens), reason: 'forged-vote' },
    { name: 'a wrong batch size', entry: addEntry(x, [editProof(alpha[0]!, (p) => { p[1] = '3'; }), bravo[0]!], opens), reason: 'forged-vote' },
    { name: 'a proof of the wrong length', entry: addEntry(x, [editProof(alpha[0]!, (p) => { p.push(p[2]!); }), bravo[0]!], opens), reason: 'forged-vote' },
    { name: 'genuine batch votes in a window that opened after they were signed (replayed after the window)', entry: addEntry(x, [alpha[0]!, bravo[0]!], at.getTime() + 1000), reason: 'no-quorum' },
  ];
  for (const c of cases) {
    test(`${c.name}: halt ${c.reason}`, async () => {
      const { sink } = await haltsOn([c.entry], c.reason, 0);
      assert.deepEqual(await sink.all(), []);
    });
  }

  test('the genuine batch entries replicate (the control of every case above)', async () => {
    const log = new HostileLog();
    log.append(addEntry(x, [alpha[0]!, bravo[0]!], opens), addEntry(y, [alpha[1]!, bravo[1]!], opens));
    const { replica, sink } = await partnerOf(log, log.key);
    assert.equal((await replica.sync()).applied, 2);
    assert.equal((await sink.all()).length, 2);
  });

  test('a batch admission replayed after its revocation does not re-activate the indicator: halt replayed-entry', async () => {
    const z = ind('log-readmitted');
    let clock = Date.parse('2026-12-01T00:00:00.000Z');
    const seq = await Sequencer.open({ store: new MemoryLogStore(), key: SigningKey.generate(), partners, quorum: 2, now: () => new Date(clock), log: quiet });
    for (const [kind, by] of [['add', 'alpha'], ['revoke', 'bravo']] as const) {
      const { subject } = await seq.propose(by, proposal(by, kind, z));
      for (const v of ['alpha', 'bravo'] as const) await seq.vote(v, signVoteBatch(keys[v], [{ partnerId: v, digest: subject, decision: 'approve', signedAt: new Date(clock).toISOString() }])[0]!);
      clock += HOUR;
    }
    const history: EntryBody[] = [];
    for await (const { entry } of seq.entries(0, seq.size)) history.push(entry);
    const [add, revoke] = history;
    assert.ok(add!.votes.every((v) => v.batch !== undefined), 'the genuine history holds batch votes');
    const { sink } = await haltsOn([add!, revoke!, add!], 'replayed-entry', 2);
    assert.equal((await sink.all())[0]?.state, 'revoked');
  });
});

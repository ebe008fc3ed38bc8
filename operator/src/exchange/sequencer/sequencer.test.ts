import { describe, test } from 'node:test';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import { indicatorCanonicalJson, indicatorDigest } from '../../domain/canonical.ts';
import { ENTRY_LIMITS, metaJson, signProposal, voteSubject, type EntryKind, type IndicatorMeta } from '../../domain/entry.ts';
import type { Indicator } from '../../domain/indicator.ts';
import { signVote, type PartnerRole, type Vote, type VoteDecision, type Voter } from '../../domain/quorum.ts';
import { SigningKey } from '../../domain/signature.ts';
import { verifyTreeHead } from '../../domain/treehead.ts';
import { verifyInclusion } from '../../domain/merkle.ts';
import { entryLeafHash } from '../../domain/entry.ts';
import { createLogger } from '../../log.ts';
import { MemoryLogStore, MemoryRoundStore } from '../../store/memory.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import type { ProposalInput, ProvenEntry } from '../protocol/messages.ts';
import { SEQUENCER_DEFAULTS } from './defaults.ts';
import { SequencerStateError } from './log.ts';
import { Sequencer, type SequencerOptions } from './sequencer.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const ids = ['alpha', 'bravo', 'charlie'] as const;
type Id = (typeof ids)[number];
const keys: Record<Id, SigningKey> = { alpha: SigningKey.generate(), bravo: SigningKey.generate(), charlie: SigningKey.generate() };
const roles: PartnerRole[] = ['contributor', 'voter'];
const partners: Voter[] = ids.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles }));
const T0 = Date.parse('2026-12-01T00:00:00.000Z');

/** A sequencer of three voters (quorum 2) on memory stores with a settable clock. */
async function network(extra: Partial<SequencerOptions> = {}) {
  const clock = { now: T0 };
  const store = new MemoryLogStore();
  const rounds = new MemoryRoundStore();
  const key = SigningKey.generate();
  const open = (): Promise<Sequencer> => Sequencer.open({ store, rounds, key, partners, quorum: 2, now: () => new Date(clock.now), log: quiet, ...extra });
  return { clock, store, rounds, key, seq: await open(), reopen: open };
}

const ind = (value: string): Indicator => ({ type: 'domain', value });

function proposal(by: Id, kind: EntryKind, indicator: Indicator, meta?: IndicatorMeta): ProposalInput {
  return { kind, indicatorJson: indicatorCanonicalJson(indicator), ...(meta ? { metaJson: metaJson(meta) } : {}), proposerId: by, signature: signProposal(keys[by], kind, indicator, meta) };
}

function vote(by: Id, subject: string, at: number, decision: VoteDecision = 'approve'): Vote {
  return signVote(keys[by], { partnerId: by, digest: subject, decision, signedAt: new Date(at).toISOString() });
}

async function entriesOf(seq: Sequencer): Promise<ProvenEntry[]> {
  const out: ProvenEntry[] = [];
  for await (const e of seq.entries(0, seq.size)) out.push(e);
  return out;
}

async function admit(seq: Sequencer, value: string, at: number): Promise<number | undefined> {
  const opened = await seq.propose('alpha', proposal('alpha', 'add', ind(value)));
  await seq.vote('alpha', vote('alpha', opened.subject, at));
  return (await seq.vote('bravo', vote('bravo', opened.subject, at))).logIndex;
}

describe('Sequencer (memory stores)', () => {
  test('a proposal opens a round with the network window; two of three approvals append it, signed head covers it', async () => {
    const { seq, key } = await network();
    const opened = await seq.propose('alpha', proposal('alpha', 'add', ind('evil.example'), { tlp: 'green' }));
    assert.equal(opened.status, 'opened');
    assert.equal(opened.subject, indicatorDigest(ind('evil.example')));
    assert.equal(Date.parse(opened.window!.closesAt) - T0, SEQUENCER_DEFAULTS.votingWindowMs, 'the library default is the network window (72 h)');
    assert.equal((await seq.vote('alpha', vote('alpha', opened.subject, T0))).status, 'counted');
    const approved = await seq.vote('bravo', vote('bravo', opened.subject, T0));
    assert.deepEqual([approved.status, approved.logIndex, seq.size, seq.pending().length], ['approved', 0, 1, 0]);
    const head = await seq.treeHead();
    assert.ok(verifyTreeHead(key.publicKey, head));
    const proven: ProvenEntry[] = [];
    for await (const p of seq.entries(0, 1)) proven.push(p);
    assert.ok(verifyInclusion(entryLeafHash(proven[0]!.entry), 0, 1, proven[0]!.proof, head.rootHash));
    assert.deepEqual(proven[0]!.entry.meta, { tlp: 'green' });
  });

  test('proposing again is idempotent: already-pending, then already-admitted with the index', async () => {
    const { seq } = await network();
    await seq.propose('alpha', proposal('alpha', 'add', ind('twice.example')));
    assert.equal((await seq.propose('bravo', proposal('bravo', 'add', ind('twice.example')))).status, 'already-pending');
    const index = await admit(seq, 'twice.example', T0);
    assert.deepEqual(await seq.propose('alpha', proposal('alpha', 'add', ind('twice.example'))), { status: 'already-admitted', digest: indicatorDigest(ind('twice.example')), subject: indicatorDigest(ind('twice.example')), logIndex: index });
  });

  test('two rejections of three make quorum unreachable: the round closes and a REJECT entry carries the proposal and the reject votes', async () => {
    const { seq, reopen } = await network();
    const meta: IndicatorMeta = { source: 'feeds/noisy' };
    const { subject } = await seq.propose('alpha', proposal('alpha', 'add', ind('benign.example'), meta));
    await seq.vote('alpha', vote('alpha', subject, T0));
    await seq.vote('bravo', vote('bravo', subject, T0, 'reject'));
    const result = await seq.vote('charlie', vote('charlie', subject, T0, 'reject'));
    assert.deepEqual([result.status, result.logIndex, seq.size, seq.pending().length], ['rejected', 0, 1, 0]);
    const [{ entry }] = await entriesOf(seq) as [ProvenEntry];
    assert.deepEqual([entry.kind, entry.proposerId, entry.meta, entry.votes.map((v) => `${v.partnerId}:${v.decision}`)], ['reject', 'alpha', meta, ['bravo:reject', 'charlie:reject']]);
    // The log reopens with its REJECT (the restore check hashes it like any leaf).
    assert.equal((await reopen()).size, 1);
  });

  test('after a REJECT the next round of the indicator opens after the rejection\'s last vote, and can admit it', async () => {
    const { seq, clock } = await network();
    const first = await seq.propose('alpha', proposal('alpha', 'add', ind('second-chance.example')));
    await seq.vote('bravo', vote('bravo', first.subject, T0 + 30_000, 'reject'));
    await seq.vote('charlie', vote('charlie', first.subject, T0 + 30_000, 'reject'));
    clock.now += 1_000;
    const again = await seq.propose('bravo', proposal('bravo', 'add', ind('second-chance.example')));
    assert.equal(again.status, 'opened');
    assert.ok(Date.parse(again.window!.opensAt) > T0 + 30_000, `the round opens at ${again.window!.opensAt}, after the rejection's votes`);
    await seq.vote('alpha', vote('alpha', again.subject, T0 + 31_000));
    assert.equal((await seq.vote('bravo', vote('bravo', again.subject, T0 + 31_000))).status, 'approved');
    assert.deepEqual((await entriesOf(seq)).map((e) => e.entry.kind), ['reject', 'add']);
  });

  test('a rejected round left in the round store (its delete failed) is not restored: no second REJECT', async () => {
    const { seq, rounds, reopen } = await network();
    const { subject } = await seq.propose('alpha', proposal('alpha', 'add', ind('stale.example')));
    await seq.vote('bravo', vote('bravo', subject, T0, 'reject'));
    const [stale] = await rounds.loadRounds();
    await seq.vote('charlie', vote('charlie', subject, T0, 'reject'));
    await rounds.saveRound(stale!);
    const again = await reopen();
    assert.deepEqual([again.size, again.pending().length], [1, 0]);
  });

  test('a rejected REVOKE round is not logged (only ADD rounds have REJECT entries)', async () => {
    const { seq } = await network();
    await admit(seq, 'kept.example', T0);
    const revoke = await seq.propose('alpha', proposal('alpha', 'revoke', ind('kept.example')));
    await seq.vote('bravo', vote('bravo', revoke.subject, T0, 'reject'));
    assert.equal((await seq.vote('charlie', vote('charlie', revoke.subject, T0, 'reject'))).status, 'rejected');
    assert.deepEqual((await entriesOf(seq)).map((e) => e.entry.kind), ['add']);
  });

  const refusals: ReadonlyArray<[string, (seq: Sequencer, subject: string) => Promise<unknown>, string]> = [
    ['a vote in another partner\'s name', (seq, s) => seq.vote('alpha', vote('bravo', s, T0)), 'identity-mismatch'],
    ['a vote with a forged signature', (seq, s) => seq.vote('bravo', { ...vote('bravo', s, T0), signature: vote('charlie', s, T0).signature }), 'bad-vote-signature'],
    ['a vote signed before the window opened', (seq, s) => seq.vote('bravo', vote('bravo', s, T0 - 2 * SEQUENCER_DEFAULTS.skewMs)), 'outside-window'],
    ['a vote on a subject with no open round', (seq) => seq.vote('bravo', vote('bravo', 'f'.repeat(64), T0)), 'unknown-proposal'],
    ['a proposal whose signature covers other metadata', (seq) => seq.propose('alpha', { ...proposal('alpha', 'add', ind('meta.example'), { tlp: 'red' }), metaJson: metaJson({ tlp: 'clear' }) }), 'bad-proposal-signature'],
    ['a revocation of an indicator never admitted', (seq) => seq.propose('alpha', proposal('alpha', 'revoke', ind('never.example'))), 'not-admitted'],
    ['a vote whose reason is longer than a ThreatIndicator holds', (seq, s) => seq.vote('bravo', signVote(keys.bravo, { partnerId: 'bravo', digest: s, decision: 'approve', signedAt: new Date(T0).toISOString(), reason: 'x'.repeat(ENTRY_LIMITS.reason + 1) })), 'invalid-vote'],
    ['a vote dated ahead of the sequencer\'s clock by more than the skew', (seq, s) => seq.vote('bravo', vote('bravo', s, T0 + SEQUENCER_DEFAULTS.skewMs + 1_000)), 'signed-in-future'],
    ['a URL whose STIX pattern is longer than a ThreatIndicator holds', (seq) => seq.propose('alpha', proposal('alpha', 'add', { type: 'url', value: `https://long.example/${'a'.repeat(ENTRY_LIMITS.value - 30)}` })), 'too-large'],
  ];
  for (const [what, attempt, reason] of refusals) {
    test(`refuses ${what} (${reason})`, async () => {
      const { seq } = await network();
      const { subject } = await seq.propose('alpha', proposal('alpha', 'add', ind('x.example')));
      await assert.rejects(attempt(seq, subject), (err: unknown) => err instanceof ExchangeRefusal && err.reason === reason);
    });
  }

  test('a revoked indicator can be admitted again only by votes signed after the revocation', async () => {
    const { seq, clock } = await network();
    await admit(seq, 'again.example', T0);
    clock.now = T0 + 3_600_000;
    const revoke = await seq.propose('alpha', proposal('alpha', 'revoke', ind('again.example')));
    assert.equal(revoke.subject, voteSubject('revoke', indicatorDigest(ind('again.example'))));
    await seq.vote('alpha', vote('alpha', revoke.subject, clock.now));
    assert.equal((await seq.vote('bravo', vote('bravo', revoke.subject, clock.now))).status, 'approved');
    clock.now += 60_000;
    const readd = await seq.propose('alpha', proposal('alpha', 'add', ind('again.example')));
    assert.equal(readd.status, 'opened');
    await assert.rejects(seq.vote('charlie', vote('charlie', readd.subject, T0)), (err: unknown) => err instanceof ExchangeRefusal && err.reason === 'outside-window', 'the first admission\'s vote is not counted again');
    await seq.vote('alpha', vote('alpha', readd.subject, clock.now));
    assert.equal((await seq.vote('bravo', vote('bravo', readd.subject, clock.now))).logIndex, 2);
  });

  test('a revoke voter cannot push the re-admission floor ahead: its future-dated vote is refused, the indicator can be admitted again at once', async () => {
    const { seq, clock } = await network();
    await admit(seq, 'floor.example', T0);
    clock.now = T0 + 3_600_000;
    const revoke = await seq.propose('alpha', proposal('alpha', 'revoke', ind('floor.example')));
    const aDayAhead = clock.now + 24 * 3_600_000;
    await assert.rejects(seq.vote('charlie', vote('charlie', revoke.subject, aDayAhead)), (err: unknown) => err instanceof ExchangeRefusal && err.reason === 'signed-in-future');
    await seq.vote('alpha', vote('alpha', revoke.subject, clock.now));
    await seq.vote('bravo', vote('bravo', revoke.subject, clock.now));
    clock.now += 1_000;
    const readd = await seq.propose('alpha', proposal('alpha', 'add', ind('floor.example')));
    assert.ok(Date.parse(readd.window!.opensAt) <= clock.now, `re-admission opens now, not a day ahead: ${readd.window!.opensAt}`);
  });

  test('one proposer may hold only its quota of open rounds (round-quota); deciding or expiring some frees places; others are not affected', async () => {
    const { seq, clock } = await network({ maxOpenRoundsPerProposer: 2, windowMs: 60_000 });
    const first = await seq.propose('alpha', proposal('alpha', 'add', ind('q1.example')));
    await seq.propose('alpha', proposal('alpha', 'add', ind('q2.example')));
    const overQuota = (err: unknown): boolean => err instanceof ExchangeRefusal && err.reason === 'round-quota' && err.code === 'resource-exhausted';
    await assert.rejects(seq.propose('alpha', proposal('alpha', 'add', ind('q3.example'))), overQuota);
    assert.equal((await seq.propose('alpha', proposal('alpha', 'add', ind('q1.example')))).status, 'already-pending', 'proposing an open round again is not a new round');
    assert.equal((await seq.propose('bravo', proposal('bravo', 'add', ind('b1.example')))).status, 'opened');
    await seq.vote('alpha', vote('alpha', first.subject, T0));
    await seq.vote('bravo', vote('bravo', first.subject, T0));
    assert.equal((await seq.propose('alpha', proposal('alpha', 'add', ind('q3.example')))).status, 'opened', 'an admitted round frees its place');
    await assert.rejects(seq.propose('alpha', proposal('alpha', 'add', ind('q4.example'))), overQuota);
    clock.now += 61_000;
    assert.equal((await seq.propose('alpha', proposal('alpha', 'add', ind('q4.example')))).status, 'opened', 'expired rounds free their places');
  });

  test('open rounds and their votes survive a restart; a tampered stored entry stops the restart', async () => {
    const { seq, reopen, store } = await network();
    await admit(seq, 'kept.example', T0);
    await seq.treeHead();
    const { subject } = await seq.propose('alpha', proposal('alpha', 'add', ind('open.example')));
    await seq.vote('alpha', vote('alpha', subject, T0));
    const again = await reopen();
    assert.deepEqual(again.pending().map((r) => [r.subject, r.tally?.approvals]), [[subject, 1]]);
    assert.equal((await again.vote('bravo', vote('bravo', subject, T0))).logIndex, 1);
    store.tamper(0, (e) => ({ ...e, indicator: ind('swapped.example') }));
    await assert.rejects(reopen(), SequencerStateError);
  });

  test('a quiet log still gets a fresh head every heartbeat (same size and root, in memory only); a busy one on every growth', async () => {
    const { seq, clock, store } = await network({ entryCacheSize: 0 });
    await admit(seq, 'beat.example', T0);
    const first = await seq.treeHead();
    clock.now += SEQUENCER_DEFAULTS.headHeartbeatMs - 1;
    assert.equal(await seq.treeHead(), first, 'within the heartbeat the head is reused');
    clock.now += 2;
    const beat = await seq.treeHead();
    assert.deepEqual([beat.treeSize, beat.rootHash], [first.treeSize, first.rootHash]);
    assert.equal(beat.timestamp, new Date(clock.now).toISOString());
    assert.equal((await store.latestTreeHead())?.timestamp, first.timestamp, 'the stored head of that size stays the restore check');
  });

  test('tree-head key rotation: the log opens with the new key when the old one is retired, and refuses it otherwise', async () => {
    const { seq, store, key, clock } = await network();
    await admit(seq, 'rotate.example', T0);
    await seq.treeHead();
    const fresh = SigningKey.generate();
    const reopen = (retiredKeys?: Array<{ publicKey: typeof key.publicKey; validUntil: string }>) => Sequencer.open({ store, key: fresh, partners, quorum: 2, now: () => new Date(clock.now), log: quiet, ...(retiredKeys ? { retiredKeys } : {}) });
    await assert.rejects(reopen(), (err: unknown) => err instanceof SequencerStateError && /spec\.retiredKeys/.test(err.message));
    const rotated = await reopen([{ publicKey: key.publicKey, validUntil: new Date(T0 + 3_600_000).toISOString() }]);
    clock.now += SEQUENCER_DEFAULTS.headHeartbeatMs;
    const head = await rotated.treeHead();
    assert.ok(verifyTreeHead(fresh.publicKey, head), 'new heads are signed with the new key');
    assert.equal(head.treeSize, 1);
  });

  test('voting key rotation: the retired key counts until validUntil (proposals and votes in flight), not after', async () => {
    const newAlpha = SigningKey.generate();
    const validUntil = new Date(T0 + 60_000).toISOString();
    const rotated = partners.map((p) => (p.partnerId === 'alpha' ? { ...p, publicKey: newAlpha.publicKey, retiredKeys: [{ publicKey: keys.alpha.publicKey, validUntil }] } : p));
    const { seq, clock } = await network({ partners: rotated });
    const opened = await seq.propose('alpha', proposal('alpha', 'add', ind('overlap.example')));
    assert.equal(opened.status, 'opened', 'a proposal signed with the old key during the overlap');
    assert.equal((await seq.vote('alpha', vote('alpha', opened.subject, T0))).status, 'counted', 'a vote signed with the old key during the overlap');
    clock.now = T0 + 61_000;
    await assert.rejects(seq.propose('alpha', proposal('alpha', 'add', ind('late.example'))), (err: unknown) => err instanceof ExchangeRefusal && err.reason === 'bad-proposal-signature');
    const second = await seq.propose('bravo', proposal('bravo', 'add', ind('compromised.example')));
    await assert.rejects(seq.vote('alpha', vote('alpha', second.subject, clock.now)), (err: unknown) => err instanceof ExchangeRefusal && err.reason === 'bad-vote-signature', 'the retired key after validUntil (a compromised key)');
    const withNew = signVote(newAlpha, { partnerId: 'alpha', digest: second.subject, decision: 'approve', signedAt: new Date(clock.now).toISOString() });
    assert.equal((await seq.vote('alpha', withNew)).status, 'counted');
  });

  test('rounds whose window closed expire', async () => {
    const { seq, clock } = await network({ windowMs: 60_000 });
    await seq.propose('alpha', proposal('alpha', 'add', ind('late.example')));
    clock.now += 61_000;
    assert.equal(seq.expire(), 1);
    assert.equal(seq.pendingCount, 0);
  });

  test('the observer sees every closed round with its kind and outcome: admitted, rejected by votes, expired (what the log does not keep)', async () => {
    const closed: string[] = [];
    const { seq, clock } = await network({ windowMs: 60_000, observer: { proposal: () => {}, vote: () => {}, roundClosed: (kind, outcome) => closed.push(`${kind} ${outcome}`) } });
    await admit(seq, 'kept.example', T0);
    const { subject } = await seq.propose('alpha', proposal('alpha', 'add', ind('refused.example')));
    await seq.vote('bravo', vote('bravo', subject, T0, 'reject'));
    await seq.vote('charlie', vote('charlie', subject, T0, 'reject'));
    const revoke = await seq.propose('alpha', proposal('alpha', 'revoke', ind('kept.example')));
    await seq.vote('alpha', vote('alpha', revoke.subject, T0));
    await seq.propose('bravo', proposal('bravo', 'add', ind('late.example')));
    assert.deepEqual(closed, ['add admitted', 'add rejected']);
    clock.now += 61_000;
    seq.expire();
    assert.deepEqual(closed, ['add admitted', 'add rejected', 'revoke expired', 'add expired']);
  });

  // A caller's retry (a deadline passed while the database was slow) meets a save still in flight,
  // which then fails (the database link was reset): chaos run 2026-12-07, trial 11, lost 143 rounds.
  test('a retry waits for the save in flight of its round or vote; a failed save is redone, never answered already-pending or duplicate', async () => {
    const rounds = new GatedRoundStore();
    const { seq } = await network({ rounds });
    const gate = rounds.hold('saveRound');
    const first = seq.propose('alpha', proposal('alpha', 'add', ind('slow.example')));
    const retry = seq.propose('alpha', proposal('alpha', 'add', ind('slow.example')));
    assert.equal(await settledYet(retry), false, 'no answer before the round is stored');
    assert.deepEqual(seq.pending(), [], 'a round being stored is not listed for votes');
    gate.fail(new Error('read ECONNRESET'));
    await assert.rejects(first, /ECONNRESET/);
    const opened = await retry;
    assert.equal(opened.status, 'opened');
    assert.deepEqual((await rounds.loadRounds()).map((r) => r.subject), [opened.subject]);
    assert.equal(seq.pending().length, 1);

    const voteGate = rounds.hold('saveVote');
    const counted = seq.vote('alpha', vote('alpha', opened.subject, T0));
    const again = seq.vote('alpha', vote('alpha', opened.subject, T0));
    assert.equal(await settledYet(again), false, 'no answer before the vote is stored');
    voteGate.fail(new Error('read ECONNRESET'));
    await assert.rejects(counted, /ECONNRESET/);
    assert.equal((await again).status, 'counted');
    assert.equal((await rounds.loadRounds())[0]!.votes.length, 1);
    assert.equal((await seq.vote('bravo', vote('bravo', opened.subject, T0))).status, 'approved');
  });
});

/** A memory round store whose next save of one kind can be held, then released or failed. */
class GatedRoundStore extends MemoryRoundStore {
  readonly #held = new Map<string, PromiseWithResolvers<void>>();

  hold(kind: 'saveRound' | 'saveVote'): { fail(err: Error): void; release(): void } {
    const gate = Promise.withResolvers<void>();
    this.#held.set(kind, gate);
    return { fail: (err) => gate.reject(err), release: () => gate.resolve() };
  }

  override async saveRound(round: Parameters<MemoryRoundStore['saveRound']>[0]): Promise<void> {
    await this.#pass('saveRound');
    return super.saveRound(round);
  }

  override async saveVote(subject: string, v: Vote): Promise<void> {
    await this.#pass('saveVote');
    return super.saveVote(subject, v);
  }

  async #pass(kind: string): Promise<void> {
    const gate = this.#held.get(kind);
    this.#held.delete(kind);
    await gate?.promise;
  }
}

/** Whether `p` has settled after the microtasks and timers now queued have run. */
async function settledYet(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setTimeout(r, 20));
  return settled;
}

/**
 * The sequencer: opens a voting round per signed proposal, counts signed votes, and appends
 * each approved round to the RFC 9162 Merkle log (log.ts {@link SequencerLog}: persistence,
 * tree heads, proofs, entries) as an entry carrying its quorum certificate. Open rounds live in memory and, with a
 * SequencerRoundStore, in the database too, so a restart continues them (without one, a restart
 * drops them and proposers re-propose). One sequencer writes a database at a time. This file
 * makes the protocol's decisions; roundsaves.ts {@link RoundSaves} does the writes of rounds
 * (round store, log appends) and tracks those in flight.
 *
 * An indicator is active while its latest entry is an ADD. A REVOKE needs it active; an ADD of
 * a revoked indicator opens a new round whose window starts after the revocation, so votes
 * from the earlier admission cannot be counted again, and its approval appends a second ADD.
 * The partner directory can change while running ({@link Sequencer.setPartners}).
 *
 * An ADD round rejected by votes (its reject votes make the quorum unreachable) is logged too, as
 * a REJECT entry carrying the proposal and those reject votes, so every partner can verify the
 * network's rejections; a round that only expires, and a rejected REVOKE round, are not
 * (docs/adr/2026-12-06-signed-rejections.md). The next ADD round of a rejected indicator opens
 * after the REJECT's last vote, as after a revocation.
 */
import { decideQuorum, defaultQuorum, indexVoters, QuorumInputError, type QuorumOutcome, type Vote, type Voter, type VoterIndex } from '../../domain/quorum.ts';
import type { PublicKey } from '../../domain/signature.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { voteSubject, type IndexedEntry } from '../../domain/entry.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import type { PendingRound, ProposalInput, ProposalResult, ProvenEntry, VoteResult } from '../protocol/messages.ts';
import { SEQUENCER_DEFAULTS } from './defaults.ts';
import { SequencerLog } from './log.ts';
import type { SequencerOptions } from './options.ts';
import { batchOf, PendingRounds, type Round } from './pending.ts';
import { RoundSaves } from './roundsaves.ts';
import { rejectionEntry } from './rejection.ts';
import { notActiveRefusal } from './refusals.ts';
import { checkSignedAt, checkVoter, verifiedProposal, verifyOrRefuse, type RequestChecks } from './checks.ts';

export type { RoundOutcome, SequencerObserver, SequencerOptions } from './options.ts';

/** The network's sequencer. Create with {@link Sequencer.open}. */
export class Sequencer {
  readonly #opts: SequencerOptions;
  #partners: ReadonlyMap<string, Voter>;
  #voters: readonly Voter[];
  // The directory's voters indexed once per directory (decideQuorum re-indexed them on every vote).
  #voterIndex: VoterIndex | undefined;
  readonly #pending = new PendingRounds();
  // Votes of open rounds this sequencer verified, with the key object that verified them (exchange/sequencer.ts #verifiedVote).
  readonly #verifiedVotes = new WeakMap<Vote, PublicKey>();
  // Writes of rounds (round store, log appends of decided ones), tracked while in flight (roundsaves.ts).
  readonly #saves: RoundSaves;

  readonly #log: SequencerLog;
  // What the request checks (checks.ts) read: the directory as it is at each call.
  readonly #checks: RequestChecks;

  private constructor(opts: SequencerOptions, log: SequencerLog) {
    this.#opts = opts;
    this.#log = log;
    this.#checks = { partners: () => this.#partners, now: () => opts.now(), skewMs: opts.skewMs ?? SEQUENCER_DEFAULTS.skewMs, refuse: (callerId, refusal) => this.#refuse(callerId, refusal) };
    this.#saves = new RoundSaves({ entries: log, log: opts.log, ...(opts.rounds !== undefined ? { rounds: opts.rounds } : {}) });
    this.#voters = [...opts.partners];
    this.#partners = new Map(opts.partners.map((p) => [p.partnerId, p]));
  }

  /**
   * Replaces the partner directory (a PartnerNode was added, changed or deleted). Calls and
   * decisions from now on use the new set; votes already counted stay counted, and the next
   * decision of their round re-checks them against the new keys and roles.
   */
  setPartners(partners: readonly Voter[]): void {
    this.#voters = [...partners];
    this.#partners = new Map(partners.map((p) => [p.partnerId, p]));
  }

  /** The partners the sequencer currently knows. */
  partners(): readonly Voter[] {
    return this.#voters;
  }

  /**
   * Validates the configuration, rebuilds the log from the store and checks it against the
   * latest stored signed tree head. Throws {@link SequencerStateError} when entries are missing,
   * out of order or modified, or when the head was signed by another key.
   */
  static async open(opts: SequencerOptions): Promise<Sequencer> {
    const now = opts.now();
    decideQuorum({ voters: opts.partners, votes: [], digest: 'config-check', window: { opensAt: now, closesAt: now }, now, ...(opts.quorum !== undefined ? { quorum: opts.quorum } : {}) });
    const log = await SequencerLog.open({ store: opts.store, key: opts.key, now: opts.now, log: opts.log, ...(opts.retiredKeys !== undefined ? { retiredKeys: opts.retiredKeys } : {}), ...(opts.entryCacheSize !== undefined ? { entryCacheSize: opts.entryCacheSize } : {}), ...(opts.storePages !== undefined ? { storePages: opts.storePages } : {}) });
    const seq = new Sequencer(opts, log);
    await seq.#restoreRounds();
    return seq;
  }

  /** Number of entries in the log. */
  get size(): number {
    return this.#log.size;
  }

  /**
   * Stops appending (the endpoint stops): an approval decided from now on, or waiting for the
   * log, rejects with the sequencer-stopping refusal (UNAVAILABLE: vote again on the replica
   * that serves next) and its round stays open; see {@link SequencerLog.stop}.
   */
  stop(): void {
    this.#log.stop();
  }

  /** Rounds waiting for votes (after dropping expired ones). */
  get pendingCount(): number {
    this.expire();
    return this.#pending.size;
  }

  /** Opens a round for a verified proposal; idempotent for an indicator already pending or admitted and active. */
  propose(callerId: string, p: ProposalInput): Promise<ProposalResult> {
    return this.#observed<ProposalResult['status'], ProposalResult>((s) => this.#opts.observer?.proposal(s), () => this.#propose(callerId, p));
  }

  async #observed<S extends string, R extends { readonly status: S }>(report: (s: S | 'refused' | 'error') => void, fn: () => Promise<R>): Promise<R> {
    try {
      const r = await fn();
      report(r.status);
      return r;
    } catch (err) {
      report(err instanceof ExchangeRefusal ? 'refused' : 'error');
      throw err;
    }
  }

  async #propose(callerId: string, p: ProposalInput): Promise<ProposalResult> {
    for (;;) {
      const result = this.#open(callerId, p);
      const saving = this.#saves.roundInFlight(result.subject);
      // Another call opened the round and is storing it: answer once that settles (a failed save reopens it here).
      if (result.status === 'already-pending' && saving !== undefined) {
        await saving.catch(() => undefined);
        continue;
      }
      const round = this.#pending.get(result.subject);
      const saved = result.status === 'opened' && round !== undefined ? this.#saves.saveRound(round, () => this.#pending.delete(result.subject)) : undefined;
      if (saved !== undefined) await saved;
      return result;
    }
  }

  #open(callerId: string, p: ProposalInput): ProposalResult {
    this.expire();
    const { indicator, digest, meta } = verifiedProposal(this.#checks, callerId, p);
    const subject = voteSubject(p.kind, digest);
    const logIndex = this.#log.decided(subject);
    if (p.kind === 'add' && logIndex !== undefined) return { status: 'already-admitted', digest, subject, logIndex };
    if (p.kind === 'revoke' && this.#log.decided(digest) === undefined) throw this.#refuse(callerId, notActiveRefusal(indicator, logIndex));
    const open = this.#pending.get(subject);
    if (open !== undefined) return { status: 'already-pending', digest, subject, window: open.window };
    // Approved and being appended: not a new round (it would be admitted twice); rejected and being
    // logged: not yet (the new round must open after the rejection's votes).
    if (this.#saves.deciding(subject)) return { status: 'already-pending', digest, subject };
    // One contributor must not flood the sequencer, and through the pending mirror every partner's cluster.
    const quota = this.#opts.maxOpenRoundsPerProposer ?? SEQUENCER_DEFAULTS.maxOpenRoundsPerProposer;
    if (this.#pending.openBy(p.proposerId) >= quota) {
      throw this.#refuse(callerId, new ExchangeRefusal('resource-exhausted', 'round-quota', `${p.proposerId} already has ${quota} open rounds, the most one proposer may have; propose again once some are decided (the sequencer's --max-open-rounds raises the quota)`));
    }
    const now = this.#opts.now().getTime();
    // A re-admission round opens after the revocation: votes of the earlier admission sign the same subject.
    const floor = p.kind === 'add' ? this.#log.readmitFloor(digest) : undefined;
    const opensAt = Math.max(now - (this.#opts.skewMs ?? SEQUENCER_DEFAULTS.skewMs), floor ?? -Infinity);
    const window = { opensAt: new Date(opensAt).toISOString(), closesAt: new Date(Math.max(opensAt, now + (this.#opts.windowMs ?? SEQUENCER_DEFAULTS.votingWindowMs))).toISOString() };
    this.#pending.set(subject, { kind: p.kind, indicator, indicatorJson: p.indicatorJson, ...(meta !== undefined ? { meta } : {}), digest, subject, proposerId: p.proposerId, signature: p.signature, ...batchOf(p.batch), window, votes: new Map() });
    this.#opts.log.info('round opened', { kind: p.kind, digest, proposer: p.proposerId, ...(floor !== undefined ? { readmission: true } : {}) });
    return { status: 'opened', digest, subject, window };
  }

  /** Counts a verified vote and decides the round; an approval appends the entry before returning. */
  vote(callerId: string, v: Vote): Promise<VoteResult> {
    return this.#observed<VoteResult['status'], VoteResult>((s) => this.#opts.observer?.vote(s), () => this.#vote(callerId, v));
  }

  async #vote(callerId: string, v: Vote): Promise<VoteResult> {
    this.expire();
    const voter = checkVoter(this.#checks, callerId, v);
    const round = this.#pending.get(v.digest);
    if (round === undefined || round.votes.has(v.partnerId)) verifyOrRefuse(this.#checks, callerId, voter, v);
    if (round === undefined) return this.#lateVote(callerId, v);
    checkSignedAt(this.#checks, callerId, round, v);
    const duplicate = round.votes.has(v.partnerId);
    // This voter's vote is being stored by an earlier call (this is its retry): answer from what the store kept.
    const saving = duplicate ? this.#saves.voteInFlight(round.subject, v.partnerId) : undefined;
    if (saving !== undefined) {
      await saving.catch(() => undefined);
      return this.#vote(callerId, v);
    }
    // Verified once, on arrival: deciding the round (now and after later votes) does not verify it again.
    const counted = duplicate ? undefined : this.#verifiedVote(voter, verifyOrRefuse(this.#checks, callerId, voter, v));
    if (counted !== undefined) round.votes.set(v.partnerId, counted);
    let outcome: QuorumOutcome;
    try {
      outcome = this.#decide(callerId, round);
    } catch (err) {
      if (counted !== undefined) round.votes.delete(v.partnerId);
      throw err;
    }
    return this.#settle(round, outcome, counted);
  }

  // A frozen copy of a vote just verified with `voter`'s key, remembered with that key so decisions skip its signature check
  // while the key is unchanged (a new directory brings new key objects: the vote is verified again).
  #verifiedVote(voter: Voter, v: Vote): Vote {
    const stored = Object.freeze({ ...v });
    this.#verifiedVotes.set(stored, voter.publicKey);
    return stored;
  }

  #decide(callerId: string, round: Round): QuorumOutcome {
    try {
      const verified = (voter: Voter, vote: Vote): boolean => this.#verifiedVotes.get(vote) === voter.publicKey;
      if (this.#voterIndex?.voters !== this.#voters) this.#voterIndex = indexVoters(this.#voters);
      return decideQuorum({ voters: this.#voters, index: this.#voterIndex, votes: [...round.votes.values()], digest: round.subject, window: round.window, now: this.#opts.now(), verified, ...(this.#opts.quorum !== undefined ? { quorum: this.#opts.quorum } : {}) });
    } catch (err) {
      // The directory changed under a fixed quorum (or lost every voter): no round can be decided until it is fixed.
      if (!(err instanceof QuorumInputError)) throw err;
      throw this.#refuse(callerId, new ExchangeRefusal('failed-precondition', 'quorum-unreachable', `the sequencer cannot decide rounds with its current partner directory: ${err.message}; add voter PartnerNodes or lower --quorum`));
    }
  }

  // Acts on a round's outcome after a vote; `counted` is the new vote to persist when the round stays open.
  async #settle(round: Round, outcome: QuorumOutcome, counted: Vote | undefined): Promise<VoteResult> {
    const counts = { approvals: outcome.approvals, rejections: outcome.rejections, required: outcome.required };
    if (outcome.decision === 'approved') {
      const logIndex = await this.#admitRound(round, outcome);
      this.#saves.forget(round.subject);
      this.#opts.observer?.roundClosed?.(round.kind, 'admitted');
      return { status: 'approved', logIndex, ...counts };
    }
    if (outcome.decision === 'rejected') {
      this.#pending.delete(round.subject);
      this.#saves.forget(round.subject);
      const logIndex = await this.#logRejection(round);
      this.#opts.log.info('round rejected', { kind: round.kind, digest: round.digest, ...counts, ...(logIndex !== undefined ? { logIndex } : {}) });
      this.#opts.observer?.roundClosed?.(round.kind, 'rejected');
      return { status: 'rejected', ...(logIndex !== undefined ? { logIndex } : {}), ...counts };
    }
    const saved = counted === undefined ? undefined : this.#saves.saveVote(round.subject, counted, () => round.votes.delete(counted.partnerId));
    if (saved !== undefined) await saved;
    return { status: counted === undefined ? 'duplicate' : 'counted', ...counts };
  }

  async #restoreRounds(): Promise<void> {
    for (const round of await this.#saves.restore({ partners: this.#partners, verifiedVote: (voter, v) => this.#verifiedVote(voter, v) })) {
      // Decided already: an ADD whose indicator is active, a REVOKE whose indicator is revoked, or
      // a round older than the indicator's latest REJECT or REVOKE (its floor), such as the rejected round itself.
      if (this.#log.decided(round.subject) !== undefined || this.#superseded(round)) this.#saves.forget(round.subject);
      else this.#pending.set(round.subject, round);
    }
  }

  #superseded(round: Round): boolean {
    const floor = round.kind === 'add' ? this.#log.readmitFloor(round.digest) : undefined;
    return floor !== undefined && Date.parse(round.window.opensAt) < floor;
  }

  /** Rounds waiting for votes, oldest first, each with its tally of counted votes. */
  pending(): PendingRound[] {
    this.expire();
    const required = this.#opts.quorum ?? defaultQuorum(this.#voters.filter((p) => p.roles.includes('voter')).length);
    // A round still being stored is not listed: votes on it would be lost if its save failed.
    return [...this.#pending.values()].filter((r) => this.#saves.roundInFlight(r.subject) === undefined).map(({ votes, ...round }) => {
      const approvals = [...votes.values()].filter((v) => v.decision === 'approve').length;
      return { ...round, tally: { approvals, rejections: votes.size - approvals, required } };
    });
  }

  /** Drops rounds whose window has closed without quorum; returns how many. */
  expire(): number {
    const now = this.#opts.now().getTime();
    let dropped = 0;
    // Rounds are kept in opening order and every window has the same length, so the first open
    // window ends the scan (a round put back after a failed append may expire a little late).
    for (const [subject, round] of this.#pending) {
      if (now <= Date.parse(round.window.closesAt)) break;
      this.#pending.delete(subject);
      this.#saves.forget(subject);
      dropped += 1;
      this.#opts.log.info('round rejected: window closed', { kind: round.kind, digest: round.digest, votes: round.votes.size });
      this.#opts.observer?.roundClosed?.(round.kind, 'expired');
    }
    return dropped;
  }

  /** The signed head of the current log (see {@link SequencerLog.treeHead}). */
  treeHead(): Promise<SignedTreeHead> {
    return this.#log.treeHead();
  }

  /** Resolves when the log has at least `minSize` entries, after `waitMs` (capped at 30 s), or when `signal` aborts, whichever is first. */
  waitForSize(minSize: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    return this.#log.waitForSize(minSize, waitMs, signal);
  }

  /** RFC 9162 inclusion proof of `index` in the tree of `size` leaves; refuses sizes beyond the log. */
  inclusionProof(index: number, size: number): string[] {
    return this.#log.inclusionProof(index, size);
  }

  /** RFC 9162 consistency proof from `oldSize` to `newSize`; refuses sizes beyond the log. */
  consistencyProof(oldSize: number, newSize: number): string[] {
    return this.#log.consistencyProof(oldSize, newSize);
  }

  /** Entries [from, size) with their inclusion proofs in the tree of `size` leaves (see {@link SequencerLog.entries}). */
  entries(from: number, size: number): AsyncGenerator<ProvenEntry> {
    return this.#log.entries(from, size);
  }

  /** Store pages read for streams behind the entry cache, and page requests answered by another stream's read (see {@link SequencerLog.storePages}). */
  storePages(): { readonly reads: number; readonly shared: number } {
    return this.#log.storePages();
  }

  /** Head-waiter wakes, and appends coalesced into a wake already scheduled (see {@link SequencerLog.wakeups}). */
  wakeups(): { readonly wakes: number; readonly coalesced: number } {
    return this.#log.wakeups();
  }

  /** The entry at `index` when it is held in memory (see {@link SequencerLog.cachedEntry}): the endpoint shares its encoding across streams. */
  cachedEntry(index: number): IndexedEntry | undefined {
    return this.#log.cachedEntry(index);
  }

  async #lateVote(callerId: string, v: Vote): Promise<VoteResult> {
    const admitting = this.#saves.admitting(v.digest);
    const logIndex = admitting !== undefined ? await admitting : this.#log.decided(v.digest);
    if (logIndex !== undefined) return { status: 'approved', logIndex, approvals: 0, rejections: 0, required: 0 };
    throw this.#refuse(callerId, new ExchangeRefusal('not-found', 'unknown-proposal', `no open round for subject ${String(v.digest)}: propose the indicator first or vote on a subject from ListPending`));
  }

  #admitRound(round: Round, outcome: QuorumOutcome): Promise<number> {
    const inFlight = this.#saves.admitting(round.subject);
    if (inFlight !== undefined) return inFlight;
    this.#pending.delete(round.subject);
    const votes = [...round.votes.values()].filter((v) => !outcome.ignored.some((i) => i.partnerId === v.partnerId));
    // A failed append keeps the round open so a later vote can retry it.
    return this.#saves.admit(round, votes, () => this.#pending.set(round.subject, round));
  }

  /**
   * Appends the REJECT entry of a rejected ADD round and returns its index: the round's reject
   * votes, when they alone prove the rejection as every partner checks it (decided as of the
   * window's opening, so never by the clock). Returns undefined when nothing is logged (a REVOKE
   * round, a rejection the votes do not prove) or the append failed (logged as an error: the
   * round is closed either way, the sequencer's metrics count it).
   */
  async #logRejection(round: Round): Promise<number | undefined> {
    const verified = (voter: Voter, vote: Vote): boolean => this.#verifiedVotes.get(vote) === voter.publicKey;
    const body = rejectionEntry(round, { voters: this.#voters, verified, ...(this.#opts.quorum !== undefined ? { quorum: this.#opts.quorum } : {}) });
    return body === undefined ? undefined : this.#saves.appendRejection(round, body);
  }

  #refuse(callerId: string, refusal: ExchangeRefusal): ExchangeRefusal {
    this.#opts.log.warn('request refused', { partner: callerId, reason: refusal.reason, detail: refusal.message });
    return refusal;
  }
}

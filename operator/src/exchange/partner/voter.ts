/**
 * A voter's automatic side: polls the sequencer's pending rounds, checks each one itself
 * (rounds.ts checkRound: the proposer's signature over the indicator and its metadata, and the
 * digest and subject derived from the indicator, never the ones the sequencer sends), asks an
 * injected {@link VotingPolicy} and signs its vote on the subject it derived. A round whose
 * advertised subject differs is refused and reported. Rounds the policy leaves undecided wait
 * for an analyst's manual vote.
 */
import type { VoteDecision, Vote, VoteFields, Voter } from '../../domain/quorum.ts';
import { signVote, signVoteBatch } from '../../domain/quorum.ts';
import type { SigningKey } from '../../domain/signature.ts';
import type { Logger } from '../../log.ts';
import type { PendingRound, VoteResult } from '../protocol/messages.ts';
import type { ItemRefusal } from '../protocol/client.ts';
import { overMessageLimit } from './failures.ts';
import { checkRound, type MisbehaviourReport } from './rounds.ts';

/** A policy's answer; undefined from {@link VotingPolicy.judge} means "leave it to a person". */
export interface Judgement {
  readonly decision: VoteDecision;
  readonly reason?: string;
}

/** This partner's voting rules (warning lists, minimum confidence, corroboration…); `roundJudge` in policy.ts builds one from a configured policy. */
export interface VotingPolicy {
  judge(round: PendingRound): Judgement | undefined;
}

/** The calls a voter makes (ExchangeClient implements them). */
export interface VoterClient {
  listPending(): Promise<PendingRound[]>;
  vote(v: Vote): Promise<VoteResult>;
  /** Optional: many votes in one call, one answer per vote in order (a refusal has `status: 'refused'`). */
  voteBatch?(vs: readonly Vote[]): Promise<ReadonlyArray<VoteResult | ItemRefusal>>;
}

/** Votes per VoteBatch call: well under the server's item limit and message size. */
const VOTE_BATCH = 500;

/**
 * Batch votes (protocol version 2): the votes one look at the pending rounds decides are signed
 * as Merkle batches (domain/quorum.ts signVoteBatch), one Ed25519 signature per batch instead of
 * one per vote. A batch never waits to fill up: it is flushed at the end of the look that
 * decided its votes, so batching adds no latency (the bound stays the caller's poll interval).
 */
export interface VoteBatching {
  /**
   * Most votes under one root. 256 keeps a vote's proof at 8 hashes (≈ 600 bytes on the wire
   * and in the log) while one verification per 256 votes is already under 0.004 per vote;
   * larger batches only lengthen proofs. @default DEFAULT_VOTE_BATCH_SIZE (256)
   */
  readonly maxSize?: number;
}

/** Votes under one batch root unless {@link VoteBatching.maxSize} says otherwise. */
export const DEFAULT_VOTE_BATCH_SIZE = 256;

/** What an automatic voter is built from. */
export interface AutoVoterOptions {
  readonly partnerId: string;
  readonly key: SigningKey;
  readonly client: VoterClient;
  readonly policy: VotingPolicy;
  /** Known partners, to check proposers' signatures. */
  readonly partners: readonly Voter[];
  readonly now: () => Date;
  readonly log: Logger;
  /** Told of each vote the sequencer answered, with the checked round it was cast on. @default none */
  readonly onVoted?: (round: PendingRound, vote: Vote, result: VoteResult) => void;
  /** Told when a round proves the sequencer lied (its advertised subject is not the indicator's). @default none (logged only) */
  readonly onMisbehaviour?: MisbehaviourReport;
  /** Sign batch votes (protocol v2; only once the sequencer and every partner run v2). @default none (one signature per vote, protocol v1) */
  readonly batching?: VoteBatching;
}

/** Votes automatically on pending rounds, at most once per round. */
export class AutoVoter {
  readonly #o: AutoVoterOptions;
  readonly #voted = new Set<string>();
  // The checked round of each vote being sent (by subject), for onVoted.
  readonly #sending = new Map<string, PendingRound>();

  constructor(opts: AutoVoterOptions) {
    this.#o = opts;
  }

  /**
   * Looks at every pending round once and sends the votes its policy decides (in batches when
   * the client can); returns how many votes it sent.
   */
  async voteOnce(): Promise<number> {
    const rounds = await this.#o.client.listPending();
    const open = new Set(rounds.map((r) => r.subject));
    for (const s of this.#voted) if (!open.has(s)) this.#voted.delete(s);
    const decided: VoteFields[] = [];
    for (const advertised of rounds) {
      if (this.#voted.has(advertised.subject)) continue;
      const checked = this.#checked(advertised);
      if (checked === undefined) continue;
      const judgement = this.#o.policy.judge(checked);
      if (judgement === undefined) continue;
      this.#voted.add(advertised.subject);
      // The subject is the one derived here (checkRound), never the sequencer's: so is every batch leaf.
      const fields = { partnerId: this.#o.partnerId, digest: checked.subject, decision: judgement.decision, signedAt: this.#o.now().toISOString() };
      decided.push(judgement.reason !== undefined ? { ...fields, reason: judgement.reason } : fields);
      this.#sending.set(checked.subject, checked);
    }
    const votes = this.#sign(decided);
    try {
      await this.#send(votes);
    } finally {
      this.#sending.clear();
    }
    return votes.length;
  }

  #sign(decided: readonly VoteFields[]): Vote[] {
    const batching = this.#o.batching;
    if (batching === undefined) return decided.map((f) => signVote(this.#o.key, f));
    const size = Math.max(1, Math.floor(batching.maxSize ?? DEFAULT_VOTE_BATCH_SIZE));
    const votes: Vote[] = [];
    for (let i = 0; i < decided.length; i += size) votes.push(...signVoteBatch(this.#o.key, decided.slice(i, i + size)));
    return votes;
  }

  /** True once this voter has decided (or refused to judge) the round of `subject`. */
  hasVoted(subject: string): boolean {
    return this.#voted.has(subject);
  }

  // A vote that did not reach the sequencer (the call failed) is forgotten, so the next look at
  // the round signs and sends it again: only an answer (counted, or refused with a reason) ends it.
  async #send(votes: readonly Vote[]): Promise<void> {
    const { client } = this.#o;
    if (client.voteBatch === undefined) {
      for (const [i, v] of votes.entries()) {
        const r = await client.vote(v).catch((err: unknown) => this.#unsent(votes.slice(i), err));
        this.#answered(v, r);
      }
      return;
    }
    for (let i = 0; i < votes.length; i += VOTE_BATCH) await this.#sendBatch(votes.slice(i, i + VOTE_BATCH), votes.slice(i + VOTE_BATCH));
  }

  async #sendBatch(chunk: readonly Vote[], after: readonly Vote[]): Promise<void> {
    let answers: ReadonlyArray<VoteResult | ItemRefusal>;
    try {
      answers = await this.#o.client.voteBatch!(chunk);
    } catch (err) {
      // Over the sequencer's message limit: the same votes in halves.
      if (overMessageLimit(err) && chunk.length > 1) {
        const half = Math.ceil(chunk.length / 2);
        await this.#sendBatch(chunk.slice(0, half), [...chunk.slice(half), ...after]);
        await this.#sendBatch(chunk.slice(half), after);
        return;
      }
      return this.#unsent([...chunk, ...after], err);
    }
    answers.forEach((a, k) => {
      if (a.status === 'refused') this.#o.log.warn('vote refused by the sequencer', { subject: chunk[k]?.digest, reason: a.reason, detail: a.message });
      else if (chunk[k] !== undefined) this.#answered(chunk[k], a);
    });
  }

  #answered(v: Vote, result: VoteResult): void {
    const round = this.#sending.get(v.digest);
    if (round !== undefined) this.#o.onVoted?.(round, v, result);
  }

  #unsent(votes: readonly Vote[], err: unknown): never {
    for (const v of votes) this.#voted.delete(v.digest);
    throw err;
  }

  // The round to judge, with the digest and subject derived here; undefined (remembered, reported) when it does not check out.
  #checked(round: PendingRound): PendingRound | undefined {
    const checked = checkRound(round, this.#o.partners);
    if (checked.ok) return checked.round;
    this.#voted.add(round.subject);
    this.#o.log.warn('pending round refused; not voting', { subject: round.subject, proposer: round.proposerId, reason: checked.reason, detail: checked.message });
    if (checked.reason === 'subject-mismatch') this.#o.onMisbehaviour?.(checked.reason, checked.message);
    return undefined;
  }
}

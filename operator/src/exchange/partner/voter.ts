/**
 * A voter's automatic side: polls the sequencer's pending rounds, checks each proposal's
 * signature itself over the indicator and its metadata (it does not trust the sequencer, so
 * the policy only ever sees metadata the proposer signed), asks an injected {@link VotingPolicy}
 * and signs its vote. Rounds the policy leaves undecided wait for an analyst's manual vote.
 */
import type { VoteDecision, Vote, Voter } from '../../domain/quorum.ts';
import { signVote } from '../../domain/quorum.ts';
import type { SigningKey } from '../../domain/signature.ts';
import type { Logger } from '../../log.ts';
import { verifyProposal } from '../../domain/entry.ts';
import type { PendingRound, VoteResult } from '../protocol/messages.ts';
import type { ItemRefusal } from '../protocol/client.ts';

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
}

/** Votes automatically on pending rounds, at most once per round. */
export class AutoVoter {
  readonly #o: AutoVoterOptions;
  readonly #voted = new Set<string>();

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
    const votes: Vote[] = [];
    for (const round of rounds) {
      if (this.#voted.has(round.subject) || !this.#authentic(round)) continue;
      const judgement = this.#o.policy.judge(round);
      if (judgement === undefined) continue;
      this.#voted.add(round.subject);
      const fields = { partnerId: this.#o.partnerId, digest: round.subject, decision: judgement.decision, signedAt: this.#o.now().toISOString() };
      votes.push(signVote(this.#o.key, judgement.reason !== undefined ? { ...fields, reason: judgement.reason } : fields));
    }
    await this.#send(votes);
    return votes.length;
  }

  /** True once this voter has decided (or refused to judge) the round of `subject`. */
  hasVoted(subject: string): boolean {
    return this.#voted.has(subject);
  }

  async #send(votes: readonly Vote[]): Promise<void> {
    const { client } = this.#o;
    if (client.voteBatch === undefined) {
      for (const v of votes) await client.vote(v);
      return;
    }
    for (let i = 0; i < votes.length; i += VOTE_BATCH) {
      const chunk = votes.slice(i, i + VOTE_BATCH);
      const answers = await client.voteBatch(chunk);
      answers.forEach((a, k) => {
        if (a.status === 'refused') this.#o.log.warn('vote refused by the sequencer', { subject: chunk[k]?.digest, reason: a.reason, detail: a.message });
      });
    }
  }

  #authentic(round: PendingRound): boolean {
    const proposer = this.#o.partners.find((p) => p.partnerId === round.proposerId);
    if (proposer !== undefined && verifyProposal(proposer.publicKey, round.kind, round.indicator, round.signature, round.meta)) return true;
    this.#voted.add(round.subject);
    this.#o.log.warn('pending round with an invalid proposal signature; not voting', { subject: round.subject, proposer: round.proposerId });
    return false;
  }
}

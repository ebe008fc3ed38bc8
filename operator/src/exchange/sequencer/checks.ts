/**
 * The sequencer's checks of a request before it touches a round: the caller is the partner it
 * claims to be and is in the directory, a proposal's indicator, metadata and signature hold, a
 * voter has the voter role and a vote verifies and is dated inside its round's window. Each
 * failed check throws the refusal that says what to fix, logged through the context's `refuse`.
 */
import { indicatorLimitProblem, parseIndicatorJson, parseMetaJson, voteLimitProblem, type IndicatorMeta } from '../../domain/entry.ts';
import type { Indicator } from '../../domain/indicator.ts';
import { keysValidAt } from '../../domain/keys.ts';
import { verifySignedProposal } from '../../domain/proposalbatch.ts';
import { verifyVote, type Vote, type Voter } from '../../domain/quorum.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import type { ProposalInput } from '../protocol/messages.ts';
import type { Round } from './pending.ts';
import { badProposalMessage, badVoteMessage } from './refusals.ts';

/** What the checks read from the sequencer. */
export interface RequestChecks {
  /** The current partner directory by id (read on every call: it can change while running). */
  readonly partners: () => ReadonlyMap<string, Voter>;
  readonly now: () => Date;
  /** How far ahead of `now` a vote's signedAt may be. */
  readonly skewMs: number;
  /** Records a refusal of `callerId`'s request and returns it, to be thrown. */
  readonly refuse: (callerId: string, refusal: ExchangeRefusal) => ExchangeRefusal;
}

/** A proposal whose caller, encoding and proposer's signature check out. */
export interface VerifiedProposal {
  readonly indicator: Indicator;
  readonly digest: string;
  readonly meta: IndicatorMeta | undefined;
}

/** The directory's entry of `callerId`; refuses a request naming another partner (`claimed`) or a caller not in the directory. */
export function checkCaller(c: RequestChecks, callerId: string, claimed: string): Voter {
  if (callerId !== claimed) {
    throw c.refuse(callerId, new ExchangeRefusal('permission-denied', 'identity-mismatch', `the request names partner ${JSON.stringify(claimed)} but the client certificate identifies ${JSON.stringify(callerId)}; each partner submits only its own proposals and votes`));
  }
  const partner = c.partners().get(callerId);
  if (partner === undefined) throw c.refuse(callerId, new ExchangeRefusal('permission-denied', 'unknown-partner', `partner ${JSON.stringify(callerId)} is not in the sequencer's directory`));
  return partner;
}

/** The proposal's indicator and metadata once the caller, their encoding and the proposer's signature over them check out. */
export function verifiedProposal(c: RequestChecks, callerId: string, p: ProposalInput): VerifiedProposal {
  const proposer = checkCaller(c, callerId, p.proposerId);
  const parsed = parseIndicatorJson(p.indicatorJson);
  if (!parsed.ok) throw c.refuse(callerId, new ExchangeRefusal('invalid-argument', parsed.reason, parsed.message));
  const { indicator, digest } = parsed;
  const tooLarge = indicatorLimitProblem(indicator);
  if (tooLarge !== undefined) throw c.refuse(callerId, new ExchangeRefusal('invalid-argument', 'too-large', `${indicator.type} ${JSON.stringify(indicator.value.slice(0, 80))}…: ${tooLarge}; it could not be written at partners`));
  const meta = proposalMeta(c, callerId, p);
  // The current key, or a retired one still valid now (a partner restarting onto its new key during the overlap).
  if (!keysValidAt(proposer, c.now().getTime()).some((k) => verifySignedProposal(k, p.kind, indicator, p, meta))) {
    throw c.refuse(callerId, new ExchangeRefusal('invalid-argument', 'bad-proposal-signature', badProposalMessage(p, indicator, meta)));
  }
  return { indicator, digest, meta };
}

function proposalMeta(c: RequestChecks, callerId: string, p: ProposalInput): IndicatorMeta | undefined {
  const parsed = parseMetaJson(p.metaJson ?? '');
  if (!parsed.ok) throw c.refuse(callerId, new ExchangeRefusal('invalid-argument', 'invalid-meta', parsed.message));
  if (parsed.meta !== undefined && p.kind === 'revoke') throw c.refuse(callerId, new ExchangeRefusal('invalid-argument', 'invalid-meta', 'a REVOKE proposal carries no metadata; send meta_json only with ADD'));
  return parsed.meta;
}

/** The directory's entry of the vote's caller; refuses a caller without the voter role or a vote over the size limits. */
export function checkVoter(c: RequestChecks, callerId: string, v: Vote): Voter {
  const voter = checkCaller(c, callerId, v.partnerId);
  if (!voter.roles.includes('voter')) throw c.refuse(callerId, new ExchangeRefusal('permission-denied', 'missing-role', `${v.partnerId} does not have the voter role`));
  const tooLong = voteLimitProblem(v);
  if (tooLong !== undefined) throw c.refuse(callerId, new ExchangeRefusal('invalid-argument', 'invalid-vote', tooLong));
  return voter;
}

/** Refuses a vote signed outside its round's window, or ahead of the sequencer's clock by more than the skew allowed. */
export function checkSignedAt(c: RequestChecks, callerId: string, round: Round, v: Vote): void {
  const at = Date.parse(v.signedAt);
  if (at < Date.parse(round.window.opensAt) || at > Date.parse(round.window.closesAt)) {
    throw c.refuse(callerId, new ExchangeRefusal('invalid-argument', 'outside-window', `vote signed at ${v.signedAt} is outside the round's window ${round.window.opensAt} .. ${round.window.closesAt}`));
  }
  // A vote dated ahead would, on a revocation, hold the indicator's re-admission floor (readmissionFloor) in the future.
  if (at > c.now().getTime() + c.skewMs) {
    throw c.refuse(callerId, new ExchangeRefusal('invalid-argument', 'signed-in-future', `vote signed at ${v.signedAt}, more than ${c.skewMs / 1000} s ahead of the sequencer's clock (${c.now().toISOString()}); sign with the current time and check the voter's clock (NTP)`));
  }
}

/** `v` when it verifies with `voter`'s key; otherwise the refusal saying what to fix. */
export function verifyOrRefuse(c: RequestChecks, callerId: string, voter: Voter, v: Vote): Vote {
  if (verifyVote(voter, v)) return v;
  throw c.refuse(callerId, new ExchangeRefusal('invalid-argument', 'bad-vote-signature', badVoteMessage(v)));
}

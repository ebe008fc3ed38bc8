/**
 * What a voter checks of a round before it judges or signs anything, because a sequencer may
 * lie: the proposer must be known and must have signed this indicator (with exactly this
 * metadata), and the digest and vote subject the sequencer advertises must be the ones derived
 * here from the indicator itself. A voter signs only the subject it derived; a round whose
 * advertised digest or subject differs is refused and reported as the sequencer's misbehaviour
 * (it would otherwise collect honest approvals of X for another indicator Y, or a revocation).
 */
import { everyKey } from '../../domain/keys.ts';
import { indicatorDigest } from '../../domain/canonical.ts';
import { roundSubject } from '../../domain/entry.ts';
import { verifySignedProposal } from '../../domain/proposalbatch.ts';
import type { Voter } from '../../domain/quorum.ts';
import type { PendingRound } from '../protocol/messages.ts';

/** Why a round cannot be voted on: `subject-mismatch` proves the sequencer lied; the others may be the proposer's fault too. */
export type RoundProblem = 'unknown-proposer' | 'bad-proposal-signature' | 'subject-mismatch';

/** A round checked by {@link checkRound}: its digest and subject as derived locally, or the problem. */
export type CheckedRound =
  | { readonly ok: true; readonly round: PendingRound; readonly digest: string; readonly subject: string }
  | { readonly ok: false; readonly reason: RoundProblem; readonly message: string };

/** Derives a round's digest and subject from its indicator and checks the advertised ones and the proposer's signature. Pure apart from signature verification. */
export function checkRound(round: PendingRound, partners: ReadonlyArray<Pick<Voter, 'partnerId' | 'publicKey' | 'retiredKeys'>>): CheckedRound {
  const what = `${round.kind} round of ${round.indicator.type} ${JSON.stringify(round.indicator.value)}`;
  const digest = indicatorDigest(round.indicator);
  const subject = roundSubject(round.kind, round.indicator);
  if (round.digest !== digest || round.subject !== subject) {
    return { ok: false, reason: 'subject-mismatch', message: `the sequencer advertised the ${what} with digest ${round.digest} and subject ${round.subject}, but they are ${digest} and ${subject}: it asked for votes on something else than what it showed` };
  }
  const proposer = partners.find((p) => p.partnerId === round.proposerId);
  if (proposer === undefined) return { ok: false, reason: 'unknown-proposer', message: `the ${what} was proposed by ${JSON.stringify(round.proposerId)}, who is not in this partner's directory` };
  // A proposal is undated: during a key rotation it may carry the proposer's retired key. A batch proposal: its leaf is rebuilt from the round as shown.
  if (!everyKey(proposer).some((k) => verifySignedProposal(k, round.kind, round.indicator, round, round.meta))) {
    const how = round.batch === undefined ? 'signature does not cover it' : 'batch proof and proposal-batch signature do not cover it';
    return { ok: false, reason: 'bad-proposal-signature', message: `the ${what}: ${round.proposerId}'s ${how}${round.meta !== undefined ? ' with this metadata' : ''}` };
  }
  return { ok: true, round, digest, subject };
}

/** Told when the sequencer is caught misbehaving (the partner service raises a Warning Event and a metric). */
export type MisbehaviourReport = (reason: string, message: string) => void;

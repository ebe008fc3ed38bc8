/**
 * The REJECT entry of a rejected ADD round (docs/adr/2026-12-06-signed-rejections.md): the
 * proposal and the reject votes that made the quorum unreachable, exactly as every partner
 * checks it (domain/verify.ts checkEntry). Pure.
 */
import type { EntryBody } from '../../domain/entry.ts';
import { decideQuorum, QuorumInputError, type Vote, type Voter } from '../../domain/quorum.ts';
import type { Round } from './pending.ts';

/** What decides whether a rejection is proven: the voters, the quorum, and which votes were verified on arrival. */
export interface RejectionProofInput {
  readonly voters: readonly Voter[];
  /** @default ⌊2n/3⌋+1 of the voters */
  readonly quorum?: number;
  /** True when the caller verified this vote with this voter's key on arrival (domain/quorum.ts QuorumInput.verified). @default none (verify every vote) */
  readonly verified?: (voter: Voter, vote: Vote) => boolean;
}

/**
 * The REJECT entry of `round`, or undefined when there is none to log: a REVOKE round (its
 * rejection leaves nothing to count per feed), or a round whose reject votes alone do not make
 * the quorum unreachable (decided as of the window's opening, so the clock never decides: a
 * round that only expired proves nothing). The entry keeps only counted reject votes.
 */
export function rejectionEntry(round: Round, input: RejectionProofInput): EntryBody | undefined {
  if (round.kind !== 'add') return undefined;
  const rejects = [...round.votes.values()].filter((v) => v.decision === 'reject');
  let proof;
  try {
    proof = decideQuorum({ voters: input.voters, votes: rejects, digest: round.subject, window: round.window, now: round.window.opensAt, ...(input.verified !== undefined ? { verified: input.verified } : {}), ...(input.quorum !== undefined ? { quorum: input.quorum } : {}) });
  } catch (err) {
    if (err instanceof QuorumInputError) return undefined;
    throw err;
  }
  if (proof.decision !== 'rejected') return undefined;
  const votes = rejects.filter((v) => !proof.ignored.some((i) => i.partnerId === v.partnerId));
  return { kind: 'reject', indicator: round.indicator, ...(round.meta !== undefined ? { meta: round.meta } : {}), proposerId: round.proposerId, proposalSignature: round.signature, ...(round.batch !== undefined ? { proposalBatch: round.batch } : {}), window: round.window, votes };
}

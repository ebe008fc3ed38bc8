/**
 * The sequencer's refusals that explain themselves: what a proposer or voter must fix when a
 * signature does not verify, or a revocation names an indicator that is not active.
 */
import type { IndicatorMeta } from '../../domain/entry.ts';
import type { Indicator } from '../../domain/indicator.ts';
import type { Vote } from '../../domain/quorum.ts';
import { parseBatchProof, parseVoteBatch } from '../../domain/votebatch.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import type { ProposalInput } from '../protocol/messages.ts';

/** The refusal of a REVOKE whose indicator is not in the log, or no longer active. */
export function notActiveRefusal(indicator: Indicator, revokedAt: number | undefined): ExchangeRefusal {
  const what = `${indicator.type} ${JSON.stringify(indicator.value)}`;
  if (revokedAt === undefined) return new ExchangeRefusal('failed-precondition', 'not-admitted', `cannot revoke ${what}: it is not in the log`);
  return new ExchangeRefusal('failed-precondition', 'not-active', `cannot revoke ${what}: it is not active, it was already revoked at log index ${revokedAt}; propose an ADD to admit it again`);
}

/** What to fix when a proposal's signature (or, for a batch proposal, its proof or root signature) does not verify. */
export function badProposalMessage(p: ProposalInput, indicator: Indicator, meta: IndicatorMeta | undefined): string {
  const what = `${p.kind} proposal of ${indicator.type} ${JSON.stringify(indicator.value)}`;
  const signed = meta === undefined ? 'exactly the canonical indicator' : 'exactly the canonical {"indicator","meta"} with the meta_json sent';
  if (p.batch === undefined) return `the ${what} does not verify with ${p.proposerId}'s key; sign ${signed}`;
  if (p.kind !== 'add') return `the ${what} carries a batch proof, but only ADD proposals are batched; sign the revocation on its own`;
  const parsed = parseBatchProof(p.batch, 'proposal');
  if (!parsed.ok) return `the ${what}: ${parsed.message}`;
  return `the batch ${what} does not verify with ${p.proposerId}'s key: its proof does not place ${signed} under the batch root, or the proposal-batch signature does not cover that root; send each proposal with the proof and root signature of the batch it was signed in`;
}

/** What to tell a voter whose vote does not verify; a batch vote (protocol v2) says which part failed. */
export function badVoteMessage(v: Vote): string {
  const what = `${v.partnerId}'s key for subject ${String(v.digest)}`;
  if (v.batch === undefined) return `the vote signature does not verify with ${what}; sign the vote fields exactly as sent`;
  const parsed = parseVoteBatch(v.batch);
  if (!parsed.ok) return `${parsed.message}; send the proof signVoteBatch made`;
  return `the batch vote does not verify with ${what}: its proof does not place these vote fields under the batch root, or the vote-batch signature does not cover that root; send each vote with the proof and root signature of the batch it was signed in`;
}

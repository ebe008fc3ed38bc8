/**
 * Batch proposals (protocol version 2, docs/adr/2026-12-06-million-indicators.md Decision 4),
 * pure: the proposal half of what votebatch.ts does for votes.
 *
 * A proposer that proposes many indicators at once signs one Merkle root instead of one
 * proposal each: the leaves are the exact texts its single ADD proposals would sign
 * (entry.ts proposalPayload: the canonical indicator, or `{indicator, meta}` with the metadata
 * it signs), hashed as RFC 9162 leaves in the order it chose; the root is signed with the kind
 * `proposal-batch` over canonical `{kind:'proposal-batch', root, size}`. Each proposal then
 * carries that signature and one proof string (votebatch.ts voteBatchText, the same spelling
 * and caps as a vote's). A verifier rebuilds the leaf from the proposal as it reached it
 * (indicator and metadata), checks the inclusion proof (hashes only), then the root's
 * signature, which a key verifies once and remembers (signature.ts PublicKey).
 *
 * Only ADD proposals are batched: a REVOKE (kind `revocation`) stays a single signature, and a
 * REVOKE carrying a batch proof never verifies. A proposal carries no date, as a single one
 * does: its round's window, not the proposal, bounds when votes count.
 */
import { canonicalJson } from './canonical.ts';
import { proposalPayload, verifyProposal, type EntryBody, type EntryKind, type IndicatorMeta } from './entry.ts';
import type { Indicator } from './indicator.ts';
import type { PublicKey, SigningKey } from './signature.ts';
import { leafInBatch, MAX_VOTE_BATCH, merkleBatch } from './votebatch.ts';

/** A proposal's signature as it travels: the signature, and for a batch proposal where its leaf sits in the signed batch. */
export interface ProposalProof {
  /** Without `batch`: of kind `proposal` (ADD) or `revocation` (REVOKE) over entry.ts proposalPayload; with it: of kind `proposal-batch` over {@link proposalBatchPayload}. */
  readonly signature: string;
  /** Protocol version 2 only: `"<index> <size> <root> <proof hash> …"` (votebatch.ts voteBatchText). @default none (a single proposal) */
  readonly batch?: string;
}

/** One ADD proposal to sign in a batch: the normalized indicator and the metadata signed with it. */
export interface ProposalItem {
  readonly indicator: Indicator;
  /** @default none (the indicator alone is signed) */
  readonly meta?: IndicatorMeta;
}

/** The text a batch proposal signature (kind `proposal-batch`) covers: canonical `{kind:'proposal-batch', root, size}`. */
export function proposalBatchPayload(root: string, size: number): string {
  return canonicalJson({ kind: 'proposal-batch', root, size });
}

/**
 * Signs many ADD proposals of one proposer at once (protocol version 2): one Ed25519 signature
 * of kind `proposal-batch` over the Merkle root of their single-proposal texts, in the order
 * given; each proposal gets that signature and its own proof. Throws a RangeError on an empty
 * batch or one over {@link MAX_VOTE_BATCH}, and a TypeError when an item cannot be signed.
 */
export function signProposalBatch(key: SigningKey, items: readonly ProposalItem[]): ProposalProof[] {
  if (items.length === 0 || items.length > MAX_VOTE_BATCH) throw new RangeError(`a proposal batch holds 1 to ${MAX_VOTE_BATCH} proposals, got ${items.length}; split it`);
  const { root, proofs } = merkleBatch(items.map((i) => proposalPayload('add', i.indicator, i.meta).text));
  const signature = key.sign('proposal-batch', proposalBatchPayload(root, items.length));
  return proofs.map((batch) => ({ signature, batch }));
}

/**
 * True when `proof` is the proposer's valid proof of a `kind` proposal for `indicator` with
 * exactly `meta`: a single signature (entry.ts verifyProposal), or, with `batch`, an ADD whose
 * text is the leaf at the proven index of a batch whose root carries the key's
 * `proposal-batch` signature. Never throws: anything malformed gives false.
 */
export function verifySignedProposal(key: PublicKey, kind: EntryKind, indicator: Indicator, proof: ProposalProof, meta?: IndicatorMeta): boolean {
  if (proof.batch === undefined) return verifyProposal(key, kind, indicator, proof.signature, meta);
  if (kind !== 'add') return false;
  try {
    const batch = leafInBatch(proposalPayload('add', indicator, meta).text, proof.batch, 'proposal');
    return batch !== undefined && key.verify('proposal-batch', proposalBatchPayload(batch.root, batch.size), proof.signature);
  } catch {
    return false;
  }
}

/** The proposal proof a log entry carries: its `proposalSignature`, and its `proposalBatch` when present. */
export function entryProposalProof(entry: Pick<EntryBody, 'proposalSignature' | 'proposalBatch'>): ProposalProof {
  return entry.proposalBatch === undefined ? { signature: entry.proposalSignature } : { signature: entry.proposalSignature, batch: entry.proposalBatch };
}

/**
 * Batch votes (protocol version 2, docs/adr/2026-12-06-million-indicators.md Decision 4), pure.
 *
 * A voter that votes on many rounds at once signs one Merkle root instead of one vote each: the
 * leaves are the exact texts its single votes would sign (quorum.ts voteSigningPayload, so a
 * leaf is a whole vote — subject, decision, partner, time — never a bare subject), hashed as
 * RFC 9162 leaves in the order the voter chose; the root is signed with the kind `vote-batch`
 * over canonical `{kind:'vote-batch', partnerId, root, size}`. Each vote then carries its
 * {@link VoteBatchProof} in one string (`batch`): its leaf index, the batch size, the root and
 * the inclusion proof. Checking a vote costs one inclusion proof (hashes only) and the root's
 * signature, which a key verifies once and then remembers (signature.ts PublicKey), so a batch
 * of B votes costs one Ed25519 verification per party instead of B.
 *
 * Every rule that reads a vote's fields (subject, decision, window, replay, history) is
 * unchanged: the fields are bound by the leaf, and the leaf by the signed root.
 */
import { canonicalJson } from './canonical.ts';
import { isHexHash, leafHash, MerkleLog, verifyInclusion } from './merkle.ts';

/**
 * Most leaves one signed batch (of votes, or of proposals: proposalbatch.ts) may hold: a proof
 * of at most 12 hashes, a proof string under 1 KiB.
 */
export const MAX_VOTE_BATCH = 4096;

/** Longest proof string {@link parseBatchProof} reads (index, size, root, 12 proof hashes, separators). */
export const VOTE_BATCH_TEXT_LIMIT = 1024;

/** Where one leaf (a vote, or a proposal) sits in the batch its signer signed. */
export interface VoteBatchProof {
  /** The leaf index, 0 ≤ index < size. */
  readonly index: number;
  /** Leaves in the batch, 1..{@link MAX_VOTE_BATCH}. */
  readonly size: number;
  /** RFC 9162 root of the batch, lowercase hex. */
  readonly root: string;
  /** RFC 9162 inclusion proof of the leaf in the batch, deepest sibling first. */
  readonly proof: readonly string[];
}

/** The outcome of {@link parseVoteBatch}. */
export type ParsedVoteBatch = { readonly ok: true; readonly batch: VoteBatchProof } | { readonly ok: false; readonly message: string };

const COUNT = /^(0|[1-9][0-9]{0,8})$/;

/**
 * The one text of a batch proof: `"<index> <size> <root> <proof hash> …"`, single spaces,
 * decimal without leading zeros, lowercase hex. One spelling only, so leaf bytes never vary.
 */
export function voteBatchText(batch: VoteBatchProof): string {
  return [String(batch.index), String(batch.size), batch.root, ...batch.proof].join(' ');
}

/** Reads a vote's `batch` string strictly: {@link parseBatchProof} for a vote. Never throws. */
export function parseVoteBatch(text: unknown): ParsedVoteBatch {
  return parseBatchProof(text, 'vote');
}

/**
 * Reads a batch proof string strictly: exactly {@link voteBatchText}'s spelling, an index below
 * the size, a size from 1 to {@link MAX_VOTE_BATCH}, and exactly as many proof hashes as
 * RFC 9162 gives that index in that size. `what` names the signed thing in the message
 * (`vote`, `proposal`). Never throws; the message says what is wrong.
 */
export function parseBatchProof(text: unknown, what: string): ParsedVoteBatch {
  const refuse = (message: string): ParsedVoteBatch => ({ ok: false, message: `${what} batch proof ${message}` });
  if (typeof text !== 'string' || text.length > VOTE_BATCH_TEXT_LIMIT) return refuse(`must be a string of at most ${VOTE_BATCH_TEXT_LIMIT} characters`);
  const [indexText = '', sizeText = '', root = '', ...proof] = text.split(' ');
  if (!COUNT.test(indexText) || !COUNT.test(sizeText)) return refuse('must start with its leaf index and the batch size in decimal, without leading zeros');
  const index = Number(indexText);
  const size = Number(sizeText);
  if (size < 1 || size > MAX_VOTE_BATCH) return refuse(`size must be from 1 to ${MAX_VOTE_BATCH}, got ${size}`);
  if (index >= size) return refuse(`index ${index} is not below the batch size ${size}`);
  if (!isHexHash(root) || !proof.every(isHexHash)) return refuse('root and proof must be lowercase hex SHA-256 hashes separated by single spaces');
  const expected = inclusionProofLength(index, size);
  if (proof.length !== expected) return refuse(`for leaf ${index} of ${size} needs ${expected} proof hashes, got ${proof.length}`);
  return { ok: true, batch: { index, size, root, proof } };
}

/** The number of hashes in the RFC 9162 inclusion proof of leaf `index` in a tree of `size` leaves. */
export function inclusionProofLength(index: number, size: number): number {
  let length = 0;
  let start = 0;
  let end = size;
  while (end - start > 1) {
    let k = 1;
    while (k * 2 < end - start) k *= 2;
    if (index < start + k) end = start + k;
    else start += k;
    length += 1;
  }
  return length;
}

/** The text a batch signature (kind `vote-batch`) covers: canonical `{kind:'vote-batch', partnerId, root, size}`. */
export function voteBatchPayload(partnerId: string, root: string, size: number): string {
  return canonicalJson({ kind: 'vote-batch', partnerId, root, size });
}

/** A batch ready to sign: its RFC 9162 root (hex) and each leaf's proof string ({@link voteBatchText}), in leaf order. */
export interface MerkleBatch {
  readonly root: string;
  readonly proofs: readonly string[];
}

/** The Merkle batch of `leaves` (the texts single signatures would cover), in the order given: 1..{@link MAX_VOTE_BATCH} leaves. */
export function merkleBatch(leaves: readonly string[]): MerkleBatch {
  const tree = new MerkleLog();
  for (const leaf of leaves) tree.append(leaf);
  const root = tree.rootHash();
  return { root, proofs: leaves.map((_, index) => voteBatchText({ index, size: leaves.length, root, proof: tree.inclusionProof(index) })) };
}

/**
 * The batch `proofText` places `leafText` in (by {@link parseBatchProof} and the inclusion
 * proof, hashes only), or undefined when it is malformed or does not place it there. The
 * caller then verifies the root's signature. Never throws.
 */
export function leafInBatch(leafText: string, proofText: unknown, what: string): VoteBatchProof | undefined {
  const parsed = parseBatchProof(proofText, what);
  return parsed.ok && verifyInclusion(leafHash(leafText), parsed.batch.index, parsed.batch.size, parsed.batch.proof, parsed.batch.root) ? parsed.batch : undefined;
}

/**
 * Comparing this partner's accepted tree head with one a peer accepted from the same sequencer,
 * the check that catches a sequencer showing different histories to different partners.
 *
 * - A peer head not signed by the sequencer is the peer's fault: {@link BadPeerHead}, never a halt.
 * - Two validly signed heads that no single history explains prove equivocation: a `fork`.
 * - The consistency proof between the two sizes is asked of the sequencer first. When it refuses
 *   (or cannot be reached), the comparison is settled another way: a peer head no larger than
 *   ours is checked against the root of our own verified leaves at its size; a larger one with
 *   a proof the peer computes from its verified leaves (Gossip.GetConsistencyProof). When
 *   neither settles it, equivocation is suspected (reported, retried next period).
 */
import { MerkleLog, verifyConsistency } from '../../domain/merkle.ts';
import type { LeafStore } from '../../domain/stores.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { checkPeerHead, checkTreeHead, type TrustAnchors, type Violation } from '../../domain/verify.ts';

/** A peer sent a head the sequencer did not sign: the peer misbehaves (reported), replication goes on. */
export class BadPeerHead extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadPeerHead';
  }
}

/** How a comparison ended when it proved nothing wrong. */
export type PeerOutcome =
  | { readonly status: 'consistent'; readonly settledBy: 'equal' | 'sequencer' | 'own-leaves' | 'peer-proof' }
  | { readonly status: 'suspected'; readonly message: string };

/** What a comparison may use. */
export interface PeerCheckInput {
  readonly anchors: TrustAnchors;
  readonly mine: SignedTreeHead;
  readonly theirs: SignedTreeHead;
  /** The sequencer's consistency proof. */
  readonly sequencerProof: (oldSize: number, newSize: number) => Promise<string[]>;
  /** This partner's verified leaves. @default none */
  readonly leaves?: LeafStore;
  /** The peer's consistency proof from its verified leaves. @default none */
  readonly peerProof?: (oldSize: number, newSize: number) => Promise<string[]>;
}

/** Compares the heads; returns the fork that proves equivocation, or how it ended. Throws {@link BadPeerHead}. */
export async function comparePeerHead(input: PeerCheckInput): Promise<PeerOutcome | Violation> {
  const { anchors, mine, theirs } = input;
  const bad = checkTreeHead(anchors, theirs);
  if (bad !== undefined) throw new BadPeerHead(`the peer's ${bad.message}`);
  if (mine.treeSize === theirs.treeSize) return checkPeerHead(anchors, mine, theirs, []) ?? { status: 'consistent', settledBy: 'equal' };
  const [small, large] = mine.treeSize < theirs.treeSize ? [mine, theirs] : [theirs, mine];
  let refused: string;
  try {
    const proof = small.treeSize === 0 ? [] : await input.sequencerProof(small.treeSize, large.treeSize);
    return checkPeerHead(anchors, mine, theirs, proof) ?? { status: 'consistent', settledBy: 'sequencer' };
  } catch (err) {
    refused = err instanceof Error ? err.message : String(err);
  }
  const settled = small === theirs ? await byOwnLeaves(input, theirs) : await byPeerProof(input, small, large);
  return settled ?? { status: 'suspected', message: `the sequencer gave no consistency proof between sizes ${small.treeSize} and ${large.treeSize} (${refused}), and the comparison could not be settled otherwise: the sequencer may be showing different histories` };
}

// A peer head no larger than ours must have the root of our own verified leaves at its size.
async function byOwnLeaves(input: PeerCheckInput, theirs: SignedTreeHead): Promise<PeerOutcome | Violation | undefined> {
  if (input.leaves === undefined || (await input.leaves.size()) < theirs.treeSize) return undefined;
  const tree = new MerkleLog();
  for (const h of await input.leaves.range(0, theirs.treeSize)) tree.appendLeafHash(h);
  if (tree.rootHash() === theirs.rootHash) return { status: 'consistent', settledBy: 'own-leaves' };
  return { reason: 'fork', message: `the sequencer signed a head of size ${theirs.treeSize} with root ${theirs.rootHash}, but the entries this partner verified hash to ${tree.rootHash()} at that size: it showed different logs to different partners` };
}

// A larger peer head, proven consistent with ours by the peer from its own verified leaves. A proof that does not verify proves nothing against the sequencer.
async function byPeerProof(input: PeerCheckInput, small: SignedTreeHead, large: SignedTreeHead): Promise<PeerOutcome | undefined> {
  if (input.peerProof === undefined) return undefined;
  try {
    const proof = await input.peerProof(small.treeSize, large.treeSize);
    return verifyConsistency(small.treeSize, large.treeSize, proof, small.rootHash, large.rootHash) ? { status: 'consistent', settledBy: 'peer-proof' } : undefined;
  } catch {
    return undefined;
  }
}

/** The consistency proof between `oldSize` and `newSize` computed from verified leaves (what a partner answers a peer). */
export async function consistencyProofFromLeaves(leaves: LeafStore, oldSize: number, newSize: number): Promise<string[]> {
  const have = await leaves.size();
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 0 || oldSize > newSize || newSize > have) {
    throw new RangeError(`this partner verified ${have} leaves; cannot prove consistency from ${oldSize} to ${newSize}`);
  }
  const tree = new MerkleLog();
  for (const h of await leaves.range(0, newSize)) tree.appendLeafHash(h);
  return tree.consistencyProof(oldSize, newSize);
}

/**
 * What a partner checks before it applies anything from a sequencer, pure: the signed tree
 * head, its consistency with the last head the partner accepted, and per entry the inclusion
 * of its leaf, the quorum certificate and the proposer's signature. Each failure has a typed
 * reason so the partner can stop applying from that source and say why.
 */
import { indicatorDigest } from './canonical.ts';
import { verifyConsistency, verifyInclusion } from './merkle.ts';
import { decideQuorum, type QuorumOutcome, type Voter } from './quorum.ts';
import type { PublicKey } from './signature.ts';
import { verifyTreeHead, type SignedTreeHead } from './treehead.ts';
import { everyKey, keysValidAt, type RetiredKey } from './keys.ts';
import { entryProposalProof, verifySignedProposal } from './proposalbatch.ts';
import { DEFAULT_VOTING_WINDOW_MS, ROUND_SKEW_MS, entryLeafHash, readmissionFloor, roundKindOf, voteSubject, type EntryWindow, type IndexedEntry, type LogEntryKind } from './entry.ts';

/** Why a partner stopped applying entries from a source: every value of HaltReason. */
export const HALT_REASONS = [
  'bad-tree-head', // the head's signature or log id does not match the sequencer's key
  'fork', // the head is not an extension of the last accepted one (rollback or different history)
  'tampered-entry', // the entry's leaf is not in the signed tree at its index
  'forged-vote', // the certificate holds a vote whose signature does not verify
  'replayed-vote', // the certificate holds a vote signed for another subject
  'no-quorum', // the valid votes do not reach the quorum (REJECT: the valid reject votes do not make it unreachable, or the certificate holds approvals)
  'bad-proposal-signature', // the proposer did not sign this indicator with this metadata
  'unknown-proposer', // the proposer is not in the partner's directory
  'malformed-entry', // the entry cannot be decoded (unknown kind, indicator not canonical or not normalized, invalid metadata)
  'out-of-order', // the source sent an index other than the next expected one
  'bad-window', // the voting window is longer than the network's, inverted, or closed before the log could have appended the entry
  'replayed-entry', // the entry contradicts this indicator's history: an ADD or REJECT of an active indicator, a REVOKE of an inactive one, or a round older than what was applied
] as const;

/** Why a partner stopped applying entries from a source (one of HALT_REASONS). */
export type HaltReason = typeof HALT_REASONS[number];

/** A failed check: its reason, a message that says what was seen, and the entry index when one is at fault. */
export interface Violation {
  readonly reason: HaltReason;
  readonly message: string;
  readonly index?: number;
}

/** What a partner trusts: the sequencer's tree-head key and every partner it knows (keys, roles). */
export interface TrustAnchors {
  readonly sequencerKey: PublicKey;
  /** The sequencer's retired tree-head keys: each verifies heads dated before its validUntil (keys.ts). @default none */
  readonly sequencerRetiredKeys?: readonly RetiredKey[];
  /** All known partners; only those with the `voter` role count towards quorum. */
  readonly partners: readonly Voter[];
  /** Approvals required; default ⌊2n/3⌋+1 of the voters. */
  readonly quorum?: number;
  /** The network's voting window: no certificate's window may be longer (plus the skew). @default DEFAULT_VOTING_WINDOW_MS */
  readonly votingWindowMs?: number;
  /** Clock skew allowed between parties. @default ROUND_SKEW_MS */
  readonly skewMs?: number;
}

/** What a partner remembers of the latest entry it applied for one indicator. */
export interface IndicatorHistory {
  readonly kind: LogEntryKind;
  readonly index: number;
  /** Absent for records stored before windows were kept: the window-order checks are skipped then. */
  readonly window?: EntryWindow;
  /** After a REVOKE or a REJECT: the earliest time (ms) a vote of a new ADD (or REJECT) round may be signed (entry.ts readmissionFloor). */
  readonly readmitFloorMs?: number;
}

/** The history a verified entry leaves for its indicator. */
export function historyOf(entry: IndexedEntry): IndicatorHistory {
  return { kind: entry.kind, index: entry.index, window: entry.window, ...(entry.kind !== 'add' ? { readmitFloorMs: readmissionFloor(entry) } : {}) };
}

/**
 * Checks an entry's voting window: well formed, not longer than the network's window plus the
 * clock skew (so a certificate cannot stitch votes signed further apart than one round lasts),
 * and, for an entry beyond the head this partner accepted before (`previous`), not closed before
 * that head was signed less the skew: the log appends a round when its quorum is reached, inside
 * its window, so a window that closed before the log reached that size is a backdated certificate.
 */
export function checkWindow(anchors: TrustAnchors, entry: IndexedEntry, previous: SignedTreeHead | undefined): Violation | undefined {
  const at = { index: entry.index };
  const opens = Date.parse(entry.window.opensAt);
  const closes = Date.parse(entry.window.closesAt);
  const skew = anchors.skewMs ?? ROUND_SKEW_MS;
  const max = (anchors.votingWindowMs ?? DEFAULT_VOTING_WINDOW_MS) + skew;
  if (!Number.isFinite(opens) || !Number.isFinite(closes) || closes < opens) return { ...at, reason: 'bad-window', message: `entry ${entry.index}: voting window ${entry.window.opensAt} .. ${entry.window.closesAt} is not a valid interval` };
  if (closes - opens > max) return { ...at, reason: 'bad-window', message: `entry ${entry.index}: voting window ${entry.window.opensAt} .. ${entry.window.closesAt} lasts ${Math.round((closes - opens) / 1000)} s, longer than the network's ${Math.round(max / 1000)} s: its votes cannot all come from one round` };
  if (previous !== undefined && entry.index >= previous.treeSize && closes < Date.parse(previous.timestamp) - skew) {
    return { ...at, reason: 'bad-window', message: `entry ${entry.index} was appended after the head of size ${previous.treeSize} signed at ${previous.timestamp}, but its voting window closed at ${entry.window.closesAt}: a round is logged when it is decided, inside its window` };
  }
  return undefined;
}

/**
 * Checks an entry against what this partner already applied for the same indicator: an ADD or a
 * REJECT needs the indicator inactive, and after a revocation or a rejection a window opening
 * after that entry's last vote (so the earlier round's votes cannot be replayed, and one rejected
 * round cannot be logged twice, whatever its window says); a REVOKE needs it
 * active, with a window opening no earlier than the admission's less the clock skew (so a
 * revocation of an earlier admission cannot be replayed against a later one). An honest sequencer
 * never appends anything else.
 */
export function checkHistory(anchors: TrustAnchors, entry: IndexedEntry, last: IndicatorHistory | undefined): Violation | undefined {
  // Applied already (the partner stopped after writing records but before saving its cursor): a
  // replay sits at a later index of the verified log, never at or before what was applied.
  if (last !== undefined && last.index >= entry.index) return undefined;
  const what = `entry ${entry.index} (${entry.kind} of ${entry.indicator.type} ${JSON.stringify(entry.indicator.value)})`;
  const problem = entry.kind === 'revoke' ? revokeProblem(anchors, entry, last) : addProblem(entry, last);
  return problem === undefined ? undefined : { index: entry.index, reason: 'replayed-entry', message: `${what}: ${problem}` };
}

function addProblem(entry: IndexedEntry, last: IndicatorHistory | undefined): string | undefined {
  if (last?.kind === 'add') return `the indicator is already active since entry ${last.index}${entry.kind === 'reject' ? ': an admitted indicator has no rejected round' : ''}`;
  if (last?.readmitFloorMs !== undefined && Date.parse(entry.window.opensAt) < last.readmitFloorMs) {
    const earlier = last.kind === 'reject' ? 'rejection' : 'revocation';
    return `its round opened at ${entry.window.opensAt}, before the last vote of the ${earlier} at entry ${last.index}: it reuses an earlier round's votes or repeats that round`;
  }
  return undefined;
}

function revokeProblem(anchors: TrustAnchors, entry: IndexedEntry, last: IndicatorHistory | undefined): string | undefined {
  if (last === undefined || last.kind !== 'add') return `the indicator is not active here (${last === undefined ? 'never admitted' : last.kind === 'reject' ? `rejected at entry ${last.index}` : `already revoked at entry ${last.index}`})`;
  if (last.window !== undefined && Date.parse(entry.window.opensAt) < Date.parse(last.window.opensAt) - (anchors.skewMs ?? ROUND_SKEW_MS)) {
    return `its round opened at ${entry.window.opensAt}, before the admission at entry ${last.index} (${last.window.opensAt}): it revokes an earlier admission`;
  }
  return undefined;
}

/** Checks that `head` is signed by the sequencer's key, or by a retired one still valid at the head's timestamp. */
export function checkTreeHead(anchors: TrustAnchors, head: SignedTreeHead): Violation | undefined {
  if (signedBySequencer(anchors, head)) return undefined;
  return { reason: 'bad-tree-head', message: `tree head of size ${String(head.treeSize)} is not signed by the sequencer key ${anchors.sequencerKey.id}${anchors.sequencerRetiredKeys?.length ? ' nor by a retired one valid at its timestamp' : ''}` };
}

function signedBySequencer(anchors: TrustAnchors, head: SignedTreeHead): boolean {
  const at = typeof head === 'object' && head !== null ? Date.parse(head.timestamp) : NaN;
  return keysValidAt({ publicKey: anchors.sequencerKey, ...(anchors.sequencerRetiredKeys ? { retiredKeys: anchors.sequencerRetiredKeys } : {}) }, at).some((k) => verifyTreeHead(k, head));
}

/** How a partner judges the age of the newest sequencer head it verified. */
export interface HeadFreshness {
  readonly status: 'fresh' | 'stale' | 'future';
  /** now − head timestamp (0 when in the future). */
  readonly ageMs: number;
}

/** Longest a partner waits without a newer signed head before it reports the sequencer silent: five heartbeats of {@link HEAD_HEARTBEAT_MS}. */
export const MAX_HEAD_AGE_MS = 5 * 60_000;

/** How often an honest sequencer signs a head again when the log did not grow (a heartbeat partners check). */
export const HEAD_HEARTBEAT_MS = 60_000;

/**
 * Freshness of `head` at `now`: stale when older than `maxAgeMs` (the sequencer stopped signing
 * heads, or partners stopped seeing them: a sequencer that hides new entries is noticed this
 * way), future when signed more than `skewMs` ahead of this clock (a head dated ahead would never
 * go stale). Pure.
 */
export function headFreshness(head: SignedTreeHead, now: Date, maxAgeMs = MAX_HEAD_AGE_MS, skewMs = ROUND_SKEW_MS): HeadFreshness {
  const ageMs = now.getTime() - Date.parse(head.timestamp);
  if (!Number.isFinite(ageMs) || ageMs < -skewMs) return { status: 'future', ageMs: 0 };
  return { status: ageMs > maxAgeMs ? 'stale' : 'fresh', ageMs: Math.max(0, ageMs) };
}

/**
 * Checks that `next` extends `accepted` (RFC 9162 consistency, `proof` from the source). A
 * smaller size is a rollback; equal sizes need equal roots. No accepted head: nothing to check.
 */
export function checkConsistency(accepted: SignedTreeHead | undefined, next: SignedTreeHead, proof: readonly string[]): Violation | undefined {
  if (accepted === undefined) return undefined;
  if (next.treeSize < accepted.treeSize) {
    return { reason: 'fork', message: `tree head shrank from size ${accepted.treeSize} to ${next.treeSize}: a log only grows` };
  }
  if (verifyConsistency(accepted.treeSize, next.treeSize, proof, accepted.rootHash, next.rootHash)) return undefined;
  return {
    reason: 'fork',
    message: `tree head ${next.treeSize}/${next.rootHash} is not consistent with the accepted head ${accepted.treeSize}/${accepted.rootHash}: the source shows a different history`,
  };
}

/**
 * Compares the head this partner accepted with one another partner accepted from the same
 * sequencer (gossip), so a sequencer that shows different histories to different partners is
 * caught. The smaller head must be a prefix of the larger (`proof`: consistency from the
 * smaller size to the larger, from any source — it is verified, not trusted). Two validly
 * signed heads that no single history explains are proof of equivocation: `fork`.
 */
export function checkPeerHead(anchors: TrustAnchors, mine: SignedTreeHead, theirs: SignedTreeHead, proof: readonly string[]): Violation | undefined {
  if (!signedBySequencer(anchors, theirs)) {
    return { reason: 'bad-tree-head', message: `the peer's tree head of size ${String(theirs.treeSize)} is not signed by the sequencer key ${anchors.sequencerKey.id}` };
  }
  const [a, b] = mine.treeSize <= theirs.treeSize ? [mine, theirs] : [theirs, mine];
  if (verifyConsistency(a.treeSize, b.treeSize, proof, a.rootHash, b.rootHash)) return undefined;
  return {
    reason: 'fork',
    message: `the sequencer signed ${a.treeSize}/${a.rootHash} and ${b.treeSize}/${b.rootHash}, which no single history explains: it showed different logs to different partners`,
  };
}

/**
 * Verifies one entry against the tree head it was proven in: leaf inclusion at its index,
 * then the quorum certificate (every vote valid and for this round's subject, approvals
 * reaching the quorum; for a REJECT, reject votes only, on the ADD subject derived here from the
 * indicator, enough to make the quorum unreachable), then the proposer's signature over the
 * indicator and its metadata (votes sign only the subject: the metadata is the proposer's word,
 * bound by its signature). Returns the indicator digest and the entry's leaf hash when all hold.
 */
export function checkEntry(anchors: TrustAnchors, head: SignedTreeHead, entry: IndexedEntry, proof: readonly string[]): { readonly digest: string; readonly leafHash: string } | Violation {
  const at = { index: entry.index };
  const leafHash = entryLeafHash(entry);
  if (!verifyInclusion(leafHash, entry.index, head.treeSize, proof, head.rootHash)) {
    return { ...at, reason: 'tampered-entry', message: `entry ${entry.index} is not the leaf at that index of the signed tree of size ${head.treeSize}` };
  }
  const digest = indicatorDigest(entry.indicator);
  const quorum = checkCertificate(anchors, entry, digest);
  if (quorum !== undefined) return { ...at, ...quorum };
  const proposer = anchors.partners.find((p) => p.partnerId === entry.proposerId);
  if (proposer === undefined) return { ...at, reason: 'unknown-proposer', message: `entry ${entry.index} was proposed by ${JSON.stringify(entry.proposerId)}, who is not in this partner's directory` };
  // A proposal carries no date: any key the proposer ever had may have signed it. A batch proposal: its leaf is rebuilt from the entry.
  const proposal = entryProposalProof(entry);
  if (!everyKey(proposer).some((k) => verifySignedProposal(k, roundKindOf(entry.kind), entry.indicator, proposal, entry.meta))) {
    const withMeta = entry.meta === undefined ? 'without metadata' : 'with this metadata';
    const how = proposal.batch === undefined ? 'signature does not cover' : 'batch proof and proposal-batch signature do not cover';
    return { ...at, reason: 'bad-proposal-signature', message: `entry ${entry.index}: ${entry.proposerId}'s ${how} this ${entry.kind} of ${entry.indicator.type} ${JSON.stringify(entry.indicator.value)} ${withMeta}` };
  }
  return { digest, leafHash };
}

function checkCertificate(anchors: TrustAnchors, entry: IndexedEntry, digest: string): Omit<Violation, 'index'> | undefined {
  // The subject is derived here from the logged indicator, never taken from the votes.
  const subject = voteSubject(roundKindOf(entry.kind), digest);
  let outcome;
  try {
    // Decided as of the window's opening: only the votes can decide, never the clock (an expired round proves nothing).
    outcome = decideQuorum({ voters: anchors.partners, votes: entry.votes, digest: subject, window: entry.window, now: entry.window.opensAt, ...(anchors.quorum !== undefined ? { quorum: anchors.quorum } : {}) });
  } catch (err) {
    return { reason: 'no-quorum', message: `entry ${entry.index}: quorum cannot be decided: ${err instanceof Error ? err.message : String(err)}` };
  }
  const forged = outcome.ignored.filter((i) => i.reason === 'bad-signature').map((i) => i.partnerId);
  if (forged.length > 0) return { reason: 'forged-vote', message: `entry ${entry.index}: the vote(s) of ${forged.join(', ')} do not verify with their keys` };
  const replayed = outcome.ignored.filter((i) => i.reason === 'wrong-digest').map((i) => i.partnerId);
  if (replayed.length > 0) return { reason: 'replayed-vote', message: `entry ${entry.index}: the vote(s) of ${replayed.join(', ')} were signed for another subject` };
  const ignored = outcome.ignored.map((i) => `${i.partnerId}:${i.reason}`).join(', ') || 'none';
  if (entry.kind === 'reject') return rejectionProblem(entry, outcome, ignored);
  if (outcome.decision !== 'approved') {
    return { reason: 'no-quorum', message: `entry ${entry.index}: ${outcome.approvals} valid approval(s), ${outcome.required} required (ignored: ${ignored})` };
  }
  return undefined;
}

// A REJECT proves its round rejected by votes alone: reject votes only, of enough distinct voter
// keys that the approvals still possible (every other voter) fall short of the quorum.
function rejectionProblem(entry: IndexedEntry, outcome: QuorumOutcome, ignored: string): Omit<Violation, 'index'> | undefined {
  const approvals = entry.votes.filter((v) => v.decision !== 'reject').map((v) => v.partnerId);
  if (approvals.length > 0) {
    return { reason: 'no-quorum', message: `entry ${entry.index}: a REJECT certificate holds the approval(s) of ${approvals.join(', ')}; a rejection is proven by reject votes only` };
  }
  if (outcome.decision !== 'rejected') {
    const needed = outcome.eligible - outcome.required + 1;
    return { reason: 'no-quorum', message: `entry ${entry.index}: ${outcome.rejections} valid reject vote(s), ${needed} needed before ${outcome.required} approvals of ${outcome.eligible} voters become unreachable (ignored: ${ignored})` };
  }
  return undefined;
}

/**
 * Signed votes and the quorum decision for one indicator digest. Pure: the clock is an input.
 *
 * A vote's signature (kind `vote`) covers the RFC 8785 canonical JSON of
 * `{kind:'vote', digest, decision, partnerId, signedAt, reason?}`, so it cannot be replayed for
 * another digest, decision, partner or time, nor as another message kind. A batch vote
 * (protocol version 2, votebatch.ts) signs the same text as a leaf of a Merkle batch whose root
 * its voter signed once (kind `vote-batch`); it carries its inclusion proof in `batch`.
 */
import { canonicalJson } from './canonical.ts';
import type { PublicKey, SigningKey } from './signature.ts';
import { leafInBatch, MAX_VOTE_BATCH, merkleBatch, voteBatchPayload } from './votebatch.ts';
import { keysValidAt, type KeyHistory } from './keys.ts';
import { isIsoTimestamp, timestampMillis } from './time.ts';

/** What a partner may do in the network. Only `voter` counts towards quorum. */
export type PartnerRole = 'contributor' | 'voter' | 'consumer' | 'sequencer';

/** A known partner: id, Ed25519 public key (and retired keys, keys.ts) and roles. */
export interface Voter extends KeyHistory {
  readonly partnerId: string;
  readonly publicKey: PublicKey;
  readonly roles: readonly PartnerRole[];
}

/**
 * A partner as both parties of the exchange know it: a {@link Voter}, and optionally the SHA-256
 * fingerprint of the one certificate it may present (node's `AB:CD:…` form).
 */
export interface DirectoryEntry extends Voter {
  readonly certFingerprint256?: string;
}

/** A voter's answer to a proposal. */
export type VoteDecision = 'approve' | 'reject';

/** A signed vote on one digest. `signedAt` is an ISO 8601 timestamp; `signature` is standard base64. */
export interface Vote {
  readonly partnerId: string;
  readonly digest: string;
  readonly decision: VoteDecision;
  readonly reason?: string;
  readonly signedAt: string;
  /** Without `batch`: signature of kind `vote` over {@link voteSigningPayload}. With it: of kind `vote-batch` over the batch root (votebatch.ts voteBatchPayload). */
  readonly signature: string;
  /** Protocol version 2 only: where this vote sits in the batch its voter signed (votebatch.ts voteBatchText). @default none (a single vote) */
  readonly batch?: string;
}

/** The fields of a vote before signing. */
export type VoteFields = Omit<Vote, 'signature' | 'batch'>;

/** Why a vote was not counted. */
export type IgnoredReason = 'bad-signature' | 'not-a-voter' | 'wrong-digest' | 'outside-window' | 'duplicate' | 'unknown-partner' | 'shared-key';

/** A vote that was not counted, and why. */
export interface IgnoredVote {
  readonly partnerId: string;
  readonly reason: IgnoredReason;
}

/** The voting window: votes signed in [opensAt, closesAt] count. ISO 8601 strings or Dates. */
export interface VotingWindow {
  readonly opensAt: string | Date;
  readonly closesAt: string | Date;
}

/** Everything {@link decideQuorum} needs. `quorum` defaults to ⌊2n/3⌋+1 of the n voters. */
export interface QuorumInput {
  readonly voters: readonly Voter[];
  readonly votes: readonly Vote[];
  readonly digest: string;
  readonly quorum?: number;
  readonly window: VotingWindow;
  readonly now: string | Date;
  /**
   * True when the caller itself already verified this very vote object (same object, so the
   * same bytes) with exactly this voter's current key and found it valid: its signature is not
   * checked again. Lets a party that verified a vote on arrival decide its round without a
   * second Ed25519 verification; every other check still runs. @default none (verify every vote)
   */
  readonly verified?: (voter: Voter, vote: Vote) => boolean;
  /**
   * The voter set already indexed by {@link indexVoters}: used when it was made from this very
   * `voters` array (same object), else the voters are indexed again. Lets a party deciding many
   * rounds over one directory skip re-indexing it for every vote. @default none (index `voters`)
   */
  readonly index?: VoterIndex;
}

/** A voter set indexed once: by partner id, and how many distinct voter keys it counts. */
export interface VoterIndex {
  /** The array indexed. */
  readonly voters: readonly Voter[];
  readonly byId: ReadonlyMap<string, Voter>;
  /** Distinct public keys with the voter role (n). */
  readonly eligible: number;
}

/** Outcome of a quorum decision with its counts and the votes that did not count. */
export interface QuorumOutcome {
  readonly decision: 'approved' | 'rejected' | 'pending';
  readonly approvals: number;
  readonly rejections: number;
  /** Approvals needed. */
  readonly required: number;
  /** Partners with the `voter` role. */
  readonly eligible: number;
  /** Sorted by partner id, then reason. */
  readonly ignored: readonly IgnoredVote[];
}

/** Why quorum input was refused. */
export type QuorumInputReason = 'invalid-vote' | 'no-voters' | 'invalid-quorum' | 'duplicate-voter' | 'invalid-time';

/** Thrown for invalid configuration or vote fields (never for bad votes from the network, which are reported). */
export class QuorumInputError extends Error {
  /** Machine-readable cause. */
  readonly reason: QuorumInputReason;
  constructor(reason: QuorumInputReason, message: string) {
    super(message);
    this.name = 'QuorumInputError';
    this.reason = reason;
  }
}

const DECISIONS: readonly VoteDecision[] = ['approve', 'reject'];

/** The default quorum for n voters: ⌊2n/3⌋+1. */
export function defaultQuorum(voters: number): number {
  return Math.floor((2 * voters) / 3) + 1;
}

/** The exact text a vote signature covers: canonical JSON of the vote fields plus `kind: 'vote'`. */
export function voteSigningPayload(fields: VoteFields): string {
  const payload: Record<string, string> = {
    kind: 'vote', digest: fields.digest, decision: fields.decision, partnerId: fields.partnerId, signedAt: fields.signedAt,
  };
  if (fields.reason !== undefined) payload['reason'] = fields.reason;
  return canonicalJson(payload);
}

/** Signs a vote. Throws {@link QuorumInputError} (`invalid-vote`) when a field is malformed. */
export function signVote(key: SigningKey, fields: VoteFields): Vote {
  const problem = voteFieldProblem(fields);
  if (problem !== undefined) throw new QuorumInputError('invalid-vote', `cannot sign vote: ${problem}`);
  const unsigned: VoteFields = {
    partnerId: fields.partnerId, digest: fields.digest, decision: fields.decision, signedAt: fields.signedAt,
    ...(fields.reason !== undefined ? { reason: fields.reason } : {}),
  };
  return { ...unsigned, signature: key.sign('vote', voteSigningPayload(unsigned)) };
}

/**
 * Signs many votes of one voter at once (protocol version 2): one Ed25519 signature of kind
 * `vote-batch` over the Merkle root of their signing payloads, in the order given; each vote
 * carries that signature and its own inclusion proof. Every vote must name the same partner;
 * at most {@link MAX_VOTE_BATCH} votes. Throws {@link QuorumInputError} (`invalid-vote`) on a
 * malformed field, an empty or oversized batch, or mixed partners.
 */
export function signVoteBatch(key: SigningKey, fields: readonly VoteFields[]): Vote[] {
  if (fields.length === 0 || fields.length > MAX_VOTE_BATCH) throw new QuorumInputError('invalid-vote', `a vote batch holds 1 to ${MAX_VOTE_BATCH} votes, got ${fields.length}; split it`);
  const partnerId = fields[0]!.partnerId;
  const unsigned = fields.map((f) => {
    const problem = voteFieldProblem(f);
    if (problem !== undefined) throw new QuorumInputError('invalid-vote', `cannot sign vote: ${problem}`);
    if (f.partnerId !== partnerId) throw new QuorumInputError('invalid-vote', `a vote batch is one voter's: ${JSON.stringify(f.partnerId)} differs from ${JSON.stringify(partnerId)}`);
    return { partnerId, digest: f.digest, decision: f.decision, signedAt: f.signedAt, ...(f.reason !== undefined ? { reason: f.reason } : {}) };
  });
  const { root, proofs } = merkleBatch(unsigned.map(voteSigningPayload));
  const signature = key.sign('vote-batch', voteBatchPayload(partnerId, root, unsigned.length));
  return unsigned.map((u, index) => ({ ...u, signature, batch: proofs[index]! }));
}

/**
 * True when `vote` is well formed, comes from `voter` (same partner id) and carries a valid
 * signature by the voter's key valid at its `signedAt` (the current key, or a retired one whose
 * validUntil is later: keys.ts). A batch vote: its leaf (this vote's signing payload) is in the
 * batch at the proven index and the batch root carries the voter's `vote-batch` signature, which
 * the key verifies once and remembers. Never throws: anything malformed gives false.
 */
export function verifyVote(voter: Voter, vote: Vote): boolean {
  if (typeof vote !== 'object' || vote === null || voteFieldProblem(vote) !== undefined) return false;
  if (vote.partnerId !== voter.partnerId) return false;
  try {
    const payload = voteSigningPayload(vote);
    // Signed with the current key, or with a retired one still valid when the vote was signed.
    const keys = keysValidAt(voter, Date.parse(vote.signedAt));
    const [kind, signed] = vote.batch === undefined ? ['vote' as const, payload] : ['vote-batch' as const, batchSigned(vote, payload)];
    if (signed === undefined) return false;
    // After a rotation an old vote is the retired key's: find a remembered answer before verifying under the current key.
    return (keys.length > 1 && keys.some((k) => k.remembers(kind, signed, vote.signature))) || keys.some((k) => k.verify(kind, signed, vote.signature));
  } catch {
    return false;
  }
}

/** What the voter of batch vote `vote` signed (kind `vote-batch`), or undefined when its proof does not put `payload` in the batch. */
function batchSigned(vote: Vote, payload: string): string | undefined {
  const batch = leafInBatch(payload, vote.batch ?? '', 'vote');
  return batch === undefined ? undefined : voteBatchPayload(vote.partnerId, batch.root, batch.size);
}

/**
 * Decides Approved / Rejected / Pending for `digest`.
 *
 * Counted: votes for `digest` from partners with the `voter` role, with a valid signature and
 * `signedAt` inside the window. A partner counts once: when it sent several valid votes, the one
 * with the earliest `signedAt` (then the smallest signature) counts, whatever the arrival order,
 * so every partner reaches the same result; the others are reported as `duplicate`. A key counts
 * once too: voters listed under different ids with the same public key are one party (the voter
 * count n is the number of distinct voter keys), and later votes by that key are `shared-key`.
 * Approved when approvals reach the quorum; Rejected when they no longer can (approvals plus
 * voters yet to vote fall short) or when `now` is past the window without quorum; else Pending.
 * Throws {@link QuorumInputError} for invalid configuration: no voters, a quorum outside 1..n,
 * a partner listed twice, or unparseable times.
 */
export function decideQuorum(input: QuorumInput): QuorumOutcome {
  const { byId, eligible } = input.index?.voters === input.voters ? input.index : indexVoters(input.voters);
  const required = requiredQuorum(input.quorum, eligible);
  const window = { opensAt: toMillis(input.window.opensAt, 'window.opensAt'), closesAt: toMillis(input.window.closesAt, 'window.closesAt') };
  if (window.opensAt > window.closesAt) throw new QuorumInputError('invalid-time', 'window.opensAt is after window.closesAt');
  const now = toMillis(input.now, 'now');

  const ignored: IgnoredVote[] = [];
  const valid: Array<{ vote: Vote; at: number }> = [];
  for (const vote of input.votes) {
    const reason = rejectReason(vote, byId, input.digest, window, input.verified);
    if (reason === undefined) valid.push({ vote, at: Date.parse(vote.signedAt) });
    else ignored.push({ partnerId: partnerIdOf(vote), reason });
  }

  // Votes of one batch share a signature: the payload breaks the tie, so every party counts the same vote.
  valid.sort((a, b) => a.at - b.at || compare(a.vote.signature, b.vote.signature) || compare(voteSigningPayload(a.vote), voteSigningPayload(b.vote)));
  const counted = new Map<string, VoteDecision>();
  // One key is one party: voters listed under two ids with the same key count once.
  const keys = new Set<string>();
  for (const { vote } of valid) {
    const key = byId.get(vote.partnerId)!.publicKey.toRawBase64();
    if (counted.has(vote.partnerId)) ignored.push({ partnerId: vote.partnerId, reason: 'duplicate' });
    else if (keys.has(key)) ignored.push({ partnerId: vote.partnerId, reason: 'shared-key' });
    else {
      counted.set(vote.partnerId, vote.decision);
      keys.add(key);
    }
  }

  const decisions = [...counted.values()];
  const approvals = decisions.filter((d) => d === 'approve').length;
  const rejections = decisions.length - approvals;
  const outstanding = eligible - decisions.length;
  let decision: QuorumOutcome['decision'] = 'pending';
  if (approvals >= required) decision = 'approved';
  else if (approvals + outstanding < required || now > window.closesAt) decision = 'rejected';
  ignored.sort((a, b) => compare(a.partnerId, b.partnerId) || compare(a.reason, b.reason));
  return { decision, approvals, rejections, required, eligible, ignored };
}

/**
 * Indexes a voter set for {@link decideQuorum}. Throws {@link QuorumInputError} when a partner
 * is listed twice or no partner has the voter role.
 */
export function indexVoters(voters: readonly Voter[]): VoterIndex {
  const byId = new Map<string, Voter>();
  for (const v of voters) {
    if (byId.has(v.partnerId)) throw new QuorumInputError('duplicate-voter', `partner ${JSON.stringify(v.partnerId)} is listed twice in the voter set; keep one entry per partner`);
    byId.set(v.partnerId, v);
  }
  const eligible = new Set(voters.filter((v) => v.roles.includes('voter')).map((v) => v.publicKey.toRawBase64())).size;
  if (eligible === 0) throw new QuorumInputError('no-voters', 'no partner has the voter role; give at least one partner roles: [voter]');
  return { voters, byId, eligible };
}

function requiredQuorum(quorum: number | undefined, eligible: number): number {
  if (quorum === undefined) return defaultQuorum(eligible);
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > eligible) {
    throw new QuorumInputError('invalid-quorum', `quorum must be an integer from 1 to ${eligible} (the number of voters), got ${String(quorum)}`);
  }
  return quorum;
}

function rejectReason(vote: Vote, byId: ReadonlyMap<string, Voter>, digest: string, window: { opensAt: number; closesAt: number }, verified: QuorumInput['verified']): IgnoredReason | undefined {
  if (typeof vote !== 'object' || vote === null) return 'bad-signature';
  const voter = byId.get(partnerIdOf(vote));
  if (voter === undefined) return 'unknown-partner';
  if (!voter.roles.includes('voter')) return 'not-a-voter';
  if (vote.digest !== digest) return 'wrong-digest';
  if (verified?.(voter, vote) !== true && !verifyVote(voter, vote)) return 'bad-signature';
  const at = Date.parse(vote.signedAt);
  return at < window.opensAt || at > window.closesAt ? 'outside-window' : undefined;
}

function voteFieldProblem(fields: VoteFields): string | undefined {
  if (typeof fields.partnerId !== 'string' || fields.partnerId === '') return 'partnerId must be a non-empty string';
  if (typeof fields.digest !== 'string' || fields.digest === '') return 'digest must be a non-empty string';
  if (!DECISIONS.includes(fields.decision)) return `decision must be "approve" or "reject", got ${JSON.stringify(fields.decision)}`;
  if (fields.reason !== undefined && typeof fields.reason !== 'string') return 'reason must be a string when present';
  const batch = (fields as Partial<Vote>).batch;
  if (batch !== undefined && typeof batch !== 'string') return 'batch must be a string when present';
  // Canonical JSON cannot carry a lone surrogate: refuse it here, with a reason, instead of throwing when signing.
  const lone = (['partnerId', 'digest', 'reason'] as const).find((k) => fields[k]?.isWellFormed() === false);
  if (lone !== undefined) return `${lone} contains a lone UTF-16 surrogate (\\uD800-\\uDFFF not in a pair); use well-formed Unicode`;
  if (!isIsoTimestamp(fields.signedAt)) return `signedAt must be an ISO 8601 timestamp such as 2026-01-02T03:04:05Z, got ${JSON.stringify(fields.signedAt)}`;
  return undefined;
}

function toMillis(value: string | Date, name: string): number {
  const ms = timestampMillis(value);
  if (!Number.isFinite(ms)) throw new QuorumInputError('invalid-time', `${name} must be a valid Date or ISO 8601 timestamp, got ${String(value)}`);
  return ms;
}

function partnerIdOf(vote: unknown): string {
  const id: unknown = typeof vote === 'object' && vote !== null ? (vote as { partnerId?: unknown }).partnerId : undefined;
  return typeof id === 'string' ? id : String(id);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The admission rules of a ThreatIndicator, pure apart from signature verification: the phase
 * and quorum counts its signed votes prove against the cluster's voter set and the time, the
 * judgement of a revocation certificate, and the normal-form check of its spec. The
 * ThreatIndicator controller, the admission webhook and the partner's Kubernetes sink all
 * compute phases with these functions, so none of them can disagree.
 */
import type { Phase, RevocationRecord, ThreatIndicator, VoteRecord } from './types.ts';
import { indicatorDigest } from '../domain/canonical.ts';
import { isNormalizedAsLogged, normalize } from '../domain/indicator.ts';
import { decideQuorum, type IgnoredVote, type Vote, type Voter } from '../domain/quorum.ts';
import { everyKey } from '../domain/keys.ts';
import { DEFAULT_VOTING_WINDOW_MS, ROUND_SKEW_MS, verifyProposal, voteSubject } from '../domain/entry.ts';
import { REASON } from './reasons.ts';
import type { PartnerEntry } from './partners.ts';

/** Admission policy. */
export interface AdmissionPolicy {
  /** How long voting stays open after the proposal. @default DEFAULT_VOTING_WINDOW_MS (72 h, domain/entry.ts) */
  readonly votingWindowMs?: number;
  /** Approvals required; default ⌊2n/3⌋+1 of n voters. */
  readonly quorum?: number;
}

/** What the phase of an indicator is, computed from its spec, signed votes, voters and time. */
export interface Evaluation {
  readonly phase: Phase;
  readonly reason: string;
  readonly message: string;
  readonly required: number;
  readonly approvals: number;
  readonly rejections: number;
  readonly ignored: readonly IgnoredVote[];
  /** When the evaluation changes by itself (expiry, window close), if ever. */
  readonly changesAt?: Date;
  /** The judgement of status.revocation, when the object carries one. */
  readonly revocation?: RevocationVerdict;
}

/** Whether status.revocation proves a revocation, and why (not). */
export interface RevocationVerdict {
  readonly proven: boolean;
  readonly message: string;
  /** Why the certificate itself is not genuine (unknown proposer, bad proposer signature, votes not signed by known voters), as opposed to merely short of quorum. */
  readonly forged?: string;
}

const FORGED_VOTE = new Set(['bad-signature', 'unknown-partner', 'not-a-voter', 'wrong-digest']);

/** A spec problem: the value is not in the canonical form (for a replicated object: nor in the form its log entry was written in), with what it should be. Pure. */
export function specProblem(ti: ThreatIndicator): string | undefined {
  // An object replicated from the log keeps the form its entry was logged in (an older normalization version).
  if (ti.status?.logIndex !== undefined && isNormalizedAsLogged(ti.spec.type, ti.spec.value)) return undefined;
  const n = normalize(ti.spec.type, ti.spec.value);
  if (!n.ok) return `spec.value ${JSON.stringify(ti.spec.value)} is not a valid ${ti.spec.type}: ${n.rejection.message}`;
  if (n.indicator.value !== ti.spec.value) return `spec.value ${JSON.stringify(ti.spec.value)} is not normalized: use ${JSON.stringify(n.indicator.value)} (recreate the object; spec is immutable)`;
  return undefined;
}

/** The domain vote of a status vote record on `digest`. */
export function toVote(v: VoteRecord, digest: string): Vote {
  return { partnerId: v.partnerId, digest, decision: v.decision, signedAt: v.signedAt, signature: v.signature, ...(v.reason !== undefined ? { reason: v.reason } : {}), ...(v.batch !== undefined ? { batch: v.batch } : {}) };
}

/** The domain voter of a registry entry. */
export function toVoter(e: PartnerEntry): Voter {
  return { partnerId: e.partnerId, publicKey: e.publicKey, ...(e.retiredKeys !== undefined ? { retiredKeys: e.retiredKeys } : {}), roles: e.roles };
}

/** The voting window of an indicator: from its proposal (or creation) for `windowMs`. */
export function votingWindow(ti: ThreatIndicator, windowMs: number): { opensAt: Date; closesAt: Date } {
  const opened = ti.spec.provenance?.proposedAt ?? ti.metadata.creationTimestamp;
  const opensAt = opened ? new Date(opened) : new Date(0);
  return { opensAt, closesAt: new Date(opensAt.getTime() + windowMs) };
}

type Tally = Pick<Evaluation, 'required' | 'approvals' | 'rejections' | 'ignored'> & { readonly decision: 'approved' | 'rejected' | 'pending'; readonly text: string; readonly closesAt: Date };

function tally(ti: ThreatIndicator, eligible: readonly PartnerEntry[], now: Date, policy: AdmissionPolicy): Tally {
  const digest = indicatorDigest({ type: ti.spec.type, value: ti.spec.value });
  const window = votingWindow(ti, policy.votingWindowMs ?? DEFAULT_VOTING_WINDOW_MS);
  const quorum = policy.quorum !== undefined ? { quorum: Math.min(policy.quorum, eligible.length) } : {};
  const votes = (ti.status?.votes ?? []).map((v) => toVote(v, digest));
  const out = decideQuorum({ voters: eligible.map(toVoter), votes, digest, ...quorum, window, now });
  const text = `${out.approvals} approve, ${out.rejections} reject of ${eligible.length} voters; ${out.required} approvals required`;
  return { decision: out.decision, required: out.required, approvals: out.approvals, rejections: out.rejections, ignored: out.ignored, text, closesAt: window.closesAt };
}

function decided(t: Tally, now: Date, expiresAt: Date | undefined): Evaluation {
  const counts = { required: t.required, approvals: t.approvals, rejections: t.rejections, ignored: t.ignored };
  const changes = expiresAt ? { changesAt: expiresAt } : {};
  if (t.decision === 'approved') return { ...counts, ...changes, phase: 'Approved', reason: REASON.Approved, message: `quorum reached: ${t.text}` };
  if (t.decision === 'rejected') {
    const why = now.getTime() > t.closesAt.getTime() ? `voting window closed at ${t.closesAt.toISOString()}` : 'quorum can no longer be reached';
    return { ...counts, ...changes, phase: 'Rejected', reason: REASON.Rejected, message: `${why}: ${t.text}` };
  }
  // The window closes at closesAt inclusive; one millisecond later the decision flips to rejected.
  const closes = t.closesAt.getTime() + 1;
  const changesAt = new Date(expiresAt ? Math.min(expiresAt.getTime(), closes) : closes);
  return { ...counts, changesAt, phase: 'Proposed', reason: REASON.QuorumPending, message: `waiting for votes until ${t.closesAt.toISOString()}: ${t.text}` };
}

function countsOf(t: Tally | undefined): Pick<Evaluation, 'required' | 'approvals' | 'rejections' | 'ignored'> {
  return t ? { required: t.required, approvals: t.approvals, rejections: t.rejections, ignored: t.ignored } : { required: 0, approvals: 0, rejections: 0, ignored: [] };
}

/** Why `r` cannot revoke this admission of `ti`: it belongs to an earlier one (a re-admitted indicator is revoked only by a later REVOKE entry). */
function revocationOrderProblem(ti: ThreatIndicator, r: RevocationRecord): string | undefined {
  const admitted = ti.spec.provenance?.proposedAt;
  // A revocation proposed right after the admission opens its round up to ROUND_SKEW_MS before
  // it was proposed, and the proposer's own object carries its ingest time, not the round's.
  if (admitted !== undefined && !(Date.parse(r.window.opensAt) >= Date.parse(admitted) - ROUND_SKEW_MS)) {
    return `its round opened at ${r.window.opensAt}, before this admission (spec.provenance.proposedAt ${admitted}, less ${ROUND_SKEW_MS / 1000}s of clock skew): it revokes an earlier admission`;
  }
  const admittedIndex = ti.status?.logIndex;
  if (admittedIndex !== undefined && r.logIndex <= admittedIndex) return `its log index ${r.logIndex} is not after the admission's log index ${admittedIndex}`;
  return undefined;
}

/**
 * Why the proposer part of `r` is not genuine. Checked only when the proposer is among the known
 * voters: a contributor-only proposer is not in the cluster's voter registry, and the proof of a
 * revocation is its quorum of revoke votes (the partner replica verified the proposer before
 * applying the entry), as the admission's proof is its votes.
 */
function revocationProposerProblem(ti: ThreatIndicator, r: RevocationRecord, partners: readonly PartnerEntry[]): string | undefined {
  const proposer = partners.find((p) => p.partnerId === r.proposerId);
  if (proposer === undefined) return undefined;
  // Undated: any key the proposer had.
  if (!everyKey(proposer).some((k) => verifyProposal(k, 'revoke', { type: ti.spec.type, value: ti.spec.value }, r.signature))) {
    return `the signature is not ${r.proposerId}'s revocation signature (kind revocation) of this indicator`;
  }
  return undefined;
}

/**
 * Judges status.revocation of `ti`: proven when it is for this admission (round opened no earlier
 * than spec.provenance.proposedAt, log index after status.logIndex), its proposer (when a known
 * voter) signed the revocation of this indicator, and its votes on `voteSubject('revoke', digest)`, signed inside
 * its window, reach the quorum of the eligible voters (domain/quorum.ts rules). Undefined when
 * there is no revocation. Pure apart from signature verification.
 */
export function judgeRevocation(ti: ThreatIndicator, voters: readonly PartnerEntry[], policy: AdmissionPolicy = {}): RevocationVerdict | undefined {
  const r = ti.status?.revocation;
  if (r === undefined) return undefined;
  const order = revocationOrderProblem(ti, r);
  if (order !== undefined) return { proven: false, message: `the revocation at log index ${r.logIndex} does not apply: ${order}` };
  const proposer = revocationProposerProblem(ti, r, voters);
  if (proposer !== undefined) return { proven: false, message: `the revocation at log index ${r.logIndex} is not genuine: ${proposer}`, forged: proposer };
  const eligible = voters.filter((v) => v.roles.includes('voter'));
  if (eligible.length === 0) return { proven: false, message: 'no PartnerNode with the voter role is registered to check the revocation votes' };
  const subject = voteSubject('revoke', indicatorDigest({ type: ti.spec.type, value: ti.spec.value }));
  const quorum = policy.quorum !== undefined ? { quorum: Math.min(policy.quorum, eligible.length) } : {};
  let out;
  try {
    out = decideQuorum({ voters: eligible.map(toVoter), votes: r.votes.map((v) => toVote(v, subject)), digest: subject, window: r.window, now: r.window.opensAt, ...quorum });
  } catch (err) {
    return { proven: false, message: `the revocation at log index ${r.logIndex} cannot be checked: ${err instanceof Error ? err.message : String(err)}` };
  }
  const text = `${out.approvals} revoke approval(s) of ${eligible.length} voters; ${out.required} required`;
  const bad = out.ignored.filter((i) => FORGED_VOTE.has(i.reason));
  const forged = bad.length > 0 ? { forged: `revoke votes not signed by a known voter on this revocation: ${describeIgnored(bad)}` } : {};
  if (out.decision === 'approved') return { proven: true, message: `revoked at log index ${r.logIndex}: ${text}`, ...forged };
  return { proven: false, message: `the revocation at log index ${r.logIndex} lacks quorum: ${text}${bad.length > 0 ? ` (${forged.forged ?? ''})` : ''}`, ...forged };
}

/**
 * Computes phase and quorum counts of `ti` from its signed votes alone. Pure apart from signature
 * verification. Revoked wins when status.revocation proves a revocation ({@link judgeRevocation});
 * a revocation that does not is ignored and the message says why. Expired wins next, once
 * validUntil has passed. Quorum counts are always those of the admission votes.
 */
export function evaluateIndicator(ti: ThreatIndicator, voters: readonly PartnerEntry[], now: Date, policy: AdmissionPolicy = {}): Evaluation {
  const ev = evaluateAdmission(ti, voters, now, policy);
  const rv = judgeRevocation(ti, voters, policy);
  if (rv === undefined) return ev;
  if (rv.proven) return { required: ev.required, approvals: ev.approvals, rejections: ev.rejections, ignored: ev.ignored, phase: 'Revoked', reason: REASON.Revoked, message: rv.message, revocation: rv };
  return { ...ev, message: `${ev.message}; status.revocation ignored: ${rv.message}`, revocation: rv };
}

function evaluateAdmission(ti: ThreatIndicator, voters: readonly PartnerEntry[], now: Date, policy: AdmissionPolicy): Evaluation {
  const until = ti.spec.validUntil ? new Date(ti.spec.validUntil) : undefined;
  const expired = until !== undefined && until.getTime() <= now.getTime();
  const expiresAt = until && !expired ? until : undefined;
  const eligible = voters.filter((v) => v.roles.includes('voter'));
  const t = eligible.length > 0 ? tally(ti, eligible, now, policy) : undefined;
  if (expired) return { ...countsOf(t), phase: 'Expired', reason: REASON.Expired, message: `validUntil ${ti.spec.validUntil ?? ''} has passed` };
  if (!t) return { ...countsOf(t), ...(expiresAt ? { changesAt: expiresAt } : {}), phase: 'Proposed', reason: REASON.NoVoters, message: 'no PartnerNode with the voter role is registered; apply PartnerNodes with roles: [voter]' };
  return decided(t, now, expiresAt);
}

/** Human text for votes that did not count. */
export function describeIgnored(ignored: readonly IgnoredVote[]): string {
  return ignored.map((i) => `${i.partnerId}: ${i.reason}`).join(', ');
}


/**
 * What the log says about one indicator, in the shapes a ThreatIndicator is built from: the
 * logged form of a verified entry or of a replicated record, the spec it gets, the status fields
 * the Kubernetes sink owns, and when an object's spec belongs to another admission. Pure
 * conversions, split from kubesink.ts (which does the writes).
 */
import type { RevocationRecord, ThreatIndicator, ThreatIndicatorSpec, ThreatIndicatorStatus, VoteRecord } from '../../api/types.ts';
import type { Indicator } from '../../domain/indicator.ts';
import type { Vote } from '../../domain/quorum.ts';
import { stixPattern } from '../../domain/stix.ts';
import type { IndicatorRecord } from '../../store/indicators.ts';
import type { EntryWindow, IndicatorMeta } from '../../domain/entry.ts';
import type { VerifiedEntry } from '../../domain/stores.ts';
import { withMeta } from '../../api/specmeta.ts';

/** What the log says about one admitted indicator: all a ThreatIndicator is built from. */
export interface LoggedIndicator {
  readonly indicator: Indicator;
  readonly logIndex: number;
  readonly proposerId: string;
  readonly proposalSignature: string;
  /** Protocol v2: the batch proposal's proof, when the proposal was signed in a batch. */
  readonly proposalBatch?: string;
  /** The metadata the proposer signed (TLP, confidence, labels, validity, source feed), when the entry has some. */
  readonly meta?: IndicatorMeta;
  readonly window: EntryWindow;
  readonly votes: readonly VoteRecord[];
  /** Present when the indicator was revoked after this admission: the REVOKE entry's certificate. */
  readonly revocation?: RevocationRecord;
}

/** The status fields the Kubernetes sink owns; the controller's conditions and observedGeneration are left alone. */
export type OwnedStatus = Pick<ThreatIndicatorStatus, 'phase' | 'votes' | 'quorum' | 'logIndex' | 'revocation'>;

/** The logged form of a verified ADD entry. */
export function loggedFromEntry(entry: VerifiedEntry): LoggedIndicator {
  return {
    indicator: entry.indicator, logIndex: entry.index, proposerId: entry.proposerId, ...(entry.meta !== undefined ? { meta: entry.meta } : {}),
    proposalSignature: entry.proposalSignature, ...(entry.proposalBatch !== undefined ? { proposalBatch: entry.proposalBatch } : {}), window: entry.window, votes: entry.votes.map(voteToRecord),
  };
}

/** The certificate of a verified REVOKE entry as status.revocation carries it. */
export function revocationFromEntry(entry: VerifiedEntry): RevocationRecord {
  return { logIndex: entry.index, proposerId: entry.proposerId, signature: entry.proposalSignature, window: { opensAt: entry.window.opensAt, closesAt: entry.window.closesAt }, votes: entry.votes.map(voteToRecord) };
}

/**
 * The logged form of a replicated MongoDB record (a revoked one with its revocation), or
 * undefined when it lacks window and proposal signature, or is revoked without the revocation's
 * certificate (stored before they were kept).
 */
export function loggedFromRecord(r: IndicatorRecord): LoggedIndicator | undefined {
  if (r.window === undefined || r.proposalSignature === undefined) return undefined;
  if (r.state === 'revoked' && r.revocation === undefined) return undefined;
  const base = { indicator: { type: r.type as Indicator['type'], value: r.value }, logIndex: r.logIndex, proposerId: r.proposerId, proposalSignature: r.proposalSignature, ...(r.proposalBatch !== undefined ? { proposalBatch: r.proposalBatch } : {}), ...(r.meta !== undefined ? { meta: r.meta } : {}), window: r.window, votes: r.votes.map(recordToVote) };
  if (r.state !== 'revoked' || r.revocation === undefined) return base;
  const rv = r.revocation;
  return { ...base, revocation: { logIndex: rv.logIndex, proposerId: rv.proposerId, signature: rv.proposalSignature, window: { opensAt: rv.window.opensAt, closesAt: rv.window.closesAt }, votes: rv.votes.map(recordToVote) } };
}

function recordToVote(v: Record<string, string>): VoteRecord {
  return {
    partnerId: v['partnerId'] ?? '', decision: v['decision'] === 'reject' ? 'reject' : 'approve', signedAt: v['signedAt'] ?? '', signature: v['signature'] ?? '',
    ...(v['reason'] !== undefined ? { reason: v['reason'] } : {}),
    // A protocol v2 batch vote verifies only with its proof.
    ...(v['batch'] !== undefined ? { batch: v['batch'] } : {}),
  };
}

/** The log index an object reflects: its revocation's, else its admission's; -1 for none. */
export function position(s: ThreatIndicatorStatus | undefined): number {
  return Math.max(s?.logIndex ?? -1, s?.revocation?.logIndex ?? -1);
}

/**
 * The spec a logged indicator gets: type, value, STIX pattern, provenance (proposedAt opens the
 * voting window the controller checks), the proposal signature, and the signed metadata
 * (tlp, confidence, labels, validFrom, validUntil; source as provenance.feed).
 */
export function specOf(l: Pick<LoggedIndicator, 'indicator' | 'proposerId' | 'proposalSignature' | 'proposalBatch' | 'window' | 'meta'>): ThreatIndicatorSpec {
  return withMeta({
    type: l.indicator.type, value: l.indicator.value, pattern: stixPattern(l.indicator),
    provenance: { partner: l.proposerId, proposedAt: l.window.opensAt },
    proposal: { partnerId: l.proposerId, signature: l.proposalSignature, ...(l.proposalBatch !== undefined ? { batch: l.proposalBatch } : {}) },
  }, l.meta);
}

/** The fields of `s` the sink owns. */
export function owned(s: ThreatIndicatorStatus | undefined): OwnedStatus {
  const pick: OwnedStatus = {};
  if (s?.votes !== undefined) pick.votes = s.votes;
  if (s?.logIndex !== undefined) pick.logIndex = s.logIndex;
  if (s?.revocation !== undefined) pick.revocation = s.revocation;
  if (s?.phase !== undefined) pick.phase = s.phase;
  if (s?.quorum !== undefined) pick.quorum = s.quorum;
  return pick;
}

/**
 * Spec is immutable: another indicator under the name, or another admission (new round, new
 * provenance) than the one a log-written object shows, needs a new object. Objects never
 * written from the log (local proposals) keep their spec.
 */
export function mustRecreate(obj: ThreatIndicator, l: LoggedIndicator, authoritative: boolean): boolean {
  if (obj.spec.type !== l.indicator.type || obj.spec.value !== l.indicator.value) return true;
  const s = obj.status;
  if (s?.logIndex === undefined && s?.revocation === undefined) return false;
  if (!authoritative) return l.logIndex > position(s);
  return obj.spec.provenance?.proposedAt !== l.window.opensAt || obj.spec.proposal?.signature !== l.proposalSignature || obj.spec.proposal?.batch !== l.proposalBatch;
}

/** The status fields the log gives `l`, and the phase they must prove. */
export function logStatus(l: LoggedIndicator): { fields: OwnedStatus; expected: 'Approved' | 'Revoked' } {
  return { fields: { votes: [...l.votes], logIndex: l.logIndex, ...(l.revocation ? { revocation: l.revocation } : {}) }, expected: l.revocation ? 'Revoked' : 'Approved' };
}

/** An object this partner's ingest created (never written from the log: no log index, no revocation). */
export function isLocalProposal(obj: ThreatIndicator): boolean {
  return obj.status?.logIndex === undefined && obj.status?.revocation === undefined;
}

function voteToRecord(v: Vote): VoteRecord {
  return { partnerId: v.partnerId, decision: v.decision, signedAt: v.signedAt, signature: v.signature, ...(v.reason !== undefined ? { reason: v.reason } : {}), ...(v.batch !== undefined ? { batch: v.batch } : {}) };
}

/**
 * True when `obj` is a local proposal the working set wrote `l`'s admission onto: its spec carries
 * the proposal `l` was admitted from (same proposer, signature and batch proof) with this
 * partner's ingest time as provenance instead of the round's window, its log index is `l`'s, and
 * it carries no revocation `l` lacks. Whether it still proves the entry is the sink's call.
 */
export function localProposalOf(obj: ThreatIndicator, l: LoggedIndicator): boolean {
  const s = obj.status;
  if (obj.spec.type !== l.indicator.type || obj.spec.value !== l.indicator.value || s?.logIndex !== l.logIndex) return false;
  if (s.revocation !== undefined && s.revocation.logIndex !== l.revocation?.logIndex) return false;
  return sameProposal(obj, l);
}

/**
 * True when `obj`'s spec carries the proposal `l` was admitted from (proposer, signature, batch
 * proof). A local proposal without it is this partner's proposal of another round (two partners
 * ingested the same indicator and the other one's was admitted), or an object written by hand:
 * its provenance, proposal and signed metadata are not the log's.
 */
export function sameProposal(obj: ThreatIndicator, l: Pick<LoggedIndicator, 'proposerId' | 'proposalSignature' | 'proposalBatch'>): boolean {
  const p = obj.spec.proposal;
  return p?.partnerId === l.proposerId && p.signature === l.proposalSignature && p.batch === l.proposalBatch;
}

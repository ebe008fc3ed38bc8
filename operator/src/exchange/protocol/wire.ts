/**
 * Conversions between the protocol's domain types and the generated wire messages. Wire input
 * is untrusted: conversions never throw on odd values, they carry them through so the
 * signature and proof checks refuse them with a typed reason.
 */
import { indicatorCanonicalJson } from '../../domain/canonical.ts';
import type { Vote } from '../../domain/quorum.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { metaJson, parseIndicatorJson, parseMetaJson, type EntryKind, type EntryWindow, type IndexedEntry, type LogEntryKind } from '../../domain/entry.ts';
import type { EntryKind as WireKind, EntryKind__Output as WireKindOut } from './gen/threatmesh/exchange/v1/EntryKind.ts';
import type { LogEntry, LogEntry__Output } from './gen/threatmesh/exchange/v1/LogEntry.ts';
import type { SignedTreeHead as WireHead, SignedTreeHead__Output as WireHeadOut } from './gen/threatmesh/exchange/v1/SignedTreeHead.ts';
import type { SignedVote, SignedVote__Output } from './gen/threatmesh/exchange/v1/SignedVote.ts';
import type { VotingWindow__Output } from './gen/threatmesh/exchange/v1/VotingWindow.ts';

/** Wire enum of a proposal's, a round's or a log entry's kind. */
export function kindToWire(kind: LogEntryKind): WireKind {
  return kind === 'add' ? 'ADD' : kind === 'revoke' ? 'REVOKE' : 'REJECT';
}

/** Kind of a proposal or round from its wire enum: ADD or REVOKE; undefined for REJECT (a log entry kind only), UNSPECIFIED or unknown values. */
export function kindFromWire(kind: WireKindOut): EntryKind | undefined {
  return kind === 'ADD' ? 'add' : kind === 'REVOKE' ? 'revoke' : undefined;
}

/** Kind of a log entry from its wire enum: ADD, REVOKE or REJECT; undefined for UNSPECIFIED or unknown values. */
export function logKindFromWire(kind: WireKindOut): LogEntryKind | undefined {
  return kind === 'REJECT' ? 'reject' : kindFromWire(kind);
}

/** A vote as a wire message. */
export function voteToWire(v: Vote): SignedVote {
  return { partnerId: v.partnerId, digest: v.digest, decision: v.decision, reason: v.reason ?? '', hasReason: v.reason !== undefined, signedAt: v.signedAt, signature: v.signature, batchProof: v.batch ?? '' };
}

/**
 * Why a wire vote cannot be read as one vote: a reason sent with has_reason false (the vote
 * would mean "no reason" while carrying one, and re-encode differently); undefined when it can.
 */
export function voteWireProblem(v: SignedVote__Output): string | undefined {
  return !v.hasReason && v.reason !== '' ? `the vote of ${JSON.stringify(v.partnerId)} carries a reason with has_reason false; set has_reason when sending a reason` : undefined;
}

/** A wire vote as a domain vote; an unknown decision is carried through for verifyVote to refuse. */
export function voteFromWire(v: SignedVote__Output): Vote {
  const base = { partnerId: v.partnerId, digest: v.digest, decision: v.decision as Vote['decision'], signedAt: v.signedAt, signature: v.signature };
  const withReason = v.hasReason ? { ...base, reason: v.reason } : base;
  // Older senders do not know batch_proof: it arrives empty, a single (protocol v1) vote.
  return v.batchProof === '' ? withReason : { ...withReason, batch: v.batchProof };
}

/** A window from the wire; missing fields become empty strings (which never verify). */
export function windowFromWire(w: VotingWindow__Output | null): EntryWindow {
  return { opensAt: w?.opensAt ?? '', closesAt: w?.closesAt ?? '' };
}

/** A signed tree head as a wire message. */
export function headToWire(h: SignedTreeHead): WireHead {
  return { treeSize: h.treeSize, rootHash: h.rootHash, timestamp: h.timestamp, logId: h.logId, signature: h.signature };
}

/** A wire tree head. */
export function headFromWire(h: WireHeadOut): SignedTreeHead {
  return { treeSize: h.treeSize, rootHash: h.rootHash, timestamp: h.timestamp, logId: h.logId, signature: h.signature };
}

/** An entry with its inclusion proof as a wire message (meta_json empty when the entry has no metadata). */
export function entryToWire(e: IndexedEntry, proof: readonly string[]): LogEntry {
  return {
    index: e.index, kind: kindToWire(e.kind), indicatorJson: indicatorCanonicalJson(e.indicator), proposerId: e.proposerId,
    proposalSignature: e.proposalSignature, window: { ...e.window }, votes: e.votes.map(voteToWire), inclusionProof: [...proof], metaJson: metaJson(e.meta),
    proposalBatchProof: e.proposalBatch ?? '',
  };
}

/** The outcome of {@link entryFromWire}: the entry and its proof, or why the message cannot be an entry. */
export type WireEntryResult = { readonly ok: true; readonly entry: IndexedEntry; readonly proof: readonly string[] } | { readonly ok: false; readonly index: number; readonly message: string };

/** Decodes a streamed entry; the indicator must be canonical and normalized, the metadata (if any) canonical and valid. */
export function entryFromWire(m: LogEntry__Output): WireEntryResult {
  const kind = logKindFromWire(m.kind);
  if (kind === undefined) return { ok: false, index: m.index, message: `entry ${m.index} has kind ${String(m.kind)}` };
  // A logged entry keeps the normalization it was appended under (URL hosts with a trailing dot before v2).
  const parsed = parseIndicatorJson(m.indicatorJson, { logged: true });
  if (!parsed.ok) return { ok: false, index: m.index, message: `entry ${m.index}: ${parsed.message}` };
  // Older senders do not know the field: it arrives as the empty string, meaning no metadata.
  const meta = parseMetaJson(m.metaJson);
  if (!meta.ok) return { ok: false, index: m.index, message: `entry ${m.index}: ${meta.message}` };
  const badVote = m.votes.map(voteWireProblem).find((p) => p !== undefined);
  if (badVote !== undefined) return { ok: false, index: m.index, message: `entry ${m.index}: ${badVote}` };
  const entry: IndexedEntry = {
    index: m.index, kind, indicator: parsed.indicator, ...(meta.meta !== undefined ? { meta: meta.meta } : {}), proposerId: m.proposerId, proposalSignature: m.proposalSignature,
    // Older senders do not know the field: it arrives empty, a single (protocol v1) proposal.
    ...(m.proposalBatchProof !== '' ? { proposalBatch: m.proposalBatchProof } : {}),
    window: windowFromWire(m.window), votes: m.votes.map(voteFromWire),
  };
  return { ok: true, entry, proof: m.inclusionProof };
}

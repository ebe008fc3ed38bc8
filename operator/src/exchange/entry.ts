/**
 * Log entries of the partner exchange, pure: what a proposal and a vote sign, the exact leaf
 * bytes an entry contributes to the Merkle log, and the parsing of an indicator as it travels
 * (RFC 8785 canonical JSON of a normalized indicator). Imports only the domain core.
 */
import { hash } from 'node:crypto';
import { canonicalJson, indicatorCanonicalJson, indicatorDigest } from '../domain/canonical.ts';
import { isIndicatorType, normalize, type Indicator } from '../domain/indicator.ts';
import { leafHash } from '../domain/merkle.ts';
import type { Vote } from '../domain/quorum.ts';
import type { PublicKey, SigningKey } from '../domain/signature.ts';

/** What an entry does: admit an indicator, or withdraw an admitted one. */
export type EntryKind = 'add' | 'revoke';

/** The voting window of one round, as ISO 8601 timestamps. */
export interface EntryWindow {
  readonly opensAt: string;
  readonly closesAt: string;
}

/** One decided round as the log records it: the indicator, who proposed it, and the votes that decided it. */
export interface EntryBody {
  readonly kind: EntryKind;
  readonly indicator: Indicator;
  readonly proposerId: string;
  /** ADD: signature of kind `proposal` over the canonical indicator; REVOKE: of kind `revocation` over {@link revocationPayload}. */
  readonly proposalSignature: string;
  readonly window: EntryWindow;
  /** The quorum certificate: valid votes on {@link voteSubject}, sorted by partner id. */
  readonly votes: readonly Vote[];
}

/** An entry at its position in the log. */
export interface IndexedEntry extends EntryBody {
  readonly index: number;
}

/** The outcome of {@link parseIndicatorJson}. */
export type ParsedIndicator =
  | { readonly ok: true; readonly indicator: Indicator; readonly digest: string }
  | { readonly ok: false; readonly reason: 'malformed-indicator' | 'not-normalized' | 'not-canonical'; readonly message: string };

/**
 * Parses the wire form of an indicator: it must be exactly `{"type","value"}` in RFC 8785
 * canonical JSON, with a known type and a value that {@link normalize} leaves unchanged, so
 * every partner derives the same digest from the same bytes.
 */
export function parseIndicatorJson(json: string): ParsedIndicator {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { ok: false, reason: 'malformed-indicator', message: 'indicator JSON does not parse; send canonical JSON such as {"type":"domain","value":"evil.example"}' };
  }
  const shape = indicatorShape(parsed);
  if (typeof shape === 'string') return { ok: false, reason: 'malformed-indicator', message: shape };
  const norm = normalize(shape.type, shape.value);
  if (!norm.ok) return { ok: false, reason: 'not-normalized', message: `indicator value is not a valid ${shape.type}: ${norm.rejection.message}` };
  if (norm.indicator.value !== shape.value) {
    return { ok: false, reason: 'not-normalized', message: `indicator value ${JSON.stringify(shape.value)} is not normalized; propose ${JSON.stringify(norm.indicator.value)}` };
  }
  if (indicatorCanonicalJson(norm.indicator) !== json) {
    return { ok: false, reason: 'not-canonical', message: 'indicator JSON is not in RFC 8785 canonical form; serialize it with canonicalJson' };
  }
  return { ok: true, indicator: norm.indicator, digest: indicatorDigest(norm.indicator) };
}

function indicatorShape(parsed: unknown): { type: Indicator['type']; value: string } | string {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'indicator JSON must be an object {"type","value"}';
  const keys = Object.keys(parsed).sort();
  if (keys.length !== 2 || keys[0] !== 'type' || keys[1] !== 'value') return `indicator JSON must have exactly the members "type" and "value", got ${keys.map((k) => JSON.stringify(k)).join(', ')}`;
  const { type, value } = parsed as { type: unknown; value: unknown };
  if (typeof type !== 'string' || !isIndicatorType(type)) return `unknown indicator type ${JSON.stringify(type)}`;
  if (typeof value !== 'string') return 'indicator value must be a string';
  return { type, value };
}

/** The text a revocation request signs (kind `revocation`): canonical `{"digest","kind":"revoke"}`. */
export function revocationPayload(digest: string): string {
  return canonicalJson({ digest, kind: 'revoke' });
}

/**
 * What votes on a round sign as their `digest`: the indicator digest for ADD; for REVOKE the
 * SHA-256 of {@link revocationPayload}, so an approval to add can never count as a vote to revoke.
 */
export function voteSubject(kind: EntryKind, digest: string): string {
  return kind === 'add' ? digest : hash('sha256', revocationPayload(digest), 'hex');
}

/** The text the proposer signs for `kind`, and the signature kind it uses. */
export function proposalPayload(kind: EntryKind, indicator: Indicator): { readonly kind: 'proposal' | 'revocation'; readonly text: string } {
  return kind === 'add'
    ? { kind: 'proposal', text: indicatorCanonicalJson(indicator) }
    : { kind: 'revocation', text: revocationPayload(indicatorDigest(indicator)) };
}

/** Signs a proposal of `kind` for `indicator` with the proposer's key. */
export function signProposal(key: SigningKey, kind: EntryKind, indicator: Indicator): string {
  const p = proposalPayload(kind, indicator);
  return key.sign(p.kind, p.text);
}

/** True when `signature` is the proposer's valid signature of a `kind` proposal for `indicator`. Never throws. */
export function verifyProposal(key: PublicKey, kind: EntryKind, indicator: Indicator, signature: string): boolean {
  try {
    const p = proposalPayload(kind, indicator);
    return key.verify(p.kind, p.text, signature);
  } catch {
    return false;
  }
}

/**
 * The bytes an entry contributes as a Merkle leaf: RFC 8785 canonical JSON of every field of
 * the body (votes sorted by partner id, then signature). The index is not included: the
 * inclusion proof fixes the position.
 */
export function entryLeafData(entry: EntryBody): string {
  const votes = [...entry.votes].sort((a, b) => cmp(a.partnerId, b.partnerId) || cmp(a.signature, b.signature)).map(voteRecord);
  return canonicalJson({
    kind: entry.kind,
    indicator: { type: entry.indicator.type, value: entry.indicator.value },
    proposerId: entry.proposerId,
    proposalSignature: entry.proposalSignature,
    window: { opensAt: entry.window.opensAt, closesAt: entry.window.closesAt },
    votes,
  });
}

/** RFC 9162 leaf hash (hex) of {@link entryLeafData}. */
export function entryLeafHash(entry: EntryBody): string {
  return leafHash(entryLeafData(entry));
}

/** A vote as plain JSON data, `reason` only when present. */
export function voteRecord(v: Vote): Record<string, string> {
  const rec: Record<string, string> = { partnerId: v.partnerId, digest: v.digest, decision: v.decision, signedAt: v.signedAt, signature: v.signature };
  if (v.reason !== undefined) rec['reason'] = v.reason;
  return rec;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Log entries of the partner exchange, pure: what a proposal and a vote sign, the exact leaf
 * bytes an entry contributes to the Merkle log, and the parsing of an indicator and of its
 * signed metadata as they travel (RFC 8785 canonical JSON). Imports only the domain core.
 *
 * Metadata (TLP, confidence, labels, validity, source feed) is optional and bound by the
 * proposer's signature only: an ADD with meta signs canonical `{"indicator","meta"}`, one
 * without signs the canonical indicator exactly as before, and the leaf bytes carry `meta`
 * only when present, so entries without it keep the bytes (and stored logs the roots) they had.
 */
import { hash } from 'node:crypto';
import { canonicalJson, indicatorCanonicalJson, indicatorDigest, jsonDataProblem } from './canonical.ts';
import { isIndicatorType, isNormalizedAsLogged, normalize, type Indicator } from './indicator.ts';
import { leafHash } from './merkle.ts';
import type { Vote } from './quorum.ts';
import type { PublicKey, SigningKey } from './signature.ts';
import { stixPattern } from './stix.ts';
import { isIsoTimestamp } from './time.ts';

/**
 * How far before the sequencer's clock a round's window opens, so votes signed by partners whose
 * clocks run behind still fall inside it; a round therefore may open up to this long before the
 * proposal that started it was made.
 */
export const ROUND_SKEW_MS = 60_000;

/**
 * How long a round accepts votes unless the network configures another length: the default of
 * the sequencer's rounds and of the voting window a partner's cluster checks votes against.
 */
export const DEFAULT_VOTING_WINDOW_MS = 72 * 3_600_000;

/** What a round decides, and what a proposal asks: admit an indicator, or withdraw an admitted one. */
export type EntryKind = 'add' | 'revoke';

/**
 * What a log entry records: an admitted ADD round, an admitted REVOKE round, or a rejected ADD
 * round (`reject`: the proposal and the reject votes that made its quorum unreachable, as proof).
 * A REJECT admits nothing: it only makes the rejection verifiable at every partner
 * (docs/adr/2026-12-06-signed-rejections.md).
 */
export type LogEntryKind = EntryKind | 'reject';

/** Every {@link LogEntryKind}. */
export const LOG_ENTRY_KINDS: readonly LogEntryKind[] = ['add', 'revoke', 'reject'];

/**
 * The kind of round an entry of `kind` records: a REJECT records an ADD round (its proposal is an
 * ADD proposal, its votes sign the ADD subject); ADD and REVOKE record themselves.
 */
export function roundKindOf(kind: LogEntryKind): EntryKind {
  return kind === 'revoke' ? 'revoke' : 'add';
}

/** The voting window of one round, as ISO 8601 timestamps. */
export interface EntryWindow {
  readonly opensAt: string;
  readonly closesAt: string;
}

/** TLP 2.0 markings, least to most restrictive (the ThreatIndicator CRD's TLP_ENUM; a unit test keeps them equal). */
export const META_TLP = ['clear', 'green', 'amber', 'amber+strict', 'red'] as const;

/** A TLP 2.0 marking. */
export type MetaTlp = (typeof META_TLP)[number];

/**
 * What the proposer asserts about an indicator besides its identity; every member optional,
 * at least one present. Validated by {@link validateMeta}; signed with the proposal.
 */
export interface IndicatorMeta {
  readonly tlp?: MetaTlp;
  /** Integer 0..100. */
  readonly confidence?: number;
  /** Distinct non-empty strings; at most {@link META_LIMITS}.labels of at most labelLength characters. */
  readonly labels?: readonly string[];
  /** RFC 3339 timestamp with a zone. */
  readonly validFrom?: string;
  /** RFC 3339 timestamp with a zone, after validFrom when both are given. */
  readonly validUntil?: string;
  /** The feed the indicator came from (for example namespace/name of a Feed). */
  readonly source?: string;
}

/** Bounds of {@link IndicatorMeta}: those of the ThreatIndicator CRD, and of its wire form in bytes. */
export const META_LIMITS = { labels: 32, labelLength: 64, sourceLength: 253, timestampLength: 64, jsonBytes: 4096 } as const;

const META_FIELDS: readonly string[] = ['confidence', 'labels', 'source', 'tlp', 'validFrom', 'validUntil'];

/** One decided round as the log records it: the indicator, who proposed it, and the votes that decided it. */
export interface EntryBody {
  readonly kind: LogEntryKind;
  readonly indicator: Indicator;
  /** ADD and REJECT only: the metadata the proposer signed with the indicator; absent when it signed the indicator alone. */
  readonly meta?: IndicatorMeta;
  readonly proposerId: string;
  /** ADD and REJECT: signature of kind `proposal` over {@link proposalPayload} (the canonical indicator, or `{indicator, meta}`); REVOKE: of kind `revocation` over {@link revocationPayload}. */
  readonly proposalSignature: string;
  /** Protocol version 2, an ADD or REJECT whose proposal was signed in a batch (proposalbatch.ts): its proof; `proposalSignature` is then of kind `proposal-batch`. @default none */
  readonly proposalBatch?: string;
  readonly window: EntryWindow;
  /** The quorum certificate: valid votes on {@link voteSubject} of the round's kind ({@link roundKindOf}); a REJECT's are reject votes only. */
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
 * every partner derives the same digest from the same bytes. With `logged` (an entry already in
 * the log), a value normalized by the rules it was logged under is kept as it is (ADR
 * normalization addendum: URL hosts with a trailing dot).
 */
export function parseIndicatorJson(json: string, opts: { readonly logged?: boolean } = {}): ParsedIndicator {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { ok: false, reason: 'malformed-indicator', message: 'indicator JSON does not parse; send canonical JSON such as {"type":"domain","value":"evil.example"}' };
  }
  const shape = indicatorShape(parsed);
  if (typeof shape === 'string') return { ok: false, reason: 'malformed-indicator', message: shape };
  const norm = normalize(shape.type, shape.value);
  if (opts.logged === true && isNormalizedAsLogged(shape.type, shape.value)) return canonicalParsed({ type: shape.type, value: shape.value }, json);
  if (!norm.ok) return { ok: false, reason: 'not-normalized', message: `indicator value is not a valid ${shape.type}: ${norm.rejection.message}` };
  if (norm.indicator.value !== shape.value) {
    return { ok: false, reason: 'not-normalized', message: `indicator value ${JSON.stringify(shape.value)} is not normalized; propose ${JSON.stringify(norm.indicator.value)}` };
  }
  return canonicalParsed(norm.indicator, json);
}

function canonicalParsed(indicator: Indicator, json: string): ParsedIndicator {
  if (indicatorCanonicalJson(indicator) !== json) {
    return { ok: false, reason: 'not-canonical', message: 'indicator JSON is not in RFC 8785 canonical form; serialize it with canonicalJson' };
  }
  return { ok: true, indicator, digest: indicatorDigest(indicator) };
}

function indicatorShape(parsed: unknown): { type: Indicator['type']; value: string } | string {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'indicator JSON must be an object {"type","value"}';
  const keys = Object.keys(parsed).sort();
  if (keys.length !== 2 || keys[0] !== 'type' || keys[1] !== 'value') return `indicator JSON must have exactly the members "type" and "value", got ${keys.map((k) => JSON.stringify(k)).join(', ')}`;
  const { type, value } = parsed as { type: unknown; value: unknown };
  if (typeof type !== 'string' || !isIndicatorType(type)) return `unknown indicator type ${JSON.stringify(type)}`;
  if (typeof value !== 'string') return 'indicator value must be a string';
  if (!value.isWellFormed()) return 'indicator value contains a lone UTF-16 surrogate (\\uD800-\\uDFFF not in a pair); send well-formed Unicode';
  return { type, value };
}

/** The outcome of {@link parseMetaJson}: the metadata (undefined for the empty string), or why it is refused. */
export type ParsedMeta =
  | { readonly ok: true; readonly meta: IndicatorMeta | undefined }
  | { readonly ok: false; readonly reason: 'invalid-meta'; readonly message: string };

/**
 * Parses the wire form of metadata: the empty string means none; anything else must be
 * RFC 8785 canonical JSON of at most {@link META_LIMITS}.jsonBytes bytes that
 * {@link validateMeta} accepts, so every party signs and hashes the same bytes.
 */
export function parseMetaJson(json: string): ParsedMeta {
  if (json === '') return { ok: true, meta: undefined };
  const refuse = (message: string): ParsedMeta => ({ ok: false, reason: 'invalid-meta', message });
  if (Buffer.byteLength(json, 'utf8') > META_LIMITS.jsonBytes) return refuse(`meta JSON is longer than ${META_LIMITS.jsonBytes} bytes; send fewer or shorter labels`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return refuse('meta JSON does not parse; send canonical JSON such as {"confidence":80,"tlp":"amber"}');
  }
  const meta = validateMeta(parsed);
  if (typeof meta === 'string') return refuse(meta);
  const unrepresentable = jsonDataProblem(meta);
  if (unrepresentable !== undefined) return refuse(`meta cannot be canonical JSON: ${unrepresentable}`);
  if (canonicalJson(meta) !== json) return refuse('meta JSON is not in RFC 8785 canonical form; serialize it with canonicalJson');
  return { ok: true, meta };
}

/**
 * Checks metadata strictly: an object with at least one of tlp, confidence, labels, validFrom,
 * validUntil, source and nothing else, each within {@link META_LIMITS}. Returns a copy holding
 * exactly those members, or a message saying what is wrong and how to fix it.
 */
export function validateMeta(value: unknown): IndicatorMeta | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'meta must be an object such as {"confidence":80,"tlp":"amber"}';
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !META_FIELDS.includes(k));
  if (unknown.length > 0) return `meta has unknown member(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${META_FIELDS.join(', ')}`;
  if (Object.keys(o).length === 0) return 'meta has no members; send no meta instead of an empty object';
  const out: { -readonly [K in keyof IndicatorMeta]: IndicatorMeta[K] } = {};
  const problems = [metaTlp(o, out), metaConfidence(o, out), metaLabels(o, out), metaTimes(o, out), metaSource(o, out)].filter((p) => p !== undefined);
  return problems.length > 0 ? problems.join('; ') : out;
}

/** The metadata as its wire string: canonical JSON, or the empty string when there is none. */
export function metaJson(meta: IndicatorMeta | undefined): string {
  return meta === undefined ? '' : canonicalJson(metaRecord(meta));
}

type MetaDraft = { -readonly [K in keyof IndicatorMeta]: IndicatorMeta[K] };

// Canonical JSON (RFC 8785) has no representation for a lone surrogate: refuse it with a reason instead of throwing later.
const LONE_SURROGATE = 'contains a lone UTF-16 surrogate (\\uD800-\\uDFFF not in a pair), which has no UTF-8 or canonical JSON form; send well-formed Unicode';

function metaTlp(o: Record<string, unknown>, out: MetaDraft): string | undefined {
  if (o.tlp === undefined) return undefined;
  if (typeof o.tlp !== 'string' || !(META_TLP as readonly string[]).includes(o.tlp)) return `meta.tlp must be one of ${META_TLP.join(', ')}, got ${JSON.stringify(o.tlp)}`;
  out.tlp = o.tlp as MetaTlp;
  return undefined;
}

function metaConfidence(o: Record<string, unknown>, out: MetaDraft): string | undefined {
  if (o.confidence === undefined) return undefined;
  if (typeof o.confidence !== 'number' || !Number.isInteger(o.confidence) || o.confidence < 0 || o.confidence > 100) return `meta.confidence must be an integer from 0 to 100, got ${JSON.stringify(o.confidence)}`;
  out.confidence = o.confidence;
  return undefined;
}

function metaLabels(o: Record<string, unknown>, out: MetaDraft): string | undefined {
  if (o.labels === undefined) return undefined;
  const { labels: max, labelLength } = META_LIMITS;
  if (!Array.isArray(o.labels) || o.labels.length === 0 || o.labels.length > max) return `meta.labels must be a list of 1 to ${max} strings`;
  const list: unknown[] = o.labels;
  const bad = list.findIndex((l) => typeof l !== 'string' || l === '' || l.length > labelLength);
  if (bad >= 0) return `meta.labels[${bad}] must be a non-empty string of at most ${labelLength} characters, got ${JSON.stringify(list[bad])}`;
  const lone = list.findIndex((l) => !(l as string).isWellFormed());
  if (lone >= 0) return `meta.labels[${lone}] ${LONE_SURROGATE}`;
  if (new Set(list).size !== list.length) return 'meta.labels must not repeat a label';
  out.labels = list as string[];
  return undefined;
}

function metaTimes(o: Record<string, unknown>, out: MetaDraft): string | undefined {
  for (const k of ['validFrom', 'validUntil'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (!isIsoTimestamp(v) || v.length > META_LIMITS.timestampLength) return `meta.${k} must be an RFC 3339 timestamp with a zone such as 2026-11-25T12:00:00Z, got ${JSON.stringify(v)}`;
    out[k] = v;
  }
  if (out.validFrom !== undefined && out.validUntil !== undefined && Date.parse(out.validUntil) <= Date.parse(out.validFrom)) return 'meta.validUntil must be after meta.validFrom';
  return undefined;
}

function metaSource(o: Record<string, unknown>, out: MetaDraft): string | undefined {
  if (o.source === undefined) return undefined;
  if (typeof o.source !== 'string' || o.source === '' || o.source.length > META_LIMITS.sourceLength) return `meta.source must be a non-empty string of at most ${META_LIMITS.sourceLength} characters (the feed name), got ${JSON.stringify(o.source)}`;
  if (!o.source.isWellFormed()) return `meta.source ${LONE_SURROGATE}`;
  out.source = o.source;
  return undefined;
}

// Exactly the known members, so bytes never depend on extra properties an object happens to carry.
function metaRecord(meta: IndicatorMeta): Record<string, unknown> {
  const rec: Record<string, unknown> = {};
  for (const k of META_FIELDS) {
    const v = (meta as Record<string, unknown>)[k];
    if (v !== undefined) rec[k] = Array.isArray(v) ? [...(v as string[])] : v;
  }
  return rec;
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

/**
 * The bounds every party enforces where data enters the exchange (a proposal, a vote). They are
 * the ThreatIndicator CRD's own bounds (api/schemas/threatindicator.ts uses these constants), so
 * an entry the log accepts can always be written as a ThreatIndicator at every partner.
 */
export const ENTRY_LIMITS = { value: 4096, pattern: 4096, reason: 1024 } as const;

/** Why `indicator` cannot enter the log (its value or STIX pattern is longer than a ThreatIndicator may hold), or undefined. */
export function indicatorLimitProblem(indicator: Indicator): string | undefined {
  if (indicator.value.length > ENTRY_LIMITS.value) return `the value has ${indicator.value.length} characters, more than the ${ENTRY_LIMITS.value} a ThreatIndicator holds`;
  const pattern = stixPattern(indicator);
  if (pattern.length > ENTRY_LIMITS.pattern) return `its STIX pattern has ${pattern.length} characters, more than the ${ENTRY_LIMITS.pattern} a ThreatIndicator holds`;
  return undefined;
}

/** Why `vote` cannot enter the log (its reason is longer than a ThreatIndicator may hold), or undefined. */
export function voteLimitProblem(vote: Pick<Vote, 'reason'>): string | undefined {
  if (vote.reason !== undefined && vote.reason.length > ENTRY_LIMITS.reason) return `the vote reason has ${vote.reason.length} characters, more than the ${ENTRY_LIMITS.reason} a ThreatIndicator holds; link a ticket instead`;
  return undefined;
}

/** The subject a voter signs for a round of `kind` on `indicator`, derived from the indicator itself (never taken from the sequencer). */
export function roundSubject(kind: EntryKind, indicator: Indicator): string {
  return voteSubject(kind, indicatorDigest(indicator));
}

/**
 * The text the proposer signs for `kind`, and the signature kind it uses. ADD without `meta`:
 * the canonical indicator (unchanged since version 1); ADD with `meta`: canonical
 * `{"indicator":{type,value},"meta":{...}}`, which can never equal a bare indicator (other
 * members). REVOKE signs {@link revocationPayload} and carries no metadata: throws when given some.
 */
export function proposalPayload(kind: EntryKind, indicator: Indicator, meta?: IndicatorMeta): { readonly kind: 'proposal' | 'revocation'; readonly text: string } {
  if (kind === 'revoke') {
    if (meta !== undefined) throw new TypeError('a revocation carries no metadata; send meta only with ADD proposals');
    return { kind: 'revocation', text: revocationPayload(indicatorDigest(indicator)) };
  }
  if (meta === undefined) return { kind: 'proposal', text: indicatorCanonicalJson(indicator) };
  return { kind: 'proposal', text: canonicalJson({ indicator: { type: indicator.type, value: indicator.value }, meta: metaRecord(meta) }) };
}

/** Signs a proposal of `kind` for `indicator` (and, for ADD, its `meta`) with the proposer's key. */
export function signProposal(key: SigningKey, kind: EntryKind, indicator: Indicator, meta?: IndicatorMeta): string {
  const p = proposalPayload(kind, indicator, meta);
  return key.sign(p.kind, p.text);
}

/**
 * True when `signature` is the proposer's valid signature of a `kind` proposal for `indicator`
 * with exactly `meta` (none: the indicator alone). Never throws.
 */
export function verifyProposal(key: PublicKey, kind: EntryKind, indicator: Indicator, signature: string, meta?: IndicatorMeta): boolean {
  try {
    const p = proposalPayload(kind, indicator, meta);
    return key.verify(p.kind, p.text, signature);
  } catch {
    return false;
  }
}

/**
 * The bytes an entry contributes as a Merkle leaf: RFC 8785 canonical JSON of every field of
 * the body (votes sorted by partner id, then signature; `meta` only when present, so an entry
 * without it has the bytes it had before metadata existed). An entry holding a batch vote or a
 * batch proposal (protocol version 2) also carries `"v":2` (and `proposalBatch` when its
 * proposal was batched); every other entry keeps its version-1 bytes. The index is not
 * included: the inclusion proof fixes the position.
 */
export function entryLeafData(entry: EntryBody): string {
  // Votes of one batch share a signature: subject and decision break the tie, so the bytes never depend on arrival order.
  const votes = [...entry.votes].sort((a, b) => cmp(a.partnerId, b.partnerId) || cmp(a.signature, b.signature) || cmp(a.digest, b.digest) || cmp(a.decision, b.decision)).map(voteRecord);
  return canonicalJson({
    ...(isVersion2(entry) ? { v: 2 } : {}),
    kind: entry.kind,
    indicator: { type: entry.indicator.type, value: entry.indicator.value },
    ...(entry.meta !== undefined ? { meta: metaRecord(entry.meta) } : {}),
    proposerId: entry.proposerId,
    proposalSignature: entry.proposalSignature,
    ...(entry.proposalBatch !== undefined ? { proposalBatch: entry.proposalBatch } : {}),
    window: { opensAt: entry.window.opensAt, closesAt: entry.window.closesAt },
    votes,
  });
}

/**
 * The earliest time (ms) a vote of a new ADD round of an indicator may be signed after the
 * `revocation` entry that revoked it: after every vote of the revocation and after its window
 * opened, so every vote of the earlier admission (all signed before those) falls outside the new
 * round. The sequencer opens re-admission rounds at this floor; partners refuse a later ADD
 * entry whose window opens before it. The same floor follows a REJECT entry (the rejected round's
 * reject votes can then never prove a second REJECT, nor sit in a later certificate).
 */
export function readmissionFloor(revocation: Pick<EntryBody, 'window' | 'votes'>): number {
  const times = [revocation.window.opensAt, ...revocation.votes.map((v) => v.signedAt)].map((t) => Date.parse(t)).filter((t) => Number.isFinite(t));
  return Math.max(...times) + 1;
}

/** RFC 9162 leaf hash (hex) of {@link entryLeafData}. */
export function entryLeafHash(entry: EntryBody): string {
  return leafHash(entryLeafData(entry));
}

/** A vote as plain JSON data, `reason` and `batch` only when present. */
export function voteRecord(v: Vote): Record<string, string> {
  const rec: Record<string, string> = { partnerId: v.partnerId, digest: v.digest, decision: v.decision, signedAt: v.signedAt, signature: v.signature };
  if (v.reason !== undefined) rec['reason'] = v.reason;
  if (v.batch !== undefined) rec['batch'] = v.batch;
  return rec;
}

/** True when the entry is of protocol version 2: its proposal is a batch proposal (proposalbatch.ts), or one of its votes a batch vote (votebatch.ts). */
export function isVersion2(entry: Pick<EntryBody, 'votes' | 'proposalBatch'>): boolean {
  return entry.proposalBatch !== undefined || entry.votes.some((v) => v.batch !== undefined);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Reads one document of the partner's `indicators` collection (store/indicators.ts
 * IndicatorRecord) without trusting its shape: the collection is the enforcement input, and a
 * document that is not exactly what the replica writes is refused with a reason instead of being
 * enforced or crashing the controller. The value must be canonical for its type and hash to the
 * record's digest, so a record edited in place (say, a value widened to 0.0.0.0/0) is refused.
 */
import { indicatorDigest } from '../domain/canonical.ts';
import { isIndicatorType, normalize, type IndicatorType } from '../domain/indicator.ts';
import { TLP_ENUM } from '../api/schemas/threatindicator.ts';
import type { Tlp } from '../api/types.ts';

/** A record that passed every shape check. */
export interface ParsedRecord {
  readonly digest: string;
  readonly type: IndicatorType;
  readonly value: string;
  readonly state: 'active' | 'revoked';
  readonly logIndex: number;
  /** The highest log index this record reflects (its admission or its revocation). */
  readonly highWater: number;
  readonly tlp: Tlp;
  /** 0 when the proposer gave none. */
  readonly confidence: number;
  readonly labels: readonly string[];
  /** Epoch ms, or undefined when unbounded. */
  readonly validFrom: number | undefined;
  readonly validUntil: number | undefined;
  /**
   * When the network admitted it (epoch ms): the close of its voting round (`window.closesAt`),
   * or undefined for a record stored without its window. Confidence decay counts from it.
   */
  readonly admittedAt: number | undefined;
}

/** The outcome of reading one document. */
export type RecordParse = { readonly ok: true; readonly record: ParsedRecord } | { readonly ok: false; readonly digest: string | undefined; readonly why: string };

const DIGEST = /^[0-9a-f]{64}$/;
/** Longest value a record may carry (domain/indicator.ts MAX_INPUT_LENGTH). */
const MAX_VALUE = 8192;

type Doc = Record<string, unknown>;

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function timeOf(v: unknown, field: string): number | undefined | string {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(ms) ? `meta.${field} is not an RFC 3339 time` : ms;
}

interface MetaParts {
  readonly tlp: Tlp;
  readonly confidence: number;
  readonly labels: readonly string[];
  readonly validFrom: number | undefined;
  readonly validUntil: number | undefined;
}

function labelsOf(v: unknown): readonly string[] | string {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((l) => typeof l !== 'string')) return 'meta.labels is not a list of strings';
  return v as string[];
}

function metaOf(raw: unknown): MetaParts | string {
  if (raw === undefined || raw === null) return { tlp: 'clear', confidence: 0, labels: [], validFrom: undefined, validUntil: undefined };
  if (typeof raw !== 'object' || Array.isArray(raw)) return 'meta is not an object';
  const m = raw as Doc;
  const tlp = m['tlp'] ?? 'clear';
  if (typeof tlp !== 'string' || !(TLP_ENUM as readonly string[]).includes(tlp)) return `meta.tlp ${JSON.stringify(tlp)} is not a TLP marking`;
  const confidence = m['confidence'] ?? 0;
  if (!Number.isInteger(confidence) || (confidence as number) < 0 || (confidence as number) > 100) return 'meta.confidence is not an integer 0-100';
  const labels = labelsOf(m['labels']);
  if (typeof labels === 'string') return labels;
  const validFrom = timeOf(m['validFrom'], 'validFrom');
  const validUntil = timeOf(m['validUntil'], 'validUntil');
  if (typeof validFrom === 'string') return validFrom;
  if (typeof validUntil === 'string') return validUntil;
  return { tlp: tlp as Tlp, confidence: confidence as number, labels, validFrom, validUntil };
}

function identityOf(d: Doc): { type: IndicatorType; value: string; digest: string } | string {
  const { digest, type, value } = d;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) return 'digest is not 64 lower-case hex digits';
  if (typeof type !== 'string' || !isIndicatorType(type)) return `type ${JSON.stringify(type)} is not an indicator type`;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_VALUE) return 'value is not a non-empty string of at most 8192 characters';
  const norm = normalize(type, value);
  if (!norm.ok) return `value is not a valid ${type}: ${norm.rejection.message}`;
  if (norm.indicator.value !== value) return `value is not canonical (canonical form: ${norm.indicator.value.slice(0, 100)})`;
  if (indicatorDigest(norm.indicator) !== digest) return 'digest does not match type and value: the record was altered';
  return { type, value, digest };
}

function stateOf(d: Doc): { state: 'active' | 'revoked'; logIndex: number; highWater: number } | string {
  const { state, logIndex, revokedAtIndex } = d;
  if (state !== 'active' && state !== 'revoked') return `state ${JSON.stringify(state)} is neither active nor revoked`;
  if (!isIndex(logIndex)) return 'logIndex is not a non-negative integer';
  if (revokedAtIndex !== undefined && revokedAtIndex !== null && !isIndex(revokedAtIndex)) return 'revokedAtIndex is not a non-negative integer';
  if (state === 'revoked' && !isIndex(revokedAtIndex)) return 'a revoked record has no revokedAtIndex';
  return { state, logIndex, highWater: Math.max(logIndex, isIndex(revokedAtIndex) ? revokedAtIndex : -1) };
}

// A window that is absent or unreadable only means no admission time: decay then counts from validFrom (select.ts).
function admittedAtOf(window: unknown): number | undefined {
  if (typeof window !== 'object' || window === null) return undefined;
  const closes = (window as Doc)['closesAt'];
  const ms = typeof closes === 'string' ? Date.parse(closes) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** Reads one stored document; never throws. */
export function parseRecord(doc: unknown): RecordParse {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, digest: undefined, why: 'not a document' };
  const d = doc as Doc;
  const shownDigest = typeof d['digest'] === 'string' ? d['digest'].slice(0, 64) : undefined;
  const id = identityOf(d);
  if (typeof id === 'string') return { ok: false, digest: shownDigest, why: id };
  const st = stateOf(d);
  if (typeof st === 'string') return { ok: false, digest: shownDigest, why: st };
  const meta = metaOf(d['meta']);
  if (typeof meta === 'string') return { ok: false, digest: shownDigest, why: meta };
  return { ok: true, record: { ...id, ...st, ...meta, admittedAt: admittedAtOf(d['window']) } };
}

/** The high-water index of a document whose shape may be wrong (so a malformed record still advances the poll). */
export function highWaterOf(doc: unknown): number {
  if (typeof doc !== 'object' || doc === null) return -1;
  const d = doc as Doc;
  return Math.max(isIndex(d['logIndex']) ? d['logIndex'] : -1, isIndex(d['revokedAtIndex']) ? d['revokedAtIndex'] : -1);
}

/**
 * How a replicated record stores its quorum certificate (the admission's votes, the proposer's
 * signature and, in protocol v2, the batch proposal's proof): as one canonical-JSON text in the
 * field `cert`, not as nested documents. FerretDB turns every nested field into annotated JSONB
 * on every insert; the certificate was about 70 % of what a record cost it
 * (docs/adr/2026-12-07-certificate-text.md). Records stored before hold `votes`,
 * `proposalSignature` and `proposalBatch` as fields and are read as they are.
 *
 * Every reader of `indicators` that needs the certificate reads records through
 * {@link readRecord}, which gives the same {@link IndicatorRecord} shape for both spellings and
 * refuses a text that is not a certificate ({@link CorruptRecordError}). The text is data only:
 * what it says is verified where it always was (the replica verified the entry before storing it;
 * the admission webhook and any consumer verify the signatures they are shown).
 */
import { canonicalJson } from '../domain/canonical.ts';
import type { IndicatorRecord } from './indicators.ts';

/** A record as stored in `indicators`: the certificate either as `cert` (written now) or as fields (written before). */
export type StoredIndicatorRecord = Omit<IndicatorRecord, 'votes'> & {
  /** Protocol-independent certificate text (this file); absent in records stored before it. */
  cert?: string;
  /** Records stored before `cert`: the votes as documents. */
  votes?: Array<Record<string, string>>;
};

/** The certificate fields {@link certificateText} keeps. */
export type RecordCertificate = Pick<IndicatorRecord, 'votes' | 'proposalSignature' | 'proposalBatch'>;

/** Thrown when a stored record's certificate cannot be read: the database was changed outside the replica. */
export class CorruptRecordError extends Error {
  /** The record's digest. */
  readonly digest: string;
  constructor(digest: string, why: string) {
    super(`the replicated record ${digest} holds a certificate that is not one (${why}); the database was changed outside the replica: rebuild it from the log (threatmesh replica rebuild, with the operator stopped)`);
    this.name = 'CorruptRecordError';
    this.digest = digest;
  }
}

const VOTE_KEYS = new Set(['batch', 'decision', 'digest', 'partnerId', 'reason', 'signature', 'signedAt']);
const REQUIRED_VOTE_KEYS = ['decision', 'digest', 'partnerId', 'signature', 'signedAt'] as const;
const CERT_KEYS = new Set(['proposalBatch', 'proposalSignature', 'votes']);

/**
 * The certificate as one canonical-JSON text (RFC 8785, domain/canonical.ts): equal
 * certificates give equal text, so equal logs still give byte-identical databases.
 */
export function certificateText(c: RecordCertificate): string {
  return canonicalJson({ proposalBatch: c.proposalBatch, proposalSignature: c.proposalSignature, votes: c.votes });
}

/** The stored form of a record: the certificate fields replaced by their text. */
export function storedRecord(r: IndicatorRecord): StoredIndicatorRecord {
  const { votes, proposalSignature, proposalBatch, ...rest } = r;
  return { ...rest, cert: certificateText({ votes, proposalSignature, proposalBatch }) };
}

/**
 * A stored record as readers see it: a `cert` text is parsed back into `votes`,
 * `proposalSignature` and `proposalBatch`; a record stored before is returned as it is (a record
 * read with a projection that leaves the certificate out keeps it out). Throws
 * {@link CorruptRecordError} when `cert` is not a certificate, or sits beside certificate fields.
 */
export function readRecord(doc: StoredIndicatorRecord): IndicatorRecord {
  const { cert, ...rest } = doc;
  if (cert === undefined) return doc as IndicatorRecord;
  const digest = String(doc.digest ?? doc._id);
  if (doc.votes !== undefined || doc.proposalSignature !== undefined || doc.proposalBatch !== undefined) throw new CorruptRecordError(digest, 'both a certificate text and certificate fields');
  return { ...rest, ...parseCertificate(digest, cert) };
}

function parseCertificate(digest: string, cert: unknown): RecordCertificate {
  if (typeof cert !== 'string') throw new CorruptRecordError(digest, `cert is a ${typeof cert}, not a text`);
  let value: unknown;
  try {
    value = JSON.parse(cert);
  } catch (err) {
    throw new CorruptRecordError(digest, `cert is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new CorruptRecordError(digest, 'cert is not a JSON object');
  const extra = Object.keys(value).find((k) => !CERT_KEYS.has(k));
  if (extra !== undefined) throw new CorruptRecordError(digest, `cert has an unknown field ${JSON.stringify(extra)}`);
  const { votes, proposalSignature, proposalBatch } = value;
  if (!Array.isArray(votes)) throw new CorruptRecordError(digest, 'cert has no votes list');
  for (const [i, v] of votes.entries()) {
    const problem = voteProblem(v);
    if (problem !== undefined) throw new CorruptRecordError(digest, `vote ${i} ${problem}`);
  }
  for (const [name, s] of [['proposalSignature', proposalSignature], ['proposalBatch', proposalBatch]] as const) {
    if (s !== undefined && typeof s !== 'string') throw new CorruptRecordError(digest, `${name} is not a text`);
  }
  return { votes: votes as Array<Record<string, string>>, ...(proposalSignature !== undefined ? { proposalSignature: proposalSignature as string } : {}), ...(proposalBatch !== undefined ? { proposalBatch: proposalBatch as string } : {}) };
}

function voteProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'is not an object';
  for (const [k, s] of Object.entries(v)) {
    if (!VOTE_KEYS.has(k)) return `has an unknown field ${JSON.stringify(k)}`;
    if (typeof s !== 'string') return `field ${k} is not a text`;
  }
  const missing = REQUIRED_VOTE_KEYS.find((k) => v[k] === undefined);
  return missing === undefined ? undefined : `has no ${missing}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

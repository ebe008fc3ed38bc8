/**
 * Signed sighting reports on the wire (pure): what a partner or an edge site sends to a partner's
 * HTTPS server, and the checks the receiver runs before it stores anything. The envelope is
 * `{version: 1, report, signature}`: `report` is match/report.ts's SightingReport, `signature` the
 * sender's Ed25519 signature (kind `sighting-report`) over its RFC 8785 bytes. The receiver
 * accepts a report only when every sighting is exactly what buildReport makes (deterministic ids,
 * the sender's own identity, hour buckets, sane counts and times) and no field carries anything
 * else: what leaves a site is digests, counts and time buckets, never a log line or a host.
 */
import type { PublicKey, SigningKey } from '../domain/signature.ts';
import { buildReport, indicatorIdOfDigest, partnerIdentityId, reportPayload, toStixSighting, type SightingFacts, type SightingReport } from './report.ts';
import { BUCKET_MS } from './tally.ts';

/** A signed report as sent. */
export interface SignedSightingReport {
  readonly version: 1;
  readonly report: SightingReport;
  /** Base64 Ed25519 signature of kind `sighting-report` over reportPayload(report). */
  readonly signature: string;
}

/** Limits the receiver enforces. */
export const SHARING_LIMITS = {
  /** Sightings in one report. */
  maxSightings: 10_000,
  /** Records counted in one bucket. */
  maxCount: 1_000_000_000,
  /** How far in the future a bucket or createdAt may lie (clock skew). */
  skewMs: 10 * 60_000,
  /** How old a bucket may be. */
  maxAgeMs: 400 * 24 * 3_600_000,
} as const;

/** Why a report was refused. */
export type SharingRefusal = 'malformed' | 'sender-mismatch' | 'bad-signature' | 'too-large' | 'inconsistent' | 'out-of-range';

/** The outcome of {@link verifySightingReport}. */
export type VerifiedReport =
  | { readonly ok: true; readonly report: SightingReport; readonly sightings: readonly SightingFacts[] }
  | { readonly ok: false; readonly reason: SharingRefusal; readonly message: string };

/** Builds and signs a report of `sightings` made by `senderId`. */
export function signSightingReport(senderId: string, sightings: readonly SightingFacts[], key: SigningKey, now: Date): SignedSightingReport {
  const report = buildReport(senderId, sightings, now);
  return { version: 1, report, signature: key.sign('sighting-report', reportPayload(report)) };
}

const SIGHTING_KEYS = ['type', 'spec_version', 'id', 'created', 'modified', 'created_by_ref', 'sighting_of_ref', 'where_sighted_refs', 'count', 'first_seen', 'last_seen', 'x_threatmesh_digest', 'x_threatmesh_bucket'].sort().join(',');

function refuse(reason: SharingRefusal, message: string): VerifiedReport {
  return { ok: false, reason, message };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function time(v: unknown): number {
  return typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/.test(v) ? Date.parse(v) : NaN;
}

// The facts of one sighting, or why they are not sane.
function factsOf(s: Record<string, unknown>, now: number): SightingFacts | string {
  const digest = s['x_threatmesh_digest'];
  const count = s['count'];
  const [bucket, first, last] = [time(s['x_threatmesh_bucket']), time(s['first_seen']), time(s['last_seen'])];
  if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest)) return 'x_threatmesh_digest must be a hex SHA-256';
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > SHARING_LIMITS.maxCount) return `count must be a whole number from 1 to ${SHARING_LIMITS.maxCount}`;
  if (!Number.isFinite(bucket) || bucket % BUCKET_MS !== 0) return 'x_threatmesh_bucket must be the start of an hour (RFC 3339, UTC)';
  if (!(bucket <= first && first <= last && last < bucket + BUCKET_MS)) return 'first_seen and last_seen must lie in order inside their hour bucket';
  if (bucket > now + SHARING_LIMITS.skewMs || bucket < now - SHARING_LIMITS.maxAgeMs) return 'the bucket lies in the future or more than 400 days back';
  return { digest, bucketStart: new Date(bucket), count, firstSeen: new Date(first), lastSeen: new Date(last) };
}

// One sighting: rebuilt from its own facts, it must come out identical (ids, refs, times).
function checkSighting(s: unknown, senderId: string, created: Date, now: number): SightingFacts | string {
  if (!isObject(s) || Object.keys(s).sort().join(',') !== SIGHTING_KEYS) return 'a sighting has missing or extra fields (only digests, counts and time buckets may be shared)';
  const facts = factsOf(s, now);
  if (typeof facts === 'string') return facts;
  const want = toStixSighting(senderId, facts, created);
  for (const k of ['id', 'created_by_ref', 'sighting_of_ref', 'created', 'modified', 'first_seen', 'last_seen', 'x_threatmesh_bucket', 'type', 'spec_version'] as const) {
    if (s[k] !== want[k]) return `${k} is not what the sender's own identity and the sighting's facts give`;
  }
  const where = s['where_sighted_refs'];
  if (!Array.isArray(where) || where.length !== 1 || where[0] !== partnerIdentityId(senderId)) return 'where_sighted_refs must name the sender only';
  if (s['sighting_of_ref'] !== indicatorIdOfDigest(facts.digest)) return 'sighting_of_ref does not match the digest';
  return facts;
}

/**
 * Checks a received envelope from the authenticated `sender` (its name and the public key its
 * configuration pins) at `now`: the shape, that the report is made under the sender's own name,
 * the signature, the limits, and each sighting. Nothing of a refused report is to be stored.
 */
export function verifySightingReport(body: unknown, sender: { readonly id: string; readonly key: PublicKey }, now: Date): VerifiedReport {
  if (!isObject(body) || body['version'] !== 1 || typeof body['signature'] !== 'string' || !isObject(body['report'])) return refuse('malformed', 'the body must be {"version":1,"report":{…},"signature":"<base64>"}');
  const report = body['report'];
  if (report['version'] !== 1 || typeof report['partnerId'] !== 'string' || !Array.isArray(report['sightings']) || Number.isNaN(time(report['createdAt']))) return refuse('malformed', 'report must be {"version":1,"partnerId","createdAt","sightings":[…]}');
  if (report['partnerId'] !== sender.id) return refuse('sender-mismatch', `the report is made under ${JSON.stringify(report['partnerId'])}, but you authenticated as ${sender.id}; send only your own sightings`);
  const typed = report as unknown as SightingReport;
  if (!sender.key.verify('sighting-report', reportPayload(typed), body['signature'])) return refuse('bad-signature', `the signature does not verify with ${sender.id}'s sighting key`);
  const sightings = report['sightings'] as unknown[];
  if (sightings.length > SHARING_LIMITS.maxSightings) return refuse('too-large', `at most ${SHARING_LIMITS.maxSightings} sightings per report; send several reports`);
  const created = new Date(time(report['createdAt']));
  if (created.getTime() > now.getTime() + SHARING_LIMITS.skewMs) return refuse('out-of-range', 'createdAt lies in the future; check the sender\'s clock');
  const out: SightingFacts[] = [];
  for (const [i, s] of sightings.entries()) {
    const r = checkSighting(s, sender.id, created, now.getTime());
    if (typeof r === 'string') return refuse('inconsistent', `sightings[${i}]: ${r}`);
    out.push(r);
  }
  return { ok: true, report: typed, sightings: out };
}

/**
 * Sighting reports (pure): what a partner will share with the network about its sightings, as
 * STIX 2.1 `sighting` objects, one per indicator per hour bucket. A report carries only the
 * indicator's digest (and the deterministic STIX id derived from it), counts, first/last seen
 * and the bucket: never a log line, never a source type, never an address or name of the
 * partner's own hosts (the sighted value is the network's own indicator, identified by digest
 * only). Signing and sending to the sequencer are left to the exchange; `reportPayload` gives the
 * canonical bytes (RFC 8785) a signature would cover.
 */
import { canonicalJson } from '../domain/canonical.ts';
import { STIX_ID_NAMESPACE, uuidV5 } from '../domain/stix.ts';

/** One sighting of one indicator in one hour bucket, as stored (store/sightings.ts SightingDoc fields). */
export interface SightingFacts {
  readonly digest: string;
  readonly bucketStart: Date;
  readonly count: number;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
}

/** A STIX 2.1 sighting object as ThreatMesh shares it. */
export interface StixSighting {
  readonly type: 'sighting';
  readonly spec_version: '2.1';
  readonly id: string;
  readonly created: string;
  readonly modified: string;
  readonly created_by_ref: string;
  readonly sighting_of_ref: string;
  readonly where_sighted_refs: readonly string[];
  readonly count: number;
  readonly first_seen: string;
  readonly last_seen: string;
  /** The indicator's digest (hex SHA-256 of the canonical indicator). */
  readonly x_threatmesh_digest: string;
  /** Start of the hour bucket. */
  readonly x_threatmesh_bucket: string;
}

/** A partner's report: its sightings of some hour buckets. */
export interface SightingReport {
  readonly version: 1;
  readonly partnerId: string;
  /** When the report was made. */
  readonly createdAt: string;
  readonly sightings: readonly StixSighting[];
}

/** The STIX identity id of a partner. */
export function partnerIdentityId(partnerId: string): string {
  return `identity--${uuidV5(STIX_ID_NAMESPACE, `partner:${partnerId}`)}`;
}

/** The STIX id of the indicator with `digest` (domain/stix.ts stixIndicatorId derives the same from the indicator). */
export function indicatorIdOfDigest(digest: string): string {
  return `indicator--${uuidV5(STIX_ID_NAMESPACE, digest)}`;
}

/** The sighting object of one bucket; its id is deterministic (partner, digest, bucket), so a resent report replaces, never adds. */
export function toStixSighting(partnerId: string, s: SightingFacts, now: Date): StixSighting {
  const bucket = s.bucketStart.toISOString();
  const identity = partnerIdentityId(partnerId);
  return {
    type: 'sighting', spec_version: '2.1',
    id: `sighting--${uuidV5(STIX_ID_NAMESPACE, `sighting:${partnerId}:${s.digest}:${bucket}`)}`,
    created: now.toISOString(), modified: now.toISOString(), created_by_ref: identity,
    sighting_of_ref: indicatorIdOfDigest(s.digest), where_sighted_refs: [identity],
    count: s.count, first_seen: s.firstSeen.toISOString(), last_seen: s.lastSeen.toISOString(),
    x_threatmesh_digest: s.digest, x_threatmesh_bucket: bucket,
  };
}

/** A report of `sightings` (buckets with a count of at least 1, digests that are hex SHA-256). */
export function buildReport(partnerId: string, sightings: readonly SightingFacts[], now: Date): SightingReport {
  const ok = sightings.filter((s) => s.count > 0 && /^[0-9a-f]{64}$/.test(s.digest));
  return { version: 1, partnerId, createdAt: now.toISOString(), sightings: ok.map((s) => toStixSighting(partnerId, s, now)) };
}

/** The canonical bytes of a report, as a signature would cover them. */
export function reportPayload(report: SightingReport): Buffer {
  return Buffer.from(canonicalJson(report), 'utf8');
}

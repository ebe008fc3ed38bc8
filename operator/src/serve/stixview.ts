/**
 * STIX 2.1 objects of served indicators, pure and deterministic (the same record gives the same
 * bytes at every partner): the `indicator` version of an admission, its `revoked: true` version,
 * the proposer's `identity`, and the TLP 2.0 marking definitions. Ids are UUIDv5 from the
 * digest (domain/stix.ts), so re-exports and other partners' copies deduplicate.
 *
 * Times: `created` is the ADD round's opening (signed, the same everywhere); `modified` of the
 * revoked version is the REVOKE round's opening, at least 1 ms after `created`.
 */
import { isIndicatorType } from '../domain/indicator.ts';
import { STIX_ID_NAMESPACE, tlpMarkingDefinition, toStixIndicator, uuidV5, type StixIndicatorObject, type StixTlpMarkingDefinition } from '../domain/stix.ts';
import type { ServedRecord, VersionRow } from './record.ts';
import { servedTlp, type Tlp } from './tlp.ts';

/** The STIX media type of every served object. */
export const STIX_MEDIA_TYPE = 'application/stix+json;version=2.1';

/** A served indicator version: the SDO, possibly revoked. */
export type ServedIndicator = StixIndicatorObject & { readonly revoked?: true };

/** A STIX identity SDO of a partner. */
export interface StixIdentity {
  readonly type: 'identity';
  readonly spec_version: '2.1';
  readonly id: string;
  readonly created: string;
  readonly modified: string;
  readonly name: string;
  readonly identity_class: 'organization';
}

const IDENTITY_CREATED = '2020-01-01T00:00:00.000Z';

/** The deterministic identity id of a partner: `identity--` + UUIDv5(namespace, "partner:" + id). */
export function partnerIdentityId(partnerId: string): string {
  return `identity--${uuidV5(STIX_ID_NAMESPACE, `partner:${partnerId}`)}`;
}

/** The STIX id of an indicator from its digest (the same as domain/stix.ts stixIndicatorId). */
export function stixIdOfDigest(digest: string): string {
  return `indicator--${uuidV5(STIX_ID_NAMESPACE, digest)}`;
}

/** The identity object of a partner. */
export function partnerIdentity(partnerId: string): StixIdentity {
  return { type: 'identity', spec_version: '2.1', id: partnerIdentityId(partnerId), created: IDENTITY_CREATED, modified: IDENTITY_CREATED, name: partnerId, identity_class: 'organization' };
}

/** The TLP 2.0 marking definitions of `tlps`. */
export function markingDefinitions(tlps: Iterable<Tlp>): StixTlpMarkingDefinition[] {
  return [...new Set(tlps)].map(tlpMarkingDefinition);
}

function date(text: string | undefined, fallback: Date): Date {
  const d = text === undefined ? fallback : new Date(text);
  return Number.isNaN(d.getTime()) ? fallback : d;
}

/** `created` of a record's first version. */
export function createdOf(r: ServedRecord): Date {
  return date(r.window?.opensAt, r.addedAt);
}

/** `modified` of a record's revoked version (after `created`). */
export function revokedModifiedOf(r: ServedRecord): Date {
  const at = date(r.revocationWindow?.opensAt, r.revokedAt ?? r.addedAt);
  const created = createdOf(r);
  return at.getTime() > created.getTime() ? at : new Date(created.getTime() + 1);
}

/** The STIX `version` (its `modified`) of a row. */
export function versionOf(row: VersionRow): string {
  return (row.kind === 'add' ? createdOf(row.record) : revokedModifiedOf(row.record)).toISOString();
}

/** TAXII date_added of a row: when this partner stored the entry. */
export function dateAddedOf(row: VersionRow): Date {
  return row.kind === 'add' ? row.record.addedAt : (row.record.revokedAt ?? row.record.addedAt);
}

/**
 * The indicator SDO of a row; undefined for a record the domain cannot type (never served).
 * Validity: meta.validFrom (else created) and meta.validUntil when it is after valid_from.
 */
export function stixOfRow(row: VersionRow): ServedIndicator | undefined {
  const r = row.record;
  if (!isIndicatorType(r.type)) return undefined;
  const tlp = servedTlp(r.meta?.tlp);
  if (tlp === undefined) return undefined;
  const created = createdOf(r);
  const validFrom = date(r.meta?.validFrom, created);
  const until = r.meta?.validUntil === undefined ? undefined : date(r.meta.validUntil, validFrom);
  const base = toStixIndicator({ type: r.type, value: r.value }, {
    created, validFrom, tlp, createdByRef: partnerIdentityId(r.proposerId), indicatorTypes: ['malicious-activity'],
    ...(until !== undefined && until.getTime() > validFrom.getTime() ? { validUntil: until } : {}),
    ...(r.meta?.confidence !== undefined ? { confidence: r.meta.confidence } : {}),
    ...(r.meta?.labels !== undefined && r.meta.labels.length > 0 ? { labels: r.meta.labels } : {}),
  });
  if (row.kind === 'add') return base;
  return { ...base, modified: revokedModifiedOf(r).toISOString(), revoked: true };
}

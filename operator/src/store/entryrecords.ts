/**
 * What verified log entries become in a partner's replica: the record an ADD stores, the
 * certificate a REVOKE leaves on it, and the served changes (servedchanges.ts) a batch makes.
 * Pure builders; the sink (indicators.ts) writes them. Split from indicators.ts.
 */
import { voteRecord } from '../domain/entry.ts';
import type { VerifiedEntry } from '../domain/stores.ts';
import { STIX_ID_NAMESPACE, uuidV5 } from '../domain/stix.ts';
import type { IndicatorRecord, StoredRevocation } from './indicators.ts';
import type { ServedChange, ServedRecord } from './served.ts';

/** The certificate a REVOKE entry leaves on the record it revokes. */
export function revocation(entry: VerifiedEntry): StoredRevocation {
  return {
    logIndex: entry.index, proposerId: entry.proposerId, proposalSignature: entry.proposalSignature,
    window: { opensAt: entry.window.opensAt, closesAt: entry.window.closesAt }, votes: entry.votes.map(voteRecord),
  };
}

/** `d` without its MongoDB `_id` (the record state drift repair reads). */
export function withoutId(d: IndicatorRecord): IndicatorRecord {
  const { _id: _ignored, ...rest } = d;
  return rest;
}

/** The served fields of a freshly admitted record (what the journal carries). */
function servedOf(d: IndicatorRecord): ServedRecord {
  return {
    digest: d.digest, type: d.type, value: d.value, state: 'active', logIndex: d.logIndex, proposerId: d.proposerId, addedAt: d.addedAt ?? new Date(),
    ...(d.meta !== undefined ? { meta: d.meta } : {}), ...(d.window !== undefined ? { window: d.window } : {}),
  };
}

/** What a batch changed, as served (the journal's changes), in log order: admissions with their records, revocations. */
export function servedChanges(entries: readonly VerifiedEntry[], docs: ReadonlyMap<number, IndicatorRecord>, revokedAt: Date): ServedChange[] {
  const changes: ServedChange[] = [];
  for (const entry of entries) {
    const doc = docs.get(entry.index);
    if (doc !== undefined) changes.push({ kind: 'add', index: entry.index, record: servedOf(doc) });
    else if (entry.kind === 'revoke') changes.push({ kind: 'revoke', index: entry.index, digest: entry.digest, revokedAt, window: { opensAt: entry.window.opensAt, closesAt: entry.window.closesAt } });
  }
  return changes;
}

/** The record an ADD entry stores (active, `_id` = digest), stamped `addedAt`. */
export function record(entry: VerifiedEntry, addedAt: Date): IndicatorRecord {
  return {
    _id: entry.digest, digest: entry.digest, type: entry.indicator.type, value: entry.indicator.value, state: 'active',
    logIndex: entry.index, proposerId: entry.proposerId, votes: entry.votes.map(voteRecord),
    window: { opensAt: entry.window.opensAt, closesAt: entry.window.closesAt }, proposalSignature: entry.proposalSignature,
    ...(entry.proposalBatch !== undefined ? { proposalBatch: entry.proposalBatch } : {}),
    ...(entry.meta !== undefined ? { meta: { ...entry.meta } } : {}),
    stixId: `indicator--${uuidV5(STIX_ID_NAMESPACE, entry.digest)}`, addedAt, name: `${entry.indicator.type}-${entry.digest.slice(0, 40)}`,
  };
}

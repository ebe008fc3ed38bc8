/**
 * Fixture builders for report tests: replicated indicator records and sightings buckets in
 * exactly the shapes the partner's store and match/ write (COMMON contract), and candidates.
 */
import { indicatorDigest } from '../domain/canonical.ts';
import type { IndicatorType } from '../domain/indicator.ts';
import type { IndicatorMeta } from '../domain/entry.ts';
import type { IndicatorRecord } from '../store/indicators.ts';
import type { Candidate } from './candidates.ts';
import type { SightingDoc } from './mongo.ts';

/** What a test says about one replicated indicator. */
export interface RecordSpec {
  readonly type?: IndicatorType;
  readonly value: string;
  readonly logIndex?: number;
  readonly proposerId?: string;
  /** When the round opened. */
  readonly opensAt: Date;
  /** Milliseconds from the opening (plus the 60 s skew) to each approval. @default [1000, 2000] */
  readonly approvalsAfterMs?: readonly number[];
  readonly meta?: IndicatorMeta;
  /** When given, the record is revoked by a round that opened then. */
  readonly revokedAt?: Date;
}

const SKEW = 60_000;

/** A replicated record as MongoIndicatorSink stores it (`_id` = digest). */
export function recordOf(s: RecordSpec): IndicatorRecord {
  const type = s.type ?? 'domain';
  const digest = indicatorDigest({ type, value: s.value });
  const opened = s.opensAt.getTime();
  const votes = (s.approvalsAfterMs ?? [1000, 2000]).map((ms, i) => ({ partnerId: `voter-${i}`, digest, decision: 'approve', signedAt: new Date(opened + SKEW + ms).toISOString(), signature: 'c2ln' }));
  const window = { opensAt: new Date(opened).toISOString(), closesAt: new Date(opened + 3_600_000).toISOString() };
  const rec: IndicatorRecord = {
    _id: digest, digest, type, value: s.value, state: s.revokedAt ? 'revoked' : 'active', logIndex: s.logIndex ?? 0, proposerId: s.proposerId ?? 'partner-a', votes, window, proposalSignature: 'c2ln',
    ...(s.meta ? { meta: s.meta } : {}),
  };
  if (s.revokedAt) {
    const r = s.revokedAt.getTime();
    return { ...rec, revokedAtIndex: (s.logIndex ?? 0) + 1000, revocation: { logIndex: (s.logIndex ?? 0) + 1000, proposerId: 'partner-b', proposalSignature: 'c2ln', window: { opensAt: new Date(r).toISOString(), closesAt: new Date(r + 3_600_000).toISOString() }, votes: [] } };
  }
  return rec;
}

/** One hour bucket of sightings of `rec` at `partnerId`, as match/ writes it. */
export function sightingOf(rec: Pick<IndicatorRecord, 'digest' | 'type' | 'value'>, partnerId: string, at: Date, count: number): SightingDoc {
  const bucketStart = new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000);
  return { _id: `${rec.digest}:${bucketStart.toISOString()}`, digest: rec.digest, type: rec.type, value: rec.value, partnerId, bucketStart, count, firstSeen: at, lastSeen: at, sources: { dns: count } };
}

/** A candidate with sensible defaults. */
export function candidate(over: Partial<Candidate> & { readonly value: string }): Candidate {
  const type = over.type ?? 'domain';
  return {
    digest: indicatorDigest({ type: type as IndicatorType, value: over.value }), type, tlp: 'clear', labels: [], proposerId: 'partner-a',
    admittedAt: '2026-11-20T00:00:00.000Z', state: 'active', sightings: 0, ...over,
  };
}

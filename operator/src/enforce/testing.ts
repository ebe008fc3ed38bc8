/**
 * Fixture builders for enforcement tests and benchmarks: stored indicator records in the
 * documented `indicators` shape (store/indicators.ts IndicatorRecord) with a correct digest.
 */
import { indicatorDigest } from '../domain/canonical.ts';
import type { IndicatorType } from '../domain/indicator.ts';
import { resolvePolicy, type EnforcementPolicySpec, type ResolvedPolicy } from '../api/enforcement.ts';

/** Options of one fixture record. */
export interface RecordOptions {
  readonly state?: 'active' | 'revoked';
  readonly logIndex?: number;
  readonly revokedAtIndex?: number;
  readonly meta?: Record<string, unknown>;
}

/** A stored record as the replica writes it (certificate fields filled with placeholders). */
export function storedRecord(type: IndicatorType, value: string, opts: RecordOptions = {}): Record<string, unknown> {
  const digest = indicatorDigest({ type, value });
  return {
    _id: digest, digest, type, value, state: opts.state ?? 'active', logIndex: opts.logIndex ?? 0,
    proposerId: 'partner-a', votes: [{ partnerId: 'partner-a', decision: 'approve', signature: 'AA==' }],
    window: { opensAt: '2026-01-01T00:00:00Z', closesAt: '2026-01-04T00:00:00Z' }, proposalSignature: 'AA==',
    ...(opts.revokedAtIndex !== undefined ? { revokedAtIndex: opts.revokedAtIndex } : {}),
    ...(opts.meta ? { meta: opts.meta } : {}),
  };
}

/** The i-th public IPv4 address of a deterministic sequence that avoids every reserved range (starts at 11.0.0.0, skips 100.64/10 ...). */
export function publicIpv4(i: number): string {
  const first = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 31, 34, 35, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 49, 50];
  const o1 = first[Math.floor(i / 16_777_216) % first.length] ?? 11;
  return `${o1}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

/** A policy resolved from `spec` (defaults applied). */
export function resolved(spec: EnforcementPolicySpec = {}): ResolvedPolicy {
  return resolvePolicy(spec);
}

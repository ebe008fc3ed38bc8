/**
 * The selection rule, pure: whether one replicated indicator is enforced under a policy now,
 * and as which artifact key. Checked in this order, the first failing check naming the skip:
 * revoked, type, not yet valid / expired, confidence, decayed confidence (domain/decay.ts, when
 * the policy has `confidenceDecay`), TLP, labels, then the never-block guard (allowlists always
 * win). Only an active, in-validity indicator that passes everything is enforced.
 */
import { decayReference, decaysBelowAt } from '../domain/decay.ts';
import { TLP_ENUM } from '../api/schemas/threatindicator.ts';
import type { EnforceableType, ResolvedSelector } from '../api/enforcement.ts';
import type { WarningListName } from '../feeds/warninglists.ts';
import type { Guard } from './guard.ts';
import type { ParsedRecord } from './record.ts';

/** The fixed skip reasons; guard hits are reported under their list name (top-domain, allowlist:policy...). */
export const SKIP_REASONS = ['malformed', 'revoked', 'expired', 'not-yet-valid', 'type', 'confidence', 'decayed', 'tlp', 'labels'] as const;
/** A skip reason: one of SKIP_REASONS or a warning list name. */
export type SkipReason = (typeof SKIP_REASONS)[number] | WarningListName;

/** What one indicator turns into when enforced. */
export interface Candidate {
  readonly digest: string;
  /** `cidr` for addresses and networks (Cilium CIDR groups, HAProxy address map), `domain` for the hosts map. */
  readonly kind: 'cidr' | 'domain';
  /** Canonical CIDR (a.b.c.d/32 for an address) or lower-case domain. */
  readonly key: string;
  readonly confidence: number;
  readonly logIndex: number;
  /** Epoch ms when it stops being enforced, or undefined. */
  readonly validUntil: number | undefined;
}

/**
 * The decision for one record. `retryAt` (epoch ms) is set when the answer changes by itself
 * later: validFrom reached, or the effective confidence of an enforced indicator decaying below
 * the minimum. A `decayed` skip has none: only a new sighting brings it back.
 */
export type Decision = { readonly enforce: true; readonly candidate: Candidate; readonly retryAt?: number } | { readonly enforce: false; readonly reason: SkipReason; readonly retryAt?: number };

const TLP_RANK = new Map<string, number>(TLP_ENUM.map((t, i) => [t, i]));

function keyOf(r: ParsedRecord): string {
  if (r.type === 'ipv4') return `${r.value}/32`;
  if (r.type === 'ipv6') return `${r.value}/128`;
  return r.value;
}

function labelsPass(labels: readonly string[], sel: ResolvedSelector): boolean {
  if (sel.noneOf.some((l) => labels.includes(l))) return false;
  return sel.anyOf.length === 0 || sel.anyOf.some((l) => labels.includes(l));
}

function filterReason(r: ParsedRecord, sel: ResolvedSelector, now: number): Decision | undefined {
  if (r.state !== 'active') return { enforce: false, reason: 'revoked' };
  if (!sel.types.has(r.type as EnforceableType)) return { enforce: false, reason: 'type' };
  if (r.validUntil !== undefined && r.validUntil <= now) return { enforce: false, reason: 'expired' };
  if (r.validFrom !== undefined && r.validFrom > now) return { enforce: false, reason: 'not-yet-valid', retryAt: r.validFrom };
  if (r.confidence < sel.minConfidence) return { enforce: false, reason: 'confidence' };
  if ((TLP_RANK.get(r.tlp) ?? 0) > (TLP_RANK.get(sel.maxTlp) ?? 0)) return { enforce: false, reason: 'tlp' };
  if (!labelsPass(r.labels, sel)) return { enforce: false, reason: 'labels' };
  return undefined;
}

/**
 * When the record's effective confidence falls below the policy's minimum (epoch ms; Infinity:
 * never), counting from its corroborated last sighting `lastSeen` or its admission (its
 * validFrom for a record stored without its voting window). A record with neither time and no
 * sighting cannot be dated and does not decay.
 */
export function decayedAt(r: ParsedRecord, sel: ResolvedSelector, lastSeen: number | undefined): number {
  if (sel.decay === undefined) return Number.POSITIVE_INFINITY;
  const admitted = r.admittedAt ?? r.validFrom;
  const since = admitted === undefined ? lastSeen : decayReference(admitted, lastSeen);
  return since === undefined ? Number.POSITIVE_INFINITY : decaysBelowAt(r.confidence, since, sel.minConfidence, sel.decay);
}

/** Decides one record at time `now` (epoch ms), given its corroborated last sighting (epoch ms) when the policy decays confidence. */
export function decide(r: ParsedRecord, sel: ResolvedSelector, guard: Guard, now: number, lastSeen?: number): Decision {
  const filtered = filterReason(r, sel, now);
  if (filtered) return filtered;
  const decayAt = decayedAt(r, sel, lastSeen);
  if (decayAt <= now) return { enforce: false, reason: 'decayed' };
  const listed = guard.check({ type: r.type, value: r.value });
  if (listed !== undefined) return { enforce: false, reason: listed };
  return {
    enforce: true,
    candidate: { digest: r.digest, kind: r.type === 'domain' ? 'domain' : 'cidr', key: keyOf(r), confidence: r.confidence, logIndex: r.logIndex, validUntil: r.validUntil },
    ...(Number.isFinite(decayAt) ? { retryAt: decayAt } : {}),
  };
}

/** Priority order for limits: higher confidence first, then newer (higher log index), then key. */
export function byPriority(a: Pick<Candidate, 'confidence' | 'logIndex' | 'key'>, b: Pick<Candidate, 'confidence' | 'logIndex' | 'key'>): number {
  return b.confidence - a.confidence || b.logIndex - a.logIndex || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

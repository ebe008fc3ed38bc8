/**
 * Confidence decay for indicators nobody sees (docs/adr/2026-12-06-confidence-decay.md), pure.
 *
 * - An indicator's effective confidence halves every `halfLife` since its last corroborated
 *   sighting, or since its admission when it was never sighted: `c · 2^(−age / halfLife)`, never
 *   below `floor` (a floor above the stated confidence leaves the stated confidence).
 * - A sighting counts only when `minSightingParties` distinct parties saw the indicator: the
 *   corroborated last sighting is the `minSightingParties`-th latest of the parties' own last
 *   sightings, however long ago, so one party (say, a hostile peer pushing fake sightings) cannot
 *   keep an indicator alive on its own when it is 2 or more. The voting policy's
 *   `sightingCorroboration` counts parties the same way but asks another question (how many
 *   within a window corroborate a vote): docs/adr/2026-12-07-sighting-party-thresholds.md.
 * - Times after `now` count as `now`: a sender's clock running ahead (the sharing protocol accepts
 *   buckets up to its skew allowance ahead) buys no extra life.
 */

/** One policy's decay rule. */
export interface DecayRule {
  /** Milliseconds after which the effective confidence has halved (> 0). */
  readonly halfLifeMs: number;
  /** The effective confidence never decays below this (0..100). */
  readonly floor: number;
  /** Distinct parties that must have seen the indicator for sightings to restart the clock (>= 1). */
  readonly minSightingParties: number;
}

/** The effective confidence (not rounded) of `confidence` stated, `ageMs` after its reference time; a negative age counts as 0. */
export function effectiveConfidence(confidence: number, ageMs: number, rule: DecayRule): number {
  const decayed = confidence * 2 ** (-Math.max(0, ageMs) / rule.halfLifeMs);
  return Math.max(decayed, Math.min(rule.floor, confidence));
}

/**
 * When (epoch ms) the effective confidence of `confidence`, decaying from `since`, first falls
 * below `minConfidence`: `since` itself when it already starts below, Infinity when it never does
 * (the floor or the stated confidence keep it at or above the minimum, or the minimum is 0).
 */
export function decaysBelowAt(confidence: number, since: number, minConfidence: number, rule: DecayRule): number {
  if (confidence < minConfidence) return since;
  if (minConfidence <= 0 || Math.min(rule.floor, confidence) >= minConfidence) return Number.POSITIVE_INFINITY;
  // c·2^(−t/h) < m  ⇔  t > h·log2(c/m); the next whole millisecond past that point.
  return since + Math.floor(rule.halfLifeMs * Math.log2(confidence / minConfidence)) + 1;
}

/**
 * The corroborated last sighting: given each party's last sighting (epoch ms), the latest time
 * by which at least `minParties` distinct parties had seen the indicator, each time capped at
 * `now`; undefined when fewer parties saw it.
 */
export function corroboratedLastSeen(lastSeenByParty: Iterable<number>, minParties: number, now: number): number | undefined {
  const times = [...lastSeenByParty].filter((t) => Number.isFinite(t)).map((t) => Math.min(t, now)).sort((a, b) => b - a);
  return times.length >= minParties ? times[minParties - 1] : undefined;
}

/** The decay's reference time: the corroborated last sighting when later than the admission, else the admission (epoch ms). */
export function decayReference(admittedAt: number, lastSeen: number | undefined): number {
  return lastSeen !== undefined && lastSeen > admittedAt ? lastSeen : admittedAt;
}

const DURATION = /^(\d{1,5})(m|h|d)$/;
const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as `90m`, `72h` or `30d` (a whole number above 0), or undefined when it is not one. */
export function parseDecayDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (m === null || Number(m[1]) === 0) return undefined;
  return Number(m[1]) * (UNIT_MS[m[2] ?? 'd'] ?? 0);
}

/**
 * TLP 2.0 for serving: the order clear < green < amber < amber+strict < red (META_TLP), what a
 * consumer with a maximum TLP may receive, and the TLP of a stored indicator. An indicator
 * without TLP is served as TLP:CLEAR; a TLP value outside the list is served to nobody
 * (fail closed), so a corrupted record can never leak.
 */
import { META_TLP, type MetaTlp } from '../domain/entry.ts';

/** A TLP 2.0 level, least to most restrictive. */
export type Tlp = MetaTlp;

/** Every TLP level, least to most restrictive. */
export const TLP_LEVELS: readonly Tlp[] = META_TLP;

/** True when `s` names a TLP 2.0 level (lower case, `amber+strict` with a plus). */
export function isTlp(s: unknown): s is Tlp {
  return typeof s === 'string' && (TLP_LEVELS as readonly string[]).includes(s);
}

/** The levels a consumer whose maximum is `max` may receive, least restrictive first. */
export function tlpsUpTo(max: Tlp): Tlp[] {
  return TLP_LEVELS.slice(0, TLP_LEVELS.indexOf(max) + 1);
}

/** The TLP an indicator is served under: its signed TLP, clear when it has none, undefined (serve to nobody) when the value is unknown. */
export function servedTlp(tlp: unknown): Tlp | undefined {
  if (tlp === undefined || tlp === null) return 'clear';
  return isTlp(tlp) ? tlp : undefined;
}

/** True when an indicator marked `tlp` may reach a consumer allowed `allowed`. */
export function mayReceive(allowed: readonly Tlp[], tlp: unknown): boolean {
  const t = servedTlp(tlp);
  return t !== undefined && allowed.includes(t);
}

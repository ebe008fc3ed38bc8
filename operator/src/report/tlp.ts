/**
 * TLP 2.0 for reports, pure: the order of markings, the marking an indicator carries (none means
 * `clear`), and the ceiling a report may use: the lower of its audience's and, for a model
 * endpoint, the endpoint's allowed marking. Nothing above the ceiling is ever selected, sent,
 * cited or shown.
 */
import { META_TLP, type MetaTlp } from '../domain/entry.ts';

/** A TLP 2.0 marking, least to most restrictive: clear, green, amber, amber+strict, red. */
export type Tlp = MetaTlp;

/** Every marking, least to most restrictive. */
export const TLP_ORDER: readonly Tlp[] = META_TLP;

/** True when `value` is a TLP 2.0 marking as ThreatMesh spells it. */
export function isTlp(value: unknown): value is Tlp {
  return typeof value === 'string' && (TLP_ORDER as readonly string[]).includes(value);
}

/** Position of a marking in {@link TLP_ORDER} (clear = 0 … red = 4). */
export function tlpRank(tlp: Tlp): number {
  return TLP_ORDER.indexOf(tlp);
}

/** The marking of an indicator: its signed TLP, or `clear` when the proposer signed none. */
export function indicatorTlp(meta: { readonly tlp?: string } | undefined): Tlp {
  return isTlp(meta?.tlp) ? meta.tlp : 'clear';
}

/** True when something marked `tlp` may go to a reader whose ceiling is `ceiling`. */
export function tlpAllows(ceiling: Tlp, tlp: Tlp): boolean {
  return tlpRank(tlp) <= tlpRank(ceiling);
}

/** The more restrictive ceiling of two (the lower marking). */
export function lowerTlp(a: Tlp, b: Tlp): Tlp {
  return tlpRank(a) <= tlpRank(b) ? a : b;
}

/** Every marking a reader with ceiling `ceiling` may see, least restrictive first. */
export function tlpsUpTo(ceiling: Tlp): Tlp[] {
  return TLP_ORDER.filter((t) => tlpAllows(ceiling, t));
}

/** Parses a flag or query value (case-insensitive, `TLP:` prefix allowed); throws a message naming the choices. */
export function parseTlp(text: string, what = 'TLP'): Tlp {
  const t = text.trim().toLowerCase().replace(/^tlp:/, '');
  if (isTlp(t)) return t;
  throw new Error(`${what} ${JSON.stringify(text)} is not a TLP 2.0 marking; use one of ${TLP_ORDER.join(', ')}`);
}

/**
 * The indicators a summary may talk about, pure: what a candidate is, how significant it is
 * (sightings, confidence, novelty, revocation), and the selection of the most significant ones
 * that fit a token budget. The TLP ceiling is applied before anything else: a candidate above
 * it is never selected, whatever the caller passed in.
 */
import type { Window } from './period.ts';
import { dataText, valueText } from './sanitize.ts';
import { tlpAllows, type Tlp } from './tlp.ts';

/** One replicated indicator as a summary sees it. */
export interface Candidate {
  readonly digest: string;
  readonly type: string;
  readonly value: string;
  readonly tlp: Tlp;
  readonly confidence?: number | undefined;
  readonly labels: readonly string[];
  /** The feed that proposed it (signed metadata). */
  readonly source?: string | undefined;
  readonly proposerId: string;
  /** When quorum was reached (last approval), or when its round opened. ISO 8601. */
  readonly admittedAt: string;
  readonly state: 'active' | 'revoked';
  /** When revoked: when the revocation's round opened. */
  readonly revokedAt?: string | undefined;
  /** Sightings in the window, every partner. */
  readonly sightings: number;
  readonly lastSeen?: string | undefined;
}

/** Weights of {@link significance}. */
export interface SignificanceWeights {
  /** Per doubling of sightings. @default 3 */
  readonly sightings: number;
  /** For confidence 100. @default 2 */
  readonly confidence: number;
  /** For an admission at the end of the window, falling linearly to 0 at its start. @default 2 */
  readonly novelty: number;
  /** For a revocation inside the window. @default 1.5 */
  readonly revoked: number;
}

/** The default weights: sightings dominate, then confidence and novelty, a revocation is news. */
export const DEFAULT_WEIGHTS: SignificanceWeights = { sightings: 3, confidence: 2, novelty: 2, revoked: 1.5 };

/** How significant a candidate is within `w`: higher is more worth an executive's attention. */
export function significance(c: Candidate, w: Window, weights: SignificanceWeights = DEFAULT_WEIGHTS): number {
  const span = Math.max(1, w.until.getTime() - w.since.getTime());
  const age = Math.min(1, Math.max(0, (w.until.getTime() - Date.parse(c.admittedAt)) / span));
  const novelty = Number.isFinite(age) ? 1 - age : 0;
  const revokedInWindow = c.state === 'revoked' && Date.parse(c.revokedAt ?? '') >= w.since.getTime();
  return weights.sightings * Math.log2(1 + Math.max(0, c.sightings))
    + weights.confidence * ((c.confidence ?? 50) / 100)
    + weights.novelty * novelty
    + (revokedInWindow ? weights.revoked : 0);
}

/** One candidate as one line of the model's input; its length is what the budget counts. */
export function candidateLine(c: Candidate): string {
  // The value is the indicator itself (normalized by the domain, quoted whole); everything else is partners' free text.
  const parts = [`digest=${c.digest}`, `${c.type} ${valueText(c.value)}`, `tlp:${c.tlp}`];
  if (c.confidence !== undefined) parts.push(`confidence ${c.confidence}`);
  if (c.labels.length > 0) parts.push(`labels ${c.labels.slice(0, 5).map((l) => dataText(l, 64)).join(',')}`);
  if (c.source) parts.push(`feed ${dataText(c.source, 64)}`);
  parts.push(`proposed by ${dataText(c.proposerId, 64)}`, `admitted ${c.admittedAt.slice(0, 10)}`, `sightings ${c.sightings}`);
  if (c.state === 'revoked') parts.push(`REVOKED ${c.revokedAt?.slice(0, 10) ?? ''}`.trim());
  return parts.join(' | ');
}

/**
 * Tokens a text costs, estimated without a tokenizer: one per 3 characters, which over-counts
 * for English and hex (BPE tokenizers average 3.5-4 characters), so a budget is never exceeded.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 3);
}

/** Limits of {@link selectCandidates}. */
export interface SelectionLimits {
  /** Tokens the candidate lines may take together. */
  readonly tokenBudget: number;
  /** Most candidates, whatever the budget. */
  readonly maxItems: number;
  /** The TLP ceiling: nothing above it is selected. */
  readonly ceiling: Tlp;
}

/** What {@link selectCandidates} chose. */
export interface Selection {
  /** Most significant first. */
  readonly selected: Candidate[];
  readonly tokens: number;
  /** Candidates at or below the ceiling that did not fit. */
  readonly left: number;
  /** Candidates above the ceiling, never considered. */
  readonly aboveCeiling: number;
}

/**
 * The most significant candidates at or below the TLP ceiling whose lines fit the token budget,
 * most significant first (ties broken by digest, so the choice is deterministic). A candidate
 * that does not fit is skipped and smaller ones after it may still fit.
 */
export function selectCandidates(all: readonly Candidate[], w: Window, limits: SelectionLimits, weights: SignificanceWeights = DEFAULT_WEIGHTS): Selection {
  const allowed = all.filter((c) => tlpAllows(limits.ceiling, c.tlp));
  const ranked = allowed.map((c) => ({ c, s: significance(c, w, weights) })).sort((a, b) => b.s - a.s || a.c.digest.localeCompare(b.c.digest));
  const selected: Candidate[] = [];
  let tokens = 0;
  for (const { c } of ranked) {
    if (selected.length >= limits.maxItems) break;
    const cost = estimateTokens(candidateLine(c)) + 1;
    if (tokens + cost > limits.tokenBudget) continue;
    selected.push(c);
    tokens += cost;
  }
  return { selected, tokens, left: allowed.length - selected.length, aboveCeiling: all.length - allowed.length };
}

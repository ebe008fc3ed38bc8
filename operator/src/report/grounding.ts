/**
 * The grounding check, pure: a summary may cite only indicators that exist in the partner's
 * store, were active inside the report's window (admitted, revoked or sighted in it), are at or
 * below the report's TLP, and were offered to the writer; and its free text may name no hash,
 * IP address, URL or domain name that is not one of the offered indicators' values (or a part of
 * an offered URL) or digests: an injected "allow update.evil.example" is refused; and, when the
 * writer's facts are given, every figure it states must be one of them (report/figures.ts). A summary
 * that fails is refused (regenerated or replaced by the extractive one by the caller).
 */
import { citationsOf, type Answer } from './answer.ts';
import { figureSheet, ungroundedFigures, type FigureSheet } from './figures.ts';
import { inWindow, type Window } from './period.ts';
import { IPV6 } from './sanitize.ts';
import { tlpAllows, type Tlp } from './tlp.ts';

/** What the store says about one cited digest. */
export interface StoredFact {
  readonly tlp: Tlp;
  /** ISO 8601; see Candidate.admittedAt. */
  readonly admittedAt: string;
  readonly revokedAt?: string | undefined;
  /**
   * Sightings inside the window; undefined when not read (the store reads them only for a
   * record admitted and revoked outside the window, the one case where they decide).
   */
  readonly sightings?: number | undefined;
}

/** Every reason a citation or a phrase can be refused (metrics report each at 0 from the start). */
export const GROUNDING_REASONS = ['unknown-digest', 'outside-window', 'above-tlp', 'not-offered', 'ungrounded-value', 'ungrounded-number'] as const;

/** Why a citation or a phrase was refused. */
export type GroundingReason = (typeof GROUNDING_REASONS)[number];

/** One refused citation or phrase. */
export interface GroundingRefusal {
  readonly reason: GroundingReason;
  /** The digest, or the value found in the text. */
  readonly subject: string;
}

/** The facts a summary is checked against. */
export interface GroundingFacts {
  readonly window: Window;
  readonly ceiling: Tlp;
  /** The digests offered to the writer, with their values. */
  readonly offered: ReadonlyMap<string, { readonly value: string }>;
  /** The store's answer for every cited digest; a digest missing here does not exist. */
  readonly stored: ReadonlyMap<string, StoredFact>;
  /**
   * The figures the writer was given ({@link figuresOfFacts}); when set, every number, date,
   * week or percentage in the text must be one of them (report/figures.ts).
   */
  readonly figures?: FigureSheet | undefined;
}

/** The outcome of {@link checkGrounding}. */
export type Grounding = { readonly ok: true } | { readonly ok: false; readonly refusals: readonly GroundingRefusal[] };

/** True when the indicator was admitted, revoked or sighted inside `w`. */
export function activeIn(w: Window, f: StoredFact): boolean {
  return inWindow(w, Date.parse(f.admittedAt)) || (f.revokedAt !== undefined && inWindow(w, Date.parse(f.revokedAt))) || (f.sightings ?? 0) > 0;
}

function citationRefusal(digest: string, facts: GroundingFacts): GroundingReason | undefined {
  const fact = facts.stored.get(digest);
  if (fact === undefined) return 'unknown-digest';
  if (!tlpAllows(facts.ceiling, fact.tlp)) return 'above-tlp';
  if (!activeIn(facts.window, fact)) return 'outside-window';
  if (!facts.offered.has(digest)) return 'not-offered';
  return undefined;
}

const HASH = /\b(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})\b/gi;
const IPV4 = /\b(?:\d{1,3}\.){3}\d{1,3}\b/g;
const URL_RE = /\b(?:https?|ftp):\/\/[^\s"'<>)\]]+/gi;
/** A host name: dot-separated labels ending in an alphabetic top-level label (`payload.exe` too: it must come from an offered URL). */
const DOMAIN = /\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b/gi;

/** URLs, then hashes, IPv4 and IPv6 addresses and domain names outside those URLs, in `text`, as written. */
export function valuesIn(text: string): string[] {
  const rest = text.replace(URL_RE, ' ');
  return [...text.matchAll(URL_RE), ...[HASH, IPV4, IPV6, DOMAIN].flatMap((re) => [...rest.matchAll(re)])].map((m) => m[0].replace(/[.,;:]+$/, ''));
}

/** A run of 8+ hex characters with a digit and a letter: a digest or hash cut short (never a plain number). */
const HEX_RUN = /\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi;

/**
 * `text` without the indicator values, hashes and hex runs in it: what is left holds the figures
 * the text states (a digit inside an address or a digest is no figure).
 */
export function withoutValues(text: string): string {
  return [URL_RE, HASH, IPV4, IPV6, DOMAIN, HEX_RUN].reduce((rest, re) => rest.replace(re, ' '), text);
}

/**
 * The figures a summary may state, from the facts text its writer was given (the model's user
 * message), the window, and the counts the writer sees: how many indicators it was given.
 */
export function figuresOfFacts(factsText: string, w: Window, offeredCount: number): FigureSheet {
  return figureSheet(withoutValues(factsText), w, [offeredCount]);
}

/**
 * What the text may name: the offered indicators' digests and values, and the parts of a URL
 * or e-mail value (its host, path segments such as `payload.exe`, the mail domain), lower-cased.
 */
export function groundedTokens(offered: GroundingFacts['offered']): Set<string> {
  const known = new Set<string>();
  for (const [digest, o] of offered) {
    const v = o.value.toLowerCase();
    known.add(digest).add(v);
    for (const part of v.split(/[/?#&=@]|:\/\//)) if (part !== '') known.add(part).add(part.replace(/:\d+$/, ''));
  }
  return known;
}

function textOf(a: Answer): string {
  return [a.headline, ...a.keyThreats.map((t) => t.title), ...a.trends, ...a.recommendedActions].join('\n');
}

/** Checks every citation and every indicator-like value in the text of `a` against `facts`. */
export function checkGrounding(a: Answer, facts: GroundingFacts): Grounding {
  const refusals: GroundingRefusal[] = [];
  for (const digest of citationsOf(a)) {
    const reason = citationRefusal(digest, facts);
    if (reason !== undefined) refusals.push({ reason, subject: digest });
  }
  const known = groundedTokens(facts.offered);
  for (const v of new Set(valuesIn(textOf(a)))) {
    if (!known.has(v.toLowerCase())) refusals.push({ reason: 'ungrounded-value', subject: v });
  }
  if (facts.figures !== undefined) {
    // List positions ("the 3 key threats") are figures the writer sees in its own answer.
    const positions = Array.from({ length: a.keyThreats.length }, (_, i) => i + 1);
    const sheet = { ...facts.figures, numbers: new Set([...facts.figures.numbers, ...positions]) };
    for (const f of ungroundedFigures(withoutValues(textOf(a)), sheet)) refusals.push({ reason: 'ungrounded-number', subject: f });
  }
  return refusals.length === 0 ? { ok: true } : { ok: false, refusals };
}

/** A one-line account of refusals for logs, status and the next prompt. */
export function describeRefusals(refusals: readonly GroundingRefusal[]): string {
  return refusals.slice(0, 5).map((r) => `${r.reason}: ${r.subject.length > 80 ? `${r.subject.slice(0, 77)}...` : r.subject}`).join('; ') + (refusals.length > 5 ? `; and ${refusals.length - 5} more` : '');
}

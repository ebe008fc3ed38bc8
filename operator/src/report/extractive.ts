/**
 * The deterministic extractive summary, pure: built only from the selected candidates and the
 * trends, quoting nothing but their values and digests (labels and feed names defanged by
 * report/sanitize.ts) and the figures of the facts report/prompt.ts gives a model, in the same
 * form, so it always passes the grounding check.
 * Used when no model is configured, when the model fails, and when every model answer was refused.
 */
import { DEFAULT_LIMITS, type Answer, type AnswerLimits, type KeyThreat } from './answer.ts';
import type { Candidate } from './candidates.ts';
import type { Window } from './period.ts';
import { durationText, feedsByAdmissions, sightedActive } from './prompt.ts';
import { dataText, valueText } from './sanitize.ts';
import type { Trends } from './trends.ts';

const day = (d: Date): string => d.toISOString().slice(0, 10);

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 3).trimEnd()}...`;
}

/** A title naming the indicator's value when it fits whole (a cut value would not be grounded). */
function threatTitle(c: Candidate, max: number): string {
  const facts = [c.sightings > 0 ? `${c.sightings} sighting${c.sightings === 1 ? '' : 's'}` : 'not sighted', c.confidence !== undefined ? `confidence ${c.confidence}` : '', c.labels.slice(0, 2).map((l) => dataText(l, 40)).join(', '), c.state === 'revoked' ? 'revoked' : ''].filter((x) => x !== '').join('; ');
  const withValue = `${c.type} ${valueText(c.value)} (${facts})`;
  if (withValue.length <= max) return withValue;
  return clip(`${c.type} from ${dataText(c.source ?? c.proposerId, 64)} (${facts})`, max);
}

function trendSentences(t: Trends | undefined): string[] {
  if (t === undefined) return [];
  const out: string[] = [];
  const weeks = t.byWeek.filter((w) => w.admitted > 0 || w.sightings > 0).map((w) => `${w.week} ${w.admitted}`);
  if (weeks.length > 0) out.push(`Admissions by week: ${weeks.join(', ')}.`);
  if (t.timeToQuorum.count > 0) out.push(`Time to quorum: median ${durationText(t.timeToQuorum.p50Ms)}, 95th percentile ${durationText(t.timeToQuorum.p95Ms)} over ${t.timeToQuorum.count} admissions.`);
  const feed = feedsByAdmissions(t)[0];
  if (feed) out.push(`Most productive feed: ${dataText(feed[0], 64)} with ${feed[1]} admissions; ${t.totals.revoked} revoked${t.totals.rejected === null ? '' : `, ${t.totals.rejected} rejected`}.`);
  return out;
}

function actions(selected: readonly Candidate[]): string[] {
  const out: string[] = [];
  const sighted = sightedActive(selected);
  if (sighted > 0) out.push(`Investigate the internal hosts behind the ${sighted} sighted indicator${sighted === 1 ? '' : 's'} cited above.`);
  if (selected.some((c) => c.state === 'revoked')) out.push('Remove the revoked indicators from blocklists and detection rules.');
  out.push('Confirm that enforcement (egress policies, SIEM watchlists) carries every active indicator cited above.');
  return out;
}

/** The extractive summary of `selected` (most significant first) and `trends` over `w`. */
export function extractiveSummary(selected: readonly Candidate[], w: Window, trends?: Trends, limits: AnswerLimits = DEFAULT_LIMITS): Answer {
  const admitted = trends?.totals.admitted;
  const top = selected[0];
  const head = top === undefined
    ? `No indicator at or below this report's TLP was admitted, revoked or sighted between ${day(w.since)} and ${day(w.until)}.`
    : `${admitted ?? selected.length} indicators admitted between ${day(w.since)} and ${day(w.until)}; most significant: ${top.type} ${top.sightings > 0 ? `sighted ${top.sightings} times` : `with confidence ${top.confidence ?? 'unknown'}`}.`;
  const keyThreats: KeyThreat[] = selected.slice(0, limits.threats).map((c) => ({ title: threatTitle(c, limits.title), citations: [c.digest] }));
  return {
    headline: clip(head, limits.headline),
    keyThreats,
    trends: trendSentences(trends).slice(0, limits.sentences).map((s) => clip(s, limits.sentence)),
    recommendedActions: actions(selected).slice(0, limits.sentences).map((s) => clip(s, limits.sentence)),
  };
}

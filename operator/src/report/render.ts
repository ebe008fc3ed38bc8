/**
 * A finished report as people read it, pure: the stored document, and its Markdown and HTML
 * (every value escaped; the TLP marking on top, as TLP 2.0 asks).
 */
import type { Summary } from './answer.ts';
import type { Candidate } from './candidates.ts';
import type { AttemptRecord } from './summarize.ts';
import type { Tlp } from './tlp.ts';
import type { Trends } from './trends.ts';

/** One report as stored in MongoDB (`reports`) and served by the HTTP API. */
export interface ReportDocument {
  /** `<namespace>.<name>.<createdAt as yyyymmddThhmmssZ>` for ThreatReports; `cli.<…>` for ad-hoc runs. */
  readonly id: string;
  /** namespace/name of the ThreatReport; empty for ad-hoc runs. */
  readonly report: string;
  readonly createdAt: string;
  readonly since: string;
  readonly until: string;
  /** The audience's TLP: the report's own marking. */
  readonly tlp: Tlp;
  readonly summary: Summary;
  readonly model: string | undefined;
  readonly fallbackReason: string | undefined;
  readonly attempts: readonly AttemptRecord[];
  /** The cited indicators, for the appendix. */
  readonly cited: ReadonlyArray<Pick<Candidate, 'digest' | 'type' | 'value' | 'tlp' | 'sightings' | 'state'>>;
  readonly trends: Trends;
}

/** The id of a report of `report` (namespace/name) created at `at`. */
export function reportId(report: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${report.replace('/', '.') || 'cli'}.${stamp}`;
}

/** One line of Markdown text: line breaks flattened (a model's answer cannot start a heading or a block), markup escaped. */
function mdEscape(s: string): string {
  return s.replace(/\s+/g, ' ').replace(/([\\`*_[\]<>|#])/g, '\\$1');
}

function htmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function byline(d: ReportDocument): string {
  const who = d.summary.generator === 'model' ? `written by model ${d.model ?? ''}, checked against the partner's data` : `extractive summary${d.fallbackReason ? ` (model not used: ${d.fallbackReason})` : ''}`;
  return `${d.since.slice(0, 16)}Z to ${d.until.slice(0, 16)}Z; ${who}`;
}

/** The report as Markdown. */
export function renderMarkdown(d: ReportDocument): string {
  const cite = (digest: string): string => `\`${digest.slice(0, 12)}\``;
  const lines = [
    `**TLP:${d.tlp.toUpperCase()}**`, '',
    `# ${mdEscape(d.summary.headline)}`, '',
    `_${mdEscape(byline(d))}_`, '',
    '## Key threats', '',
    ...d.summary.keyThreats.map((t) => `- ${mdEscape(t.title)} (${t.citations.map(cite).join(', ')})`), '',
    '## Trends', '',
    ...d.summary.trends.map((t) => `- ${mdEscape(t)}`), '',
    '## Recommended actions', '',
    ...d.summary.recommendedActions.map((t) => `- ${mdEscape(t)}`), '',
    '## Cited indicators', '',
    '| digest | type | value | TLP | sightings | state |', '| --- | --- | --- | --- | --- | --- |',
    ...d.cited.map((c) => `| ${cite(c.digest)} | ${c.type} | ${mdEscape(c.value)} | ${c.tlp} | ${c.sightings} | ${c.state} |`), '',
  ];
  return lines.join('\n');
}

/** The report as a self-contained HTML page. */
export function renderHtml(d: ReportDocument): string {
  const e = htmlEscape;
  const list = (items: readonly string[]): string => `<ul>${items.map((i) => `<li>${i}</li>`).join('')}</ul>`;
  const cite = (digest: string): string => `<code title="${e(digest)}">${e(digest.slice(0, 12))}</code>`;
  return [
    '<!doctype html>', `<html lang="en"><head><meta charset="utf-8"><title>${e(d.summary.headline)}</title></head><body>`,
    `<p><strong>TLP:${e(d.tlp.toUpperCase())}</strong></p>`,
    `<h1>${e(d.summary.headline)}</h1>`, `<p><em>${e(byline(d))}</em></p>`,
    '<h2>Key threats</h2>', list(d.summary.keyThreats.map((t) => `${e(t.title)} (${t.citations.map(cite).join(', ')})`)),
    '<h2>Trends</h2>', list(d.summary.trends.map(e)),
    '<h2>Recommended actions</h2>', list(d.summary.recommendedActions.map(e)),
    '<h2>Cited indicators</h2>',
    '<table><thead><tr><th>digest</th><th>type</th><th>value</th><th>TLP</th><th>sightings</th><th>state</th></tr></thead><tbody>',
    ...d.cited.map((c) => `<tr><td>${cite(c.digest)}</td><td>${e(c.type)}</td><td>${e(c.value)}</td><td>${e(c.tlp)}</td><td>${c.sightings}</td><td>${e(c.state)}</td></tr>`),
    '</tbody></table>', '</body></html>', '',
  ].join('\n');
}

/** What a report document adds to a summary outcome. */
export interface DocumentMeta {
  /** namespace/name of the ThreatReport; empty for ad-hoc runs. */
  readonly report: string;
  readonly createdAt: Date;
  readonly tlp: Tlp;
}

/** The stored document of a written summary. */
export function documentOf(o: { readonly summary: Summary; readonly trends: Trends; readonly offered: readonly Candidate[]; readonly model: string | undefined; readonly fallbackReason: string | undefined; readonly attempts: readonly AttemptRecord[] }, meta: DocumentMeta): ReportDocument {
  const cited = new Set(o.summary.citations);
  return {
    id: reportId(meta.report, meta.createdAt), report: meta.report, createdAt: meta.createdAt.toISOString(), since: o.trends.since, until: o.trends.until, tlp: meta.tlp,
    summary: o.summary, model: o.summary.generator === 'model' || o.fallbackReason !== undefined ? o.model : undefined, fallbackReason: o.fallbackReason, attempts: o.attempts,
    cited: o.offered.filter((c) => cited.has(c.digest)).map((c) => ({ digest: c.digest, type: c.type, value: c.value, tlp: c.tlp, sightings: c.sightings, state: c.state })),
    trends: o.trends,
  };
}

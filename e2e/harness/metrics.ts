/**
 * The metrics the shipped monitoring reads, and whether real /metrics scrapes carry them: the
 * selectors of every PromQL expression in the generated Grafana dashboard and PrometheusRule
 * (charts/threatmesh/files/, which the chart and the cdk8s app both ship), the Prometheus text
 * exposition parsed into series, and the selectors no scraped series satisfies.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { metricSelectors, type LabelMatcher, type MetricSelector } from '../../cdk8s/lib/alerts.ts';
import { chartFile } from '../../cdk8s/lib/monitoring.ts';

/** A selector and the dashboard panel or alert whose expression holds it. */
export interface UsedSelector extends MetricSelector {
  /** `panel "Title"` or `alert Name`. */
  readonly source: string;
  /** The dashboard row of the panel (absent for alerts). */
  readonly row?: string;
}

/** One scraped sample's series: metric name and labels. */
export interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Every selector of the generated dashboard's panel targets and the PrometheusRule's rules. */
export async function shippedSelectors(): Promise<UsedSelector[]> {
  const dashboard = JSON.parse(await readFile(chartFile('dashboard.json'), 'utf8')) as { panels?: Array<{ type?: string; title?: string; targets?: Array<{ expr?: string }> }> };
  const rules = parse(await readFile(chartFile('prometheusrule-spec.yaml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }> };
  const exprs: Array<[string, string, string | undefined]> = [];
  let row: string | undefined;
  // The panels follow their row panel in the dashboard's flat list.
  for (const p of dashboard.panels ?? []) {
    if (p.type === 'row') row = p.title;
    for (const t of p.targets ?? []) exprs.push([`panel ${JSON.stringify(p.title ?? '')}`, t.expr ?? '', row]);
  }
  for (const g of rules.groups) for (const r of g.rules) exprs.push([`alert ${r.alert ?? r.record ?? ''}`, r.expr, undefined]);
  return exprs.flatMap(([source, expr, inRow]) => metricSelectors(expr).map((s) => ({ ...s, source, ...(inRow === undefined ? {} : { row: inRow }) })));
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The series of a Prometheus text exposition (comment lines skipped). */
export function parseExposition(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[3] ?? '').matchAll(LABEL)].map((l) => [l[1] ?? '', (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))]));
    out.push({ name: m[1] ?? '', labels });
  }
  return out;
}

function holds(m: LabelMatcher, value: string): boolean {
  switch (m.op) {
    case '=': return value === m.value;
    case '!=': return value !== m.value;
    case '=~': return new RegExp(`^(?:${m.value})$`).test(value);
    case '!~': return !new RegExp(`^(?:${m.value})$`).test(value);
  }
}

/** True when a series of `series` has the selector's name and satisfies all its matchers (an absent label is ""). */
export function selects(selector: MetricSelector, series: readonly Series[]): boolean {
  return series.some((s) => s.name === selector.name && selector.matchers.every((m) => holds(m, s.labels[m.label] ?? '')));
}

/** How a selector prints: `name{label="value",…}`. */
export function formatSelector(s: MetricSelector): string {
  return s.matchers.length === 0 ? s.name : `${s.name}{${s.matchers.map((m) => `${m.label}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}

/** `source: selector` for each selector no series satisfies, each once. */
export function missingSelectors(used: readonly UsedSelector[], series: readonly Series[]): string[] {
  return [...new Set(used.filter((u) => !selects(u, series)).map((u) => `${u.source}: ${formatSelector(u)}`))];
}

/**
 * The sum of the samples of `name` whose labels include `labels` in a text exposition; fails
 * when no series matches (a missing series is not a zero).
 */
export function sampleSum(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(LABEL)].map((l) => [l[1] ?? '', l[2] ?? '']));
    if (!Object.entries(labels).every(([k, v]) => have[k] === v)) continue;
    sum += Number(m[3]);
    found = true;
  }
  if (!found) throw new Error(`no series ${name}${JSON.stringify(labels)} in the exposition`);
  return sum;
}

/** GET `url` (a plain HTTP /metrics, /readyz…): status and body. */
export async function scrape(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

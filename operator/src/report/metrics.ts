/**
 * Prometheus metrics of reports, on the registry the caller passes (the operator's, never
 * prom-client's global one): the headline trend figures as gauges per ThreatReport, and the
 * model client's requests, latency, tokens, cache and the grounding check's refusals.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Generator } from './answer.ts';
import { GROUNDING_REASONS, type GroundingReason } from './grounding.ts';
import type { Trends } from './trends.ts';

/** Outcome label of one model request. */
export type RequestOutcome = 'ok' | 'timeout' | 'connection' | 'rate-limited' | 'server' | 'client' | 'malformed';

/**
 * Every `{generator, reason}` a written summary is counted under: the model's accepted answer,
 * or the extractive summary without a model (`no-model`), or after the model failed
 * (`model-error`), every answer was refused (`grounding`) or invalid (`invalid-answer`).
 */
export const SUMMARY_OUTCOMES: ReadonlyArray<{ readonly generator: Generator; readonly reason: string }> = [
  { generator: 'model', reason: 'accepted' },
  ...['no-model', 'none', 'model-error', 'grounding', 'invalid-answer'].map((reason) => ({ generator: 'extractive' as const, reason })),
];

/** Every report metric. */
export class ReportMetrics {
  readonly trendAdmitted: Gauge<'report'>;
  readonly trendRevoked: Gauge<'report'>;
  readonly trendRejected: Gauge<'report'>;
  readonly trendSightings: Gauge<'report'>;
  readonly trendTimeToQuorum: Gauge<'report' | 'quantile'>;
  readonly trendRate: Gauge<'report' | 'rate'>;
  readonly feedRejection: Gauge<'report' | 'feed'>;
  readonly proposerRejection: Gauge<'report' | 'proposer'>;
  readonly requests: Counter<'model' | 'outcome'>;
  readonly latency: Histogram<'model'>;
  readonly tokens: Counter<'model' | 'kind'>;
  readonly cache: Counter<'result'>;
  readonly summaries: Counter<'generator' | 'reason'>;
  readonly refusals: Counter<'reason'>;
  // The feed and proposer label values each report last set, so the ones gone from its window are removed.
  readonly #labelled = new Map<string, { readonly feeds: readonly string[]; readonly proposers: readonly string[] }>();

  /** Registers every metric on `registry`; one ReportMetrics per registry. */
  constructor(registry: Registry) {
    const registers = [registry];
    this.trendAdmitted = new Gauge({ name: 'threatmesh_report_admitted', help: 'Indicators admitted in the window of the latest run of a ThreatReport', labelNames: ['report'], registers });
    this.trendRevoked = new Gauge({ name: 'threatmesh_report_revoked', help: 'Indicators revoked in the window of the latest run of a ThreatReport', labelNames: ['report'], registers });
    this.trendRejected = new Gauge({ name: 'threatmesh_report_rejected', help: 'ADD rounds the network rejected by votes in the window (the replicated, verified REJECT entries of the log); absent when unknown', labelNames: ['report'], registers });
    this.trendSightings = new Gauge({ name: 'threatmesh_report_sightings', help: 'Sightings in the window of the latest run of a ThreatReport', labelNames: ['report'], registers });
    this.trendTimeToQuorum = new Gauge({ name: 'threatmesh_report_time_to_quorum_seconds', help: 'Time from round opening to the last approval, by quantile, over the window', labelNames: ['report', 'quantile'], registers });
    this.trendRate = new Gauge({ name: 'threatmesh_report_rate_ratio', help: 'Rejection (rejected / (admitted + rejected), from the replicated REJECT entries) and revocation rates over the window', labelNames: ['report', 'rate'], registers });
    this.feedRejection = new Gauge({ name: 'threatmesh_report_feed_rejection_ratio', help: 'Share of a source feed\'s proposals the network rejected in the window (replicated REJECT entries); absent when unknown', labelNames: ['report', 'feed'], registers });
    this.proposerRejection = new Gauge({ name: 'threatmesh_report_proposer_rejection_ratio', help: 'Share of a proposing partner\'s proposals the network rejected in the window (replicated REJECT entries); absent when unknown', labelNames: ['report', 'proposer'], registers });
    this.requests = new Counter({ name: 'threatmesh_llm_requests_total', help: 'Requests to the model endpoint by outcome', labelNames: ['model', 'outcome'], registers });
    this.latency = new Histogram({ name: 'threatmesh_llm_request_duration_seconds', help: 'Latency of model requests', labelNames: ['model'], buckets: [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120], registers });
    this.tokens = new Counter({ name: 'threatmesh_llm_tokens_total', help: 'Tokens the model endpoint reported, prompt and completion', labelNames: ['model', 'kind'], registers });
    this.cache = new Counter({ name: 'threatmesh_llm_cache_total', help: 'Model answers served from the cache (hit) or requested (miss)', labelNames: ['result'], registers });
    this.summaries = new Counter({ name: 'threatmesh_report_summaries_total', help: 'Summaries written, by generator and the reason for a fallback', labelNames: ['generator', 'reason'], registers });
    this.refusals = new Counter({ name: 'threatmesh_report_grounding_refusals_total', help: 'Citations or phrases the grounding check refused, by reason', labelNames: ['reason'], registers });
    // Closed label sets are reported at 0 from the start, so alerts and panels see them before the first report.
    for (const o of SUMMARY_OUTCOMES) this.summaries.inc(o, 0);
    for (const reason of GROUNDING_REASONS) this.refusals.inc({ reason }, 0);
    for (const result of ['hit', 'miss']) this.cache.inc({ result }, 0);
  }

  /** Sets the headline gauges of `report` (namespace/name) from its latest trends. */
  setTrends(report: string, t: Trends): void {
    this.trendAdmitted.set({ report }, t.totals.admitted);
    this.trendRevoked.set({ report }, t.totals.revoked);
    this.trendSightings.set({ report }, t.totals.sightings);
    if (t.totals.rejected === null) this.trendRejected.remove({ report });
    else this.trendRejected.set({ report }, t.totals.rejected);
    for (const [quantile, v] of [['0.5', t.timeToQuorum.p50Ms], ['0.95', t.timeToQuorum.p95Ms]] as const) {
      if (v === null) this.trendTimeToQuorum.remove({ report, quantile });
      else this.trendTimeToQuorum.set({ report, quantile }, v / 1000);
    }
    for (const [rate, v] of [['rejection', t.rates.rejection], ['revocation', t.rates.revocation]] as const) {
      if (v === null) this.trendRate.remove({ report, rate });
      else this.trendRate.set({ report, rate }, v);
    }
    this.#setShares(report, t);
  }

  #setShares(report: string, t: Trends): void {
    this.#forgetShares(report);
    const feeds = t.feedQuality.filter((f) => f.rejectedShare !== null);
    const proposers = t.proposerQuality.filter((p) => p.rejectedShare !== null);
    for (const f of feeds) this.feedRejection.set({ report, feed: f.feed }, f.rejectedShare ?? 0);
    for (const p of proposers) this.proposerRejection.set({ report, proposer: p.proposer }, p.rejectedShare ?? 0);
    this.#labelled.set(report, { feeds: feeds.map((f) => f.feed), proposers: proposers.map((p) => p.proposer) });
  }

  #forgetShares(report: string): void {
    const last = this.#labelled.get(report);
    for (const feed of last?.feeds ?? []) this.feedRejection.remove({ report, feed });
    for (const proposer of last?.proposers ?? []) this.proposerRejection.remove({ report, proposer });
    this.#labelled.delete(report);
  }

  /** Forgets the gauges of a deleted report. */
  forget(report: string): void {
    for (const g of [this.trendAdmitted, this.trendRevoked, this.trendRejected, this.trendSightings]) g.remove({ report });
    for (const quantile of ['0.5', '0.95']) this.trendTimeToQuorum.remove({ report, quantile });
    for (const rate of ['rejection', 'revocation']) this.trendRate.remove({ report, rate });
    this.#forgetShares(report);
  }

  /** Counts one written summary. */
  summary(generator: Generator, reason: string): void {
    this.summaries.inc({ generator, reason });
  }

  /** Counts refused citations and phrases. */
  refused(reasons: readonly GroundingReason[]): void {
    for (const reason of reasons) this.refusals.inc({ reason });
  }
}

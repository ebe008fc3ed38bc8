/**
 * The ThreatReport controller's report writer over the partner's MongoDB: for one run it reads
 * the window's data, writes the summary (model or extractive, grounded either way), stores the
 * full report in `reports`, updates the headline gauges and returns what the controller keeps
 * in status and the ConfigMap. It implements controllers/threatreport.ts ThreatReportGenerator
 * (structurally: report/ does not import controllers/). One model client per endpoint, reused
 * across runs so a json_schema refusal is learnt once.
 */
import type { Db } from 'mongodb';
import type { ThreatReportSpec } from '../api/types.ts';
import type { Logger } from '../log.ts';
import type { ReportMetrics } from './metrics.ts';
import { OpenAiChatModel, type ChatModel, type ModelEndpoint } from './model.ts';
import { parseSince, windowEnding } from './period.ts';
import type { RejectionSource } from './rejections.ts';
import { documentOf, renderHtml, renderMarkdown } from './render.ts';
import { PartnerData } from './source.ts';
import { summarize } from './summarize.ts';
import { parseTlp } from './tlp.ts';

/** What the service is built with. */
export interface ReportServiceOptions {
  readonly db: Db;
  readonly log: Logger;
  readonly metrics?: ReportMetrics | undefined;
  readonly rejections?: RejectionSource | undefined;
  /** Builds the model client of an endpoint. @default an OpenAiChatModel */
  readonly modelFor?: ((endpoint: ModelEndpoint) => ChatModel) | undefined;
}

/** One run's input, as controllers/threatreport.ts ReportRunInput. */
export interface ServiceRunInput {
  readonly key: string;
  readonly spec: ThreatReportSpec;
  readonly apiKey: string | undefined;
  readonly now: Date;
}

/** The endpoint of a ThreatReport's spec.model. */
export function endpointOf(spec: ThreatReportSpec, apiKey: string | undefined): ModelEndpoint | undefined {
  const m = spec.model;
  if (m === undefined) return undefined;
  return {
    baseUrl: m.baseUrl, model: m.model, apiKey, allowedTlp: parseTlp(m.maxTlp ?? 'clear', 'spec.model.maxTlp'),
    timeoutMs: (m.timeoutSeconds ?? 60) * 1000, responseFormat: m.responseFormat ?? 'auto',
  };
}

/** Writes ThreatReports' reports. */
export class ReportService {
  readonly #opts: ReportServiceOptions;
  readonly #data: PartnerData;
  readonly #models = new Map<string, ChatModel>();

  constructor(opts: ReportServiceOptions) {
    this.#opts = opts;
    this.#data = new PartnerData(opts.db, opts.rejections);
  }

  #model(endpoint: ModelEndpoint | undefined): ChatModel | undefined {
    if (endpoint === undefined) return undefined;
    const id = JSON.stringify(endpoint);
    let m = this.#models.get(id);
    if (m === undefined) {
      m = this.#opts.modelFor?.(endpoint) ?? new OpenAiChatModel(endpoint, { metrics: this.#opts.metrics, log: this.#opts.log });
      this.#models.set(id, m);
    }
    return m;
  }

  /** Writes, stores and renders one report. */
  async run(input: ServiceRunInput): Promise<{ reportId: string; generator: 'model' | 'extractive'; headline: string; citations: number; offered: number; attempts: number; fallbackReason: string | undefined; markdown: string; html: string; json: string }> {
    const { spec } = input;
    const window = windowEnding(input.now, parseSince(spec.window ?? '7d'));
    const audience = parseTlp(spec.audience.maxTlp, 'spec.audience.maxTlp');
    const out = await summarize(this.#data, {
      window, audience, model: this.#model(endpointOf(spec, input.apiKey)), constrainCitations: spec.model?.citationEnum ?? true,
      maxTokens: spec.model?.maxTokens, regenerations: spec.model?.regenerations, tokenBudget: spec.selection?.tokenBudget, maxItems: spec.selection?.maxIndicators,
    }, { cache: this.#data.store.answerCache(), metrics: this.#opts.metrics, log: this.#opts.log.child({ report: input.key }) });
    const doc = documentOf(out, { report: input.key, createdAt: input.now, tlp: audience });
    await this.#data.store.saveReport(doc);
    this.#opts.metrics?.setTrends(input.key, out.trends);
    return {
      reportId: doc.id, generator: out.summary.generator, headline: out.summary.headline, citations: out.summary.citations.length, offered: out.offered.length,
      attempts: out.attempts.length, fallbackReason: out.fallbackReason, markdown: renderMarkdown(doc), html: renderHtml(doc), json: JSON.stringify({ ...out.summary, model: doc.model ?? null, fallbackReason: out.fallbackReason ?? null }),
    };
  }

  /** Forgets the gauges of a deleted ThreatReport. */
  forget(key: string): void {
    this.#opts.metrics?.forget(key);
  }
}

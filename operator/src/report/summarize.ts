/**
 * Writes one executive summary: selects the most significant indicators within a token budget
 * and the TLP ceiling, asks the model for a structured answer, checks it (ajv, then the
 * grounding check against the store), regenerates a refused answer with the reasons, and falls
 * back on the deterministic extractive summary when no model is configured, the model fails, or
 * every answer was refused. Ports in, no globals; the clock is the window the caller passes.
 */
import type { Logger } from '../log.ts';
import { DEFAULT_LIMITS, answerSchema, citationsOf, fitLimits, parseAnswer, summaryOf, type Answer, type AnswerLimits, type Summary } from './answer.ts';
import { inputHash, type AnswerCache } from './cache.ts';
import { selectCandidates, type Candidate, type Selection } from './candidates.ts';
import { extractiveSummary } from './extractive.ts';
import { digitRuns } from './figures.ts';
import { checkGrounding, describeRefusals, figuresOfFacts, type GroundingRefusal, type StoredFact } from './grounding.ts';
import type { ReportMetrics } from './metrics.ts';
import { ModelError, type ChatModel } from './model.ts';
import type { Window } from './period.ts';
import { assertSendable, buildMessages, type ModelRequest } from './prompt.ts';
import { lowerTlp, type Tlp } from './tlp.ts';
import type { Trends } from './trends.ts';

/** What a summary reads from the partner's data (report/store.ts implements it over MongoDB). */
export interface SummarySource {
  /** Indicators admitted, revoked or sighted in `w`, at or below `ceiling`. */
  candidates(w: Window, ceiling: Tlp): Promise<Candidate[]>;
  /** The store's facts about `digests` (absent when unknown). */
  facts(digests: readonly string[], w: Window): Promise<Map<string, StoredFact>>;
  /** Trends of `w` counting only indicators at or below `ceiling`. */
  trends(w: Window, ceiling: Tlp): Promise<Trends>;
  /**
   * Optional: `candidates(w, audience)` and `trends(w, c)` for each of `ceilings`, from one read
   * of the window (a store where every read is a collection scan implements it).
   */
  overview?(w: Window, audience: Tlp, ceilings: readonly Tlp[]): Promise<Overview>;
}

/** What {@link SummarySource.overview} returns: candidates, trends per ceiling, and `facts` of this window without reading it again. */
export interface Overview {
  readonly candidates: Candidate[];
  readonly trends: Trends[];
  readonly facts: (digests: readonly string[]) => Promise<Map<string, StoredFact>>;
}

/** What to summarize and how. */
export interface SummarizeOptions {
  readonly window: Window;
  /** The audience's TLP: nothing above it is selected, cited or shown. */
  readonly audience: Tlp;
  /** Without a model the summary is extractive. */
  readonly model?: ChatModel | undefined;
  /** Constrain citations to an enum of the offered digests in the schema. @default true */
  readonly constrainCitations?: boolean | undefined;
  /** Let the free text spell digits only as digit runs of the facts given, in the schema (answer.ts). @default true */
  readonly constrainFigures?: boolean | undefined;
  /** @default DEFAULT_LIMITS */
  readonly limits?: AnswerLimits | undefined;
  /** Tokens the indicator lines may take. @default 1500 */
  readonly tokenBudget?: number | undefined;
  /** Most indicators offered. @default 20 */
  readonly maxItems?: number | undefined;
  /** Completion limit per model answer; the answer's length limits shrink to fit it (fitLimits). @default 800 */
  readonly maxTokens?: number | undefined;
  /** Model answers after a refused first one. @default 2 */
  readonly regenerations?: number | undefined;
}

/** One model answer and what became of it. */
export interface AttemptRecord {
  readonly outcome: 'accepted' | 'invalid' | 'refused' | 'error';
  readonly cached: boolean;
  readonly problems: readonly string[];
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly latencyMs: number;
}

/** A written summary with everything a report keeps about how it came to be. */
export interface SummaryOutcome {
  readonly summary: Summary;
  readonly trends: Trends;
  /** The indicators the writer was given, most significant first. */
  readonly offered: readonly Candidate[];
  /** The ceiling the offered indicators were selected under. */
  readonly ceiling: Tlp;
  readonly model: string | undefined;
  readonly attempts: readonly AttemptRecord[];
  /** Why the summary is extractive although a model is configured. */
  readonly fallbackReason: string | undefined;
  readonly selection: { readonly tokens: number; readonly left: number; readonly aboveCeiling: number };
}

/** Cache, metrics and log of {@link summarize}. */
export interface SummarizeDeps {
  readonly cache?: AnswerCache | undefined;
  readonly metrics?: ReportMetrics | undefined;
  readonly log?: Logger | undefined;
}

interface Ctx {
  readonly src: SummarySource;
  /** The store's facts about cited digests (of the window read, when the source read it once). */
  facts: (digests: readonly string[]) => Promise<Map<string, StoredFact>>;
  readonly opts: SummarizeOptions;
  readonly deps: SummarizeDeps;
  readonly limits: AnswerLimits;
}

function select(ctx: Ctx, all: readonly Candidate[], ceiling: Tlp): Selection {
  return selectCandidates(all, ctx.opts.window, { ceiling, tokenBudget: ctx.opts.tokenBudget ?? 1500, maxItems: ctx.opts.maxItems ?? 20 });
}

/** What a writer was given: the offered indicators, the ceiling they were selected under, the trends. */
interface Given {
  readonly offered: readonly Candidate[];
  readonly ceiling: Tlp;
  readonly trends: Trends;
}

/** The facts text the writer of a summary of `offered` and `trends` is given (the model's user message). */
function factsText(ctx: Ctx, offered: readonly Candidate[], trends: Trends): string {
  return buildMessages(offered, ctx.opts.window, trends).filter((m) => m.role === 'user').map((m) => m.content).join('\n');
}

async function grounded(ctx: Ctx, answer: Answer, { offered, ceiling, trends }: Given): Promise<readonly GroundingRefusal[]> {
  const stored = await ctx.facts(citationsOf(answer).slice(0, 64));
  const figures = figuresOfFacts(factsText(ctx, offered, trends), ctx.opts.window, offered.length);
  const result = checkGrounding(answer, { window: ctx.opts.window, ceiling, offered: new Map(offered.map((c) => [c.digest, { value: c.value }])), stored, figures });
  return result.ok ? [] : result.refusals;
}

/** Seed of the first answer; each regeneration adds one. */
const SEED = 1009;

/**
 * What to tell the model about an answer that failed ajv: the schema paths, never the parser's
 * message (it quotes the answer, and a small model copies it into the next one).
 */
function invalidFeedback(problems: readonly string[]): string[] {
  const paths = problems.filter((p) => p.startsWith('/'));
  return paths.length > 0 ? paths : ['the answer was not complete JSON; keep every text short so the whole object fits'];
}

type Tried = { readonly record: AttemptRecord; readonly answer?: Answer; readonly refusals?: readonly GroundingRefusal[]; readonly fatal?: ModelError };

async function askOnce(ctx: Ctx, model: ChatModel, req: ModelRequest, given: Given): Promise<Tried> {
  const key = inputHash(model.cacheScope, req);
  const hit = await ctx.deps.cache?.get(key);
  ctx.deps.metrics?.cache.inc({ result: hit === undefined ? 'miss' : 'hit' });
  let text = hit;
  let usage = { promptTokens: 0, completionTokens: 0, latencyMs: 0 };
  if (text === undefined) {
    try {
      const reply = await model.complete(req);
      usage = { promptTokens: reply.promptTokens, completionTokens: reply.completionTokens, latencyMs: reply.latencyMs };
      text = reply.text;
    } catch (err) {
      if (!(err instanceof ModelError)) throw err;
      return { record: { outcome: 'error', cached: false, problems: [err.message], ...usage }, fatal: err };
    }
  }
  const base = { cached: hit !== undefined, ...usage };
  const parsed = parseAnswer(text, req.schema);
  if (!parsed.ok) return { record: { outcome: 'invalid', problems: parsed.problems, ...base } };
  const refusals = await grounded(ctx, parsed.answer, given);
  if (refusals.length > 0) {
    ctx.deps.metrics?.refused(refusals.map((r) => r.reason));
    return { record: { outcome: 'refused', problems: [describeRefusals(refusals)], ...base }, refusals };
  }
  if (hit === undefined) await ctx.deps.cache?.set(key, text);
  return { record: { outcome: 'accepted', problems: [], ...base }, answer: parsed.answer };
}

async function askModel(ctx: Ctx, model: ChatModel, sel: Selection, ceiling: Tlp, trends: Trends): Promise<{ answer?: Answer; attempts: AttemptRecord[]; reason?: string }> {
  const maxTokens = ctx.opts.maxTokens ?? 800;
  const digits = ctx.opts.constrainFigures === false ? undefined : digitRuns(factsText(ctx, sel.selected, trends));
  const schema = answerSchema(fitLimits(maxTokens, ctx.limits), ctx.opts.constrainCitations === false ? undefined : sel.selected.map((c) => c.digest), digits);
  const attempts: AttemptRecord[] = [];
  let feedback: readonly GroundingRefusal[] | readonly string[] | undefined;
  const tries = 1 + (ctx.opts.regenerations ?? 2);
  for (let i = 0; i < tries; i++) {
    const req: ModelRequest = { messages: buildMessages(sel.selected, ctx.opts.window, trends, feedback), schema, maxTokens, temperature: i === 0 ? 0.2 : 0.5, seed: SEED + i };
    assertSendable(req, sel.selected, ceiling);
    const t = await askOnce(ctx, model, req, { offered: sel.selected, ceiling, trends });
    attempts.push(t.record);
    ctx.deps.log?.info('model answer', { model: model.name, attempt: i + 1, outcome: t.record.outcome, cached: t.record.cached, problems: t.record.problems });
    if (t.answer !== undefined) return { answer: t.answer, attempts };
    if (t.fatal !== undefined) return { attempts, reason: `model-error: ${t.fatal.message}` };
    feedback = t.refusals ?? invalidFeedback(t.record.problems);
  }
  const last = attempts.at(-1);
  return { attempts, reason: `${last?.outcome === 'refused' ? 'grounding' : 'invalid-answer'}: ${tries} answer(s) refused; last: ${last?.problems.join('; ') ?? ''}` };
}

/** The window's candidates at the audience's TLP, and its trends at the audience's and at the model's ceiling. */
async function readWindow(src: SummarySource, w: Window, audience: Tlp, ceiling: Tlp): Promise<{ all: Candidate[]; trends: Trends; modelTrends: Trends | undefined; facts?: Overview['facts'] }> {
  if (src.overview !== undefined) {
    const o = await src.overview(w, audience, ceiling === audience ? [audience] : [audience, ceiling]);
    return { all: o.candidates, trends: o.trends[0]!, modelTrends: o.trends[1], facts: o.facts };
  }
  // Each read is a collection scan on FerretDB: run them at the same time.
  const [all, trends, modelTrends] = await Promise.all([
    src.candidates(w, audience),
    src.trends(w, audience),
    ceiling === audience ? undefined : src.trends(w, ceiling),
  ]);
  return { all, trends, modelTrends };
}

/** Writes the summary of `opts.window` for `opts.audience`. */
export async function summarize(src: SummarySource, opts: SummarizeOptions, deps: SummarizeDeps = {}): Promise<SummaryOutcome> {
  const model = opts.model;
  const ceiling = model === undefined ? opts.audience : lowerTlp(opts.audience, model.allowedTlp);
  const { all, trends, modelTrends, facts } = await readWindow(src, opts.window, opts.audience, ceiling);
  const ctx: Ctx = { src, opts, deps, limits: opts.limits ?? DEFAULT_LIMITS, facts: facts ?? ((d) => src.facts(d, opts.window)) };
  let fallbackReason: string | undefined;
  let attempts: AttemptRecord[] = [];
  if (model !== undefined) {
    const sel = select(ctx, all, ceiling);
    const r = await askModel(ctx, model, sel, ceiling, modelTrends ?? trends);
    attempts = r.attempts;
    if (r.answer !== undefined) {
      deps.metrics?.summary('model', 'accepted');
      return outcome(summaryOf(r.answer, 'model'), trends, sel, ceiling, { model: model.name, attempts, fallbackReason: undefined });
    }
    fallbackReason = r.reason;
  }
  const sel = select(ctx, all, opts.audience);
  const answer = extractiveSummary(sel.selected, opts.window, trends, ctx.limits);
  const refusals = await grounded(ctx, answer, { offered: sel.selected, ceiling: opts.audience, trends });
  // The extractive summary quotes only what it was given; a refusal here is a bug, never shipped.
  if (refusals.length > 0) throw new Error(`the extractive summary failed its own grounding check: ${describeRefusals(refusals)}`);
  deps.metrics?.summary('extractive', fallbackReason === undefined ? (model === undefined ? 'no-model' : 'none') : fallbackReason.split(':')[0] ?? 'fallback');
  return outcome(summaryOf(answer, 'extractive'), trends, sel, opts.audience, { model: model?.name, attempts, fallbackReason });
}

function outcome(summary: Summary, trends: Trends, sel: Selection, ceiling: Tlp, how: Pick<SummaryOutcome, 'model' | 'attempts' | 'fallbackReason'>): SummaryOutcome {
  return { summary, trends, offered: sel.selected, ceiling, ...how, selection: { tokens: sel.tokens, left: sel.left, aboveCeiling: sel.aboveCeiling } };
}

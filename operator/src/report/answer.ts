/**
 * The shape of a summary, pure: the JSON Schema the model must answer in (structured output), the
 * same schema compiled with ajv to check every answer locally, and the summary a report keeps.
 * With `citeFrom`, citations are constrained to an enum of the candidate digests, so a server
 * that enforces the schema (llama.cpp's grammar, OpenAI's strict mode) cannot even emit another.
 */
import { Ajv } from 'ajv';

/** Length limits of an answer; small limits keep a small model's answer short. */
export interface AnswerLimits {
  /** @default 160 */
  readonly headline: number;
  /** Most key threats. @default 3 */
  readonly threats: number;
  /** Longest key-threat title. @default 160 */
  readonly title: number;
  /** Most citations per key threat. @default 3 */
  readonly citations: number;
  /** Most trend and action sentences each. @default 3 */
  readonly sentences: number;
  /** Longest trend or action sentence. @default 200 */
  readonly sentence: number;
}

/** The default {@link AnswerLimits}. */
export const DEFAULT_LIMITS: AnswerLimits = { headline: 160, threats: 3, title: 160, citations: 3, sentences: 3, sentence: 200 };

/**
 * Tokens one citation costs at most: a 64-hex digest that a grammar-constrained server may emit
 * one character per token, plus quotes and a comma.
 */
const CITATION_TOKENS = 70;
/** The smallest max_tokens an answer can be fitted into (the ThreatReport schema's minimum). */
export const MIN_MAX_TOKENS = 256;

/** JSON punctuation and member names of a whole answer. */
const SYNTAX_TOKENS = 60;
/**
 * Characters of text per token, at worst. Grammar-constrained sampling often emits one or two
 * characters per token: the test model wrote 460 characters in 320 tokens.
 */
const CHARS_PER_TOKEN = 1.4;

/** The most tokens an answer within `l` can take. */
export function worstCaseTokens(l: AnswerLimits): number {
  const chars = l.headline + l.threats * l.title + 2 * l.sentences * l.sentence;
  return Math.ceil(chars / CHARS_PER_TOKEN) + l.threats * l.citations * CITATION_TOKENS + SYNTAX_TOKENS;
}

const SHRINK: ReadonlyArray<[keyof AnswerLimits, number, number]> = [
  ['sentence', 120, 20], ['sentences', 1, 1], ['citations', 1, 1], ['title', 80, 20], ['threats', 2, 1], ['headline', 100, 20],
  ['sentence', 40, 20], ['title', 40, 10], ['threats', 1, 1], ['headline', 40, 20], ['title', 20, 10], ['sentence', 20, 20],
];

/**
 * Limits no larger than `limits` whose longest answer fits `maxTokens`, so a grammar-constrained
 * model is never cut off mid-string (an answer cut at max_tokens is not JSON). Shrinks sentence
 * lengths and counts first, then citations, titles, threats and the headline, to a floor; a
 * `maxTokens` below about 210 cannot hold even the floor (MIN_MAX_TOKENS).
 */
export function fitLimits(maxTokens: number, limits: AnswerLimits = DEFAULT_LIMITS): AnswerLimits {
  const l: { -readonly [K in keyof AnswerLimits]: number } = { ...limits };
  for (const [key, floor, step] of SHRINK) {
    while (worstCaseTokens(l) > maxTokens && l[key] - step >= floor) l[key] -= step;
  }
  return l;
}

/** One key threat: a short title and the digests of the indicators it is about. */
export interface KeyThreat {
  readonly title: string;
  readonly citations: readonly string[];
}

/** What the model (or the extractive summarizer) answers. */
export interface Answer {
  readonly headline: string;
  readonly keyThreats: readonly KeyThreat[];
  readonly trends: readonly string[];
  readonly recommendedActions: readonly string[];
}

/** Who wrote a summary. */
export type Generator = 'model' | 'extractive';

/** A checked summary as reports keep it and `threatmesh report summary --json` prints it. */
export interface Summary extends Answer {
  readonly generator: Generator;
  /** Every digest the summary cites, in order of first citation. */
  readonly citations: readonly string[];
}

/** Every digest `a` cites, once each, in order of first citation. */
export function citationsOf(a: Answer): string[] {
  return [...new Set(a.keyThreats.flatMap((t) => t.citations))];
}

/** A summary of `a` by `generator`. */
export function summaryOf(a: Answer, generator: Generator): Summary {
  return { generator, headline: a.headline, keyThreats: a.keyThreats.map((t) => ({ title: t.title, citations: [...t.citations] })), trends: [...a.trends], recommendedActions: [...a.recommendedActions], citations: citationsOf(a) };
}

/**
 * A free-text field; with `digits` (the digit runs the writer was given) its pattern lets digits
 * appear only as one of those runs, each followed by a non-digit, and no quote, backslash or
 * control character: a grammar-constrained server cannot write "9,845.7" when no 845 was given,
 * nor a raw newline that breaks the JSON. The length is in the pattern too, as servers that compile a pattern
 * (llama.cpp) ignore maxLength beside it: half of it in repetitions, as a digit run and its
 * separator are one repetition of several characters (ajv still checks maxLength).
 */
function text(maxLength: number, digits?: readonly string[]): Record<string, unknown> {
  if (digits === undefined) return { type: 'string', minLength: 1, maxLength };
  const other = String.raw`[^0-9"\\\x00-\x1F]`;
  // A digit run and its separator are one repetition of several characters: half the limit leaves room for them.
  const reps = Math.max(1, Math.floor(maxLength / 2));
  if (digits.length === 0) return { type: 'string', minLength: 1, maxLength, pattern: `^(${other}){1,${reps}}$` };
  // Each run is followed by a non-digit (or ends the text): two runs cannot be glued into a number nobody gave ("1" "0" → "10").
  const run = `(${digits.join('|')})`;
  return { type: 'string', minLength: 1, maxLength, pattern: `^(${other}|${run}${other}){1,${reps}}${run}?$` };
}

/**
 * The JSON Schema of an answer. With `citeFrom` (the candidate digests) every citation must be one
 * of them; without it a citation is any short string (the grounding check then has the last word).
 * With `digits` (report/figures.ts digitRuns of the facts given) the free text may write digits
 * only as those runs; the grounding check still judges every figure.
 */
export function answerSchema(limits: AnswerLimits = DEFAULT_LIMITS, citeFrom?: readonly string[], digits?: readonly string[]): Record<string, unknown> {
  const citation = citeFrom !== undefined && citeFrom.length > 0 ? { type: 'string', enum: [...citeFrom] } : text(128);
  const sentences = { type: 'array', items: text(limits.sentence, digits), minItems: 1, maxItems: limits.sentences };
  return {
    type: 'object',
    additionalProperties: false,
    required: ['headline', 'keyThreats', 'trends', 'recommendedActions'],
    properties: {
      headline: text(limits.headline, digits),
      keyThreats: {
        type: 'array', minItems: 1, maxItems: limits.threats,
        items: {
          type: 'object', additionalProperties: false, required: ['title', 'citations'],
          properties: { title: text(limits.title, digits), citations: { type: 'array', items: citation, minItems: 1, maxItems: limits.citations } },
        },
      },
      trends: sentences,
      recommendedActions: sentences,
    },
  };
}

/** The outcome of {@link parseAnswer}. */
export type ParsedAnswer = { readonly ok: true; readonly answer: Answer } | { readonly ok: false; readonly problems: readonly string[] };

/** Parses a model's text as JSON and checks it against `schema` with ajv; problems name the failing paths. */
export function parseAnswer(textContent: string, schema: Record<string, unknown>): ParsedAnswer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(textContent);
  } catch (err) {
    return { ok: false, problems: [`the answer is not JSON: ${(err as Error).message}`] };
  }
  const validate = new Ajv({ allErrors: true, strict: true }).compile<Answer>(schema);
  if (validate(parsed)) return { ok: true, answer: parsed };
  return { ok: false, problems: (validate.errors ?? []).slice(0, 10).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`) };
}

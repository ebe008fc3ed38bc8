/**
 * The model endpoint: any OpenAI-compatible chat completions server, through the `openai`
 * package. Structured output in both forms servers take: OpenAI's
 * `response_format: {type: "json_schema", json_schema: {name, strict, schema}}`, and the
 * `{type: "json_object", schema}` form of llama-cpp-python's server, which refuses the first
 * (a refusal of json_schema, see #switchFormat, switches this client to json_object for good). The package's own
 * retries are off: this client retries timeouts, lost connections, 429 and 5xx itself, with
 * backoff, so every try is counted in the metrics with its latency and tokens.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, OpenAI } from 'openai';
import type { Logger } from '../log.ts';
import type { ReportMetrics, RequestOutcome } from './metrics.ts';
import type { ModelRequest } from './prompt.ts';
import { DEFAULT_RETRY, backoffMs, kindOfStatus, parseRetryAfter, retryable, type FailureKind, type RetryPolicy } from './retry.ts';
import type { Tlp } from './tlp.ts';

/** Structured-output form of a request. */
export type ResponseFormatKind = 'json_schema' | 'json_object';

/** Where and how to reach a model. */
export interface ModelEndpoint {
  /** OpenAI-compatible base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:8000/v1. */
  readonly baseUrl: string;
  readonly model: string;
  /** Bearer key; servers without authentication accept any. @default "none" */
  readonly apiKey?: string | undefined;
  /** The most restrictive TLP this endpoint may receive; nothing above it is ever sent. */
  readonly allowedTlp: Tlp;
  /** Per try. @default 60000 */
  readonly timeoutMs?: number | undefined;
  /** `auto` tries json_schema and falls back to json_object on a 4xx. @default 'auto' */
  readonly responseFormat?: 'auto' | ResponseFormatKind | undefined;
  /** @default DEFAULT_RETRY */
  readonly retry?: RetryPolicy | undefined;
}

/** One completed request. */
export interface ModelReply {
  readonly text: string;
  /** `length` when the answer was cut at max_tokens. */
  readonly finishReason: string | undefined;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Of the successful try. */
  readonly latencyMs: number;
  readonly format: ResponseFormatKind;
  /** Tries it took, the successful one included. */
  readonly tries: number;
}

/** A model call that failed for good (after retries, or at once when retrying cannot help). */
export class ModelError extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  constructor(kind: FailureKind, message: string, status?: number) {
    super(message);
    this.name = 'ModelError';
    this.kind = kind;
    this.status = status;
  }
}

/** What the summarizer needs of a model. */
export interface ChatModel {
  /** The model name, for metrics and reports. */
  readonly name: string;
  /** The endpoint's TLP ceiling. */
  readonly allowedTlp: Tlp;
  /** Identifies endpoint, model and format for the answer cache. */
  readonly cacheScope: string;
  complete(req: ModelRequest): Promise<ModelReply>;
}

/** What the client is built with besides the endpoint. */
export interface ModelDeps {
  readonly metrics?: ReportMetrics | undefined;
  readonly log?: Logger | undefined;
  /** @default setTimeout-based */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  /** @default Math.random */
  readonly random?: (() => number) | undefined;
  /** @default Date.now */
  readonly now?: (() => number) | undefined;
}

interface Failure {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly message: string;
}

function classify(err: unknown, now: number): Failure {
  if (err instanceof APIConnectionTimeoutError) return { kind: 'timeout', status: undefined, retryAfterMs: undefined, message: 'the model endpoint did not answer in time' };
  if (err instanceof APIConnectionError) return { kind: 'connection', status: undefined, retryAfterMs: undefined, message: `cannot reach the model endpoint: ${err.cause instanceof Error ? err.cause.message : err.message}` };
  if (err instanceof APIError && typeof err.status === 'number') {
    const h = err.headers as Headers | undefined;
    return { kind: kindOfStatus(err.status), status: err.status, retryAfterMs: parseRetryAfter(h?.get('retry-after'), h?.get('retry-after-ms'), now), message: `the model endpoint answered ${err.status}: ${err.message}` };
  }
  return { kind: 'malformed', status: undefined, retryAfterMs: undefined, message: `the model endpoint's answer is not a chat completion: ${err instanceof Error ? err.message : String(err)}` };
}

/** A {@link ChatModel} over an OpenAI-compatible endpoint. */
export class OpenAiChatModel implements ChatModel {
  readonly name: string;
  readonly allowedTlp: Tlp;
  readonly #client: OpenAI;
  readonly #endpoint: ModelEndpoint;
  readonly #deps: ModelDeps;
  #format: ResponseFormatKind;

  constructor(endpoint: ModelEndpoint, deps: ModelDeps = {}) {
    this.#endpoint = endpoint;
    this.#deps = deps;
    this.name = endpoint.model;
    this.allowedTlp = endpoint.allowedTlp;
    this.#format = endpoint.responseFormat === 'json_object' ? 'json_object' : 'json_schema';
    this.#client = new OpenAI({ baseURL: endpoint.baseUrl, apiKey: endpoint.apiKey || 'none', timeout: endpoint.timeoutMs ?? 60_000, maxRetries: 0 });
  }

  /** @inheritdoc */
  get cacheScope(): string {
    return `${this.#endpoint.baseUrl}|${this.#endpoint.model}`;
  }

  /** Sends `req`, retrying what may pass on another try; throws ModelError when it gives up. */
  async complete(req: ModelRequest): Promise<ModelReply> {
    const policy = this.#endpoint.retry ?? DEFAULT_RETRY;
    const now = this.#deps.now ?? Date.now;
    for (let attempt = 1; ; attempt++) {
      const started = now();
      try {
        return { ...(await this.#once(req, started)), tries: attempt };
      } catch (err) {
        const f = classify(err, now());
        this.#count(f.kind, (now() - started) / 1000);
        if (this.#switchFormat(f)) { attempt--; continue; }
        if (!retryable(f.kind) || attempt >= policy.attempts) throw new ModelError(f.kind, `${f.message} (try ${attempt} of ${policy.attempts})`, f.status);
        const wait = backoffMs(policy, attempt, this.#deps.random ?? Math.random, f.retryAfterMs);
        this.#deps.log?.warn('model request failed; retrying', { model: this.name, kind: f.kind, status: f.status, attempt, waitMs: wait });
        await (this.#deps.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms))))(wait);
      }
    }
  }

  /**
   * In auto mode, after a refused json_schema request, use json_object from now on. Refused means
   * a 4xx (other than 401/403/404/429), or any error status whose message names response_format
   * or json_schema: llama-cpp-python's server answers 500 with its request-validation error.
   */
  #switchFormat(f: Failure): boolean {
    if (this.#format !== 'json_schema' || (this.#endpoint.responseFormat ?? 'auto') !== 'auto' || f.status === undefined) return false;
    const namesFormat = /response_format|json_schema/i.test(f.message);
    if (!namesFormat && (f.kind !== 'client' || [401, 403, 404].includes(f.status))) return false;
    this.#deps.log?.info('the model endpoint refused response_format json_schema; using json_object with a schema', { model: this.name, status: f.status });
    this.#format = 'json_object';
    return true;
  }

  #responseFormat(schema: Record<string, unknown>): Record<string, unknown> {
    return this.#format === 'json_schema'
      ? { type: 'json_schema', json_schema: { name: 'executive_summary', strict: true, schema } }
      : { type: 'json_object', schema };
  }

  async #once(req: ModelRequest, started: number): Promise<Omit<ModelReply, 'tries'>> {
    const format = this.#format;
    const body = {
      model: this.#endpoint.model,
      messages: req.messages.map((m) => ({ role: m.role, content: m.content })),
      max_tokens: req.maxTokens,
      temperature: req.temperature,
      ...(req.seed !== undefined ? { seed: req.seed } : {}),
      // The SDK types only OpenAI's own forms; llama.cpp's {type: json_object, schema} goes through as is.
      response_format: this.#responseFormat(req.schema) as unknown as OpenAI.ResponseFormatJSONObject,
    };
    const completion = await this.#client.chat.completions.create(body);
    const latencyMs = (this.#deps.now ?? Date.now)() - started;
    const choice = completion.choices?.[0];
    if (choice === undefined || typeof choice.message?.content !== 'string') throw new Error('no choices[0].message.content in the answer');
    const promptTokens = completion.usage?.prompt_tokens ?? 0;
    const completionTokens = completion.usage?.completion_tokens ?? 0;
    this.#count('ok', latencyMs / 1000, promptTokens, completionTokens);
    return { text: choice.message.content, finishReason: choice.finish_reason ?? undefined, promptTokens, completionTokens, latencyMs, format };
  }

  #count(outcome: RequestOutcome, seconds: number, prompt = 0, completion = 0): void {
    const m = this.#deps.metrics;
    if (m === undefined) return;
    m.requests.inc({ model: this.name, outcome });
    m.latency.observe({ model: this.name }, seconds);
    if (prompt > 0) m.tokens.inc({ model: this.name, kind: 'prompt' }, prompt);
    if (completion > 0) m.tokens.inc({ model: this.name, kind: 'completion' }, completion);
  }
}

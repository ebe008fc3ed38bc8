/**
 * The answer cache, keyed by a hash of everything that shapes an answer: endpoint, model,
 * messages, schema, token limit, temperature and seed. Only answers that passed validation and the
 * grounding check are stored, so a refused answer is never served again. One in-memory
 * implementation here; report/store.ts keeps one in MongoDB for the operator.
 */
import { createHash } from 'node:crypto';
import type { ModelRequest } from './prompt.ts';

/** Accepted answers by input hash. */
export interface AnswerCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, text: string): Promise<void>;
}

/** The sha256 (hex) of a request to the model `scope` (endpoint and model). */
export function inputHash(scope: string, req: ModelRequest): string {
  return createHash('sha256').update(JSON.stringify([scope, req.messages, req.schema, req.maxTokens, req.temperature, req.seed ?? null])).digest('hex');
}

/** A bounded in-memory {@link AnswerCache}: the least recently used entry goes first. */
export class MemoryAnswerCache implements AnswerCache {
  readonly #max: number;
  readonly #entries = new Map<string, string>();

  /** @param max entries kept. @default 64 */
  constructor(max = 64) {
    this.#max = max;
  }

  /** The cached answer for `key`. */
  get(key: string): Promise<string | undefined> {
    const v = this.#entries.get(key);
    if (v !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, v);
    }
    return Promise.resolve(v);
  }

  /** Stores `text` under `key`, evicting the oldest entry when full. */
  set(key: string, text: string): Promise<void> {
    this.#entries.delete(key);
    this.#entries.set(key, text);
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value ?? '');
    return Promise.resolve();
  }
}

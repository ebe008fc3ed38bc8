/**
 * Checks every feed parser case shares: the parser runs to its end or fails with a FeedError
 * (any other exception is a crash), its output is well formed (string values, reasons, inputs
 * shown at most 256 characters), and it is the same whatever the chunking of the bytes (a
 * streaming parser must not depend on where the network cut the payload).
 */
import { drain, type Drained } from '../../operator/src/feeds/testing.ts';
import { FeedError, SHOWN_INPUT, type ByteSource, type ParseBatch } from '../../operator/src/feeds/types.ts';
import { randomChunks } from '../mutate.ts';
import { looksLikeUtf16 } from '../../operator/src/feeds/text.ts';
import type { Rng } from '../rng.ts';
import { check, Finding, same } from '../target.ts';

/** What a parser run gave: its drained output, or the code of the FeedError that ended it. */
export type Outcome = { readonly ok: true; readonly out: Drained } | { readonly ok: false; readonly code: string; readonly message: string };

/** A byte source of the given chunks (a bare iterator: each chunk costs one promise, not a generator step and an extra await). */
export function sourceOf(chunks: readonly Buffer[]): ByteSource {
  return {
    [Symbol.asyncIterator]: () => {
      let i = 0;
      return { next: () => Promise.resolve(i < chunks.length ? { done: false, value: chunks[i++]! } : { done: true, value: undefined }) };
    },
  };
}

/** Runs a parser to completion; a thrown non-FeedError is a crash Finding. */
export async function outcomeOf(parse: (src: ByteSource) => AsyncIterable<ParseBatch>, chunks: readonly Buffer[], input: string): Promise<Outcome> {
  try {
    return { ok: true, out: await drain(parse(sourceOf(chunks))) };
  } catch (err) {
    if (err instanceof FeedError) return { ok: false, code: err.code, message: err.message };
    throw new Finding('crash', `${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err)}`, input);
  }
}

function checkShape(o: Drained, input: string): void {
  for (const r of o.records) check(typeof r.value === 'string', 'record-shape', `record value is ${typeof r.value}`, input);
  for (const r of o.rejections) {
    check(typeof r.reason === 'string' && r.reason !== '' && typeof r.message === 'string', 'rejection-shape', `rejection without reason or message: ${JSON.stringify(r)}`, input);
    check(typeof r.input === 'string' && r.input.length <= SHOWN_INPUT, 'rejection-shape', `rejection input of ${r.input.length} characters`, input);
  }
}

/**
 * Parses `bytes` whole and in random chunks; both must agree. Returns the whole-payload outcome.
 * `input` is what a Finding shows (the document text).
 */
export async function parseBothWays(rng: Rng, parse: (src: ByteSource) => AsyncIterable<ParseBatch>, bytes: Buffer, input: string): Promise<Outcome> {
  const whole = await outcomeOf(parse, [bytes], input);
  const pieces = bytes.length <= 4096 ? randomChunks(rng, bytes) : [bytes.subarray(0, bytes.length >> 1), bytes.subarray(bytes.length >> 1)];
  const split = await outcomeOf(parse, pieces, input);
  if (whole.ok && split.ok) same(split.out, whole.out, 'chunking', { input, chunks: pieces.map((p) => p.length) });
  else same(split.ok ? 'ok' : split.code, whole.ok ? 'ok' : whole.code, 'chunking', { input, chunks: pieces.map((p) => p.length), whole: whole.ok ? undefined : whole.message, split: split.ok ? undefined : split.message });
  if (whole.ok) checkShape(whole.out, input);
  return whole;
}

/**
 * Fails unless the outcome is a success whose record values (and types) are `expected`. A payload
 * whose first bytes are a quarter NUL is refused as UTF-16 without a BOM by design (text.ts).
 */
export function expectRecords(o: Outcome, expected: ReadonlyArray<{ value: string; type?: string | undefined }>, input: string): void {
  if (!o.ok && o.code === 'invalid-encoding' && looksLikeUtf16(Buffer.from(input.replace(/^\ufeff/, ''), 'utf8').subarray(0, 512))) return;
  check(o.ok, 'valid-document', `a generated valid document failed: ${o.ok ? '' : `${o.code}: ${o.message}`}`, input);
  same(o.out.rejections, [], 'valid-document', input);
  same(o.out.records.map((r) => ({ value: r.value, type: r.type })), expected.map((e) => ({ value: e.value, type: e.type })), 'records', input);
}

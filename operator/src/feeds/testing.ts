/**
 * Helpers for the feed tests: byte sources cut into chunks of any size, and draining parsers
 * into flat lists. Test support only; nothing in the program imports it.
 */
import { fileURLToPath } from 'node:url';
import type { ByteSource, FeedRecord, FeedRejection, ParseBatch } from './types.ts';
import { fieldsOf, whereText } from './types.ts';

/** Absolute path of a fixture file under ./fixtures/. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** A byte source yielding `data` in chunks of `size` bytes (1 exercises every boundary). */
export function chunked(data: string | Buffer, size = 1 << 16): ByteSource {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return (async function* (): AsyncGenerator<Buffer> {
    for (let i = 0; i < buf.length; i += size) yield await Promise.resolve(buf.subarray(i, Math.min(buf.length, i + size)));
  })();
}

/** Everything a parser produced, flattened, with fields resolved and locations as text. */
export interface Drained {
  readonly records: Array<{ value: string; type: string | undefined; fields: Readonly<Record<string, unknown>> | undefined; where: string | undefined }>;
  readonly rejections: FeedRejection[];
  readonly skips: string[];
}

/** Drains a parser. */
export async function drain(batches: AsyncIterable<ParseBatch>): Promise<Drained> {
  const out: Drained = { records: [], rejections: [], skips: [] };
  for await (const b of batches) {
    out.records.push(...b.records.map((r: FeedRecord) => ({ value: r.value, type: r.type, fields: fieldsOf(r.fields), where: whereText(r.where) })));
    out.rejections.push(...b.rejections);
    out.skips.push(...b.skips);
  }
  return out;
}

/** Values of the drained records. */
export function values(d: Drained): string[] {
  return d.records.map((r) => r.value);
}

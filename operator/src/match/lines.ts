/**
 * Feeds a byte stream to a LogParser in whole lines without copying them: each chunk is handed
 * over as one range of complete lines; only the partial line at a chunk's end is carried (copied)
 * into the next; every range handed to the parser ends with a newline (one is added after a
 * last line that has none). A line longer than `maxLineBytes` is rejected as `line-too-long` and skipped
 * without being buffered.
 */
import type { LogParser } from './formats/parser.ts';
import type { ScanStats } from './stats.ts';

const NL = 10;

/** Options of `feedLines`. */
export interface FeedOptions {
  /** @default 1 MiB */
  readonly maxLineBytes?: number;
  /** Called after each chunk (progress, snapshot swaps). */
  readonly onChunk?: (() => void | Promise<void>) | undefined;
}

/** Streams `chunks` through `parser`; see the module doc. */
export async function feedLines(chunks: AsyncIterable<Buffer>, parser: LogParser, stats: ScanStats, opts: FeedOptions = {}): Promise<void> {
  const max = opts.maxLineBytes ?? 1 << 20;
  let carry: Buffer | undefined;
  let discarding = false;
  for await (const chunk of chunks) {
    stats.bytes += chunk.length;
    let from = 0;
    if (carry !== undefined || discarding) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        if (!discarding) carry = carry === undefined ? Buffer.from(chunk) : Buffer.concat([carry, chunk]);
        if (carry !== undefined && carry.length > max) ({ carry, discarding } = tooLong(stats, carry));
        await opts.onChunk?.();
        continue;
      }
      if (!discarding && carry !== undefined) {
        const line = Buffer.concat([carry, chunk.subarray(0, nl + 1)]);
        if (line.length > max) tooLong(stats, line);
        else parser.parse(line, 0, line.length);
      }
      carry = undefined;
      discarding = false;
      from = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last >= from) parser.parse(chunk, from, last + 1);
    const tail = last >= from ? last + 1 : from;
    if (tail < chunk.length) {
      carry = Buffer.from(chunk.subarray(tail));
      if (carry.length > max) ({ carry, discarding } = tooLong(stats, carry));
    }
    await opts.onChunk?.();
  }
  // The last line has no newline: add one, so that every range a parser sees ends with one.
  if (carry !== undefined && carry.length > 0 && !discarding) {
    const line = Buffer.concat([carry, Buffer.from([NL])]);
    parser.parse(line, 0, line.length);
  }
}

function tooLong(stats: ScanStats, start: Buffer): { carry: undefined; discarding: true } {
  stats.lines++;
  stats.reject('line-too-long', () => start.toString('latin1', 0, 100));
  return { carry: undefined, discarding: true };
}

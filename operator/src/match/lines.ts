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

/** The partial line carried from one chunk to the next. */
interface Carry {
  buf: Buffer | undefined;
  /** Inside a line already rejected as too long: drop bytes up to the next newline. */
  discarding: boolean;
  readonly max: number;
}

/** Completes the carried line with the start of `chunk`; returns where the chunk's own lines start (-1: no newline in it). */
function completeCarry(c: Carry, chunk: Buffer, parser: LogParser, stats: ScanStats): number {
  const nl = chunk.indexOf(NL);
  if (nl < 0) {
    if (!c.discarding) c.buf = c.buf === undefined ? Buffer.from(chunk) : Buffer.concat([c.buf, chunk]);
    if (c.buf !== undefined && c.buf.length > c.max) startDiscarding(c, stats);
    return -1;
  }
  if (!c.discarding && c.buf !== undefined) {
    const line = Buffer.concat([c.buf, chunk.subarray(0, nl + 1)]);
    if (line.length > c.max) tooLong(stats, line);
    else parser.parse(line, 0, line.length);
  }
  c.buf = undefined;
  c.discarding = false;
  return nl + 1;
}

function startDiscarding(c: Carry, stats: ScanStats): void {
  tooLong(stats, c.buf ?? Buffer.alloc(0));
  c.buf = undefined;
  c.discarding = true;
}

/** Streams `chunks` through `parser`; see the module doc. */
export async function feedLines(chunks: AsyncIterable<Buffer>, parser: LogParser, stats: ScanStats, opts: FeedOptions = {}): Promise<void> {
  const c: Carry = { buf: undefined, discarding: false, max: opts.maxLineBytes ?? 1 << 20 };
  for await (const chunk of chunks) {
    stats.bytes += chunk.length;
    const from = c.buf !== undefined || c.discarding ? completeCarry(c, chunk, parser, stats) : 0;
    if (from >= 0) {
      const last = chunk.lastIndexOf(NL);
      if (last >= from) parser.parse(chunk, from, last + 1);
      const tail = last >= from ? last + 1 : from;
      if (tail < chunk.length) {
        c.buf = Buffer.from(chunk.subarray(tail));
        if (c.buf.length > c.max) startDiscarding(c, stats);
      }
    }
    await opts.onChunk?.();
  }
  // The last line has no newline: add one, so that every range a parser sees ends with one.
  if (c.buf !== undefined && c.buf.length > 0 && !c.discarding) {
    const line = Buffer.concat([c.buf, Buffer.from([NL])]);
    parser.parse(line, 0, line.length);
  }
}

function tooLong(stats: ScanStats, start: Buffer): void {
  stats.lines++;
  stats.reject('line-too-long', () => start.toString('latin1', 0, 100));
}

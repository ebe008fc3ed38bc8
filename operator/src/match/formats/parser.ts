/**
 * The contract between the line splitter and the format parsers, and a base for parsers of text
 * formats that read one line as a string.
 */
import type { FieldMatcher } from '../fields.ts';
import type { ScanStats } from '../stats.ts';
import type { Tally } from '../tally.ts';

/** What a parser writes to. */
export interface ParseContext {
  readonly fields: FieldMatcher;
  readonly tally: Tally;
  readonly stats: ScanStats;
  /**
   * Whether byte-level parsers may skip lines by a WebAssembly prefilter (zeek.ts TSV); false
   * walks every line in JavaScript (the reference the differential tests compare with). @default true
   */
  readonly prefilter?: boolean | undefined;
}

/** A log format parser. One instance per input (it keeps header state, such as Zeek's #fields). */
export interface LogParser {
  /**
   * Parses the complete lines of `buf[start, end)`: every line, the last included, ends with
   * '\n' (lines.ts guarantees it). Counts lines, rejects and matches in the context.
   */
  parse(buf: Buffer, start: number, end: number): void;
  /** True when a line is header state a shard that starts mid-file must read first (Zeek '#' lines). */
  isHeader?(line: string): boolean;
}

/** Longest line a text parser accepts; longer lines are rejected as `line-too-long`. */
export const MAX_LINE_BYTES = 64 * 1024;

/** Splits a range into lines and calls `line` with each one's text (UTF-8, CR removed). */
export abstract class TextLineParser implements LogParser {
  protected readonly ctx: ParseContext;

  constructor(ctx: ParseContext) {
    this.ctx = ctx;
  }

  parse(buf: Buffer, start: number, end: number): void {
    const stats = this.ctx.stats;
    let pos = start;
    while (pos < end) {
      let nl = buf.indexOf(10, pos);
      if (nl < 0 || nl > end) nl = end;
      stats.lines++;
      let e = nl;
      if (e > pos && buf[e - 1] === 13) e--;
      if (e - pos > MAX_LINE_BYTES) stats.reject('line-too-long', () => buf.toString('latin1', pos, pos + 100));
      else if (e > pos) this.line(buf.toString('utf8', pos, e));
      pos = nl + 1;
    }
  }

  /** Handles one non-empty line. */
  protected abstract line(text: string): void;

  /** Commits the current record's hits (if any) at the time `ts` yields; rejects the line when a hit has no usable time. */
  protected commit(text: string, ts: () => number, source: string): void {
    const f = this.ctx.fields;
    if (f.hits === 0) return;
    const ms = ts();
    if (!Number.isFinite(ms)) {
      this.ctx.stats.reject('bad-timestamp', () => text);
      return;
    }
    this.ctx.tally.record(f.snap, f.ids, f.hits, ms, source);
  }
}

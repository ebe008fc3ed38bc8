/**
 * The log formats `threatmesh scan` and LogScans read, by name, with what a shard that starts in
 * the middle of an input must read first (its preamble): Zeek TSV's `#` header lines, the CSV
 * header row.
 */
import { CefParser } from './cef.ts';
import { CombinedParser } from './combined.ts';
import { CsvParser } from './csv.ts';
import type { LogParser, ParseContext } from './parser.ts';
import { SquidParser } from './squid.ts';
import { SuricataParser } from './suricata.ts';
import { ZeekParser } from './zeek.ts';

/** Every format name. */
export const LOG_FORMATS = ['zeek', 'suricata-eve', 'combined', 'squid', 'cef', 'csv'] as const;

/** One of LOG_FORMATS. */
export type LogFormat = typeof LOG_FORMATS[number];

/** What a mid-input shard reads from the start of its input first. */
export type Preamble = 'hash-lines' | 'first-line' | 'none';

/** True when `s` names a format. */
export function isLogFormat(s: string): s is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(s);
}

/** A new parser of `format` writing to `ctx`. */
export function parserFor(format: LogFormat, ctx: ParseContext): LogParser {
  switch (format) {
    case 'zeek': return new ZeekParser(ctx);
    case 'suricata-eve': return new SuricataParser(ctx);
    case 'combined': return new CombinedParser(ctx);
    case 'squid': return new SquidParser(ctx);
    case 'cef': return new CefParser(ctx);
    case 'csv': return new CsvParser(ctx);
  }
}

/** The preamble of `format`. */
export function preambleOf(format: LogFormat): Preamble {
  return format === 'zeek' ? 'hash-lines' : format === 'csv' ? 'first-line' : 'none';
}

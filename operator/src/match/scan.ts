/**
 * Scans one input (a whole file or object, or one shard of it) with one format against the
 * current snapshot: source → decompression (gzip/zstd, sniffed) → whole lines → format parser →
 * tally. A shard that starts mid-input first reads its format's preamble (Zeek's `#` header,
 * the CSV header row) from the input's start. Between chunks the scan picks up a newer snapshot
 * when the holder has one (admissions, revocations and expiry apply without a restart).
 */
import { decompressed, sniffCompression, type Compression } from './decompress.ts';
import { ScanError } from './errors.ts';
import { FieldMatcher } from './fields.ts';
import { parserFor, preambleOf, type LogFormat } from './formats/index.ts';
import type { LogParser } from './formats/parser.ts';
import { feedLines } from './lines.ts';
import type { MatcherSnapshot } from './snapshot.ts';
import { describe, lineRange, notSeekable, openRaw, type ByteRange, type LogLocation } from './source.ts';
import { ScanStats } from './stats.ts';
import { Tally } from './tally.ts';

/** How far a scan got. */
export interface ScanProgress {
  /** Uncompressed bytes read. */
  readonly bytes: number;
  /** Bytes of the input as stored (compressed bytes for a compressed input). */
  readonly inputBytes: number;
  readonly lines: number;
  readonly matchedRecords: number;
}

/** Options of `scanInput`. */
export interface ScanInputOptions {
  readonly format: LogFormat;
  /** The snapshot to match against, read at the start and after every chunk. */
  readonly snapshot: () => MatcherSnapshot;
  /** Accumulators shared by several inputs of one scan. @default new ones */
  readonly tally?: Tally;
  readonly stats?: ScanStats;
  /** Whether the Zeek TSV parser may use its WebAssembly prefilter (formats/parser.ts ParseContext). @default true */
  readonly prefilter?: boolean | undefined;
  /** Called after each chunk. */
  readonly onProgress?: ((p: ScanProgress) => void | Promise<void>) | undefined;
}

/** What one input yielded. */
export interface ScanOutcome {
  readonly tally: Tally;
  readonly stats: ScanStats;
  readonly compression: Compression;
}

const PREAMBLE_BYTES = 256 * 1024;
const REUSE = { reuseBuffers: true } as const;

/** Scans `loc` (or the lines starting in `range` of it); see the module doc. Throws ScanError when the input cannot be read. */
export async function scanInput(loc: LogLocation, range: ByteRange | undefined, opts: ScanInputOptions): Promise<ScanOutcome> {
  const tally = opts.tally ?? new Tally();
  const stats = opts.stats ?? new ScanStats();
  const fields = new FieldMatcher(opts.snapshot());
  const parser = parserFor(opts.format, { fields, tally, stats, prefilter: opts.prefilter });
  const what = describe(loc);
  let inputBytes = 0;
  const linesBefore = stats.lines;
  let body: AsyncIterable<Buffer>;
  let compression: Compression;
  if (range !== undefined && (range.start > 0 || range.end !== undefined)) {
    if (loc.kind === 'file' && loc.pipe === true) throw notSeekable(loc.path);
    compression = sniffCompression(await head(loc, 4));
    if (compression !== 'none') throw new ScanError('bad-config', `${what} is ${compression}-compressed: a compressed input cannot be split into byte ranges; scan it as one shard`);
    if (range.start > 0) await readPreamble(loc, opts.format, parser, stats);
    body = counted(lineRange((from) => openRaw(loc, { start: from }, REUSE), range), (n) => { inputBytes += n; });
  } else if (loc.kind === 'file' && loc.pipe !== true && sniffCompression(await head(loc, 4)) === 'none') {
    // An uncompressed file: feedLines and the parsers finish with each chunk before the next, so its buffers can be reused.
    compression = 'none';
    body = counted(openRaw(loc, undefined, REUSE), (n) => { inputBytes += n; });
  } else {
    // Pipes, FIFOs and standard input too: compression is sniffed from the stream's first chunk, which is then read on.
    const d = await decompressed(openRaw(loc), what, (n) => { inputBytes = n; });
    compression = d.compression;
    body = compression === 'none' ? counted(d.body, (n) => { inputBytes += n; }) : d.body;
  }
  await feedLines(body, parser, stats, {
    onChunk: async () => {
      fields.snap = opts.snapshot();
      await opts.onProgress?.({ bytes: stats.bytes, inputBytes, lines: stats.lines - linesBefore, matchedRecords: tally.matchedRecords });
    },
  });
  return { tally, stats, compression };
}

async function* counted(src: AsyncIterable<Buffer>, add: (n: number) => void): AsyncGenerator<Buffer> {
  for await (const c of src) {
    add(c.length);
    yield c;
  }
}

async function head(loc: LogLocation, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let len = 0;
  for await (const c of openRaw(loc, { start: 0, end: n })) {
    parts.push(c);
    len += c.length;
    if (len >= n) break;
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** Feeds the format's preamble from the start of `loc` to the parser, without counting its lines. */
async function readPreamble(loc: LogLocation, format: LogFormat, parser: LogParser, stats: ScanStats): Promise<void> {
  const kind = preambleOf(format);
  if (kind === 'none') return;
  const buf = await head(loc, PREAMBLE_BYTES);
  let end = 0;
  while (end < buf.length) {
    const nl = buf.indexOf(10, end);
    if (nl < 0) break;
    if (kind === 'hash-lines' && buf[end] !== 35) break;
    end = nl + 1;
    if (kind === 'first-line') break;
  }
  const lines = stats.lines;
  if (end > 0) parser.parse(buf, 0, end);
  stats.lines = lines;
}

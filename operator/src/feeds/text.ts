/**
 * Byte-level input handling shared by every text parser: byte-order marks, UTF-16, the "server
 * sent an HTML page" check, UTF-8 validation, CRLF, and a line splitter with a length guard.
 * Everything is streaming: memory is bounded by the chunk size plus the longest allowed line.
 */
import { isUtf8 } from 'node:buffer';
import { FeedError, shown, type ByteSource, type FeedRejection } from './types.ts';

/** Default longest line, in bytes; longer lines are rejected (`line-too-long`), not buffered. */
export const DEFAULT_MAX_LINE_BYTES = 1 << 20;

const SNIFF_BYTES = 512;
const BATCH_BYTES = 32 * 1024;
const NL = 10;

function toBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

type Bom = 'utf8' | 'utf16le' | 'utf16be' | 'none';

function detectBom(b: Buffer): Bom {
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return 'utf8';
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return 'utf16le';
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return 'utf16be';
  return 'none';
}

/** True when at least a quarter of the first bytes are NUL: UTF-16 text without a BOM (or binary data). */
export function looksLikeUtf16(head: Buffer): boolean {
  if (head.length < 8) return false;
  let zeros = 0;
  for (const b of head) if (b === 0) zeros++;
  return zeros * 4 >= head.length;
}

/** Formats recognized by their first bytes that are not text: what the refusal calls them and what to do. */
const BINARY_MAGIC: ReadonlyArray<{ readonly magic: readonly number[]; readonly at?: number; readonly what: string; readonly fix: string }> = [
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'xz-compressed', fix: 'decompress it (xz -d) or recompress it with gzip or zstd, which are read directly' },
  { magic: [0x42, 0x5a, 0x68, 0x39], what: 'bzip2-compressed', fix: 'decompress it (bunzip2) or recompress it with gzip or zstd, which are read directly' },
  { magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], what: 'a 7-Zip archive', fix: 'extract the feed file from it (7z x), or pack it as zip or gzip' },
  { magic: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07], what: 'a RAR archive', fix: 'extract the feed file from it, or pack it as zip or gzip' },
  { magic: [0x75, 0x73, 0x74, 0x61, 0x72], at: 257, what: 'a tar archive', fix: 'extract the feed file from it (tar xf), or pack that one file with gzip' },
  { magic: [0x7f, 0x45, 0x4c, 0x46], what: 'an executable (ELF)', fix: 'point the feed at its text file' },
  { magic: [0x25, 0x50, 0x44, 0x46, 0x2d], what: 'a PDF document', fix: 'point the feed at its text data, not a report' },
  { magic: [0x89, 0x50, 0x4e, 0x47], what: 'a PNG image', fix: 'point the feed at its text data' },
];

/**
 * Why `head` (the first bytes of a payload, BOM removed) is not text, or undefined when it may
 * be: a known binary format, or NUL bytes, which no text feed contains (UTF-16 without a
 * byte-order mark excepted: looksLikeUtf16 reports that one).
 */
export function binaryKind(head: Buffer): { readonly what: string; readonly fix: string } | undefined {
  for (const m of BINARY_MAGIC) {
    const at = m.at ?? 0;
    if (head.length >= at + m.magic.length && m.magic.every((b, i) => head[at + i] === b)) return { what: m.what, fix: m.fix };
  }
  if (head.includes(0) && !looksLikeUtf16(head)) return { what: 'binary data (it holds NUL bytes)', fix: 'point the feed at a text file: lines, CSV, JSON or STIX, plain or gzip/zstd/zip-compressed' };
  return undefined;
}

/** True when `head` (the first bytes of a payload, BOM removed) starts like an HTML page. */
export function looksLikeHtml(head: Buffer): boolean {
  let i = 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  const start = head.toString('latin1', i, Math.min(head.length, i + 16)).toLowerCase();
  return start.startsWith('<!doctype html') || start.startsWith('<html') || start.startsWith('<head') || start.startsWith('<body');
}

async function* transcodeUtf16(first: Buffer, rest: AsyncIterator<Buffer | Uint8Array | string>, encoding: 'utf-16le' | 'utf-16be'): AsyncGenerator<Buffer> {
  const decoder = new TextDecoder(encoding, { fatal: true });
  const decode = (b: Buffer, stream: boolean): Buffer => {
    try {
      return Buffer.from(decoder.decode(b, { stream }), 'utf8');
    } catch {
      throw new FeedError('invalid-encoding', `the feed starts with a ${encoding.toUpperCase()} byte-order mark but is not valid ${encoding.toUpperCase()}; re-encode it as UTF-8`);
    }
  };
  yield decode(first.subarray(2), true);
  for (let r = await rest.next(); r.done !== true; r = await rest.next()) yield decode(toBuffer(r.value), true);
  yield decode(Buffer.alloc(0), false);
}

/**
 * Normalizes the start of a byte stream: strips a UTF-8 BOM, transcodes UTF-16 (with BOM) to
 * UTF-8, and fails with `html-instead-of-data` when the payload is an HTML page (a login or error
 * page served instead of the feed). Yields Buffers of UTF-8 (not yet validated).
 */
export async function* prepareBytes(source: ByteSource): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  try {
    ended = yield* prepared(it);
  } finally {
    // Closed early (the consumer failed or stopped): close the source too, so a download's socket and timers end now.
    if (!ended) await it.return?.(undefined);
  }
}

/** The body of {@link prepareBytes}; returns true when `it` was read to its end. */
async function* prepared(it: AsyncIterator<Buffer | Uint8Array | string>): AsyncGenerator<Buffer, boolean> {
  let head: Buffer = Buffer.alloc(0);
  let done = false;
  while (head.length < SNIFF_BYTES && !done) {
    const r = await it.next();
    if (r.done === true) done = true;
    else head = head.length === 0 ? toBuffer(r.value) : Buffer.concat([head, toBuffer(r.value)]);
  }
  const bom = detectBom(head);
  if (bom === 'utf16le' || bom === 'utf16be') {
    yield* transcodeUtf16(head, done ? emptyIterator() : it, bom === 'utf16le' ? 'utf-16le' : 'utf-16be');
    return true;
  }
  if (bom === 'utf8') head = head.subarray(3);
  refuseNonText(head);
  if (head.length > 0) yield head;
  if (done) return true;
  for (let r = await it.next(); r.done !== true; r = await it.next()) yield toBuffer(r.value);
  return true;
}

/** Throws when the start of a payload shows it is not a UTF-8 text feed at all. */
function refuseNonText(head: Buffer): void {
  // The same bytes whatever the chunk size: a NUL further on costs its line only (readLines).
  const binary = binaryKind(head.subarray(0, SNIFF_BYTES));
  if (binary !== undefined) {
    // Refused as a whole: scraps of text between binary bytes are not indicators.
    throw new FeedError('binary-data', `the input is ${binary.what}, not a text feed: ${binary.fix}`);
  }
  if (looksLikeUtf16(head)) {
    throw new FeedError('invalid-encoding', 'the feed looks like UTF-16 without a byte-order mark (many NUL bytes); re-encode it as UTF-8 or add a BOM');
  }
  if (looksLikeHtml(head)) {
    throw new FeedError('html-instead-of-data', 'the source returned an HTML page instead of feed data (a login, error or rate-limit page?); check the URL and the credentials');
  }
}

function emptyIterator(): AsyncIterator<Buffer> {
  return { next: () => Promise.resolve({ done: true, value: undefined }) };
}

/** A group of consecutive lines. Faulty lines appear as '' in `lines` (numbering stays right) and in `faults`. */
export interface LineBatch {
  readonly lines: string[];
  /** 1-based number of `lines[0]`. */
  readonly firstLine: number;
  readonly faults: FeedRejection[];
  /** The line number of each fault (same order), so parsers can report them in feed order. */
  readonly faultLines: number[];
}

/**
 * Calls `line` for every line of `lb` and `fault` for each of its faults just before the line it
 * is about, so a parser that rejects records too keeps all its rejections in feed order, however
 * the input was cut into batches.
 */
export function forEachLine(lb: LineBatch, line: (text: string, no: number) => void, fault: (f: FeedRejection) => void): void {
  let k = 0;
  for (let i = 0; i < lb.lines.length; i++) {
    const no = lb.firstLine + i;
    for (; k < lb.faults.length && (lb.faultLines[k] ?? 0) <= no; k++) fault(lb.faults[k]!);
    line(lb.lines[i] ?? '', no);
  }
  for (; k < lb.faults.length; k++) fault(lb.faults[k]!);
}

/** Options of `readLines`. */
export interface ReadLinesOptions {
  /** @default DEFAULT_MAX_LINE_BYTES */
  readonly maxLineBytes?: number;
}

interface LineState {
  carry: Buffer[];
  carryLen: number;
  /** Inside an over-long line whose start was already reported: drop bytes up to the next newline. */
  discarding: boolean;
  lineNo: number;
  readonly max: number;
}

/**
 * Splits a UTF-8 byte stream into lines (LF or CRLF), yielding one LineBatch per input chunk.
 * Lines longer than `maxLineBytes` are rejected as `line-too-long` without being buffered; lines
 * that are not valid UTF-8 are rejected as `invalid-encoding`. Calls prepareBytes first.
 */
export async function* readLines(source: ByteSource, opts: ReadLinesOptions = {}): AsyncGenerator<LineBatch> {
  const st: LineState = { carry: [], carryLen: 0, discarding: false, lineNo: 1, max: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES };
  for await (const chunk of prepareBytes(source)) {
    // Large chunks are cut into pieces so that fewer records are alive at once: records that
    // outlive a young-generation collection get promoted and grow the heap.
    for (let at = 0; at < chunk.length; at += BATCH_BYTES) {
      const batch = pushChunk(st, at === 0 && chunk.length <= BATCH_BYTES ? chunk : chunk.subarray(at, at + BATCH_BYTES));
      if (batch !== undefined) yield batch;
    }
  }
  if (st.carryLen > 0 || st.discarding) {
    const rest = Buffer.concat(st.carry);
    st.carry = [];
    st.carryLen = 0;
    yield splitComplete(st, rest, true);
  }
}

function pushChunk(st: LineState, chunk: Buffer): LineBatch | undefined {
  const last = chunk.lastIndexOf(NL);
  if (last < 0) {
    if (st.discarding) return undefined;
    st.carry.push(chunk);
    st.carryLen += chunk.length;
    if (st.carryLen > st.max) return startDiscard(st);
    return undefined;
  }
  const head = st.carryLen > 0 ? Buffer.concat([...st.carry, chunk.subarray(0, last + 1)]) : chunk.subarray(0, last + 1);
  const tail = chunk.subarray(last + 1);
  st.carry = tail.length > 0 ? [Buffer.from(tail)] : [];
  st.carryLen = tail.length;
  return splitComplete(st, head, false);
}

const PREVIEW_BYTES = 64;

/**
 * The start of an over-long line shown in its rejection: its first bytes (at most 64, and never
 * more than the line limit plus one, which is all a line cut across chunks is known by), cut at
 * a character boundary. The same whatever chunks the line arrived in.
 */
function previewOf(st: LineState, bytes: Buffer): string {
  return new TextDecoder('utf-8').decode(bytes.subarray(0, Math.min(PREVIEW_BYTES, st.max + 1)), { stream: true });
}

function startDiscard(st: LineState): LineBatch {
  const preview = previewOf(st, Buffer.concat(st.carry));
  st.carry = [];
  st.carryLen = 0;
  st.discarding = true;
  return { lines: [], firstLine: st.lineNo, faults: [tooLong(st, preview)], faultLines: [st.lineNo] };
}

function tooLong(st: LineState, preview: string): FeedRejection {
  return { reason: 'line-too-long', message: `line is longer than ${st.max} bytes; it was skipped (raise maxLineBytes if the feed really has such lines)`, input: shown(preview), where: `line ${st.lineNo}` };
}

/** Splits `buf` (ending with '\n' unless `atEnd`) into lines. */
function splitComplete(st: LineState, buf: Buffer, atEnd: boolean): LineBatch {
  let start = 0;
  const firstLine = st.lineNo;
  const lines: string[] = [];
  const faults: FeedRejection[] = [];
  const faultLines: number[] = [];
  if (st.discarding) {
    const nl = buf.indexOf(NL);
    start = nl < 0 ? buf.length : nl + 1;
    st.discarding = false;
    lines.push('');
    st.lineNo++;
  }
  const body = buf.subarray(start);
  const out = { lines, faults, faultLines };
  // NUL is valid UTF-8 but never text: such lines go the slow way and are rejected.
  if (isUtf8(body) && !body.includes(0)) {
    const text = body.toString('utf8');
    const plain = lines.length === 0 ? plainSplit(st, text) : undefined;
    if (plain !== undefined) return finishBatch(st, plain, firstLine, out, !atEnd && body.length > 0);
    splitText(st, text, out);
  } else {
    splitBytes(st, body, out);
  }
  return finishBatch(st, lines, firstLine, out, !atEnd && body.length > 0);
}

/** The batch of `lines`; `endsWithNewline`: the buffer ended with '\n' (not at the end of input). */
function finishBatch(st: LineState, lines: string[], firstLine: number, out: LinesOut, endsWithNewline: boolean): LineBatch {
  if (endsWithNewline && lines.length > 0) {
    // The buffer ended with '\n': the split produced one empty trailing element that is not a line.
    lines.pop();
    st.lineNo--;
  }
  return { lines, firstLine, faults: out.faults, faultLines: out.faultLines };
}

/**
 * The lines of `text` as `split` gives them, when none needs a look of its own: the whole text
 * is too short for any line to pass the limit (at most 3 UTF-8 bytes per UTF-16 unit) and holds
 * no CR. Undefined otherwise (the per-line path). Saves a call and a copy per line.
 */
function plainSplit(st: LineState, text: string): string[] | undefined {
  if (text.length === 0 || text.length * 3 > st.max || text.includes('\r')) return undefined;
  const parts = text.split('\n');
  st.lineNo += parts.length;
  return parts;
}

type LinesOut = Pick<LineBatch, 'lines' | 'faults' | 'faultLines'>;

function splitText(st: LineState, text: string, out: LinesOut): void {
  if (text.length === 0) return;
  const parts = text.split('\n');
  for (const p of parts) pushLine(st, p, out);
}

function pushFault(st: LineState, out: LinesOut, f: FeedRejection): void {
  out.faults.push(f);
  out.faultLines.push(st.lineNo);
  out.lines.push('');
  st.lineNo++;
}

// The limit counts the bytes of the line as received (a CR before the LF included), as the
// carry of a line cut across chunks does, so where the network cut a payload never decides it.
function pushLine(st: LineState, raw: string, out: LinesOut): void {
  if (raw.length > st.max || (raw.length * 3 > st.max && Buffer.byteLength(raw, 'utf8') > st.max)) {
    pushFault(st, out, tooLong(st, previewOf(st, Buffer.from(raw.slice(0, PREVIEW_BYTES), 'utf8'))));
    return;
  }
  out.lines.push(raw.length > 0 && raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw);
  st.lineNo++;
}

function splitBytes(st: LineState, body: Buffer, out: LinesOut): void {
  let pos = 0;
  while (pos <= body.length) {
    let nl = body.indexOf(NL, pos);
    if (nl < 0) nl = body.length;
    const line = body.subarray(pos, nl);
    if (line.length > st.max) {
      pushFault(st, out, tooLong(st, previewOf(st, line)));
    } else if (line.includes(0)) {
      pushFault(st, out, { reason: 'binary-data', message: 'line holds NUL bytes (binary data, not text); it was skipped', input: shown(line.toString('latin1').replace(/\0/g, '\\0')), where: `line ${st.lineNo}` });
    } else if (isUtf8(line)) {
      pushLine(st, line.toString('utf8'), out);
    } else {
      pushFault(st, out, { reason: 'invalid-encoding', message: 'line is not valid UTF-8; it was skipped (is the feed in another encoding? re-encode it as UTF-8)', input: shown(line.toString('latin1')), where: `line ${st.lineNo}` });
    }
    pos = nl + 1;
  }
}

/**
 * Decodes a byte stream to text chunks for the JSON scanner: prepareBytes plus strict UTF-8
 * (a document with invalid UTF-8 fails with `invalid-encoding`, since JSON has no lines to skip).
 */
export async function* readText(source: ByteSource): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let offset = 0;
  try {
    for await (const chunk of prepareBytes(source)) {
      yield decoder.decode(chunk, { stream: true });
      offset += chunk.length;
    }
    const tail = decoder.decode();
    if (tail.length > 0) yield tail;
  } catch (err) {
    if (err instanceof FeedError) throw err;
    throw new FeedError('invalid-encoding', `the document is not valid UTF-8 (near byte ${offset}); re-encode it as UTF-8`);
  }
}

/**
 * Where log bytes come from: local files (a PVC or host path), HTTP(S) URLs and S3-compatible
 * object storage, each readable whole or as a byte range, and the line-boundary rule that makes
 * byte ranges into shards: a shard [start, end) owns exactly the lines whose first byte lies in
 * it, so consecutive shards cover every line once, whatever the byte offsets.
 */
import { createReadStream, readSync } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchUrl, type Credentials } from '../feeds/fetch.ts';
import { FeedError } from '../feeds/types.ts';
import { ScanError } from './errors.ts';
import { S3Client, type S3Config } from './s3.ts';

/** One readable input. */
export type LogLocation =
  | {
    readonly kind: 'file';
    /** A path; `-` is standard input. */
    readonly path: string;
    /**
     * True for an input that can only be read once from its start (a pipe, a FIFO, a terminal,
     * a socket, `-`): read by streaming, never by positioned reads, so it cannot be split into
     * byte ranges. `expand` sets it. @default false
     */
    readonly pipe?: boolean | undefined;
  }
  | { readonly kind: 'http'; readonly url: string; readonly credentials?: Credentials | undefined; /** Internal CIDRs it may reach (feeds/destinations.ts); none by default. */ readonly allowInternal?: readonly string[] | undefined }
  | { readonly kind: 's3'; readonly s3: S3Config; readonly bucket: string; readonly key: string };

/** A byte range [start, end); `end` undefined means to the end of the input. */
export interface ByteRange {
  readonly start: number;
  readonly end?: number | undefined;
}

const NL = 10;
const READ_CHUNK = 1 << 20;
/** Chunk of a reused-buffer file read: small enough that a chunk and the matcher's hot tables share the CPU's L2 cache. */
const REUSED_CHUNK = 1 << 17;

/** Options of `openRaw`. */
export interface OpenOptions {
  /**
   * Files only: read (synchronously) into one buffer reused for every chunk, so that a long scan
   * allocates no memory per chunk (fresh 1 MiB chunks made V8 run a full collection every few
   * dozen chunks), and no read waits on the thread pool. A yielded
   * chunk is then valid only until the next one is requested: for consumers that finish with
   * each chunk (or copy what they keep) before asking for the next, never for a stream that
   * queues chunks (decompression). @default false
   */
  readonly reuseBuffers?: boolean;
}

/** A short human name of a location (never credentials). */
export function describe(loc: LogLocation): string {
  if (loc.kind === 'file') return loc.path === '-' ? 'standard input' : loc.path;
  if (loc.kind === 's3') return `s3://${loc.bucket}/${loc.key}`;
  const u = new URL(loc.url);
  u.username = '';
  u.password = '';
  return u.toString();
}

/** The raw bytes of `loc` from `range.start` (inclusive) to `range.end` (exclusive) or the end. */
export async function* openRaw(loc: LogLocation, range: ByteRange = { start: 0 }, opts: OpenOptions = {}): AsyncGenerator<Buffer> {
  if (loc.kind === 'file') {
    yield* fileBytes(loc, range, opts);
    return;
  }
  if (loc.kind === 's3') {
    yield* new S3Client(loc.s3).get(loc.bucket, loc.key, range.start === 0 && range.end === undefined ? undefined : range);
    return;
  }
  yield* httpBytes(loc, range);
}

async function* fileBytes(loc: Extract<LogLocation, { kind: 'file' }>, range: ByteRange, opts: OpenOptions): AsyncGenerator<Buffer> {
  if (loc.pipe === true) {
    if (range.start > 0 || range.end !== undefined) throw notSeekable(loc.path);
    yield* pipeChunks(loc.path);
    return;
  }
  const end = range.end === undefined ? undefined : range.end - 1;
  if (end !== undefined && end < range.start) return;
  try {
    if (opts.reuseBuffers === true) yield* reusedChunks(loc.path, range.start, range.end ?? Infinity);
    else for await (const c of createReadStream(loc.path, { start: range.start, end, highWaterMark: READ_CHUNK })) yield c as Buffer;
  } catch (err) {
    throw new ScanError('unreadable', `cannot read ${loc.path}: ${(err as Error).message}`);
  }
}

/** The ScanError for a byte range (a shard, a peek at the first bytes) of an input that can only be streamed. */
export function notSeekable(path: string): ScanError {
  return new ScanError('bad-config', `${path === '-' ? 'standard input' : path} is a pipe, FIFO or terminal: it can only be read once from its start, not by byte ranges (shards); scan it whole with threatmesh scan --log, or write it to a regular file first`);
}

/**
 * Names of standard input. Read through file descriptor 0 itself: opening /dev/stdin fails
 * (ENXIO) when standard input is a socket, which is what Node and many supervisors give a child.
 */
const STDIN_NAMES: readonly string[] = ['-', '/dev/stdin', '/dev/fd/0', '/proc/self/fd/0'];

/** The bytes of a pipe, FIFO or standard input, read sequentially. */
async function* pipeChunks(path: string): AsyncGenerator<Buffer> {
  const stream = STDIN_NAMES.includes(path) ? createReadStream('', { fd: 0, autoClose: false, highWaterMark: READ_CHUNK }) : createReadStream(path, { highWaterMark: READ_CHUNK });
  try {
    for await (const c of stream) yield c as Buffer;
  } catch (err) {
    throw new ScanError('unreadable', `cannot read ${path === '-' ? 'standard input' : path}: ${(err as Error).message}`);
  } finally {
    stream.destroy();
  }
}

/**
 * The bytes of `path` in [start, end), read into one buffer reused for every chunk. The reads
 * are synchronous: a scan's thread (a scan pod, the in-process executor's one worker thread per
 * shard, or the CLI) has nothing else to run meanwhile, and a promise read costs about 25 us
 * of CPU per 128 KiB chunk in thread-pool hand-offs, more than the copy itself (issue 15,
 * docs/adr/2026-12-07-wasm-tsv-prefilter.md).
 */
async function* reusedChunks(path: string, start: number, end: number): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafeSlow(REUSED_CHUNK);
  try {
    for (let pos = start; pos < end;) {
      const n = readSync(fh.fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n === 0) return;
      pos += n;
      yield buf.subarray(0, n);
    }
  } finally {
    await fh.close();
  }
}

async function* httpBytes(loc: Extract<LogLocation, { kind: 'http' }>, range: ByteRange): AsyncGenerator<Buffer> {
  const whole = range.start === 0 && range.end === undefined;
  const headers: Record<string, string> = whole ? {} : { range: `bytes=${range.start}-${range.end === undefined ? '' : range.end - 1}` };
  try {
    const r = await fetchUrl(loc.url, { credentials: loc.credentials, allowInternal: loc.allowInternal, headers, unpack: false, maxBytes: Number.MAX_SAFE_INTEGER, maxDecompressedBytes: Number.MAX_SAFE_INTEGER, timeoutMs: 24 * 3_600_000 });
    if (r.status !== 'ok') throw new ScanError('http-status', `${describe(loc)} answered 304 to an unconditional GET`);
    if (!whole && r.header('content-range') === undefined) throw new ScanError('http-status', `${describe(loc)} ignored the Range request (no Content-Range): the server cannot serve shards; scan it as one shard`);
    yield* r.body;
  } catch (err) {
    if (err instanceof FeedError) throw new ScanError(err.code === 'truncated' ? 'truncated' : 'http-status', `${describe(loc)}: ${err.message}`);
    throw err;
  }
}

/** The size of `loc` in bytes, when the source can tell. */
export async function sizeOf(loc: LogLocation): Promise<number | undefined> {
  if (loc.kind === 'file') return loc.pipe === true ? undefined : (await statFile(loc.path)).size;
  if (loc.kind === 's3') return new S3Client(loc.s3).size(loc.bucket, loc.key);
  return undefined;
}

async function statFile(path: string): Promise<{ size: number; dir: boolean; pipe: boolean }> {
  try {
    const st = await stat(path);
    return { size: st.size, dir: st.isDirectory(), pipe: st.isFIFO() || st.isCharacterDevice() || st.isSocket() };
  } catch (err) {
    throw new ScanError('unreadable', `cannot read ${path}: ${(err as Error).message}; check the path (a file or a directory of log files)`);
  }
}

/**
 * The inputs a source names: a file, every file of a directory, or every object under an S3
 * prefix; in name order. `-`, a pipe, a FIFO, a terminal or a socket is one input marked `pipe`
 * (size unknown), read by streaming.
 */
export async function expand(loc: LogLocation, s3Prefix?: string): Promise<Array<{ loc: LogLocation; size: number | undefined }>> {
  if (loc.kind === 'file') {
    if (loc.path === '-') return [{ loc: { ...loc, pipe: true }, size: undefined }];
    const st = await statFile(loc.path);
    if (st.pipe) return [{ loc: { ...loc, pipe: true }, size: undefined }];
    if (!st.dir) return [{ loc, size: st.size }];
    const names = (await readdir(loc.path, { withFileTypes: true })).filter((d) => d.isFile() && !d.name.startsWith('.')).map((d) => d.name).sort();
    return Promise.all(names.map(async (n) => ({ loc: { kind: 'file' as const, path: join(loc.path, n) }, size: (await statFile(join(loc.path, n))).size })));
  }
  if (loc.kind === 's3' && s3Prefix !== undefined) {
    const objects = await new S3Client(loc.s3).list(loc.bucket, s3Prefix);
    return objects.filter((o) => !o.key.endsWith('/')).map((o) => ({ loc: { ...loc, key: o.key }, size: o.size }));
  }
  return [{ loc, size: await sizeOf(loc) }];
}

/**
 * The bytes of the lines that start inside `range` of an uncompressed input: reads from one byte
 * before `range.start` and drops everything up to the first newline at or after it (that line
 * belongs to the previous shard), then stops after the first newline at or after `range.end - 1`.
 */
export async function* lineRange(raw: (from: number) => AsyncIterable<Buffer>, range: ByteRange): AsyncGenerator<Buffer> {
  const from = range.start > 0 ? range.start - 1 : 0;
  let pos = from;
  let skipping = range.start > 0;
  for await (let chunk of raw(from)) {
    if (skipping) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        pos += chunk.length;
        continue;
      }
      skipping = false;
      pos += nl + 1;
      chunk = chunk.subarray(nl + 1);
      if (range.end !== undefined && pos >= range.end) return;
    }
    if (range.end !== undefined && pos + chunk.length >= range.end) {
      const nl = chunk.indexOf(NL, Math.max(0, range.end - 1 - pos));
      if (nl >= 0) {
        yield chunk.subarray(0, nl + 1);
        return;
      }
    }
    pos += chunk.length;
    if (chunk.length > 0) yield chunk;
  }
}

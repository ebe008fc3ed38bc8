/**
 * Decompression of fetched payloads and local files with size limits: gzip (by Content-Encoding,
 * or sniffed by its magic bytes, which also covers `.gz` files), zstd (sniffed) and zip (sniffed; a single member or a named
 * one, read with yauzl from a spooled temporary file because zip needs random access). Every
 * limit failure is a FeedError('too-large'); a cut-off gzip stream is FeedError('truncated').
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate, createZstdDecompress } from 'node:zlib';
import * as yauzl from 'yauzl';
import { FeedError } from './types.ts';
import { zstdByFrame } from './zstdframes.ts';

/** Size limits of a payload. */
export interface SizeLimits {
  /** Largest payload as transferred (compressed). */
  readonly maxBytes: number;
  /** Largest payload after decompression (guards against gzip/zip bombs). */
  readonly maxDecompressedBytes: number;
  /** Zip member to read when the archive has several. */
  readonly zipMember?: string | undefined;
  /** Directory for spooled zip archives. @default os.tmpdir() */
  readonly tmpDir?: string | undefined;
}

/** Wraps a byte stream so that it fails with FeedError('too-large') past `max` bytes; `count` gets the running total. */
export async function* limitBytes(src: AsyncIterable<Buffer>, max: number, what: string, count?: (n: number) => void): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of src) {
    n += chunk.length;
    count?.(n);
    if (n > max) throw new FeedError('too-large', `${what} is larger than the limit of ${max} bytes; raise the limit (limits.maxBytes) if the feed is really that big`);
    yield chunk;
  }
}

function mapZlibError(err: unknown): unknown {
  if (err instanceof FeedError) return err;
  const e = err as { code?: string; message?: string };
  if (e.code === 'Z_BUF_ERROR' || /unexpected end/i.test(e.message ?? '')) return new FeedError('truncated', 'the compressed payload ends early (truncated download or file)');
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) return new FeedError('bad-archive', `the payload is not valid compressed data: ${e.message ?? e.code}`);
  return err;
}

/**
 * Inflates `src` with a zlib decoder, mapping its errors to FeedErrors. Whatever the decoder itself
 * reports is about the payload: zstd (`ZSTD_error_*`) and brotli codes are not zlib's `Z_*` ones,
 * so the decoder's own errors are recognized by where they come from (an error of the source,
 * such as a reset download, passes through unchanged).
 */
async function* inflate(src: AsyncIterable<Buffer>, kind: 'gzip' | 'deflate' | 'br' | 'zstd'): AsyncGenerator<Buffer> {
  const z = kind === 'gzip' ? createGunzip() : kind === 'deflate' ? createInflate() : kind === 'zstd' ? createZstdDecompress() : createBrotliDecompress();
  let decoderError: unknown;
  z.once('error', (err) => { decoderError = err; });
  const out = pipeline(Readable.from(src, { objectMode: false }), z, () => undefined);
  try {
    for await (const chunk of out) yield chunk as Buffer;
  } catch (err) {
    const mapped = mapZlibError(err);
    if (mapped === err && err === decoderError) throw new FeedError('bad-archive', `the payload is not valid ${kind} data: ${(err as Error).message}`);
    throw mapped;
  } finally {
    out.destroy();
  }
}

/** Applies an HTTP Content-Encoding. */
export function contentDecode(src: AsyncIterable<Buffer>, encoding: string | undefined): AsyncIterable<Buffer> {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === '' || e === 'identity') return src;
  if (e === 'gzip' || e === 'x-gzip') return inflate(src, 'gzip');
  if (e === 'deflate') return inflate(src, 'deflate');
  if (e === 'br') return inflate(src, 'br');
  throw new FeedError('bad-archive', `unsupported Content-Encoding "${e}"`);
}

/** Peeks the first bytes of a stream, then returns them plus the rest as one stream. */
async function peek(src: AsyncIterable<Buffer>, n: number): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const it = src[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done === true) {
      done = true;
      break;
    }
    parts.push(r.value);
    len += r.value.length;
  }
  const head = Buffer.concat(parts);
  async function* all(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      if (done) return;
      for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
      done = true;
    } finally {
      // Closed early (the consumer failed): close the source too, so a download's socket and timers end now.
      if (!done) await it.return?.(undefined);
    }
  }
  return { head, all: all() };
}

/** What the first bytes say the payload is. */
export function sniffContainer(head: Uint8Array): 'gzip' | 'zstd' | 'zip' | 'plain' {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  return 'plain';
}

/**
 * Unpacks a payload (already transfer-decoded) by sniffing: gzip → gunzip, zstd → unzstd, zip → one member,
 * anything else as is; the result is limited to `maxDecompressedBytes`.
 */
export async function* unpack(src: AsyncIterable<Buffer>, limits: SizeLimits): AsyncGenerator<Buffer> {
  const { head, all } = await peek(src, 4);
  const kind = sniffContainer(head);
  const inner = kind === 'gzip' ? inflate(all, kind) : kind === 'zstd' ? inflate(zstdByFrame(all), kind) : kind === 'zip' ? zipMember(all, limits) : all;
  yield* limitBytes(inner, limits.maxDecompressedBytes, 'the decompressed payload');
}

async function* zipMember(src: AsyncIterable<Buffer>, limits: SizeLimits): AsyncGenerator<Buffer> {
  const dir = await mkdtemp(join(limits.tmpDir ?? tmpdir(), 'threatmesh-zip-'));
  try {
    const file = join(dir, 'payload.zip');
    const ws = createWriteStream(file);
    try {
      // The archive is what arrived after Content-Encoding: bound what goes to disk by both limits.
      const spooled = limitBytes(src, Math.min(limits.maxBytes, limits.maxDecompressedBytes), 'the zip archive (after Content-Encoding)');
      for await (const chunk of spooled) if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
    } finally {
      ws.end();
      await finished(ws);
    }
    yield* readZipFile(file, limits);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads one member of the zip archive at `file` (the only file member, or `limits.zipMember`). */
export async function* readZipFile(file: string, limits: SizeLimits): AsyncGenerator<Buffer> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
  } catch (err) {
    throw new FeedError('bad-archive', `the payload looks like a zip archive but cannot be read: ${(err as Error).message}`);
  }
  try {
    const entry = await pickEntry(zip, limits.zipMember);
    if (entry.uncompressedSize > limits.maxDecompressedBytes) {
      throw new FeedError('too-large', `zip member ${entry.fileName} is ${entry.uncompressedSize} bytes, more than the limit of ${limits.maxDecompressedBytes}`);
    }
    // Opening the member reads its local header, which a damaged archive may contradict.
    const corrupt = (err: unknown): FeedError => new FeedError('bad-archive', `zip member ${entry.fileName} is corrupt: ${(err as Error).message}`);
    const stream = await zip.openReadStreamPromise(entry).catch((err: unknown) => { throw corrupt(err); });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (err) {
      throw corrupt(err);
    }
  } finally {
    zip.close();
  }
}

async function pickEntry(zip: yauzl.ZipFile, name: string | undefined): Promise<yauzl.Entry> {
  const files: yauzl.Entry[] = [];
  try {
    for await (const e of zip.eachEntry()) {
      if (e.fileName.endsWith('/')) continue;
      if (name !== undefined && e.fileName === name) return e;
      files.push(e);
      if (files.length > 1000) break;
    }
  } catch (err) {
    throw new FeedError('bad-archive', `the zip archive is corrupt: ${(err as Error).message}`);
  }
  if (name !== undefined) throw new FeedError('bad-archive', `zip archive has no member "${name}"; members: ${files.map((f) => f.fileName).slice(0, 20).join(', ')}`);
  const only = files[0];
  if (files.length !== 1 || only === undefined) {
    throw new FeedError('bad-archive', `zip archive has ${files.length} files (${files.map((f) => f.fileName).slice(0, 20).join(', ')}); name the one to read (zip member option)`);
  }
  return only;
}

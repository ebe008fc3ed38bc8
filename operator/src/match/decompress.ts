/**
 * Decompression of log inputs, sniffed by magic bytes: gzip (1f 8b; concatenated members, as
 * logrotate and Zeek write them, are read in full) and Zstandard (28 b5 2f fd, node:zlib's
 * zstd); anything else passes through. A compressed stream that ends early is a ScanError
 * ('truncated') that names the compressed byte offset where the input ended; invalid compressed
 * data is 'corrupt', with the offset reached.
 */
import { Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { sniffContainer } from '../feeds/decompress.ts';
import { FeedError } from '../feeds/types.ts';
import { zstdByFrame } from '../feeds/zstdframes.ts';
import { ScanError } from './errors.ts';

/** What the first bytes say the input is. */
export type Compression = 'gzip' | 'zstd' | 'none';

/** The compression `head` (the first bytes of an input) shows. */
export function sniffCompression(head: Uint8Array): Compression {
  // The feeds' magic numbers; a zip is no stream a scan can split, so it is read as it is.
  const kind = sniffContainer(head);
  return kind === 'gzip' || kind === 'zstd' ? kind : 'none';
}

/** Peeks the first chunk of a stream; returns it and the whole stream again. */
export async function peekChunk(src: AsyncIterable<Buffer>): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const it = src[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done === true ? Buffer.alloc(0) : first.value;
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (first.done === true) return;
    for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value;
  }
  return { head, all: all() };
}

/**
 * Decompresses `src` when its first bytes say gzip or zstd; `what` names the input in errors.
 * `onCompressed` gets the running count of compressed bytes read (progress of a compressed shard).
 */
export async function decompressed(src: AsyncIterable<Buffer>, what: string, onCompressed?: (n: number) => void): Promise<{ compression: Compression; body: AsyncIterable<Buffer> }> {
  const { head, all } = await peekChunk(src);
  const compression = sniffCompression(head);
  if (compression === 'none') return { compression, body: all };
  return { compression, body: inflate(all, compression, what, onCompressed) };
}

async function* inflate(src: AsyncIterable<Buffer>, kind: 'gzip' | 'zstd', what: string, onCompressed?: (n: number) => void): AsyncGenerator<Buffer> {
  let consumed = 0;
  async function* counted(): AsyncGenerator<Buffer> {
    for await (const c of src) {
      consumed += c.length;
      onCompressed?.(consumed);
      yield c;
    }
  }
  const z = kind === 'gzip' ? createGunzip({ chunkSize: 256 * 1024 }) : createZstdDecompress({ chunkSize: 256 * 1024 });
  // Frame by frame: node's zstd decoder drops a frame that arrives in the chunk where another ends.
  const input = Readable.from(kind === 'zstd' ? zstdByFrame(counted()) : counted(), { objectMode: false });
  input.on('error', (err) => z.destroy(err));
  input.pipe(z);
  try {
    for await (const chunk of z) yield chunk as Buffer;
  } catch (err) {
    throw zlibError(err, kind, what, consumed);
  } finally {
    input.destroy();
    z.destroy();
  }
}

function zlibError(err: unknown, kind: 'gzip' | 'zstd', what: string, offset: number): unknown {
  if (err instanceof ScanError) return err;
  if (err instanceof FeedError) return new ScanError('corrupt', `${what}: ${err.message} (at or before compressed byte offset ${offset})`);
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  if (e.code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg) || /truncated|incomplete|end of file/i.test(msg)) {
    return new ScanError('truncated', `${what}: the ${kind} stream is truncated: the input ends at compressed byte offset ${offset} inside a ${kind === 'gzip' ? 'gzip member' : 'zstd frame'} (the file was cut short: copy it again, or scan what is readable after decompressing it with ${kind === 'gzip' ? 'gzip -dc' : 'zstd -dc'})`);
  }
  if (typeof e.code === 'string' && (e.code.startsWith('Z_') || e.code.startsWith('ZSTD_') || e.code.startsWith('ERR_'))) {
    return new ScanError('corrupt', `${what}: invalid ${kind} data at or before compressed byte offset ${offset}: ${msg}`);
  }
  return err;
}

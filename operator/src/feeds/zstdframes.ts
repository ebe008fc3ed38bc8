/**
 * Where a Zstandard payload's frames end (RFC 8878 §3.1), so that each frame reaches the decoder
 * in chunks of its own, and bytes after the last frame are refused the same way whatever chunks
 * they arrive in. Node's zstd stream decoder drops a second frame that arrives in the same chunk
 * as the end of the first (found writing this file's tests: data lost silently), ignores bytes
 * after a frame that arrive in the same chunk as its end but fails on them when they come in a
 * later chunk, so the same file was accepted or refused depending on where the network cut it
 * (fuzz findings decompress seed 20261206 cases 1197 and 1595). It also accepted or refused a
 * frame whose raw blocks hold fewer bytes than its header declares, and an empty compressed
 * block, depending on the cuts (cases 3987, 12704). Chunks pass through cut at frame ends and
 * are otherwise unchanged; only the framing (headers, block sizes, checksums, skippable frames)
 * is read, never the content.
 */
import { FeedError } from './types.ts';

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const DICT_ID_BYTES = [0, 1, 2, 4] as const;
const FCS_BYTES = [0, 2, 4, 8] as const;

/** What the walker waits for next: a number of header bytes to read, or bytes to skip. */
type Step =
  | { readonly need: 'magic' | 'skip-size' | 'frame-header-descriptor' | 'block-header'; readonly len: number }
  | { readonly need: 'skip'; readonly len: number; readonly then: 'magic' | 'block-header' }
  | { readonly need: 'frame-header-rest'; readonly len: number };

/** A frame being read: its declared content size (when the header has one) and what its blocks regenerate. */
interface Frame { checksum: boolean; fcsBytes: number; contentSize: number | undefined; regenerated: number; onlyLiteral: boolean }

const damaged = (why: string): FeedError => new FeedError('bad-archive', `the zstd payload is damaged: ${why}; fetch the file again or check how it was made`);

/** Reads the framing of a zstd byte stream; `push` each chunk, then `end`. */
export class ZstdFrames {
  #step: Step = { need: 'magic', len: 4 };
  #buf: number[] = [];
  #frame: Frame = { checksum: false, fcsBytes: 0, contentSize: undefined, regenerated: 0, onlyLiteral: true };
  #offset = 0;

  /**
   * Follows `chunk` and returns the offsets inside it where a frame ends; throws
   * FeedError('bad-archive') at bytes that cannot start a frame.
   */
  push(chunk: Buffer): number[] {
    const ends: number[] = [];
    let i = 0;
    while (i < chunk.length) {
      const s = this.#step;
      if (s.need === 'skip') {
        const n = Math.min(s.len, chunk.length - i);
        i += n;
        this.#offset += n;
        this.#step = s.len - n > 0 ? { ...s, len: s.len - n } : { need: s.then, len: s.then === 'magic' ? 4 : 3 };
        if (this.#step.need === 'magic' && i > 0 && i < chunk.length) ends.push(i);
        continue;
      }
      this.#buf.push(chunk[i]!);
      i++;
      this.#offset++;
      if (this.#buf.length === s.len) this.#header(s, Buffer.from(this.#buf.splice(0)));
    }
    return ends;
  }

  /** At the end of the payload: one to three bytes where a frame should start are trailing bytes, not a frame. */
  end(): void {
    if (this.#step.need === 'magic' && this.#buf.length > 0) throw trailing(this.#offset - this.#buf.length);
  }

  #header(s: Step, b: Buffer): void {
    switch (s.need) {
      case 'magic': this.#magic(b); return;
      case 'skip-size': this.#step = { need: 'skip', len: b.readUInt32LE(0), then: 'magic' }; return;
      case 'frame-header-descriptor': this.#descriptor(b[0]!); return;
      case 'frame-header-rest':
        this.#frame.contentSize = contentSize(b.subarray(b.length - this.#frame.fcsBytes));
        this.#step = { need: 'block-header', len: 3 };
        return;
      case 'block-header': this.#block(b[0]! | (b[1]! << 8) | (b[2]! << 16)); return;
    }
  }

  #magic(b: Buffer): void {
    const magic = b.readUInt32LE(0);
    if (magic === ZSTD_MAGIC) this.#step = { need: 'frame-header-descriptor', len: 1 };
    else if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) this.#step = { need: 'skip-size', len: 4 };
    else throw trailing(this.#offset - 4);
  }

  #descriptor(fhd: number): void {
    const single = (fhd >> 5) & 1;
    const fcsBytes = FCS_BYTES[fhd >> 6]! || (single === 1 ? 1 : 0);
    const rest = (single === 1 ? 0 : 1) + DICT_ID_BYTES[fhd & 3]! + fcsBytes;
    this.#frame = { checksum: ((fhd >> 2) & 1) === 1, fcsBytes, contentSize: undefined, regenerated: 0, onlyLiteral: true };
    this.#step = rest > 0 ? { need: 'frame-header-rest', len: rest } : { need: 'block-header', len: 3 };
  }

  #block(h: number): void {
    const last = (h & 1) === 1;
    const type = (h >> 1) & 3;
    const size = h >>> 3;
    const f = this.#frame;
    // Raw and RLE blocks say what they regenerate; a compressed block's output is the decoder's to check.
    if (type === 0 || type === 1) f.regenerated += size;
    else f.onlyLiteral = false;
    // A compressed block holds at least a literals header and a sequences header. Node's decoder
    // took an empty one for no bytes or for corruption depending on the cuts (case 12704).
    if (type === 2 && size < 2) throw damaged(`a compressed block of ${size} bytes (at least 2 are needed)`);
    // Node's decoder accepts such a frame or refuses it depending on how the bytes were cut: refuse it always.
    if (last && f.onlyLiteral && f.contentSize !== undefined && f.contentSize !== f.regenerated) {
      throw damaged(`a frame declares ${f.contentSize} bytes but its blocks hold ${f.regenerated}`);
    }
    // A reserved block type is the decoder's to refuse; its size is then meaningless, so stop following.
    const content = type === 1 ? 1 : type === 3 ? Infinity : size;
    // After the last block: its content checksum (when the frame has one), then the next frame.
    this.#step = { need: 'skip', len: content + (last && f.checksum ? 4 : 0), then: last ? 'magic' : 'block-header' };
  }
}

function trailing(at: number): FeedError {
  return damaged(`it has bytes after its last frame (from byte ${at}) that do not start a frame`);
}

/** Frame_Content_Size from its 1, 2, 4 or 8 little-endian bytes (the 2-byte form is offset by 256). */
function contentSize(b: Buffer): number | undefined {
  switch (b.length) {
    case 1: return b[0]!;
    case 2: return b.readUInt16LE(0) + 256;
    case 4: return b.readUInt32LE(0);
    case 8: return Number(b.readBigUInt64LE(0));
    default: return undefined;
  }
}

/**
 * Passes `src` through cut at every frame end, refusing bytes after the last frame wherever the
 * chunks are cut. The cuts matter: node's decoder drops every frame after the first that arrives
 * in the same chunk as its end (two concatenated frames gave one frame's bytes, silently).
 */
export async function* zstdByFrame(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const frames = new ZstdFrames();
  for await (const chunk of src) {
    let from = 0;
    for (const end of frames.push(chunk)) {
      yield chunk.subarray(from, end);
      from = end;
    }
    if (from < chunk.length) yield chunk.subarray(from);
  }
  frames.end();
}

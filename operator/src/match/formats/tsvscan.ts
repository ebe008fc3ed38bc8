/**
 * Byte-level helpers of tab-separated log parsing (Zeek TSV): finding separators four bytes at a
 * time through a 32-bit view of the buffer, skipping runs of columns by counting separators per
 * word, finding the end of a line, and parsing an IPv4 field in the same pass that finds its end.
 * Every range they read ends with a newline (lines.ts guarantees it), which bounds every scan.
 */

const NL = 10;
const DOT = 46;

/** A 32-bit little-endian view of a buffer's bytes (aligned down), for finding separators four bytes at a time. */
export interface WordView { readonly u32: Uint32Array; readonly delta: number }

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function wordView(buf: Buffer): WordView {
  const aligned = buf.byteOffset & ~3;
  if (!LITTLE_ENDIAN) return { u32: new Uint32Array(0), delta: 0 };
  return { u32: new Uint32Array(buf.buffer, aligned, (buf.byteOffset + buf.length - aligned) >>> 2), delta: buf.byteOffset - aligned };
}

/** Bit 7 of each byte of `x` that is zero, exactly (no borrow across bytes). */
function zeroBytes(x: number): number {
  return ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f);
}

/** The byte position in `buf` of the lowest flagged byte of the mask `m` in view word `q`. */
function at(w: WordView, q: number, m: number): number {
  return (q << 2) - w.delta + ((31 - Math.clz32(m & -m)) >>> 3);
}

/**
 * The position of the next `sep` or newline at or after `i` (the range ends with a newline).
 * Tests four bytes per step with exact zero-byte masks on `word ^ repeated byte`; the bytes of
 * the first word before `i` are masked out, so no byte is read one by one until the buffer's
 * last partial word.
 */
export function nextSeparator(buf: Buffer, w: WordView, i: number, sep: number): number {
  const u32 = w.u32;
  const sepWord = Math.imul(sep, 0x01010101);
  let q = (i + w.delta) >>> 2;
  for (let keep = -1 << (8 * ((i + w.delta) & 3)); q < u32.length; q++, keep = -1) {
    const v = u32[q] as number;
    const m = (zeroBytes(v ^ sepWord) | zeroBytes(v ^ 0x0a0a0a0a)) & keep;
    if (m !== 0) return at(w, q, m);
  }
  for (i = Math.max(i, (q << 2) - w.delta); ; i++) {
    const b = buf[i];
    if (b === sep || b === NL) return i;
  }
}

/**
 * Skips `k` whole columns after the separator at `i`: returns the position of the separator
 * that ends the k-th of them, or of the newline met first. Counts the separators of four bytes
 * at a time (exact zero-byte masks, summed) and finds the k-th one inside its word from the
 * mask, so a run of columns that cannot match costs about one step per word.
 */
export function skipColumns(buf: Buffer, w: WordView, i: number, k: number, sep: number): number {
  const u32 = w.u32;
  const sepWord = Math.imul(sep, 0x01010101);
  const p = i + 1 + w.delta;
  let q = p >>> 2;
  for (let keep = -1 << (8 * (p & 3)); q < u32.length; q++, keep = -1) {
    const v = u32[q] as number;
    const nl = zeroBytes(v ^ 0x0a0a0a0a) & keep;
    let m = zeroBytes(v ^ sepWord) & keep;
    const n = Math.imul((m >>> 7) & 0x01010101, 0x01010101) >>> 24;
    if (n >= k) {
      for (; k > 1; k--) m &= m - 1;
      // The k-th separator, unless a newline comes first.
      return at(w, q, nl !== 0 && (nl & -nl) >>> 0 < (m & -m) >>> 0 ? nl : m);
    }
    if (nl !== 0) return at(w, q, nl);
    k -= n;
  }
  for (let b = Math.max(i + 1, (q << 2) - w.delta); ; b++) {
    const c = buf[b];
    if (c === NL || (c === sep && --k === 0)) return b;
  }
}

/** The position of the next newline at or after `i` (the range ends with one), four bytes per step. */
export function nextNewline(buf: Buffer, w: WordView, i: number): number {
  const u32 = w.u32;
  let q = (i + w.delta) >>> 2;
  for (let keep = -1 << (8 * ((i + w.delta) & 3)); q < u32.length; q++, keep = -1) {
    const m = zeroBytes((u32[q] as number) ^ 0x0a0a0a0a) & keep;
    if (m !== 0) return at(w, q, m);
  }
  for (i = Math.max(i, (q << 2) - w.delta); ; i++) if (buf[i] === NL) return i;
}

/**
 * Parses the field at `start` as a strict dotted-quad IPv4 address (no leading zeros) while
 * looking for its end: a newline, `sep`, or `listSep` (pass `sep` again when the field is no
 * list). Returns the position of that end and stores the address (unsigned) in `out[0]`; returns
 * -1 when the field is anything else (IPv6, a name, unset, malformed), for the caller to read it
 * the general way. One pass over the bytes instead of a separator search and then a parse.
 */
export function ipv4Field(buf: Buffer, start: number, sep: number, listSep: number, out: Float64Array): number {
  let addr = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; ; i++) {
    const c = buf[i] as number;
    const d = c - 48;
    if (d >= 0 && d <= 9) {
      if (digits === 1 && octet === 0) return -1;
      octet = octet * 10 + d;
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === DOT) {
      if (digits === 0 || dots === 3) return -1;
      addr = addr * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      if (dots !== 3 || digits === 0 || (c !== sep && c !== listSep && c !== NL)) return -1;
      out[0] = addr * 256 + octet;
      return i;
    }
  }
}

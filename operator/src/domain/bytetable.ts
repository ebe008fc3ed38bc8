/**
 * ByteTable: a read-only open-addressing hash table from byte strings to the integers that name
 * them, built once over a shared key arena (one Uint8Array holding every key back to back) and
 * then only read. Lookups take a byte range of any buffer, or a string, and allocate nothing.
 *
 * Invariants:
 * - A key is `arena[starts[id] .. starts[id + 1])`; the table stores only ids and 32-bit hashes
 *   (8 bytes per slot, side by side, at most 70% load) and a blocked filter of 8-16 bits per key
 *   (two bits per key in one 64-byte block), never a copy of the key.
 * - With `foldCase`, ASCII A-Z compare equal to a-z (keys must then be stored lower case);
 *   other bytes compare exactly.
 * - The hash reads the key four bytes per step from its END towards its start (`hashStep` per
 *   little-endian word, the 1-3 leading bytes as one last partial word), so the hash of every
 *   suffix of a text falls out of one right-to-left pass over the whole text's words (see
 *   suffixtable.ts): a suffix's words are the text's words, right-aligned at the same end.
 *   `hashStep`, `partialWord` and `HASH_SEED` are exported for that walk.
 * - Case folding in the hash sets bit 5 of every byte (`FOLD4`): A-Z hash as a-z. It merges a
 *   few other pairs (`_` and DEL, `@` and backquote), which only costs a compare: equality
 *   still folds A-Z alone.
 */

/** The starting value of a right-to-left key hash. */
export const HASH_SEED = 0x811c9dc5 | 0;

/** Bit 5 of each of four bytes: OR-ed into a word, it folds ASCII A-Z to a-z for hashing. */
export const FOLD4 = 0x20202020;

/** One step of the right-to-left hash: folds the 32-bit word `w` (bytes already case-folded when the table folds) into `h`. */
export function hashStep(h: number, w: number): number {
  const x = Math.imul(h ^ w, 0x9e3779b1);
  return x ^ (x >>> 15);
}

/** The 1-3 bytes `buf[start, end)` as one little-endian word (first byte lowest), OR-ed with `fold` (FOLD4 or 0) on those bytes only. */
export function partialWord(buf: Uint8Array, start: number, end: number, fold: number): number {
  let w = 0;
  for (let i = end - 1; i >= start; i--) w = (w << 8) | (buf[i] as number);
  return w | (fold >>> (8 * (4 - (end - start))));
}

/** The four bytes at `i` as one little-endian word. */
export function wordAt(buf: Uint8Array, i: number): number {
  return (buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24);
}

/** Byte → the byte with ASCII A-Z lower-cased (a table: branch-free in hot loops). */
export const FOLD: Uint8Array = Uint8Array.from({ length: 256 }, (_, b) => (b >= 65 && b <= 90 ? b | 32 : b));

const IDENTITY: Uint8Array = Uint8Array.from({ length: 256 }, (_, b) => b);

/** Lower-cases an ASCII letter byte; any other byte is returned as is. */
export function foldByte(b: number): number {
  return b >= 65 && b <= 90 ? b | 32 : b;
}

/**
 * The final mixing of a hash, so that nearby hashes spread over the slots: 30 bits, never 0
 * (0 marks an empty slot). Thirty bits keep it a small integer in V8 (a tagged Smi), so passing
 * it to a lookup allocates nothing.
 */
export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return ((h ^ (h >>> 15)) >>> 2) | 1;
}

/** The (unfinished) hash of `buf[start, end)` as the table computes it; see the module doc. */
export function hashBytes(buf: Uint8Array, start: number, end: number, fold: boolean): number {
  const m = fold ? FOLD4 : 0;
  let h = HASH_SEED;
  let i = end;
  for (; i - start >= 4; i -= 4) h = hashStep(h, wordAt(buf, i - 4) | m);
  return i > start ? hashStep(h, partialWord(buf, start, i, m)) : h;
}

// The same hash over a string's UTF-16 code units taken as bytes (keys are Latin-1).
function hashString(s: string, fold: boolean): number {
  const m = fold ? FOLD4 : 0;
  let h = HASH_SEED;
  let i = s.length;
  const byte = (k: number): number => s.charCodeAt(k) & 0xff;
  for (; i >= 4; i -= 4) h = hashStep(h, (byte(i - 4) | (byte(i - 3) << 8) | (byte(i - 2) << 16) | (byte(i - 1) << 24)) | m);
  if (i === 0) return h;
  let w = 0;
  for (let k = i - 1; k >= 0; k--) w = (w << 8) | byte(k);
  return hashStep(h, w | (m >>> (8 * (4 - i))));
}

const FILTER_MIX = 0x9e3779b1 | 0;

/**
 * False when the finished hash `fh` is surely no key of `t`; true when it may be. Two bits of one
 * 64-byte block (bits 23-31 and 14-22 of `fh · FILTER_MIX`, inside the block `fh` selects): one
 * cache line per test, and about a third of the false answers of one bit per key.
 */
export function mayHold(t: ByteTable, fh: number): boolean {
  const f = t.filter;
  const base = (fh >>> t.blockShift) << 4;
  const g = Math.imul(fh, FILTER_MIX);
  return ((f[base + (g >>> 28)] as number) & (1 << (g >>> 23))) !== 0 && ((f[base + ((g >>> 19) & 15)] as number) & (1 << (g >>> 14))) !== 0;
}

/** The smallest power of two with `n` entries at most 70% load (at least 8). */
function capacityFor(n: number): number {
  let cap = 8;
  while (cap * 0.7 < n) cap *= 2;
  return cap;
}

/** A read-only hash table of byte-string keys; see the module doc. */
export class ByteTable {
  readonly #arena: Uint8Array;
  readonly #starts: Int32Array;
  readonly #fold: boolean;
  readonly #mask: number;
  /** Two Int32 per slot, side by side (one cache line per probe): the finished hash, then id + 1 (0: empty). */
  readonly #slots: Int32Array;
  readonly size: number;
  /**
   * A blocked filter of 8 to 16 bits per key (read-only; see `mayHold`): a name that is not in
   * the table is usually refused by one cache line of this small array instead of a probe of
   * the large slot array. Each key sets two bits in the 64-byte block its hash selects.
   */
  readonly filter: Int32Array;
  /** A finished hash `fh` selects the block `fh >>> blockShift` (16 Int32 each). */
  readonly blockShift: number;

  /**
   * Builds a table over `arena`/`starts` holding the keys `ids` (`count` of them at most). A key
   * equal to one already added is skipped: the first id wins, and `size` counts distinct keys.
   */
  constructor(arena: Uint8Array, starts: Int32Array, ids: Iterable<number>, count: number, foldCase: boolean) {
    this.#arena = arena;
    this.#starts = starts;
    this.#fold = foldCase;
    const cap = capacityFor(count);
    this.#mask = cap - 1;
    this.#slots = new Int32Array(cap * 2);
    let blockBits = 0;
    while (512 << blockBits < count * 8 && blockBits < 21) blockBits++;
    this.filter = new Int32Array(16 << blockBits);
    this.blockShift = 30 - blockBits;
    let size = 0;
    for (const id of ids) if (this.#insert(id)) size++;
    this.size = size;
  }

  #insert(id: number): boolean {
    const start = this.#starts[id] ?? 0;
    const end = this.#starts[id + 1] ?? 0;
    const h = finish(hashBytes(this.#arena, start, end, this.#fold));
    if (this.#probeBytes(this.#arena, start, end, h) >= 0) return false;
    let slot = h & this.#mask;
    while (this.#slots[2 * slot + 1] !== 0) slot = (slot + 1) & this.#mask;
    this.#slots[2 * slot] = h;
    this.#slots[2 * slot + 1] = id + 1;
    const base = (h >>> this.blockShift) << 4;
    const g = Math.imul(h, FILTER_MIX);
    this.filter[base + (g >>> 28)] = (this.filter[base + (g >>> 28)] as number) | (1 << (g >>> 23));
    this.filter[base + ((g >>> 19) & 15)] = (this.filter[base + ((g >>> 19) & 15)] as number) | (1 << (g >>> 14));
    return true;
  }

  /** The id whose key equals `buf[start, end)`, or -1. */
  getBytes(buf: Uint8Array, start: number, end: number): number {
    return this.#probeBytes(buf, start, end, finish(hashBytes(buf, start, end, this.#fold)));
  }

  /**
   * The id whose key equals `buf[start, end)`, given the unfinished right-to-left hash `h` of
   * that range (as hashBytes computes it), or -1.
   */
  getHashed(buf: Uint8Array, start: number, end: number, h: number): number {
    return this.#probeBytes(buf, start, end, finish(h));
  }

  /** The id whose key equals `buf[start, end)`, given its finished hash (see `finish`), or -1. */
  getFinished(buf: Uint8Array, start: number, end: number, fh: number): number {
    return this.#probeBytes(buf, start, end, fh);
  }

  /** The id whose key equals `s` (compared by UTF-16 code unit against the key bytes), or -1. */
  getString(s: string): number {
    const h = finish(hashString(s, this.#fold));
    const slots = this.#slots;
    for (let slot = h & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const id = (slots[2 * slot + 1] as number) - 1;
      if (id < 0) return -1;
      if (slots[2 * slot] === h && this.#equalsString(id, s)) return id;
    }
  }

  #probeBytes(buf: Uint8Array, start: number, end: number, h: number): number {
    if (!mayHold(this, h)) return -1;
    const slots = this.#slots;
    const mask = this.#mask;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const id = (slots[2 * slot + 1] as number) - 1;
      if (id < 0) return -1;
      if (slots[2 * slot] === h && this.#equalsBytes(id, buf, start, end)) return id;
    }
  }

  #equalsBytes(id: number, buf: Uint8Array, start: number, end: number): boolean {
    const ks = this.#starts[id] as number;
    if ((this.#starts[id + 1] as number) - ks !== end - start) return false;
    const arena = this.#arena;
    const fold = this.#fold ? FOLD : IDENTITY;
    for (let i = 0; i < end - start; i++) if (fold[buf[start + i] as number] !== arena[ks + i]) return false;
    return true;
  }

  #equalsString(id: number, s: string): boolean {
    const ks = this.#starts[id] ?? 0;
    if ((this.#starts[id + 1] ?? 0) - ks !== s.length) return false;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if ((this.#fold ? foldByte(c) : c) !== this.#arena[ks + i]) return false;
    }
    return true;
  }

  /**
   * The slots, read-only (two Int32 per slot: the finished hash, then id + 1, 0 when empty;
   * linear probing from `fh & mask`), for prefilters that copy them elsewhere
   * (match/formats/tsvprefilter.ts).
   */
  get slotView(): { readonly slots: Int32Array; readonly mask: number } {
    return { slots: this.#slots, mask: this.#mask };
  }

  /** Bytes held by the table's slots and filter (the arena is shared and not counted). */
  get slotBytes(): number {
    return this.#slots.byteLength + this.filter.byteLength;
  }
}

/**
 * A growable arena of keys: append byte strings, then hand `bytes()`/`starts()` to ByteTables.
 * Strings are stored as Latin-1 (one byte per UTF-16 code unit below 256); callers store ASCII.
 */
export class KeyArena {
  #buf = new Uint8Array(1024);
  #len = 0;
  #starts = new Int32Array(256);
  #count = 0;

  /** Appends `s` and returns its id (ids count up from 0). */
  add(s: string): number {
    this.#reserve(s.length);
    for (let i = 0; i < s.length; i++) this.#buf[this.#len + i] = s.charCodeAt(i) & 0xff;
    return this.#close(s.length);
  }

  #reserve(n: number): void {
    if (this.#len + n > this.#buf.length) {
      const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    if (this.#count + 2 > this.#starts.length) {
      const next = new Int32Array(this.#starts.length * 2);
      next.set(this.#starts);
      this.#starts = next;
    }
  }

  #close(n: number): number {
    this.#len += n;
    this.#count++;
    this.#starts[this.#count] = this.#len;
    return this.#count - 1;
  }

  /** Number of keys. */
  get count(): number {
    return this.#count;
  }

  /** The key bytes, trimmed to size (a copy: the arena can keep growing afterwards). */
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }

  /** Offsets: key `id` is `bytes()[starts[id] .. starts[id + 1])`. */
  starts(): Int32Array {
    return this.#starts.slice(0, this.#count + 1);
  }
}

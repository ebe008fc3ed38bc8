/**
 * A set of SHA-256 digests for de-duplication within a run, keyed by the first 96 bits of each
 * digest in an open-addressing hash table over a Uint32Array: 12 bytes per slot at a load
 * factor of at most 1/2, so a million digests take 24 MiB and create no garbage (a Set of hex
 * strings takes several times as much and keeps the garbage collector busy). An accidental
 * collision of 96-bit prefixes is practically impossible (about 6e-18 for 1e6 digests).
 *
 * A set may be bounded (`maxSlots`): at that size it stops growing, fills up to a load factor of
 * 3/4 and then remembers nothing more; `add` still answers "not in the set" for every digest it
 * does not hold, so a bounded set never calls a new digest a duplicate (it may miss repeats of
 * digests it had no room for), and `overflow` counts those unremembered digests.
 */

const INITIAL_SLOTS = 1 << 12;
const WORDS = 3;

/** Value of each hex digit by character code (other characters read as 0; callers pass digests). */
const HEX = new Uint8Array(128);
for (let c = 0; c < 128; c++) HEX[c] = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : 0;

/** Eight hex digits at `at` as an unsigned 32-bit number (unrolled: this runs for every feed entry). */
function hex32(s: string, at: number): number {
  const t = HEX;
  return (((t[s.charCodeAt(at) & 127] ?? 0) << 28) | ((t[s.charCodeAt(at + 1) & 127] ?? 0) << 24) | ((t[s.charCodeAt(at + 2) & 127] ?? 0) << 20)
    | ((t[s.charCodeAt(at + 3) & 127] ?? 0) << 16) | ((t[s.charCodeAt(at + 4) & 127] ?? 0) << 12) | ((t[s.charCodeAt(at + 5) & 127] ?? 0) << 8)
    | ((t[s.charCodeAt(at + 6) & 127] ?? 0) << 4) | (t[s.charCodeAt(at + 7) & 127] ?? 0)) >>> 0;
}

/** A growable set of hex SHA-256 digests, optionally bounded (see above). */
export class DigestSet {
  private slots: Uint32Array;
  private mask: number;
  private count = 0;
  private readonly maxSlots: number;
  private unremembered = 0;

  /**
   * @param initialSlots slots to start with (rounded up to a power of two). @default 4096
   * @param maxSlots the most slots the set grows to (rounded up to a power of two; 12 bytes
   *   each); unbounded when omitted. @default Infinity
   */
  constructor(initialSlots = INITIAL_SLOTS, maxSlots = Infinity) {
    let n = INITIAL_SLOTS;
    while (n < initialSlots) n <<= 1;
    let max = n;
    while (max < maxSlots && Number.isFinite(maxSlots)) max <<= 1;
    this.maxSlots = Number.isFinite(maxSlots) ? max : Infinity;
    this.slots = new Uint32Array(n * WORDS);
    this.mask = n - 1;
  }

  /** Digests `add` answered as new but had no room to remember (a bounded set that is full). */
  get overflow(): number {
    return this.unremembered;
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.slots.byteLength;
  }

  /** Number of digests in the set. */
  get size(): number {
    return this.count;
  }

  /**
   * Adds the digest (at least 24 hex digits; only the first 24 count); returns true when it was
   * not in the set yet.
   */
  add(hex: string): boolean {
    return this.addWords(hex32(hex, 0), hex32(hex, 8), hex32(hex, 16));
  }

  /** True when the digest (its first 24 hex digits) is in the set. */
  has(hex: string): boolean {
    const a = hex32(hex, 0);
    const b = hex32(hex, 8);
    const c = hex32(hex, 16);
    return this.find(a, b, (a | b | c) === 0 ? 1 : c);
  }

  /** Adds a digest given as its first 96 bits (three big-endian 32-bit words, as {@link prefixBytes} writes them). */
  addWords(a: number, b: number, c: number): boolean {
    // An all-zero key marks an empty slot; map the (astronomically unlikely) zero prefix onto a fixed non-zero key.
    const c2 = (a | b | c) === 0 ? 1 : c;
    const slots = this.mask + 1;
    if (slots >= this.maxSlots && this.count * 4 >= slots * 3) {
      // Full: still answer membership, but remember nothing more.
      if (this.find(a, b, c2)) return false;
      this.unremembered++;
      return true;
    }
    if (this.insert(a, b, c2)) {
      this.count++;
      if (this.count * 2 > slots && slots < this.maxSlots) this.grow();
      return true;
    }
    return false;
  }

  private insert(a: number, b: number, c: number): boolean {
    const s = this.slots;
    let i = (a ^ Math.imul(c, 0x9e3779b1)) & this.mask;
    for (;;) {
      const o = i * WORDS;
      const sa = s[o] ?? 0;
      const sb = s[o + 1] ?? 0;
      const sc = s[o + 2] ?? 0;
      if ((sa | sb | sc) === 0) {
        s[o] = a;
        s[o + 1] = b;
        s[o + 2] = c;
        return true;
      }
      if (sa === a && sb === b && sc === c) return false;
      i = (i + 1) & this.mask;
    }
  }

  private find(a: number, b: number, c: number): boolean {
    const s = this.slots;
    for (let i = (a ^ Math.imul(c, 0x9e3779b1)) & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * WORDS;
      const sa = s[o] ?? 0;
      const sb = s[o + 1] ?? 0;
      const sc = s[o + 2] ?? 0;
      if ((sa | sb | sc) === 0) return false;
      if (sa === a && sb === b && sc === c) return true;
    }
  }

  private grow(): void {
    const old = this.slots;
    const n = (this.mask + 1) * 2;
    this.slots = new Uint32Array(n * WORDS);
    this.mask = n - 1;
    for (let o = 0; o < old.length; o += WORDS) {
      const a = old[o] ?? 0;
      const b = old[o + 1] ?? 0;
      const c = old[o + 2] ?? 0;
      if ((a | b | c) !== 0) this.insert(a, b, c);
    }
  }
}

/** The first 96 bits of each hex digest, 12 bytes per digest (the persisted form of a set's members). */
export function prefixBytes(digests: readonly string[]): Buffer {
  const out = Buffer.alloc(digests.length * 12);
  digests.forEach((d, i) => {
    out.writeUInt32BE(hex32(d, 0), i * 12);
    out.writeUInt32BE(hex32(d, 8), i * 12 + 4);
    out.writeUInt32BE(hex32(d, 16), i * 12 + 8);
  });
  return out;
}

/** Adds every 12-byte prefix of `bytes` (from {@link prefixBytes}) to `set`. */
export function addPrefixBytes(set: DigestSet, bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let o = 0; o + 12 <= bytes.byteLength; o += 12) set.addWords(view.getUint32(o), view.getUint32(o + 4), view.getUint32(o + 8));
}

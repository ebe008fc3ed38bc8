/**
 * A set of SHA-256 digests for de-duplication within a run, keyed by the first 128 bits of each
 * digest in an open-addressing hash table over a Uint32Array: 16 bytes per slot at a load
 * factor of at most 1/2, so a million digests take about 32 MiB and create no garbage (a Set
 * of hex strings would take three times as much and keep the garbage collector busy).
 * 128 bits make an accidental collision practically impossible (about 1e-27 for 1e6 digests).
 */

const INITIAL_SLOTS = 1 << 12;

/** Eight hex digits at `at` as an unsigned 32-bit number (non-hex digits count as their low bits: callers pass digests). */
function hex32(s: string, at: number): number {
  let v = 0;
  for (let i = at; i < at + 8; i++) {
    const ch = s.charCodeAt(i);
    v = (v << 4) | (ch <= 57 ? ch - 48 : (ch | 0x20) - 87);
  }
  return v >>> 0;
}

/** A growable set of hex SHA-256 digests. */
export class DigestSet {
  private slots: Uint32Array;
  private mask: number;
  private count = 0;

  constructor(initialSlots = INITIAL_SLOTS) {
    let n = INITIAL_SLOTS;
    while (n < initialSlots) n <<= 1;
    this.slots = new Uint32Array(n * 4);
    this.mask = n - 1;
  }

  /** Number of digests in the set. */
  get size(): number {
    return this.count;
  }

  /**
   * Adds the digest (at least 32 hex digits; only the first 32 count); returns true when it was
   * not in the set yet.
   */
  add(hex: string): boolean {
    const a = hex32(hex, 0);
    const b = hex32(hex, 8);
    const c = hex32(hex, 16);
    const d = hex32(hex, 24);
    // An all-zero key marks an empty slot; map the (astronomically unlikely) zero digest onto a fixed non-zero key.
    const d2 = (a | b | c | d) === 0 ? 1 : d;
    if (this.insert(a, b, c, d2)) {
      this.count++;
      if (this.count * 2 > this.mask + 1) this.grow();
      return true;
    }
    return false;
  }

  private insert(a: number, b: number, c: number, d: number): boolean {
    const s = this.slots;
    let i = (a ^ Math.imul(d, 0x9e3779b1)) & this.mask;
    for (;;) {
      const o = i * 4;
      const sa = s[o] ?? 0;
      const sb = s[o + 1] ?? 0;
      const sc = s[o + 2] ?? 0;
      const sd = s[o + 3] ?? 0;
      if ((sa | sb | sc | sd) === 0) {
        s[o] = a;
        s[o + 1] = b;
        s[o + 2] = c;
        s[o + 3] = d;
        return true;
      }
      if (sa === a && sb === b && sc === c && sd === d) return false;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const n = (this.mask + 1) * 2;
    this.slots = new Uint32Array(n * 4);
    this.mask = n - 1;
    for (let o = 0; o < old.length; o += 4) {
      const a = old[o] ?? 0;
      const b = old[o + 1] ?? 0;
      const c = old[o + 2] ?? 0;
      const d = old[o + 3] ?? 0;
      if ((a | b | c | d) !== 0) this.insert(a, b, c, d);
    }
  }
}

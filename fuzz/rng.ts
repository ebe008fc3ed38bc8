/**
 * Seeded, replayable randomness for the fuzzers. Every case has its own generator derived from
 * (run seed, target name, case index), so one case can be replayed alone (`--case N`) and the
 * cases of a run do not depend on how many came before or on which worker ran them.
 */

/** 32-bit FNV-1a of a text, to fold a target name into a seed. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A small fast generator (sfc32) with the helpers the generators need. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** The generator of case `index` of `target` in the run with `seed`. */
  static forCase(seed: number, target: string, index: number): Rng {
    const mix = splitmix32((seed ^ fnv1a(target)) >>> 0);
    const hi = Math.floor(index / 0x1_0000_0000);
    return new Rng((mix() ^ index) >>> 0, (mix() ^ hi) >>> 0, mix(), mix());
  }

  constructor(a: number, b: number, c: number, d: number) {
    this.#a = a >>> 0;
    this.#b = b >>> 0;
    this.#c = c >>> 0;
    this.#d = d >>> 0;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  /** One element of a non-empty list. */
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }

  /** A small integer skewed towards 0 (many short things, a few long ones). */
  small(max: number): number {
    return Math.min(max, Math.floor(Math.pow(this.u32() / 0x1_0000_0000, 3) * (max + 1)));
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/**
 * A small deterministic PRNG (mulberry32) for generated logs: the differential and prefilter
 * tests and the match bench draw the same sequence from the same seed, so a failing case can be
 * replayed from its seed.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Domain suffix lookups over a case-folding ByteTable of domain names: a listed domain matches
 * itself and every subdomain. One right-to-left pass over the name's bytes, four at a time,
 * carries the table's hash (bytetable.ts: words right-aligned at the name's end), so the hash of
 * every label-aligned suffix (`com`, `example.com`, `www.example.com`) is the running hash plus
 * at most one partial word: no hash restarts per label, no string is made. Dots are found per
 * word with an exact zero-byte mask, and a suffix that starts inside a word hashes as the running
 * hash plus that word shifted right, so no byte is read twice. Each suffix is
 * tested against the table's filter bits first and probed only when it may be listed, so a
 * lookup costs about one step per four bytes plus one filter read per label, and allocates
 * nothing. The longest listed suffix (the most specific listed domain) wins. One trailing dot
 * (a fully qualified name) is ignored.
 */
import { FOLD4, HASH_SEED, finish, hashStep, mayHold, partialWord, wordAt, type ByteTable } from './bytetable.ts';

const DOT = 46;
const DOTS = 0x2e2e2e2e;

/** The id of `buf[from, end)` when listed, given its unfinished hash; -1 when not. The filter answers most misses without a call. */
function probe(table: ByteTable, buf: Uint8Array, from: number, end: number, h: number): number {
  const fh = finish(h);
  return mayHold(table, fh) ? table.getFinished(buf, from, end, fh) : -1;
}

/** Bit 7 of each byte of `x` that is zero, exactly (no borrow across bytes). */
function zeroBytes(x: number): number {
  return ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x | 0x7f7f7f7f);
}

/** The id of the longest listed domain that is `buf[start, end)` or one of its parent domains, or -1. */
export function longestSuffixBytes(table: ByteTable, buf: Uint8Array, start: number, end: number): number {
  if (end > start && buf[end - 1] === DOT) end--;
  let h = HASH_SEED;
  let best = -1;
  for (let i = end - 4; i > start - 4; i -= 4) {
    // The word's bytes before the name (0-3, first word only) are read as zeros and are no dots.
    const skip = i < start ? start - i : 0;
    const raw = skip === 0 ? wordAt(buf, i) : partialWord(buf, start, i + 4, 0) << (8 * skip);
    const w = raw | FOLD4;
    // A suffix starting at byte k of this word hashes as h plus the word shifted right by k bytes:
    // no byte is read twice. Dots from right to left: longer suffixes come later and win.
    for (let m = zeroBytes(raw ^ DOTS) & (-1 << (8 * skip)); m !== 0;) {
      const b = 31 - Math.clz32(m);
      m ^= 1 << b;
      const k = (b >>> 3) + 1;
      const id = probe(table, buf, i + k, end, k === 4 ? h : hashStep(h, w >>> (8 * k)));
      if (id >= 0) best = id;
    }
    h = hashStep(h, w >>> (8 * skip));
  }
  if (end > start) {
    const id = probe(table, buf, start, end, h);
    if (id >= 0) best = id;
  }
  return best;
}

/** The same lookup for a string of ASCII (or Latin-1) characters. */
export function longestSuffix(table: ByteTable, name: string): number {
  const bytes = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) bytes[i] = name.charCodeAt(i) & 0xff;
  return longestSuffixBytes(table, bytes, 0, bytes.length);
}

/**
 * Domain suffix lookups over a case-folding ByteTable of domain names: a listed domain matches
 * itself and every subdomain. One right-to-left pass over the name's bytes, four at a time,
 * carries the table's hash (bytetable.ts: words right-aligned at the name's end), so the hash of
 * every label-aligned suffix (`com`, `example.com`, `www.example.com`) is the running hash plus
 * at most one partial word: no hash restarts per label, no string is made. Each suffix is
 * tested against the table's filter bits first and probed only when it may be listed, so a
 * lookup costs about one step per four bytes plus one filter read per label, and allocates
 * nothing. The longest listed suffix (the most specific listed domain) wins. One trailing dot
 * (a fully qualified name) is ignored.
 */
import { FOLD4, HASH_SEED, finish, hashStep, partialWord, wordAt, type ByteTable } from './bytetable.ts';

const DOT = 46;
const DOTS = 0x2e2e2e2e;

/** The id of `buf[from, end)` when listed, given its unfinished hash; -1 when not. The filter answers most misses without a call. */
function probe(table: ByteTable, buf: Uint8Array, from: number, end: number, h: number): number {
  const fh = finish(h);
  const bit = fh >>> table.filterShift;
  if (((table.filter[bit >>> 3] as number) & (1 << (bit & 7))) === 0) return -1;
  return table.getFinished(buf, from, end, fh);
}

/** The longest listed suffix starting inside the word at `i` (after a dot in it), or -1; `h` is the hash of the words after it. */
function dotsInWord(table: ByteTable, buf: Uint8Array, i: number, end: number, h: number): number {
  let best = -1;
  for (let d = i + 3; d >= i; d--) {
    if (buf[d] !== DOT) continue;
    const from = d + 1;
    const id = probe(table, buf, from, end, from === i + 4 ? h : hashStep(h, partialWord(buf, from, i + 4, FOLD4)));
    if (id >= 0) best = id;
  }
  return best;
}

/** The id of the longest listed domain that is `buf[start, end)` or one of its parent domains, or -1. */
export function longestSuffixBytes(table: ByteTable, buf: Uint8Array, start: number, end: number): number {
  if (end > start && buf[end - 1] === DOT) end--;
  let h = HASH_SEED;
  let best = -1;
  let i = end - 4;
  for (; i >= start; i -= 4) {
    const w = wordAt(buf, i);
    const x = w ^ DOTS;
    // A zero byte of x is a dot; the test has no false negatives (its rare false positives cost a byte check).
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) {
      const id = dotsInWord(table, buf, i, end, h);
      if (id >= 0) best = id;
    }
    h = hashStep(h, w | FOLD4);
  }
  // The 0-3 leading bytes [start, i + 4): dots among them, then the whole name.
  const lead = i + 4;
  for (let d = lead - 1; d >= start; d--) {
    if (buf[d] !== DOT) continue;
    const id = probe(table, buf, d + 1, end, d + 1 === lead ? h : hashStep(h, partialWord(buf, d + 1, lead, FOLD4)));
    if (id >= 0) best = id;
  }
  if (end > start) {
    const id = probe(table, buf, start, end, lead > start ? hashStep(h, partialWord(buf, start, lead, FOLD4)) : h);
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

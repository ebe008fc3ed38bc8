/**
 * Domain suffix lookups over a case-folding ByteTable of domain names: a listed domain matches
 * itself and every subdomain. One right-to-left pass over the name computes the hash of every
 * label-aligned suffix (`com`, `example.com`, `www.example.com`) and probes each, so a lookup
 * costs one probe per label and allocates nothing. The longest listed suffix (the most specific
 * listed domain) wins. One trailing dot (a fully qualified name) is ignored.
 */
import { FOLD, HASH_SEED, finish, type ByteTable } from './bytetable.ts';

const DOT = 46;

/** The id of the longest listed domain that is `buf[start, end)` or one of its parent domains, or -1. */
export function longestSuffixBytes(table: ByteTable, buf: Uint8Array, start: number, end: number): number {
  if (end > start && buf[end - 1] === DOT) end--;
  let h = HASH_SEED;
  let best = -1;
  const filter = table.filter;
  const shift = table.filterShift;
  for (let i = end - 1; i >= start; i--) {
    const b = buf[i] as number;
    if (b === DOT) {
      // The table's filter answers most suffixes without a call; only possible keys are probed.
      const fh = finish(h);
      const bit = fh >>> shift;
      if (((filter[bit >>> 3] as number) & (1 << (bit & 7))) !== 0) {
        const id = table.getFinished(buf, i + 1, end, fh);
        if (id >= 0) best = id;
      }
    }
    h = Math.imul(h ^ (FOLD[b] as number), 0x01000193);
  }
  if (end > start) {
    const id = table.getHashed(buf, start, end, h);
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

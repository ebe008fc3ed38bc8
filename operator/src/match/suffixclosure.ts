/**
 * The suffix closure of a domain list: a bit array with a bit for every label-aligned PROPER
 * suffix of a listed domain (`com` and `example.com` for `www.example.com`), indexed by the low
 * bits of the domain table's finished hash (bytetable.ts `hashBytes` + `finish`, case-folded).
 * A right-to-left suffix walk over a name (formats/tsvprefilter.wat) may stop at the first
 * suffix whose bit is clear and that is not itself listed: no longer suffix of the name can then
 * be a listed domain, since that domain would have put the shorter suffix's bit here. Bits only
 * ever answer "maybe"; a clear bit is exact. Sized at 16 bits per distinct suffix (at least 512
 * bits), so a suffix outside the closure finds its bit clear about 15 times in 16 or more.
 */
import { finish, hashBytes } from '../domain/bytetable.ts';

const DOT = 46;

/** The closure bits of the domains `ids` (keys `values[starts[id], starts[id + 1])`); see the module doc. */
export function suffixClosure(values: Uint8Array, starts: Int32Array, ids: Iterable<number>): Uint8Array {
  const hashes = new Set<number>();
  for (const id of ids) {
    const end = starts[id + 1] as number;
    for (let i = starts[id] as number; i < end; i++) if (values[i] === DOT) hashes.add(finish(hashBytes(values, i + 1, end, true)));
  }
  let bits = 512;
  while (bits < hashes.size * 16 && bits < 1 << 30) bits *= 2;
  const out = new Uint8Array(bits >>> 3);
  for (const h of hashes) {
    const b = h & (bits - 1);
    out[b >>> 3] = (out[b >>> 3] as number) | (1 << (b & 7));
  }
  return out;
}

/**
 * NetTable: a read-only longest-prefix-match table of IPv4 and IPv6 networks (host addresses are
 * /32 and /128 networks), each naming an integer id. Built once by NetTableBuilder, then only read.
 *
 * Invariants:
 * - IPv4: one open-addressing table keyed by (network, prefix length), 9 bytes per slot at most
 *   70% load; a lookup probes the prefix lengths present, longest first, and returns the first
 *   hit, so the most specific network wins.
 * - IPv4 lookups first consult a bitmap of the /24s (or, for small tables, /16s) that any network
 *   touches: an address outside every network costs one bit test. The bitmap costs 2 MiB for
 *   tables of more than 65,536 networks and 8 KiB below.
 * - IPv6: a Map keyed by the masked address and prefix length (IPv6 is rarer in logs); an
 *   IPv4-mapped address (::ffff:a.b.c.d) is also looked up as the IPv4 address a.b.c.d.
 * - Adding the same network twice keeps the first id.
 */
import { ipv4Mask } from './ip.ts';

/** One IPv4 network of a table. */
export interface V4Net { readonly address: number; readonly prefix: number; readonly id: number }
/** One IPv6 network of a table (eight 16-bit groups, host bits cleared). */
export interface V6Net { readonly groups: readonly number[]; readonly prefix: number; readonly id: number }

const BIG_TABLE = 65_536;

function mix(address: number, prefix: number): number {
  let h = Math.imul(address ^ Math.imul(prefix, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  return Math.imul(h, 0xc2b2ae35) ^ (h >>> 16);
}

/** The eight groups of `groups` with the bits after `prefix` cleared, as an 8-character key plus the prefix. */
function v6Key(groups: ArrayLike<number>, prefix: number): string {
  let key = '';
  let bits = prefix;
  for (let k = 0; k < 8; k++, bits -= 16) {
    const m = bits >= 16 ? 0xffff : bits <= 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    key += String.fromCharCode((groups[k] ?? 0) & m);
  }
  return key + String.fromCharCode(prefix);
}

function isV4Mapped(g: ArrayLike<number>): boolean {
  return g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff;
}

/** Collects networks, then builds a NetTable. IPv4 networks are kept in typed arrays (a million cost 9 MB). */
export class NetTableBuilder {
  #addr = new Int32Array(64);
  #prefix = new Uint8Array(64);
  #id = new Int32Array(64);
  #n = 0;
  readonly #v6: V6Net[] = [];

  /** Adds an IPv4 network (host bits are cleared here). */
  addV4(address: number, prefix: number, id: number): void {
    if (this.#n === this.#addr.length) this.#grow();
    this.#addr[this.#n] = (address & ipv4Mask(prefix)) | 0;
    this.#prefix[this.#n] = prefix;
    this.#id[this.#n] = id;
    this.#n++;
  }

  #grow(): void {
    const addr = new Int32Array(this.#n * 2);
    addr.set(this.#addr);
    this.#addr = addr;
    const prefix = new Uint8Array(this.#n * 2);
    prefix.set(this.#prefix);
    this.#prefix = prefix;
    const id = new Int32Array(this.#n * 2);
    id.set(this.#id);
    this.#id = id;
  }

  /** Adds an IPv6 network given as eight 16-bit groups. */
  addV6(groups: readonly number[], prefix: number, id: number): void {
    this.#v6.push({ groups: [...groups], prefix, id });
  }

  /** The table of every network added so far. */
  build(): NetTable {
    return new NetTable({ addr: this.#addr, prefix: this.#prefix, id: this.#id, n: this.#n }, this.#v6);
  }
}

/** IPv4 networks as parallel typed arrays (the first `n` entries are used). */
interface V4Arrays { readonly addr: Int32Array; readonly prefix: Uint8Array; readonly id: Int32Array; readonly n: number }

/** A read-only longest-prefix-match table; see the module doc. */
export class NetTable {
  readonly #keys: Int32Array;
  readonly #lens: Uint8Array;
  readonly #ids: Int32Array;
  readonly #mask: number;
  /** Distinct IPv4 prefix lengths, longest first. */
  readonly #v4Lengths: readonly number[];
  readonly #filter: Uint8Array;
  readonly #filterShift: number;
  /** Network addresses of the IPv4 table, ascending (for overlap queries by binary search). */
  readonly #sorted: Uint32Array;
  readonly #v6 = new Map<string, number>();
  readonly #v6Lengths: readonly number[];
  /** Every IPv6 network as added (the first of duplicates), for iteration. */
  readonly v6: readonly V6Net[];

  constructor(v4: V4Arrays, v6: readonly V6Net[]) {
    let cap = 8;
    while (cap * 0.7 < v4.n) cap *= 2;
    this.#mask = cap - 1;
    this.#keys = new Int32Array(cap);
    this.#lens = new Uint8Array(cap);
    this.#ids = new Int32Array(cap);
    this.#filterShift = v4.n > BIG_TABLE ? 8 : 16;
    this.#filter = new Uint8Array(1 << (32 - this.#filterShift - 3));
    const lengths = new Set<number>();
    for (let i = 0; i < v4.n; i++) {
      const net = { address: (v4.addr[i] ?? 0) >>> 0, prefix: v4.prefix[i] ?? 0, id: v4.id[i] ?? 0 };
      if (this.#insertV4(net)) lengths.add(net.prefix);
    }
    this.#v4Lengths = [...lengths].sort((a, b) => b - a);
    this.#sorted = Uint32Array.from(this.v4(), (n) => n.address).sort();
    const kept6: V6Net[] = [];
    for (const n of v6) {
      const key = v6Key(n.groups, n.prefix);
      if (this.#v6.has(key)) continue;
      this.#v6.set(key, n.id);
      kept6.push(n);
    }
    this.v6 = kept6;
    this.#v6Lengths = [...new Set(kept6.map((n) => n.prefix))].sort((a, b) => b - a);
  }

  #insertV4(n: V4Net): boolean {
    if (this.#findV4(n.address, n.prefix) >= 0) return false;
    let slot = mix(n.address, n.prefix) & this.#mask;
    while (this.#ids[slot] !== 0) slot = (slot + 1) & this.#mask;
    this.#keys[slot] = n.address | 0;
    this.#lens[slot] = n.prefix;
    this.#ids[slot] = n.id + 1;
    this.#markFilter(n);
    return true;
  }

  #markFilter(n: V4Net): void {
    const bits = 32 - this.#filterShift;
    const first = n.address >>> this.#filterShift;
    const span = n.prefix >= bits ? 1 : 2 ** (bits - n.prefix);
    for (let b = first; b < first + span; b++) this.#filter[b >>> 3] = (this.#filter[b >>> 3] ?? 0) | (1 << (b & 7));
  }

  #findV4(network: number, prefix: number): number {
    const key = network | 0;
    for (let slot = mix(network >>> 0, prefix) & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const id = (this.#ids[slot] ?? 0) - 1;
      if (id < 0) return -1;
      if (this.#keys[slot] === key && this.#lens[slot] === prefix) return id;
    }
  }

  /** Every IPv4 network of the table (the first of duplicates), in slot order. */
  *v4(): Generator<V4Net> {
    for (let slot = 0; slot <= this.#mask; slot++) {
      const id = (this.#ids[slot] ?? 0) - 1;
      if (id >= 0) yield { address: (this.#keys[slot] ?? 0) >>> 0, prefix: this.#lens[slot] ?? 0, id };
    }
  }

  /**
   * The IPv4 bitmap behind `mayHoldV4` (read-only; not a copy): bit `address >>> shift` of
   * `bits` (bit b in byte b >>> 3, position b & 7) is set when some network may hold the address.
   */
  get v4Bitmap(): { readonly bits: Uint8Array; readonly shift: number } {
    return { bits: this.#filter, shift: this.#filterShift };
  }

  /** True when some IPv4 network of the table may contain `address` (false means surely none). */
  mayHoldV4(address: number): boolean {
    const b = address >>> this.#filterShift;
    return ((this.#filter[b >>> 3] ?? 0) & (1 << (b & 7))) !== 0;
  }

  /** The id of the longest IPv4 network containing `address` (unsigned 32-bit), or -1. */
  lookupV4(address: number): number {
    if (!this.mayHoldV4(address)) return -1;
    return this.#longestV4(address, 32);
  }

  #longestV4(address: number, maxPrefix: number): number {
    for (const p of this.#v4Lengths) {
      if (p > maxPrefix) continue;
      const id = this.#findV4((address & ipv4Mask(p)) >>> 0, p);
      if (id >= 0) return id;
    }
    return -1;
  }

  /** The id of the longest IPv6 network containing the address `groups`, or -1 (IPv4-mapped addresses also try IPv4). */
  lookupV6(groups: ArrayLike<number>): number {
    const id = this.#longestV6(groups, 128);
    if (id >= 0 || !isV4Mapped(groups)) return id;
    return this.lookupV4((((groups[6] ?? 0) << 16) | (groups[7] ?? 0)) >>> 0);
  }

  #longestV6(groups: ArrayLike<number>, maxPrefix: number): number {
    for (const p of this.#v6Lengths) {
      if (p > maxPrefix) continue;
      const id = this.#v6.get(v6Key(groups, p));
      if (id !== undefined) return id;
    }
    return -1;
  }

  /** True when the IPv4 network `address/prefix` contains a network of the table or lies inside one. */
  overlapsV4(address: number, prefix: number): boolean {
    if (this.#longestV4(address, prefix) >= 0) return true;
    // No network contains this one, so any network starting inside it is a more specific one.
    const start = (address & ipv4Mask(prefix)) >>> 0;
    const end = start + 2 ** (32 - prefix);
    const s = this.#sorted;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((s[mid] ?? 0) < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < s.length && (s[lo] ?? 0) < end;
  }

  /** True when the IPv6 network `groups/prefix` contains a network of the table or lies inside one. */
  overlapsV6(groups: readonly number[], prefix: number): boolean {
    if (this.#longestV6(groups, prefix) >= 0) return true;
    const key = v6Key(groups, prefix);
    return this.v6.some((n) => n.prefix > prefix && v6Key(n.groups, prefix) === key);
  }

  /** Bytes held by the IPv4 slots and filter (IPv6 Map entries are not counted). */
  get v4Bytes(): number {
    return this.#keys.byteLength + this.#lens.byteLength + this.#ids.byteLength + this.#filter.byteLength;
  }
}

/**
 * The Zeek TSV prefilter: a WebAssembly (SIMD) pass over a whole range of records that keeps
 * only the lines that may hit an indicator or be rejected, so the JavaScript walk (zeek.ts, the
 * reference) runs on a few percent of the lines. One call per range, no crossing per field.
 * The module is tsvprefilter.wat, assembled by `npm run generate` (codegen/wasm.ts); decisions
 * in docs/adr/2026-12-07-wasm-tsv-prefilter.md.
 *
 * Contract: a line the prefilter does not flag has no hit and no reject in the JavaScript walk
 * (it is only counted). It flags a line when an IPv4 address of an address or name column has
 * its bit in the snapshot's network bitmap, when a label-aligned suffix of a name passes the
 * domain table's filter, when a hash (md5, sha1 or sha256 length) passes the hash table's
 * filter, when an HTTP host passes the filter of the hosts URL indicators name, or when the
 * line is unusual (IPv6 or other text in an address column, a digit-led name that is no IPv4
 * address, too few columns, over 64 KiB). Lines starting with
 * '#', '{' or a newline stop it: the caller handles them and calls again.
 *
 * Memory (one instance per parser, i.e. per scanned input): the column roles at 0, the flagged
 * lines at OUT, copies of the snapshot's IPv4 bitmap (2 MiB for large tables), domain filter
 * (1-2 bytes per listed domain) and domains' suffix closure (2 bytes per distinct parent
 * domain, suffixclosure.ts), and the filters and slots of the hash and URL host tables
 * (8 bytes per slot) from TABLES, then the input range. A column role outside PREFILTER_ROLES makes the prefilter decline.
 */
import type { MatcherSnapshot, MissTables } from '../snapshot.ts';
import { TSV_PREFILTER_WASM } from './tsvprefilter.wasm.ts';

/** Column roles the prefilter understands (zeek.ts uses the same codes). */
export const PREFILTER_ROLES = { none: 0, ip: 1, ipList: 2, host: 3, hostList: 4, hash: 5, httpHost: 7, uri: 8 } as const;

const SERVED: ReadonlySet<number> = new Set(Object.values(PREFILTER_ROLES));
const ROLES = 0;
const MAX_COLUMNS = 256;
/** Per column whose role is none: how many such columns run from it, up to the last column. */
const JUMPS = ROLES + MAX_COLUMNS;
const OUT = 1024;
/** Flagged lines per call; a call that fills them stops and is called again. */
const CAP = 4096;
const TABLES = 65536;
const PAGE = 65536;
/** Bytes after the input that the 16-byte loads may read. */
const PAD = 64;

// The few WebAssembly JS API types used here (the project's TypeScript libs carry no DOM types).
interface WasmMemory { readonly buffer: ArrayBuffer; grow(pages: number): number }
interface WasmGlobal { readonly value: number }
interface WasmModule { readonly kind?: never }
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => WasmModule;
  readonly Instance: new (m: WasmModule) => { readonly exports: unknown };
}
const WASM = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

interface Exports {
  readonly memory: WasmMemory;
  readonly lines: WasmGlobal;
  readonly flagged: WasmGlobal;
  configure(bitmap: number, bitShift: number, filter: number, blockShift: number, roles: number, last: number, sep: number, setSep: number, closure: number, closureMask: number, jumps: number): void;
  scan(base: number, pos: number, end: number, out: number, cap: number): number;
  configureExact(hashFilter: number, hashShift: number, hashSlots: number, hashMask: number, urlHostFilter: number, urlHostShift: number, urlHostSlots: number, urlHostMask: number): void;
}

/** The compiled module, or undefined where this Node has no WebAssembly SIMD (the JavaScript walk then does everything). */
const MODULE: WasmModule | undefined = compile();

function compile(): WasmModule | undefined {
  if (WASM === undefined) return undefined;
  try {
    return new WASM.Module(Buffer.from(TSV_PREFILTER_WASM, 'base64'));
  } catch {
    return undefined;
  }
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/** A prefilter instance bound to one snapshot's tables; see the module doc. */
export class TsvPrefilter {
  readonly snap: MatcherSnapshot;
  readonly #x: Exports;
  readonly #input: number;
  readonly #bitmap: number;
  readonly #shift: number;
  readonly #filter: number;
  readonly #blockShift: number;
  readonly #closure: number;
  readonly #closureMask: number;
  #u8 = new Uint8Array(0);
  #i32 = new Int32Array(0);
  /** Byte position in the caller's buffer of the input's first byte, and how many are loaded. */
  #from = 0;
  #len = 0;

  private constructor(snap: MatcherSnapshot, x: Exports, t: MissTables) {
    this.snap = snap;
    this.#x = x;
    const filterAt = align(TABLES + t.bits.length, 64);
    const closureAt = align(filterAt + t.domainFilter.byteLength, 64);
    const exact = [t.hashes, t.urlHosts].flatMap((e) => [e.filter, e.slots]);
    const at: number[] = [];
    let next = align(closureAt + t.domainClosure.byteLength, 64);
    for (const a of exact) {
      at.push(next);
      next = align(next + a.byteLength, 64);
    }
    this.#input = next;
    this.#grow(this.#input + PAD);
    exact.forEach((a, k) => { new Int32Array(x.memory.buffer, at[k], a.length).set(a); });
    const [hf = 0, hs = 0, uf = 0, us = 0] = at;
    x.configureExact(hf, t.hashes.blockShift, hs, t.hashes.mask, uf, t.urlHosts.blockShift, us, t.urlHosts.mask);
    this.#u8.set(t.bits, TABLES);
    this.#u8.set(t.domainClosure, closureAt);
    this.#closure = closureAt;
    this.#closureMask = t.domainClosure.length * 8 - 1;
    new Int32Array(x.memory.buffer, filterAt, t.domainFilter.length).set(t.domainFilter);
    this.#bitmap = TABLES;
    this.#shift = t.shift;
    this.#filter = filterAt;
    this.#blockShift = t.domainBlockShift;
  }

  /** A prefilter over `snap`'s tables; undefined when WebAssembly SIMD is unavailable. */
  static create(snap: MatcherSnapshot): TsvPrefilter | undefined {
    if (MODULE === undefined || WASM === undefined) return undefined;
    const x = new WASM.Instance(MODULE).exports as Exports;
    return new TsvPrefilter(snap, x, snap.missTables);
  }

  /**
   * Sets the columns: `roles[k]` (PREFILTER_ROLES) up to the last column the walk must reach.
   * Returns false when the prefilter cannot serve them (another role, too many columns, a
   * newline separator): the caller then walks every line itself.
   */
  configure(roles: Uint8Array, last: number, sep: number, setSep: number): boolean {
    if (last < 0 || last >= MAX_COLUMNS - 1 || sep === 10 || setSep === 10) return false;
    for (let k = 0; k <= last; k++) if (!SERVED.has(roles[k] ?? 0)) return false;
    this.#u8.fill(0, ROLES, ROLES + MAX_COLUMNS);
    // A URI alone never hits (the URL check hangs on the host): the walk passes it like any other column.
    for (let k = 0; k <= last; k++) this.#u8[ROLES + k] = roles[k] === PREFILTER_ROLES.uri ? PREFILTER_ROLES.none : (roles[k] ?? 0);
    this.#u8.fill(0, JUMPS, JUMPS + MAX_COLUMNS);
    for (let k = last; k >= 0; k--) if (this.#u8[ROLES + k] === PREFILTER_ROLES.none) this.#u8[JUMPS + k] = k === last ? 1 : (this.#u8[JUMPS + k + 1] ?? 0) + 1;
    this.#x.configure(this.#bitmap, this.#shift, this.#filter, this.#blockShift, ROLES, last, sep, setSep, this.#closure, this.#closureMask, JUMPS);
    return true;
  }

  /** Copies `buf[start, end)` (complete lines, the last ending with a newline) into the module's memory. */
  load(buf: Uint8Array, start: number, end: number): void {
    this.#grow(this.#input + (end - start) + PAD);
    this.#u8.set(buf.subarray(start, end), this.#input);
    this.#u8.fill(0, this.#input + (end - start), this.#input + (end - start) + PAD);
    this.#from = start;
    this.#len = end - start;
  }

  /** True when `buf` positions [start, end) were loaded by the last `load`. */
  holds(start: number, end: number): boolean {
    return start >= this.#from && end <= this.#from + this.#len;
  }

  /**
   * Walks the loaded lines from buffer position `pos` to `end`; returns the buffer position
   * where it stopped (`end`, a line starting with '#', '{' or a newline, or a full flag list).
   * Then `lines` is the number of lines walked and `flagged`/`flaggedAt`/`flaggedLine` list
   * the flagged ones.
   */
  scan(pos: number, end: number): number {
    const base = this.#input - this.#from;
    return this.#from + this.#x.scan(this.#input, base + pos, base + end, OUT, CAP);
  }

  /** Lines walked by the last `scan`. */
  get lines(): number {
    return this.#x.lines.value;
  }

  /** Lines flagged by the last `scan`. */
  get flagged(): number {
    return this.#x.flagged.value;
  }

  /** Buffer position of the k-th flagged line. */
  flaggedAt(k: number): number {
    return this.#from + (this.#i32[(OUT >>> 2) + 2 * k] as number);
  }

  /** Index (from 0, among the lines of the last scan) of the k-th flagged line. */
  flaggedLine(k: number): number {
    return this.#i32[(OUT >>> 2) + 2 * k + 1] as number;
  }

  #grow(bytes: number): void {
    const mem = this.#x.memory;
    if (bytes > mem.buffer.byteLength) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / PAGE));
    if (this.#u8.buffer !== mem.buffer) {
      this.#u8 = new Uint8Array(mem.buffer);
      this.#i32 = new Int32Array(mem.buffer);
    }
  }
}

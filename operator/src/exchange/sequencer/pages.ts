/**
 * Shared store reads for streams behind the entry cache. A partner that fell behind the
 * sequencer's in-memory entries is served from the store; when many fell behind, each stream
 * reading the store with its own query stalls the appends that share the database. Here the
 * store is read in fixed, aligned pages: one read per page, awaited by every stream that needs
 * it, and the last few pages kept so streams at nearby positions share them too.
 *
 * Only the honest log uses this (log.ts): a page holds entries below the log's size, which are
 * appended and never change. The proofs stay per stream (from the in-memory tree), so an entry
 * edited in the database still fails its proof at every partner that receives it.
 */
import type { IndexedEntry } from '../../domain/entry.ts';

/** How the store is paged. */
export interface StoredPageLimits {
  /** Entries one page (one store query) holds; pages start at multiples of it. @default 1024 */
  readonly pageEntries?: number;
  /** Pages kept after their read for streams that come later; older ones are dropped first. @default 4 */
  readonly keptPages?: number;
}

/** Reads entries [from, to) from the store in index order. */
export type StoreRange = (from: number, to: number) => AsyncIterable<IndexedEntry>;

const DEFAULT_PAGE = 1024;
const DEFAULT_KEPT = 4;

/** Aligned pages of the store, read once and shared. One per log. */
export class StoredPages {
  readonly #read: StoreRange;
  /** Entries per page. */
  readonly size: number;
  readonly #kept: number;
  // page start → its read (in flight or done); insertion order is age.
  readonly #pages = new Map<number, Promise<readonly IndexedEntry[]>>();
  readonly #done = new Set<number>();
  #reads = 0;
  #shared = 0;

  constructor(read: StoreRange, limits: StoredPageLimits = {}) {
    this.#read = read;
    this.size = Math.max(1, Math.floor(limits.pageEntries ?? DEFAULT_PAGE));
    this.#kept = Math.max(0, Math.floor(limits.keptPages ?? DEFAULT_KEPT));
  }

  /** Store reads made, and page requests answered by a read another stream started or a kept page. */
  stats(): { readonly reads: number; readonly shared: number } {
    return { reads: this.#reads, shared: this.#shared };
  }

  /** Start of the page holding `index`. */
  startOf(index: number): number {
    return index - (index % this.size);
  }

  /**
   * The entries of the page starting at `start` (a multiple of the page size), as the store
   * holds them. The caller asks only for pages wholly below the log's size (immutable) and
   * checks contiguity. A failed read is not kept: the next request reads again.
   */
  page(start: number): Promise<readonly IndexedEntry[]> {
    const have = this.#pages.get(start);
    if (have !== undefined) {
      this.#shared += 1;
      return have;
    }
    this.#reads += 1;
    const read = this.#collect(start);
    this.#pages.set(start, read);
    read.then(() => {
      this.#done.add(start);
      this.#trim();
    }, () => {
      this.#pages.delete(start);
    });
    return read;
  }

  async #collect(start: number): Promise<readonly IndexedEntry[]> {
    const out: IndexedEntry[] = [];
    for await (const e of this.#read(start, start + this.size)) out.push(e);
    return out;
  }

  // Drops the oldest finished pages beyond the kept count (reads in flight stay: streams await them).
  #trim(): void {
    for (const start of this.#pages.keys()) {
      if (this.#done.size <= this.#kept) return;
      if (!this.#done.has(start)) continue;
      this.#pages.delete(start);
      this.#done.delete(start);
    }
  }
}

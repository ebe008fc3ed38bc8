/**
 * Group commit: items added while a write is in flight are written together by the next write,
 * one write at a time, so many concurrent callers cost a few round trips and the store never
 * sees concurrent writers. Each item settles its own caller (it carries its resolve/reject);
 * `write` settles every item it is given.
 */
export class GroupCommit<T> {
  readonly #queue: T[] = [];
  readonly #write: (batch: T[]) => Promise<void>;
  readonly #maxBatch: number;
  readonly #gather: boolean;
  #flushing = false;

  /**
   * `maxBatch` items at most per write; with `gather`, the first write waits one turn of the event
   * loop so the calls of one burst (a Promise.all) join it.
   */
  constructor(write: (batch: T[]) => Promise<void>, opts: { readonly maxBatch?: number; readonly gather?: boolean } = {}) {
    this.#write = write;
    this.#maxBatch = opts.maxBatch ?? Infinity;
    this.#gather = opts.gather ?? false;
  }

  /** Queues `item` and starts a write unless one is in flight (which then takes it next). */
  add(item: T): void {
    this.#queue.push(item);
    void this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      if (this.#gather) await new Promise<void>((r) => setImmediate(r));
      while (this.#queue.length > 0) await this.#write(this.#queue.splice(0, this.#maxBatch));
    } finally {
      this.#flushing = false;
    }
  }
}

/**
 * The replica's write pipeline: verified batches are written one after another, in log order,
 * and the write of one overlaps the verification of the next. A failed write surfaces at the
 * next push or at drain; nothing is written after it.
 */

/** Writes batches in order, one in flight at a time. */
export class OrderedWriter<T> {
  readonly #write: (batch: readonly T[]) => Promise<void>;
  #writing: Promise<void> = Promise.resolve();

  /** `write` persists one batch (its entries and the cursor past them). */
  constructor(write: (batch: readonly T[]) => Promise<void>) {
    this.#write = write;
  }

  /** Waits for the batch in flight (rethrowing its failure), then starts writing `batch` without waiting for it. */
  async push(batch: readonly T[]): Promise<void> {
    await this.#writing;
    if (batch.length === 0) return;
    this.#writing = this.#write(batch);
    // Observed by the next push or by drain; never left unhandled meanwhile.
    this.#writing.catch(() => undefined);
  }

  /** Waits for the batch in flight, rethrowing its failure. */
  drain(): Promise<void> {
    return this.#writing;
  }

  /** Waits for the batch in flight, ignoring its failure (the caller is already failing). */
  async settle(): Promise<void> {
    await this.#writing.catch(() => undefined);
  }
}

/** The items of `source` in arrays of `size` (the last one shorter). */
export async function* chunks<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let chunk: T[] = [];
  for await (const item of source) {
    chunk.push(item);
    if (chunk.length >= size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

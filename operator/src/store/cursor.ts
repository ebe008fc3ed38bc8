/** Replication cursors in MongoDB (`replica_cursors`, one document per source, `_id` = source id). */
import { randomUUID } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { CursorStore, ReplicaCursor } from '../domain/stores.ts';

/** Collection name. */
export const REPLICA_CURSORS = 'replica_cursors';

/**
 * Field of a cursor document naming the store that saved it: one store per term of leadership
 * (service.ts), so the digest catch-up can tell that no other term saved since (store/digestwatermark.ts).
 */
export const CURSOR_WRITER = 'w';

interface CursorDoc extends ReplicaCursor {
  _id: string;
  [CURSOR_WRITER]?: string;
}

/** The {@link CursorStore} of a partner over one database. */
export class MongoCursorStore implements CursorStore {
  readonly #col: Collection<CursorDoc>;
  readonly #writer: string;

  /** `writer`: what each save names as its writer (see {@link CURSOR_WRITER}). @default a random id: one per store */
  constructor(db: Db, writer: string = randomUUID()) {
    this.#col = db.collection<CursorDoc>(REPLICA_CURSORS);
    this.#writer = writer;
  }

  /** The cursor of `sourceId`, if one was saved. */
  async load(sourceId: string): Promise<ReplicaCursor | undefined> {
    const doc = await this.#col.findOne({ _id: sourceId });
    if (doc === null) return undefined;
    const { _id: _ignored, [CURSOR_WRITER]: _writer, ...cursor } = doc;
    return cursor;
  }

  /** Replaces the cursor of `sourceId`, naming this store as its writer. */
  async save(sourceId: string, cursor: ReplicaCursor): Promise<void> {
    await this.#col.replaceOne({ _id: sourceId }, { ...cursor, [CURSOR_WRITER]: this.#writer }, { upsert: true });
  }

  /** Clears a halt after an operator has investigated it, keeping the position. */
  async clearHalt(sourceId: string): Promise<void> {
    await this.#col.updateOne({ _id: sourceId }, { $unset: { halted: '' } });
  }
}

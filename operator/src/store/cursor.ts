/** Replication cursors in MongoDB (`replica_cursors`, one document per source, `_id` = source id). */
import type { Collection, Db } from 'mongodb';
import type { CursorStore, ReplicaCursor } from '../domain/stores.ts';

/** Collection name. */
export const REPLICA_CURSORS = 'replica_cursors';

interface CursorDoc extends ReplicaCursor {
  _id: string;
}

/** The {@link CursorStore} of a partner over one database. */
export class MongoCursorStore implements CursorStore {
  readonly #col: Collection<CursorDoc>;

  constructor(db: Db) {
    this.#col = db.collection<CursorDoc>(REPLICA_CURSORS);
  }

  /** The cursor of `sourceId`, if one was saved. */
  async load(sourceId: string): Promise<ReplicaCursor | undefined> {
    const doc = await this.#col.findOne({ _id: sourceId });
    if (doc === null) return undefined;
    const { _id: _ignored, ...cursor } = doc;
    return cursor;
  }

  /** Replaces the cursor of `sourceId`. */
  async save(sourceId: string, cursor: ReplicaCursor): Promise<void> {
    await this.#col.replaceOne({ _id: sourceId }, { ...cursor }, { upsert: true });
  }

  /** Clears a halt after an operator has investigated it, keeping the position. */
  async clearHalt(sourceId: string): Promise<void> {
    await this.#col.updateOne({ _id: sourceId }, { $unset: { halted: '' } });
  }
}

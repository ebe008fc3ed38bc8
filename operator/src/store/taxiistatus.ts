/** TAXII status resources in MongoDB (`taxii_status`, `_id` = status id; serve/status.ts). */
import type { Collection, Db } from 'mongodb';
import type { StatusStore, StoredStatus } from '../serve/status.ts';

/** Collection name. */
export const TAXII_STATUS = 'taxii_status';

interface StatusDoc extends StoredStatus {
  _id: string;
}

/** Stores statuses by id; a status is returned only to the consumer that created it. */
export class MongoStatusStore implements StatusStore {
  readonly #col: Collection<StatusDoc>;

  constructor(db: Db) {
    this.#col = db.collection<StatusDoc>(TAXII_STATUS);
  }

  async save(status: StoredStatus): Promise<void> {
    await this.#col.replaceOne({ _id: status.id }, { ...status }, { upsert: true });
  }

  async get(id: string, owner: string): Promise<StoredStatus | undefined> {
    const d = await this.#col.findOne({ _id: id });
    if (d === null || d.owner !== owner) return undefined;
    const { _id: _ignored, ...s } = d;
    return s;
  }
}

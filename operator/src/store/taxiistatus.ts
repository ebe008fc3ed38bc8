/** TAXII status resources of POSTed objects as stored (`taxii_status`, `_id` = status id): the types, the port and its MongoDB implementation (serve/status.ts renders them). */
import type { Collection, Db } from 'mongodb';

/** One object's outcome. */
export interface StatusDetail {
  readonly id: string;
  readonly version: string;
  readonly message?: string;
}

/** A pending object: what to look at to decide it. */
export interface PendingItem extends StatusDetail {
  /** Digest of the proposed indicator. */
  readonly digest: string;
  /** ThreatIndicator object name of the proposal. */
  readonly objectName: string;
}

/** A status as stored. */
export interface StoredStatus {
  readonly id: string;
  readonly owner: string;
  readonly requestTimestamp: string;
  readonly successes: StatusDetail[];
  readonly failures: StatusDetail[];
  readonly pendings: PendingItem[];
}

/** Persistence of statuses. */
export interface StatusStore {
  save(status: StoredStatus): Promise<void>;
  /** The status `id` if `owner` created it. */
  get(id: string, owner: string): Promise<StoredStatus | undefined>;
}

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

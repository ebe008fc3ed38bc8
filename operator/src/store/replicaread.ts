/**
 * Read side of the partner's replicated `indicators` collection for consumers that need the
 * whole active set (the log matcher): the active, non-expired indicators as a stream, and a
 * version that changes whenever the set can have changed (an admission or revocation moves the
 * highest log index; expiry is a time the reader computes from `meta.validUntil`).
 */
import type { Collection, Db } from 'mongodb';
import { INDICATORS, type IndicatorRecord } from './indicators.ts';

/** One active indicator. */
export interface ActiveIndicator {
  readonly type: string;
  readonly value: string;
  readonly digest: string;
  /** meta.validUntil, when the proposer set one. */
  readonly validUntil?: string | undefined;
  /** meta.tlp as signed (absent: TLP:CLEAR). */
  readonly tlp?: string | undefined;
}

/** What identifies the content of the replica. */
export interface ReplicaVersion {
  /** Records (active and revoked). */
  readonly records: number;
  /** Highest admission log index. */
  readonly maxLogIndex: number;
  /** Highest revocation log index. */
  readonly maxRevokedAt: number;
}

/** Reads the replica; see the module doc. */
export class ReplicaReader {
  readonly #col: Collection<IndicatorRecord>;

  constructor(db: Db) {
    this.#col = db.collection<IndicatorRecord>(INDICATORS);
  }

  /** The current version (three small queries). */
  async version(): Promise<ReplicaVersion> {
    const [records, top, revoked] = await Promise.all([
      this.#col.countDocuments({}),
      this.#col.find({}, { projection: { logIndex: 1 } }).sort({ logIndex: -1 }).limit(1).toArray(),
      this.#col.find({ state: 'revoked' }, { projection: { revokedAtIndex: 1 } }).sort({ revokedAtIndex: -1 }).limit(1).toArray(),
    ]);
    return { records, maxLogIndex: top[0]?.logIndex ?? -1, maxRevokedAt: revoked[0]?.revokedAtIndex ?? -1 };
  }

  /** Every active indicator not expired at `now` (validUntil after now, or none). */
  async *active(now: Date): AsyncGenerator<ActiveIndicator> {
    const cursor = this.#col.find({ state: 'active' }, { projection: { _id: 0, type: 1, value: 1, digest: 1, 'meta.validUntil': 1, 'meta.tlp': 1 }, batchSize: 10_000 });
    for await (const r of cursor) {
      const until = r.meta?.validUntil;
      if (until !== undefined && Date.parse(until) <= now.getTime()) continue;
      yield { type: r.type, value: r.value, digest: r.digest, validUntil: until, tlp: r.meta?.tlp };
    }
  }
}

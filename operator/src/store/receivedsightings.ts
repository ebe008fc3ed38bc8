/**
 * Sightings other parties shared with this partner (verified signed reports from peer partners
 * and edge sites, match/sharing.ts), and the network-wide aggregate per indicator.
 *
 * Collection `received_sightings`: one document per (sender, digest, hour bucket),
 * `_id: "<sender>:<digest>:<bucketStart ISO>"`, `{sender, digest, bucketStart, count, firstSeen,
 * lastSeen, reportedAt}`. A report replaces the sender's earlier figures of the same bucket
 * (a resent or updated report never adds), and an older report never overwrites a newer one,
 * so replaying a captured report cannot roll figures back.
 */
import type { Collection, Db } from 'mongodb';
import { SIGHTINGS, type SightingDoc } from './sightings.ts';

/** Collection name. */
export const RECEIVED_SIGHTINGS = 'received_sightings';

/** One received bucket. */
export interface ReceivedSightingDoc {
  _id: string;
  sender: string;
  digest: string;
  bucketStart: Date;
  count: number;
  firstSeen: Date;
  lastSeen: Date;
  /** The report's createdAt: newer reports win. */
  reportedAt: Date;
}

/** One bucket as a report gives it. */
export interface ReceivedBucket {
  readonly digest: string;
  readonly bucketStart: Date;
  readonly count: number;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
}

/** The network's view of one indicator: who saw it, how often, when. */
export interface SightingAggregate {
  readonly digest: string;
  /** Parties that saw it (this partner included when its own scans did), sorted. */
  readonly sightedBy: readonly string[];
  readonly count: number;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
}

const DUPLICATE_KEY = 11000;

/** The store; see the module doc. */
export class MongoReceivedSightings {
  readonly #col: Collection<ReceivedSightingDoc>;
  readonly #own: Collection<SightingDoc>;

  private constructor(db: Db) {
    this.#col = db.collection<ReceivedSightingDoc>(RECEIVED_SIGHTINGS);
    this.#own = db.collection<SightingDoc>(SIGHTINGS);
  }

  /** Opens the store and creates its index (idempotent). */
  static async open(db: Db): Promise<MongoReceivedSightings> {
    const s = new MongoReceivedSightings(db);
    await s.#col.createIndex({ digest: 1 }, { name: 'digest' });
    return s;
  }

  /** Stores one verified report of `sender` made at `reportedAt`; returns the buckets written (older ones kept). */
  async store(sender: string, reportedAt: Date, buckets: readonly ReceivedBucket[]): Promise<number> {
    let written = 0;
    for (const b of buckets) {
      const _id = `${sender}:${b.digest}:${b.bucketStart.toISOString()}`;
      const doc: ReceivedSightingDoc = { _id, sender, digest: b.digest, bucketStart: b.bucketStart, count: b.count, firstSeen: b.firstSeen, lastSeen: b.lastSeen, reportedAt };
      try {
        // Matches only a stored bucket from an older (or the same) report; a newer stored one makes the upsert collide.
        const r = await this.#col.replaceOne({ _id, reportedAt: { $lte: reportedAt } }, doc, { upsert: true });
        written += r.modifiedCount + r.upsertedCount;
      } catch (err) {
        if ((err as { code?: number }).code !== DUPLICATE_KEY) throw err;
      }
    }
    return written;
  }

  /** The aggregate of each of `digests` that anyone sighted; `self` names this partner's own sightings. */
  async aggregate(digests: readonly string[], self: string): Promise<Map<string, SightingAggregate>> {
    const acc = new Map<string, { by: Set<string>; count: number; first: Date; last: Date }>();
    const add = (digest: string, by: string, count: number, first: Date, last: Date): void => {
      const a = acc.get(digest);
      if (a === undefined) {
        acc.set(digest, { by: new Set([by]), count, first, last });
        return;
      }
      a.by.add(by);
      a.count += count;
      if (first < a.first) a.first = first;
      if (last > a.last) a.last = last;
    };
    for (let i = 0; i < digests.length; i += 500) {
      const some = digests.slice(i, i + 500);
      for (const d of await this.#col.find({ digest: { $in: some } }).toArray()) if (d.sender !== self) add(d.digest, d.sender, d.count, d.firstSeen, d.lastSeen);
      for (const d of await this.#own.find({ digest: { $in: some } }).toArray()) add(d.digest, self, d.count, d.firstSeen, d.lastSeen);
    }
    return new Map([...acc].map(([digest, a]) => [digest, { digest, sightedBy: [...a.by].sort(), count: a.count, firstSeen: a.first, lastSeen: a.last }]));
  }
}

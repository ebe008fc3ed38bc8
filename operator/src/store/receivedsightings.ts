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
import { SIGHTINGS, type PushPosition, type SightingDoc } from './sightings.ts';

/** Collection names: received sightings, and how far this partner's own pushes to each peer got. */
export const RECEIVED_SIGHTINGS = 'received_sightings';
export const SIGHTING_PUSHES = 'sighting_pushes';

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

  /** The store for reading only (the aggregate, party counts): creates no index. */
  static reader(db: Db): MongoReceivedSightings {
    return new MongoReceivedSightings(db);
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

  /**
   * How many parties (this partner's own scans as `self`, and each sender) saw each indicator
   * last at or after `since`: what the voting policy counts as corroboration by sightings.
   * Reads only the projection it needs; digests nobody saw since then are absent.
   */
  async partiesSince(since: Date, self: string): Promise<Map<string, number>> {
    const by = new Map<string, Set<string>>();
    const add = (digest: string, party: string): void => {
      const s = by.get(digest);
      if (s === undefined) by.set(digest, new Set([party]));
      else s.add(party);
    };
    for await (const d of this.#col.find({ lastSeen: { $gte: since } }, { projection: { _id: 0, digest: 1, sender: 1 } })) if (d.sender !== self) add(d.digest, d.sender);
    for await (const d of this.#own.find({ lastSeen: { $gte: since } }, { projection: { _id: 0, digest: 1 } })) add(d.digest, self);
    return new Map([...by].map(([digest, parties]) => [digest, parties.size]));
  }
}

/**
 * Each digest's parties and the last time each saw it (epoch ms), for sightings last seen at or
 * after `since`: this partner's own (`sightings`, the party named by its `partnerId`) and every
 * sender's received ones. A sender named as this partner merges into this partner's own party
 * (one party is never counted twice). A received time is capped at its report's creation time
 * (a sender cannot claim to have seen something after it reported), an own one at when the
 * rollup wrote it. What enforcement's confidence decay reads.
 */
export async function lastSeenByParty(db: Db, since: Date): Promise<Map<string, Map<string, number>>> {
  const by = new Map<string, Map<string, number>>();
  const add = (digest: string, party: string, at: Date, cap: Date | undefined): void => {
    let parties = by.get(digest);
    if (parties === undefined) by.set(digest, (parties = new Map<string, number>()));
    const t = cap === undefined ? at.getTime() : Math.min(at.getTime(), cap.getTime());
    if (t > (parties.get(party) ?? Number.NEGATIVE_INFINITY)) parties.set(party, t);
  };
  const received = db.collection<ReceivedSightingDoc>(RECEIVED_SIGHTINGS).find({ lastSeen: { $gte: since } }, { projection: { _id: 0, digest: 1, sender: 1, lastSeen: 1, reportedAt: 1 } });
  for await (const d of received) add(d.digest, d.sender, d.lastSeen, d.reportedAt);
  const own = db.collection<SightingDoc>(SIGHTINGS).find({ lastSeen: { $gte: since } }, { projection: { _id: 0, digest: 1, partnerId: 1, lastSeen: 1, updatedAt: 1 } });
  for await (const d of own) add(d.digest, d.partnerId, d.lastSeen, d.updatedAt);
  return by;
}

interface PushDoc {
  _id: string;
  updatedAt: Date;
  id: string;
}

/** How far this partner's pushes of its own sightings to each peer got (collection `sighting_pushes`). */
export class MongoPushPositions {
  readonly #col: Collection<PushDoc>;

  constructor(db: Db) {
    this.#col = db.collection<PushDoc>(SIGHTING_PUSHES);
  }

  /** The last position sent to `peer`, or undefined before the first push. */
  async get(peer: string): Promise<PushPosition | undefined> {
    const d = await this.#col.findOne({ _id: peer });
    return d === null ? undefined : { updatedAt: d.updatedAt, id: d.id };
  }

  /** Records that everything up to `at` was sent to `peer`. */
  async save(peer: string, at: PushPosition): Promise<void> {
    await this.#col.replaceOne({ _id: peer }, { updatedAt: at.updatedAt, id: at.id }, { upsert: true });
  }
}

/**
 * A partner's replicated rejections in MongoDB (`rejections`): one document per verified REJECT
 * log entry (an ADD round rejected by votes; docs/adr/2026-12-06-signed-rejections.md), `_id` =
 * its log index. Apart from `indicators` on purpose: nothing that reads the partner's indicator
 * set (TAXII, exports, enforcement, the matcher, the cluster's working set) ever sees a rejected
 * indicator, and an indicator rejected, then admitted keeps both facts. Like `indicators` it is a
 * function of the verified log alone (plus the local time it was applied), so equal tree heads
 * still mean equal databases. Inserts only: replaying an entry after a crash inserts nothing.
 */
import { MongoBulkWriteError, type Collection, type Db, type WriteError } from 'mongodb';
import { readmissionFloor, voteRecord, type IndicatorMeta } from '../domain/entry.ts';
import type { VerifiedEntry } from '../domain/stores.ts';
import type { IndicatorHistory } from '../domain/verify.ts';
import { voteFromRecord } from './log.ts';

/** Collection name. */
export const REJECTIONS = 'rejections';

const DUPLICATE_KEY = 11000;

/** One verified REJECT entry as stored. */
export interface RejectionRecord {
  /** The log index. */
  _id: number;
  logIndex: number;
  digest: string;
  type: string;
  value: string;
  proposerId: string;
  /** The proposer's ADD proposal signature (kind `proposal`, over the indicator and its metadata). */
  proposalSignature: string;
  /** Protocol v2: the batch proposal's proof; absent for a single proposal. */
  proposalBatch?: string;
  /** The metadata the proposer signed (absent when none): its `source` is the feed. */
  meta?: IndicatorMeta;
  window: { opensAt: string; closesAt: string };
  /** The reject votes that prove the rejection (signed on the ADD subject, the indicator digest). */
  votes: Array<Record<string, string>>;
  /** When the rejection became final: the latest signedAt of its votes (signed, so the same at every partner). */
  decidedAt: Date;
  /** When this replica stored it. */
  appliedAt: Date;
}

/** The stored form of a verified REJECT entry. */
export function rejectionRecord(entry: VerifiedEntry, appliedAt: Date): RejectionRecord {
  const decided = Math.max(...entry.votes.map((v) => Date.parse(v.signedAt)).filter((t) => Number.isFinite(t)), Date.parse(entry.window.opensAt));
  return {
    _id: entry.index, logIndex: entry.index, digest: entry.digest, type: entry.indicator.type, value: entry.indicator.value,
    proposerId: entry.proposerId, proposalSignature: entry.proposalSignature, ...(entry.proposalBatch !== undefined ? { proposalBatch: entry.proposalBatch } : {}), ...(entry.meta !== undefined ? { meta: { ...entry.meta } } : {}),
    window: { opensAt: entry.window.opensAt, closesAt: entry.window.closesAt }, votes: entry.votes.map(voteRecord),
    decidedAt: new Date(decided), appliedAt,
  };
}

/** What a stored rejection says of its indicator's history (domain/verify.ts checkHistory). */
export function historyOfRejection(r: Pick<RejectionRecord, 'logIndex' | 'window' | 'votes'>): IndicatorHistory {
  return { kind: 'reject', index: r.logIndex, window: r.window, readmitFloorMs: readmissionFloor({ window: r.window, votes: r.votes.map(voteFromRecord) }) };
}

/** The `rejections` collection of a partner's replica. */
export class MongoRejections {
  readonly #col: Collection<RejectionRecord>;

  constructor(db: Db) {
    this.#col = db.collection<RejectionRecord>(REJECTIONS);
  }

  /** Inserts the records; those already stored (a replay after a crash) are left as they are. */
  async insert(records: readonly RejectionRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.#col.insertMany([...records], { ordered: false });
    } catch (err) {
      const errors: WriteError[] = err instanceof MongoBulkWriteError ? [err.writeErrors].flat() : [];
      if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
    }
  }

  /** The latest stored rejection of each of `digests` that has one, as history. */
  async lastEntries(digests: readonly string[]): Promise<Map<string, IndicatorHistory>> {
    const out = new Map<string, IndicatorHistory>();
    if (digests.length === 0) return out;
    const cursor = this.#col.find({ digest: { $in: [...digests] } }, { projection: { digest: 1, logIndex: 1, window: 1, votes: 1 } });
    for await (const r of cursor) {
      if ((out.get(r.digest)?.index ?? -1) < r.logIndex) out.set(r.digest, historyOfRejection(r));
    }
    return out;
  }

  /** Every stored rejection in log order. */
  async all(): Promise<RejectionRecord[]> {
    return this.#col.find({}).sort({ _id: 1 }).toArray();
  }
}

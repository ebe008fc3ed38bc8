/**
 * Rejections as the network decided them: the REJECT entries of the replicated log, which this
 * partner verified before storing them in its `rejections` collection (store/rejections.ts;
 * docs/adr/2026-12-06-signed-rejections.md). Every partner holds the same records, so every
 * partner counts the same rejections, per feed and per proposer.
 */
import type { Db } from 'mongodb';
import { REJECTIONS, type RejectionRecord } from '../store/rejections.ts';
import type { Window } from './period.ts';
import { indicatorTlp, tlpAllows, type Tlp } from './tlp.ts';
import type { RejectedProposal } from './trends.ts';

/** Where rejected proposals come from. */
export interface RejectionSource {
  /** Rejected proposals at or below `ceiling`, decided within `window` when given. */
  rejected(ceiling: Tlp, window?: Window): Promise<RejectedProposal[]>;
}

/** A stored rejection as the trends count it: dated when it became final (its latest signed vote). */
export function rejectedProposal(r: Pick<RejectionRecord, 'decidedAt' | 'type' | 'meta' | 'proposerId'>): RejectedProposal {
  return { at: new Date(r.decidedAt), type: r.type, feed: r.meta?.source, proposerId: r.proposerId };
}

/** The replicated REJECT entries of the partner database `db`. One read of `rejections`. */
export function replicatedRejections(db: Db): RejectionSource {
  const col = db.collection<RejectionRecord>(REJECTIONS);
  return {
    rejected: async (ceiling, window) => {
      const filter = window === undefined ? {} : { decidedAt: { $gte: window.since, $lt: window.until } };
      const docs = await col.find(filter, { projection: { decidedAt: 1, type: 1, meta: 1, proposerId: 1 } }).toArray();
      return docs.filter((r) => tlpAllows(ceiling, indicatorTlp(r.meta))).map(rejectedProposal);
    },
  };
}

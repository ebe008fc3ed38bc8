/**
 * The serving side's reads of the partner's replicated `indicators` (store/served.ts
 * IndicatorReader over MongoDB), by indexed queries only: a page is one or two range queries on
 * the log index (ADD versions by `logIndex`, revoked versions by `revokedAtIndex`), each with
 * the TLP filter and `limit`, on compound indexes {state, meta.tlp, index} (and the same led by
 * meta.source for feed collections), merged by index. Nothing is paged in memory.
 *
 * Pages stop at the replica's watermark (the highest `nextIndex` in `replica_cursors`): entries
 * below it are all written, so index i+1 is never served before i exists, and a cursor past i
 * never skips a version written later.
 *
 * FerretDB 1.24 (SQLite) answers these queries by scanning the collection (its indexes are not
 * used for queries, not even for _id); MongoDB uses the indexes. See the serve ADR.
 */
import type { Collection, Db, Filter } from 'mongodb';
import { STIX_ID_NAMESPACE, uuidV5 } from '../domain/stix.ts';
import type { Logger } from '../log.ts';
import type { MetaTlp as Tlp } from '../domain/entry.ts';
import { bulkWriteBounded } from './bulk.ts';
import { REPLICA_CURSORS } from './cursor.ts';
import { INDICATORS, type IndicatorRecord } from './indicators.ts';
import type { IndicatorReader, ServedChange, ServedRecord, VersionPage, VersionQuery, VersionRow } from './served.ts';
import { ServedChangesJournal } from './servedchanges.ts';
import { ensureQueryIndexes, type QueryIndex } from './indexes.ts';

const NO_WATERMARK = Number.MAX_SAFE_INTEGER;

/** The indexes the serving side needs on `indicators` (name → keys). */
export const SERVED_INDEXES: readonly QueryIndex[] = [
  ['served_add', { state: 1, 'meta.tlp': 1, logIndex: 1 }],
  ['served_add_source', { 'meta.source': 1, state: 1, 'meta.tlp': 1, logIndex: 1 }],
  ['served_revoke', { state: 1, 'meta.tlp': 1, revokedAtIndex: 1 }],
  ['served_revoke_source', { 'meta.source': 1, state: 1, 'meta.tlp': 1, revokedAtIndex: 1 }],
  ['served_stix_id', { stixId: 1 }],
  ['served_added_at', { addedAt: 1, logIndex: 1 }],
  ['served_revoked_at', { revokedAt: 1, revokedAtIndex: 1 }],
  ['served_log_index', { logIndex: 1 }],
  ['served_revoked_index', { revokedAtIndex: 1 }],
];

/** What the serving index leaves out of a record: the certificates (only the revocation's window is served). */
const NOT_SERVED = { votes: 0, cert: 0, proposalSignature: 0, proposalBatch: 0, name: 0, stixId: 0, 'revocation.votes': 0, 'revocation.proposalSignature': 0 } as const;

/** The TLP filter: the allowed levels, and a missing TLP when clear is allowed (an unmarked indicator is TLP:CLEAR). */
export function tlpFilter(tlps: readonly Tlp[]): { $in: Array<Tlp | null> } {
  return { $in: [...tlps, ...(tlps.includes('clear') ? [null] : [])] };
}

/** The MongoDB IndicatorReader. */
export class MongoServedIndicators implements IndicatorReader {
  readonly #col: Collection<IndicatorRecord>;
  readonly #cursors: Collection<{ _id: string; nextIndex?: number }>;
  readonly #journal: ServedChangesJournal;

  private constructor(db: Db) {
    this.#journal = new ServedChangesJournal(db);
    this.#col = db.collection<IndicatorRecord>(INDICATORS);
    this.#cursors = db.collection<{ _id: string; nextIndex?: number }>(REPLICA_CURSORS);
  }

  /** Opens the reader and creates its indexes (idempotent) where the database reads them (store/indexes.ts: not on FerretDB 1.x, which scans for these queries either way). */
  static async open(db: Db): Promise<MongoServedIndicators> {
    const r = new MongoServedIndicators(db);
    await ensureQueryIndexes(db, r.#col, SERVED_INDEXES);
    return r;
  }

  /**
   * Gives records stored before the replica kept them a STIX id and date_added (now), in log
   * order and in batches; returns how many it changed. Idempotent; a fresh replica has none.
   */
  async backfill(log?: Logger, batch = 1000): Promise<number> {
    let changed = 0;
    for (;;) {
      const docs = await this.#col.find({ stixId: null } as unknown as Filter<IndicatorRecord>, { projection: { digest: 1 } }).sort({ logIndex: 1 }).limit(batch).toArray();
      if (docs.length === 0) break;
      const at = new Date();
      await bulkWriteBounded(this.#col, docs.map((d) => ({ updateOne: { filter: { _id: d._id ?? d.digest }, update: { $set: { stixId: `indicator--${uuidV5(STIX_ID_NAMESPACE, d.digest)}`, addedAt: at } } } })));
      changed += docs.length;
      log?.info('gave stored indicators a STIX id and date_added', { done: changed });
    }
    const revoked = await this.#col.updateMany({ state: 'revoked', revokedAt: null } as unknown as Filter<IndicatorRecord>, { $set: { revokedAt: new Date() } });
    return changed + revoked.modifiedCount;
  }

  async watermark(): Promise<number> {
    const docs = await this.#cursors.find({}, { projection: { nextIndex: 1 } }).toArray();
    const marks = docs.map((d) => d.nextIndex).filter((n): n is number => typeof n === 'number');
    return marks.length === 0 ? NO_WATERMARK : Math.max(...marks);
  }

  async versions(q: VersionQuery, watermark: number): Promise<VersionPage> {
    const after = await this.#afterBound(q);
    const base: Filter<IndicatorRecord> = { ...(q.source !== undefined ? { 'meta.source': q.source } : {}), 'meta.tlp': tlpFilter(q.tlps) };
    const adds = this.#col.find({ ...base, state: q.view === 'last' ? 'active' : { $in: ['active', 'revoked'] }, logIndex: { $gt: after, $lt: watermark }, ...(q.addedAfter ? { addedAt: { $gt: q.addedAfter } } : {}) } as Filter<IndicatorRecord>)
      .sort({ logIndex: 1 }).limit(q.limit + 1).toArray();
    const revokes = q.view === 'first' ? Promise.resolve([]) : this.#col.find({ ...base, state: 'revoked', revokedAtIndex: { $gt: after, $lt: watermark }, ...(q.addedAfter ? { revokedAt: { $gt: q.addedAfter } } : {}) } as Filter<IndicatorRecord>)
      .sort({ revokedAtIndex: 1 }).limit(q.limit + 1).toArray();
    const [a, r] = await Promise.all([adds, revokes]);
    const rows: VersionRow[] = [
      ...a.map((d): VersionRow => ({ index: d.logIndex, kind: 'add', record: served(d) })),
      ...r.map((d): VersionRow => ({ index: d.revokedAtIndex ?? d.logIndex, kind: 'revoke', record: served(d) })),
    ].sort((x, y) => x.index - y.index);
    return { rows: rows.slice(0, q.limit), more: rows.length > q.limit };
  }

  /** With added_after: start at the first version stored after it (stamps grow with the log index), found on the addedAt/revokedAt indexes. */
  async #afterBound(q: VersionQuery): Promise<number> {
    if (q.addedAfter === undefined) return q.after;
    const [a, r] = await Promise.all([
      this.#col.find({ addedAt: { $gt: q.addedAfter } }, { projection: { logIndex: 1 } }).sort({ addedAt: 1, logIndex: 1 }).limit(1).toArray(),
      this.#col.find({ revokedAt: { $gt: q.addedAfter } }, { projection: { revokedAtIndex: 1 } }).sort({ revokedAt: 1, revokedAtIndex: 1 }).limit(1).toArray(),
    ]);
    const first = Math.min(a[0]?.logIndex ?? Infinity, r[0]?.revokedAtIndex ?? Infinity);
    return Number.isFinite(first) ? Math.max(q.after, first - 1) : q.after;
  }

  /**
   * Every record as served (`position` -1), else those admitted or revoked at `position` or later,
   * in one streaming read without the certificates: what the serve process's serving index
   * (serve/servingindex.ts) is built and kept current from. On MongoDB the later form is two
   * index ranges; FerretDB 1.x scans the collection for either.
   */
  async *changedSince(position: number, batchSize = 5000): AsyncIterable<ServedRecord> {
    const filter = position < 0 ? {} : { $or: [{ logIndex: { $gte: position } }, { revokedAtIndex: { $gte: position } }] };
    for await (const d of this.#col.find(filter as Filter<IndicatorRecord>, { projection: NOT_SERVED, batchSize })) yield served(d);
  }

  /** What changed at positions `from`..`to` - 1 (and maybe later), from the served-changes journal; undefined when it does not cover them. */
  changes(from: number, to: number): Promise<ServedChange[] | undefined> {
    return this.#journal.since(from, to);
  }

  async byStixId(stixId: string, tlps: readonly Tlp[]): Promise<ServedRecord | undefined> {
    const d = await this.#col.findOne({ stixId, 'meta.tlp': tlpFilter(tlps) } as Filter<IndicatorRecord>);
    return d === null ? undefined : served(d);
  }

  async sources(tlps: readonly Tlp[]): Promise<string[]> {
    const list = await this.#col.distinct('meta.source', { 'meta.tlp': tlpFilter(tlps) } as Filter<IndicatorRecord>);
    return list.filter((s): s is string => typeof s === 'string').sort();
  }
}

function served(d: IndicatorRecord): ServedRecord {
  return {
    digest: d.digest, type: d.type, value: d.value, state: d.state, logIndex: d.logIndex, proposerId: d.proposerId,
    addedAt: d.addedAt ?? new Date(0),
    ...(d.revokedAtIndex !== undefined ? { revokedAtIndex: d.revokedAtIndex } : {}),
    ...(d.meta !== undefined ? { meta: d.meta } : {}),
    ...(d.window !== undefined ? { window: d.window } : {}),
    ...(d.revocation?.window !== undefined ? { revocationWindow: d.revocation.window } : {}),
    ...(d.revokedAt !== undefined ? { revokedAt: d.revokedAt } : {}),
  };
}

/**
 * A partner's replicated indicators in MongoDB (`indicators`, `_id` = digest): the
 * {@link EntrySink} that applies verified log entries. ADD inserts the indicator as active
 * with its log index and quorum certificate; REVOKE marks it revoked and keeps the revocation's
 * certificate. A later ADD of a revoked indicator (index above `revokedAtIndex`) re-admits it:
 * the record is replaced (active, new index and certificate, revocation cleared). Everything is
 * idempotent and positional: replaying the ADD that was revoked never reactivates it, and
 * replaying a REVOKE never revokes a later admission. A REJECT never touches `indicators`: it
 * goes to `rejections` (store/rejections.ts), so a rejected indicator is never served or enforced.
 * Records keep the entry's window and proposal signature so a cluster's ThreatIndicators can be
 * rebuilt from them (drift repair, exchange/kubesink.ts).
 *
 * History lookups never scan for indicators the replica has not stored: the sink keeps the
 * persisted set of stored digests and asks the database only about members (replicadigests.ts,
 * written ahead of each batch's records). A set loaded before another process wrote (a
 * standby's, or an earlier term's) misses that process's digests until
 * {@link MongoIndicatorSink.catchUp} (docs/adr/2026-12-07-standby-preparation.md). What entries
 * become as records is in entryrecords.ts.
 */
import { MongoBulkWriteError, type Collection, type Db, type WriteError } from 'mongodb';
import { readmissionFloor, type IndicatorMeta } from '../domain/entry.ts';
import type { EntryHistory, EntrySink, VerifiedEntry } from '../domain/stores.ts';
import type { IndicatorHistory } from '../domain/verify.ts';
import { voteFromRecord } from './log.ts';
import { ReplicaDigests } from './replicadigests.ts';
import { record, revocation, servedChanges, withoutId } from './entryrecords.ts';
import { ServedChangesJournal } from './servedchanges.ts';
import { MongoRejections, rejectionRecord, type RejectionRecord } from './rejections.ts';
import { DEFAULT_RECENT_POSITIONS, RecentRecords } from './recentrecords.ts';
import { dropIndexes, ensureQueryIndexes, type QueryIndex } from './indexes.ts';
import { readRecord, storedRecord, type StoredIndicatorRecord } from './certificate.ts';

/** Collection name. */
export const INDICATORS = 'indicators';

/** The sink's query index: the cluster API finds a record by ThreatIndicator name (store/indicatorpages.ts). */
export const SINK_INDEXES: readonly QueryIndex[] = [['object_name', { name: 1 }]];

/** The unique index on `digest` of earlier versions: the same values as `_id`, so a second copy of the primary index (and one a collection sharded on `_id` cannot have). */
const LEGACY_DIGEST_UNIQUE = 'digest_unique';

const DUPLICATE_KEY = 11000;

/** Above this many digests, {@link MongoIndicatorSink.recent} reads them with one `$in` (a scan) rather than one equality each. */
const EQUALITY_LOOKUPS = 32;

/** Most admission indexes kept from history reads (a few replica batches' worth). */
const ADMITTED_KEPT = 16_384;

/** Options of {@link MongoIndicatorSink.applyMany}. */
export interface ApplyOptions {
  /** Size of the log the entries come from, when known: a catch-up batch wholly below its newest `recentPositions` is not recorded in `replica_recent`. @default 0 (unknown: every batch is recorded) */
  readonly treeSize?: number;
}

/** Options of {@link MongoIndicatorSink.open}. */
export interface SinkOptions {
  /** Newest log positions whose record states are kept in `replica_recent` for drift repair (recentrecords.ts). @default DEFAULT_RECENT_POSITIONS */
  readonly recentPositions?: number;
  /** Hears each step of {@link MongoIndicatorSink.open} as it begins (the exchange's readiness names it). @default none */
  readonly onStep?: (step: string) => void;
  /**
   * This process is the database's only writer (it leads). False for a standby, while another
   * replica may lead: then the open neither drops `digest_unique` (a writer of a version before
   * records were keyed by digest keeps one record per digest with it) nor backfills a set not
   * marked complete (the marker says no writer stores a record without its chunk, which only the
   * one writer can say); {@link MongoIndicatorSink.catchUp} does both once it leads. @default true
   */
  readonly leading?: boolean;
}

/** The certificate of the REVOKE entry that revoked a record. */
export interface StoredRevocation {
  logIndex: number;
  proposerId: string;
  /** The proposer's signature of kind `revocation`. */
  proposalSignature: string;
  window: { opensAt: string; closesAt: string };
  /** The revoke votes (signed on voteSubject('revoke', digest)). */
  votes: Array<Record<string, string>>;
}

/**
 * One replicated indicator as readers see it (`_id` is the digest, MongoDB's primary index; FerretDB 1.24 scans even for `_id`, see
 * docs/adr/2026-12-06-taxii-serving-index.md). Stored with `votes`, `proposalSignature` and `proposalBatch` as one certificate text
 * (`cert`, store/certificate.ts; records stored before keep the fields): read records through `readRecord`.
 */
export interface IndicatorRecord {
  _id?: string;
  digest: string;
  type: string;
  value: string;
  state: 'active' | 'revoked';
  logIndex: number;
  proposerId: string;
  votes: Array<Record<string, string>>;
  revokedAtIndex?: number;
  /** The round's voting window (absent in records stored before it was kept). */
  window?: { opensAt: string; closesAt: string };
  /** The proposer's signature (absent in records stored before it was kept). */
  proposalSignature?: string;
  /** Protocol v2: the batch proposal's proof (domain/proposalbatch.ts); `proposalSignature` is then the batch root's. Absent for a single proposal. */
  proposalBatch?: string;
  /** The metadata the proposer signed with the indicator (absent when the entry had none). */
  meta?: IndicatorMeta;
  /** When revoked: the REVOKE entry's certificate (absent in records revoked before it was kept). */
  revocation?: StoredRevocation;
  /** STIX id of the indicator (`indicator--` + UUIDv5 of the digest), so servers find it by id (absent in records stored before it was kept). */
  stixId?: string;
  /** When this replica stored the ADD: the TAXII date_added (absent in records stored before it was kept). */
  addedAt?: Date;
  /** When this replica stored the REVOKE (absent in records revoked before it was kept). */
  revokedAt?: Date;
  /** The ThreatIndicator object name (`<type>-<first 40 hex of the digest>`), so the cluster API finds a record by name with one equality query (absent in records stored before it was kept). */
  name?: string;
}

/** The MongoDB sink of a partner's replica. */
export class MongoIndicatorSink implements EntrySink, EntryHistory {
  readonly #col: Collection<StoredIndicatorRecord>;
  readonly #digests: ReplicaDigests;
  readonly #rejections: MongoRejections;
  readonly #journal: ServedChangesJournal;
  readonly #recent: RecentRecords;
  // Admission index of the records lastEntries read (the replica's verifier reads each batch's
  // before writing it). A record's admission index only grows, so a stale value still proves
  // that a replayed ADD at or below it re-admits nothing. Bounded: cleared when full.
  readonly #admitted = new Map<string, number>();
  // Opened by a standby: `digest_unique` not yet dropped.
  #legacyIndex = false;

  private constructor(db: Db, opts: SinkOptions) {
    this.#col = db.collection<StoredIndicatorRecord>(INDICATORS);
    this.#rejections = new MongoRejections(db);
    this.#digests = new ReplicaDigests(db);
    this.#journal = new ServedChangesJournal(db);
    this.#recent = new RecentRecords(db, opts.recentPositions ?? DEFAULT_RECENT_POSITIONS);
  }

  /**
   * Opens the sink: creates the cluster API's index by object name on every database (FerretDB
   * 1.x on the local PostgreSQL reads it through a GIN twin: docs/adr/2026-12-07-replica-name-lookups.md),
   * drops `digest_unique` (a copy of the `_id` index: `_id` is the digest) left by earlier
   * versions, and loads the set of stored digests (see {@link SinkOptions.leading}).
   */
  static async open(db: Db, opts: SinkOptions = {}): Promise<MongoIndicatorSink> {
    const sink = new MongoIndicatorSink(db, opts);
    const leading = opts.leading !== false;
    opts.onStep?.('replica indexes');
    if (leading) await dropIndexes(sink.#col, [LEGACY_DIGEST_UNIQUE]);
    sink.#legacyIndex = !leading;
    await ensureQueryIndexes(db, sink.#col, SINK_INDEXES, false);
    await sink.#digests.ensureIndex();
    opts.onStep?.('stored digests');
    await sink.#digests.load(sink.#col, opts.onStep, leading);
    return sink;
  }

  /** True once every stored record's digest is in the set (false after an open without backfill of an unmarked database). */
  get complete(): boolean {
    return this.#digests.complete;
  }

  /**
   * Brings the set up to date with what other processes wrote since it was loaded (another
   * replica that led meanwhile; {@link ReplicaDigests.catchUp}), and drops `digest_unique` after
   * an open that was not {@link SinkOptions.leading}. Run by each term of leadership before it
   * applies anything: a digest missing from the set is a history check missed (an honest REVOKE
   * refused as "never admitted", a replayed ADD taken as new).
   */
  async catchUp(onStep?: (step: string) => void): Promise<void> {
    if (this.#legacyIndex) {
      await dropIndexes(this.#col, [LEGACY_DIGEST_UNIQUE]);
      this.#legacyIndex = false;
    }
    await this.#digests.catchUp(this.#col, onStep);
  }

  /** How many digests the membership set holds (a superset of the stored records). */
  get knownDigests(): number {
    return this.#digests.stored.size;
  }

  /** Applies one verified entry; idempotent. */
  async apply(entry: VerifiedEntry): Promise<void> {
    await this.applyMany([entry]);
  }

  /**
   * Applies entries in log order; idempotent. Runs of ADD entries are inserted in one
   * insertMany, ignoring indicators already present (a replay after a crash): on FerretDB an
   * insert costs a fraction of an upsert. An ADD that finds its indicator present replaces it
   * only when it was revoked at a lower index (re-admission). A REVOKE updates its indicator in
   * place unless the record is already at a higher index (re-admitted since). REJECT entries are
   * inserted in `rejections` only. The batch is also recorded in the served-changes journal
   * (servedchanges.ts: admissions and revocations only) and the states it left in
   * `replica_recent` (recentrecords.ts), before the replica saves its cursor.
   *
   * Order: the digest-membership chunks first (write-ahead, see the file comment); then the
   * records and the rejections at the same time (independent collections, each written
   * idempotently, neither read as applied before the cursor moves past them); then the journal
   * and the recent states at the same time. The journal comes after the records so that a
   * journal document always carries the stamps (`addedAt`) its records were stored with, even
   * when a failed write is retried.
   */
  async applyMany(entries: readonly VerifiedEntry[], opts: ApplyOptions = {}): Promise<void> {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    const last = entries[entries.length - 1]!.index;
    const rejected = entries.filter((e) => e.kind === 'reject');
    await settled([
      this.#digests.remember(first, entries.filter((e) => e.kind === 'add').map((e) => e.digest)),
      this.#digests.remember(first, rejected.map((e) => e.digest), 'reject'),
    ]);
    const appliedAt = new Date();
    const docs = new Map(entries.filter((e) => e.kind === 'add').map((e) => [e.index, record(e, appliedAt)]));
    const [states] = await settled([
      this.#records(entries, docs, appliedAt),
      this.#rejections.insert(rejected.map((e): RejectionRecord => rejectionRecord(e, appliedAt))),
    ]);
    await settled([this.#journal.write(first, last, servedChanges(entries, docs, appliedAt)), this.#recent.write(first, last, states, opts.treeSize)]);
  }

  /** Writes the ADD and REVOKE entries in log order; returns the record state each left (none for a REVOKE that changed nothing). */
  async #records(entries: readonly VerifiedEntry[], docs: ReadonlyMap<number, IndicatorRecord>, revokedAt: Date): Promise<IndicatorRecord[]> {
    let adds: IndicatorRecord[] = [];
    const states: IndicatorRecord[] = [];
    for (const entry of entries) {
      const doc = docs.get(entry.index);
      if (doc !== undefined) {
        adds.push(doc);
        states.push(withoutId(doc));
      }
      if (entry.kind !== 'revoke') continue;
      await this.#insertNew(adds);
      adds = [];
      // Unless re-admitted at or after this position (a replayed REVOKE). The updated record is what drift repair shows.
      const after = await this.#revoke(entry.digest, entry.index, { state: 'revoked', revokedAtIndex: entry.index, revocation: revocation(entry), revokedAt });
      if (after !== null) states.push(withoutId(after));
    }
    await this.#insertNew(adds);
    return states;
  }

  async #insertNew(docs: IndicatorRecord[]): Promise<void> {
    if (docs.length === 0) return;
    try {
      await this.#col.insertMany(docs.map(storedRecord), { ordered: false });
    } catch (err) {
      const errors: WriteError[] = err instanceof MongoBulkWriteError ? [err.writeErrors].flat() : [];
      if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw err;
      // A record admitted at or after this ADD (a replay of it) cannot be re-admitted by it: no read.
      const unsure = errors.map((e) => docs[e.index]).filter((d) => d !== undefined && (this.#admitted.get(d.digest) ?? -1) < d.logIndex) as IndicatorRecord[];
      const found = await this.#present(unsure.map((d) => d.digest));
      for (const doc of unsure) if (readmits(found.get(doc.digest) ?? null, doc)) await this.#readmit(doc);
    }
  }

  /**
   * The stored records of `digests` (only what {@link readmits} reads). A replayed batch (a sync
   * cut off after its records were written, before its cursor was saved) finds up to a whole batch
   * present: on FerretDB every lookup, `_id` equality included, reads the collection (chaos trial
   * 10: 693 entries replayed over 14,000 records, one lookup each, took 4.5 minutes). Replays are
   * mostly settled without a read (`#admitted`); more than {@link EQUALITY_LOOKUPS} left are read
   * in one `$in` pass.
   */
  async #present(digests: readonly string[]): Promise<Map<string, Pick<IndicatorRecord, 'digest' | 'state' | 'revokedAtIndex' | 'logIndex'>>> {
    const projection = { _id: 0, digest: 1, state: 1, revokedAtIndex: 1, logIndex: 1 };
    const out = new Map<string, Pick<IndicatorRecord, 'digest' | 'state' | 'revokedAtIndex' | 'logIndex'>>();
    if (digests.length > EQUALITY_LOOKUPS) {
      for await (const r of this.#col.find({ _id: { $in: [...digests] } }, { projection })) out.set(r.digest, r);
      return out;
    }
    for (const d of digests) {
      const r = await this.#col.findOne({ _id: d }, { projection });
      if (r !== null) out.set(d, r);
    }
    return out;
  }

  /**
   * Revokes the record of `digest` at log position `index` unless it is absent or was admitted at
   * `index` or later (a replayed REVOKE after a re-admission); returns the revoked record, or null.
   * The write names the record by `_id` alone, the only filter FerretDB's SQLite backend gives to
   * SQL (with any other field it reads and decodes every record in Go), and the guard is checked
   * on the record it replaced: in the rare case it fails (a replay, or another writer), that
   * record is put back, guarded by the fields only this write set. A crash before that leaves a
   * record revoked below its admission, which the replay of that admission (later in the log,
   * so replayed too) replaces, as {@link #readmit} does.
   */
  async #revoke(digest: string, index: number, set: Pick<IndicatorRecord, 'state' | 'revokedAtIndex' | 'revocation' | 'revokedAt'>): Promise<IndicatorRecord | null> {
    const before = await this.#col.findOneAndUpdate({ _id: digest }, { $set: set }, { returnDocument: 'before' });
    if (before === null) return null;
    if (before.logIndex < index) return readRecord({ ...before, ...set });
    await this.#col.replaceOne({ _id: digest, revokedAtIndex: index, revokedAt: set.revokedAt }, before);
    return null;
  }

  /**
   * Replaces a record revoked below `doc`'s index by `doc` (the caller checked the record it read
   * with {@link readmits}; a replayed ADD, the common case, never gets here). The write names the
   * record by `_id` alone (see {@link #revoke}); should another writer have changed the record
   * since the check, the write is undone (guarded by the fields only it set), as a filter holding
   * the guard would have left it.
   */
  async #readmit(doc: IndicatorRecord): Promise<void> {
    const { _id: _key, ...replacement } = storedRecord(doc);
    const before = await this.#col.findOneAndReplace({ _id: doc.digest }, replacement, { returnDocument: 'before' });
    if (before !== null && !readmits(before, doc)) await this.#col.replaceOne({ _id: doc.digest, logIndex: doc.logIndex, addedAt: doc.addedAt }, before);
  }

  /** The latest entry applied for each of `digests`, admission, revocation or rejection (the replica checks new entries against it). */
  async lastEntries(digests: readonly string[]): Promise<ReadonlyMap<string, IndicatorHistory>> {
    const stored = digests.filter((d) => this.#digests.stored.has(d));
    const out = await this.#rejections.lastEntries(digests.filter((d) => this.#digests.rejected.has(d)));
    if (stored.length === 0) return out;
    for await (const r of this.#col.find({ _id: { $in: stored } })) {
      this.#noteAdmitted(r.digest, r.logIndex);
      const h = historyOfRecord(r);
      if ((out.get(r.digest)?.index ?? -1) < h.index) out.set(r.digest, h);
    }
    return out;
  }

  #noteAdmitted(digest: string, logIndex: number): void {
    if (this.#admitted.size >= ADMITTED_KEPT) this.#admitted.clear();
    this.#admitted.set(digest, logIndex);
  }

  /** Every stored rejection in log order (store/rejections.ts). */
  rejections(): Promise<RejectionRecord[]> {
    return this.#rejections.all();
  }

  /**
   * The records at log position `floor` or later (admitted or revoked there), plus those of
   * `digests`, without MongoDB ids, each once: what the cluster's working set should show.
   * Read from `replica_recent` when it covers `floor` (a scan of the newest positions), else
   * with one query on `indicators` ({@link recentByScan}); the digests not already found are
   * read by one `_id` equality each (pushed down by FerretDB), or one `$in` when there are many.
   */
  async recent(floor: number, digests: readonly string[] = []): Promise<IndicatorRecord[]> {
    const copies = await this.#recent.since(floor);
    if (copies === undefined) return this.recentByScan(floor, digests);
    const found = new Set(copies.map((r) => r.digest));
    const rest = [...new Set(digests)].filter((d) => !found.has(d));
    if (rest.length === 0) return copies;
    if (rest.length > EQUALITY_LOOKUPS) return [...copies, ...await this.#col.find({ _id: { $in: rest } }, { projection: { _id: 0 } }).map(readRecord).toArray()];
    const more: IndicatorRecord[] = [];
    for (const d of rest) {
      const r = await this.#col.findOne({ _id: d }, { projection: { _id: 0 } });
      if (r !== null) more.push(readRecord(r));
    }
    return [...copies, ...more];
  }

  /**
   * {@link recent} answered by `indicators` alone: `$or` of the two position ranges and the
   * digests, one query (on FerretDB a full scan evaluated in Go; on MongoDB index ranges).
   */
  async recentByScan(floor: number, digests: readonly string[] = []): Promise<IndicatorRecord[]> {
    const or: Array<Record<string, unknown>> = [{ logIndex: { $gte: floor } }, { revokedAtIndex: { $gte: floor } }];
    if (digests.length > 0) or.push({ _id: { $in: [...digests] } });
    return this.#col.find({ $or: or } as never, { projection: { _id: 0 } }).map(readRecord).toArray();
  }

  /** Every stored indicator, ordered by digest, without MongoDB ids. */
  async all(): Promise<IndicatorRecord[]> {
    // `_id` is the digest: the primary index orders it (no `digest` index exists any more).
    return this.#col.find({}, { projection: { _id: 0 } }).sort({ _id: 1 }).map(readRecord).toArray();
  }
}

/** What a stored record says of its indicator's latest entry. */
export function historyOfRecord(r: Pick<IndicatorRecord, 'state' | 'logIndex' | 'window' | 'revokedAtIndex' | 'revocation'>): IndicatorHistory {
  if (r.state !== 'revoked') return { kind: 'add', index: r.logIndex, ...(r.window !== undefined ? { window: r.window } : {}) };
  const rv = r.revocation;
  if (rv === undefined) return { kind: 'revoke', index: r.revokedAtIndex ?? r.logIndex };
  return { kind: 'revoke', index: rv.logIndex, window: rv.window, readmitFloorMs: readmissionFloor({ window: rv.window, votes: rv.votes.map(voteFromRecord) }) };
}

/** Like Promise.all, but waits for every write to settle before the first failure surfaces: no write of a failed batch outlives it. */
async function settled<T extends readonly unknown[]>(writes: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const done = await Promise.allSettled(writes);
  const failed = done.find((d) => d.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return done.map((d) => (d as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** True when `doc` (an ADD) re-admits the stored record `r`: revoked below `doc`'s index. */
function readmits(r: Pick<IndicatorRecord, 'state' | 'revokedAtIndex'> | null, doc: Pick<IndicatorRecord, 'logIndex'>): boolean {
  return r !== null && r.state === 'revoked' && typeof r.revokedAtIndex === 'number' && r.revokedAtIndex < doc.logIndex;
}

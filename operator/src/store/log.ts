/**
 * The sequencer's Merkle log in MongoDB: `log_entries` (one document per entry, with the
 * proposer-signed `meta` subdocument when the entry has metadata; unique on
 * `index` and on `digest`+`kind`+`window.opensAt`, so one round is never stored twice while a
 * revoked indicator can be admitted again by a later round) and `tree_heads` (every signed tree head, unique on
 * `treeSize`). The store keeps data only; the sequencer recomputes every leaf hash from it
 * and checks the result against the signed heads, so a document edited in the database is
 * caught, never trusted.
 */
import { MongoServerError, type Collection, type Db } from 'mongodb';
import type { Vote } from '../domain/quorum.ts';
import type { SignedTreeHead } from '../domain/treehead.ts';
import { LOG_ENTRY_KINDS, validateMeta, voteRecord, type IndexedEntry, type IndicatorMeta, type LogEntryKind } from '../domain/entry.ts';
import { isIndicatorType } from '../domain/indicator.ts';

/** Collection names. */
export const LOG_ENTRIES = 'log_entries';
/** Collection of signed tree heads. */
export const TREE_HEADS = 'tree_heads';

const DUPLICATE_KEY = 11000;
const LEGACY_DIGEST_KIND = 'digest_kind_unique';

interface EntryDoc {
  // The index again, as _id: one key a real MongoDB answers from its primary index (FerretDB 1.24 scans even for _id; docs/adr/2026-12-06-taxii-serving-index.md).
  _id: number;
  index: number;
  kind: LogEntryKind;
  digest: string;
  indicator: { type: string; value: string };
  /** Absent for entries without metadata. */
  meta?: IndicatorMeta;
  proposerId: string;
  proposalSignature: string;
  /** Protocol v2: the batch proposal's proof; absent for a single proposal. */
  proposalBatch?: string;
  window: { opensAt: string; closesAt: string };
  votes: Array<Record<string, string>>;
}

type TreeHeadDoc = SignedTreeHead;

/** Thrown when a stored document does not have the shape the log writes; names the index and field. */
export class StoredEntryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoredEntryError';
  }
}

/** The sequencer's log persistence over one database. */
export class MongoLogStore {
  readonly #entries: Collection<EntryDoc>;
  readonly #heads: Collection<TreeHeadDoc>;

  private constructor(db: Db) {
    this.#entries = db.collection<EntryDoc>(LOG_ENTRIES);
    this.#heads = db.collection<TreeHeadDoc>(TREE_HEADS);
  }

  /** Opens the store and creates its unique indexes (idempotent). */
  static async open(db: Db): Promise<MongoLogStore> {
    const store = new MongoLogStore(db);
    await store.#entries.createIndex({ index: 1 }, { unique: true, name: 'index_unique' });
    // Before re-admission, one entry per digest+kind was allowed; that index would refuse a second ADD.
    if ((await store.#entries.indexes()).some((i) => i.name === LEGACY_DIGEST_KIND)) await store.#entries.dropIndex(LEGACY_DIGEST_KIND);
    await store.#entries.createIndex({ digest: 1, kind: 1, 'window.opensAt': 1 }, { unique: true, name: 'digest_kind_round_unique' });
    await store.#heads.createIndex({ treeSize: 1 }, { unique: true, name: 'tree_size_unique' });
    return store;
  }

  /**
   * Inserts consecutive entries in order, in one round trip. Throws on any database error,
   * a duplicate index or round (digest+kind+window) included (E11000); entries before the failing one may be
   * stored, so the caller re-reads the tail after a failure.
   */
  async insertEntries(entries: ReadonlyArray<{ readonly entry: IndexedEntry; readonly digest: string }>): Promise<void> {
    if (entries.length === 0) return;
    await this.#entries.insertMany(entries.map(({ entry, digest }) => ({
      _id: entry.index, index: entry.index, kind: entry.kind, digest, indicator: { type: entry.indicator.type, value: entry.indicator.value },
      ...(entry.meta !== undefined ? { meta: { ...entry.meta } } : {}),
      proposerId: entry.proposerId, proposalSignature: entry.proposalSignature, ...(entry.proposalBatch !== undefined ? { proposalBatch: entry.proposalBatch } : {}), window: { ...entry.window }, votes: entry.votes.map(voteRecord),
    })), { ordered: true });
  }

  /** Entries with index in [from, to) in index order (to: all). */
  async *entries(from: number, to?: number): AsyncGenerator<IndexedEntry> {
    const filter = to === undefined ? { _id: { $gte: from } } : { _id: { $gte: from, $lt: to } };
    for await (const doc of this.#entries.find(filter).sort({ _id: 1 })) yield toEntry(doc);
  }

  /** The stored entry at `index`, if any. */
  async entry(index: number): Promise<IndexedEntry | undefined> {
    const doc = await this.#entries.findOne({ _id: index });
    return doc === null ? undefined : toEntry(doc);
  }

  /** Stores a signed tree head; a head of the same size already stored is kept (first one wins). */
  async insertTreeHead(head: SignedTreeHead): Promise<void> {
    try {
      await this.#heads.insertOne({ ...head });
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
    }
  }

  /** The stored head with the largest tree size, if any. */
  async latestTreeHead(): Promise<SignedTreeHead | undefined> {
    const doc = await this.#heads.find({}, { projection: { _id: 0 } }).sort({ treeSize: -1 }).limit(1).next();
    return doc === null ? undefined : { treeSize: doc.treeSize, rootHash: doc.rootHash, timestamp: doc.timestamp, logId: doc.logId, signature: doc.signature };
  }
}

function toEntry(doc: EntryDoc): IndexedEntry {
  const where = `log entry ${String(doc.index)}`;
  if (!Number.isSafeInteger(doc.index) || doc.index < 0) throw new StoredEntryError(`${where}: index is not a non-negative integer`);
  if (!LOG_ENTRY_KINDS.includes(doc.kind)) throw new StoredEntryError(`${where}: kind must be "add", "revoke" or "reject"`);
  if (typeof doc.indicator?.type !== 'string' || !isIndicatorType(doc.indicator.type) || typeof doc.indicator.value !== 'string') {
    throw new StoredEntryError(`${where}: indicator must be {type, value} with a known type`);
  }
  if (!Array.isArray(doc.votes)) throw new StoredEntryError(`${where}: votes must be an array`);
  const meta = storedMeta(doc.meta, where);
  return {
    index: doc.index, kind: doc.kind, indicator: { type: doc.indicator.type, value: doc.indicator.value }, ...(meta !== undefined ? { meta } : {}),
    proposerId: String(doc.proposerId), proposalSignature: String(doc.proposalSignature), ...(doc.proposalBatch !== undefined ? { proposalBatch: String(doc.proposalBatch) } : {}),
    window: { opensAt: String(doc.window?.opensAt), closesAt: String(doc.window?.closesAt) },
    votes: doc.votes.map(voteFromRecord),
  };
}

// Metadata edited into an invalid shape stops the restore with the problem; a valid edit is caught by the root check.
function storedMeta(meta: unknown, where: string): IndicatorMeta | undefined {
  if (meta === undefined || meta === null) return undefined;
  const checked = validateMeta(meta);
  if (typeof checked === 'string') throw new StoredEntryError(`${where}: ${checked}`);
  return checked;
}

/** A stored vote record back as a vote; odd values are kept as found so signature checks refuse them. */
export function voteFromRecord(rec: Record<string, string>): Vote {
  const decision = rec['decision'] === 'reject' ? 'reject' : 'approve';
  const v = { partnerId: String(rec['partnerId']), digest: String(rec['digest']), decision, signedAt: String(rec['signedAt']), signature: String(rec['signature']) } as const;
  // A decision other than approve/reject is kept as found (as a string), so the signature check fails instead of the store repairing it.
  const stored = rec['decision'] === decision ? v : { ...v, decision: rec['decision'] as 'approve' };
  const withReason = rec['reason'] === undefined ? stored : { ...stored, reason: rec['reason'] };
  return rec['batch'] === undefined ? withReason : { ...withReason, batch: rec['batch'] };
}

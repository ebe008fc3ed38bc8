/**
 * The served-changes journal (`served_changes`): what each applied batch of log entries changed,
 * in the served shape (no certificates), one document per ≤ 1,000 entries, kept one hour. The
 * replica sink writes it after the batch's records and before the replica saves its cursor, so
 * every entry below a saved watermark is in it. The serve process's serving index
 * (serve/servingindex.ts) follows it: the collection stays small, so reading what changed since
 * a watermark costs a scan of an hour of changes, not of every indicator, on FerretDB 1.x, which
 * scans for every query (docs/adr/2026-12-06-taxii-serving-index.md). A range of positions the
 * journal does not cover (pruned, or written before the journal existed) is reported as such and
 * the reader falls back to the records themselves.
 */
import { MongoBulkWriteError, MongoServerError, type Collection, type Db, type WriteError } from 'mongodb';
import type { ServedChange } from './served.ts';

/** Collection name. */
export const SERVED_CHANGES = 'served_changes';

/** One journal document: the changes of log positions `_id`..`last`. */
export interface ChangeDoc {
  /** The first log index the document covers. */
  _id: number;
  /** The last log index it covers. */
  last: number;
  /** When it was written (pruning). */
  at: Date;
  /**
   * The changes as one JSON text (written now): FerretDB converts one string in a fraction of the
   * time it takes to convert a thousand nested documents, both ways (as `replica_recent` does).
   */
  json?: string;
  /** The changes as documents (written by earlier versions; still read). */
  changes?: ServedChange[];
}

/** The changes of a document, either spelling; dates revived from the text. */
export function changesOf(doc: Pick<ChangeDoc, 'json' | 'changes'>): ServedChange[] {
  if (doc.json === undefined) return doc.changes ?? [];
  const changes = JSON.parse(doc.json) as Array<ServedChange & { revokedAt?: string | Date; record?: { addedAt?: string | Date; revokedAt?: string | Date } }>;
  for (const c of changes) {
    if (typeof c.revokedAt === 'string') c.revokedAt = new Date(c.revokedAt);
    if (typeof c.record?.addedAt === 'string') c.record.addedAt = new Date(c.record.addedAt);
    if (typeof c.record?.revokedAt === 'string') c.record.revokedAt = new Date(c.record.revokedAt);
  }
  return changes;
}

const CHUNK = 1000;
const DUPLICATE_KEY = 11000;

/** The documents of one batch: ≤ CHUNK changes each, covering `first`..`last` without a gap. */
function chunks(first: number, last: number, at: Date, changes: readonly ServedChange[]): ChangeDoc[] {
  const docs: ChangeDoc[] = [];
  for (let i = 0; i < changes.length; i += CHUNK) {
    const part = changes.slice(i, i + CHUNK);
    const end = i + CHUNK >= changes.length ? last : (changes[i + CHUNK]?.index ?? last + 1) - 1;
    docs.push({ _id: i === 0 ? first : (part[0]?.index ?? first), last: end, at, json: JSON.stringify(part) });
  }
  return docs.length === 0 ? [{ _id: first, last, at, json: '[]' }] : docs;
}

/** True when a write failed only because its documents exist (a replayed batch). */
function duplicateOnly(err: unknown): boolean {
  const errors: WriteError[] = err instanceof MongoBulkWriteError ? [err.writeErrors].flat() : [];
  return (errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY)) || (err instanceof MongoServerError && err.code === DUPLICATE_KEY);
}

/** Options of {@link ServedChangesJournal}. */
export interface JournalOptions {
  /** How long documents are kept. @default 3600000 (one hour) */
  readonly retentionMs?: number;
  /** Time source. @default () => new Date() */
  readonly now?: () => Date;
}

/** Writes and reads the journal. */
export class ServedChangesJournal {
  readonly #col: Collection<ChangeDoc>;
  readonly #retentionMs: number;
  readonly #now: () => Date;
  #prunedAt = 0;

  constructor(db: Db, opts: JournalOptions = {}) {
    this.#col = db.collection<ChangeDoc>(SERVED_CHANGES);
    this.#retentionMs = opts.retentionMs ?? 3_600_000;
    this.#now = opts.now ?? (() => new Date());
  }

  /**
   * Records the changes of the entries `first`..`last` (log order). Idempotent: a replayed batch
   * finds its documents present (or overlapping ones, which say the same). Prunes at most once a minute.
   */
  async write(first: number, last: number, changes: readonly ServedChange[]): Promise<void> {
    const at = this.#now();
    try {
      await this.#col.insertMany(chunks(first, last, at, changes), { ordered: false });
    } catch (err) {
      if (!duplicateOnly(err)) throw err;
    }
    if (at.getTime() - this.#prunedAt > 60_000) {
      this.#prunedAt = at.getTime();
      await this.#col.deleteMany({ at: { $lt: new Date(at.getTime() - this.#retentionMs) } });
    }
  }

  /**
   * The changes at positions `from` or later, in log order, when the journal covers every
   * position from `from` to `to` - 1; undefined when it does not (the caller reads the records).
   */
  async since(from: number, to: number): Promise<ServedChange[] | undefined> {
    const docs = (await this.#col.find({ last: { $gte: from } }).toArray()).sort((a, b) => a._id - b._id);
    let covered = from;
    const out: ServedChange[] = [];
    for (const d of docs) {
      if (d._id > covered) break;
      covered = Math.max(covered, d.last + 1);
      out.push(...changesOf(d).filter((c) => c.index >= from));
    }
    if (covered < to) return undefined;
    return out.sort((a, b) => a.index - b.index);
  }
}

/**
 * Reads of a partner's replicated `indicators` for the aggregated Kubernetes API
 * (serve/replicaapi.ts): one record by object name, and the whole set in chunks.
 *
 * Invariants:
 * - A list is one streaming cursor over the collection in its natural order (no sort, no skip):
 *   the first chunk opens it, each `continue` token names it and how many records it has given,
 *   so a million records cost one scan however many chunks kubectl asks for (FerretDB answers
 *   every query with a scan, see docs/adr/2026-12-06-million-indicators.md).
 * - Open cursors are bounded (`maxOpen`, the oldest is closed first) and closed after `idleMs`
 *   without a request; a token whose cursor is gone, or that was not issued here, is refused as
 *   expired (the API answers 410, as an API server does for a compacted resourceVersion), never
 *   silently restarted.
 * - A token carries a random key: one client cannot guess another's cursor.
 */
import { randomBytes } from 'node:crypto';
import type { Collection, Db, FindCursor } from 'mongodb';
import type { Clock } from '../runtime/clock.ts';
import { INDICATORS, type IndicatorRecord } from './indicators.ts';
import { readRecord, type StoredIndicatorRecord } from './certificate.ts';

/** Hex digits of the digest in a ThreatIndicator object name (domain/canonical.ts indicatorObjectName). */
const NAME_DIGEST_CHARS = 40;

/** Collection of one-time markers of the replica's stored form. */
export const REPLICA_MARKERS = 'replica_markers';
/** `_id` of the marker: every record in `indicators` carries its object name (store/indicatornames.ts nameUnnamedRecords). */
export const EVERY_RECORD_NAMED = 'every-record-named';

/** One chunk of the set. */
export interface RecordChunk {
  readonly records: readonly IndicatorRecord[];
  /** Token for the next chunk; undefined when this chunk ends the set. */
  readonly continueToken?: string;
  /** Records not yet returned, when known (the API's remainingItemCount). */
  readonly remaining?: number;
}

/** Why a continue token was refused. */
export class ExpiredContinue extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpiredContinue';
  }
}

/** Options of {@link IndicatorPages}. */
export interface IndicatorPagesOptions {
  readonly clock: Clock;
  /** Open list cursors at most. @default 16 */
  readonly maxOpen?: number;
  /** A cursor without a request for this long is closed. @default 120000 */
  readonly idleMs?: number;
}

interface OpenList {
  readonly cursor: FindCursor<IndicatorRecord>;
  given: number;
  lastUsed: number;
  readonly total: number;
}

/** The record of a ThreatIndicator object name (`<type>-<40 hex>`), by a range on `_id` (the digest). */
export function digestRange(name: string): { type: string; from: string; to: string } | undefined {
  const m = /^([a-z0-9]+)-([0-9a-f]{40})$/.exec(name);
  if (m === null) return undefined;
  const prefix = m[2]!;
  // Hex digits sort below 'g': every digest starting with the prefix lies in [prefix, prefix + 'g').
  return { type: m[1]!, from: prefix, to: `${prefix}g` };
}

/** Chunked, cursor-backed reads of the replicated set. */
export class IndicatorPages {
  readonly #col: Collection<StoredIndicatorRecord>;
  readonly #markers: Collection<{ _id: string }>;
  readonly #o: IndicatorPagesOptions;
  readonly #open = new Map<string, OpenList>();
  #unnamed: Promise<boolean> | undefined;

  constructor(db: Db, opts: IndicatorPagesOptions) {
    this.#col = db.collection<StoredIndicatorRecord>(INDICATORS);
    this.#markers = db.collection<{ _id: string }>(REPLICA_MARKERS);
    this.#o = opts;
  }

  /**
   * The record named `name` (an object name), or undefined: one equality query on the record's
   * `name` (FerretDB pushes equality down; MongoDB uses the index), and, only while the database
   * still holds records stored without a name, a range query on the digest.
   */
  async byName(name: string): Promise<IndicatorRecord | undefined> {
    const r = digestRange(name);
    if (r === undefined || name.length !== r.type.length + 1 + NAME_DIGEST_CHARS) return undefined;
    const hit = await this.#col.findOne({ name });
    if (hit !== null || !(await this.hasUnnamed())) return hit === null ? undefined : readRecord(hit);
    // The type is asked too: records of other types may share the digest prefix, and limit(2) must not stop at them.
    const found = await this.#col.find({ _id: { $gte: r.from, $lt: r.to }, type: r.type }).limit(2).map(readRecord).toArray();
    return found.find((rec) => rec.type === r.type);
  }

  /**
   * Whether records stored before they carried a name (versions before 2026-12-06) exist: asked
   * once per reader (new records always have one), again after a failed ask. On FerretDB 1.x it
   * is one scan of the collection (`$exists` is not pushed down), so `threatmesh replica-api`
   * asks it at start rather than at the first unknown name; once the operator has named every
   * record and set the marker (store/indicatornames.ts nameUnnamedRecords) it is one read by `_id`.
   */
  async hasUnnamed(): Promise<boolean> {
    this.#unnamed ??= this.#askUnnamed().catch((err: unknown) => {
      this.#unnamed = undefined;
      throw err;
    });
    return this.#unnamed;
  }

  // The marker the operator sets once every record is named (store/indicatornames.ts) saves the scan.
  async #askUnnamed(): Promise<boolean> {
    if ((await this.#markers.findOne({ _id: EVERY_RECORD_NAMED })) !== null) return false;
    return (await this.#col.findOne({ name: { $exists: false } }, { projection: { _id: 1 } })) !== null;
  }

  /**
   * The next `limit` records: from the start when `token` is undefined, else after the chunk the
   * token ended. Throws {@link ExpiredContinue} for a token this reader does not hold.
   */
  async chunk(limit: number, token?: string): Promise<RecordChunk> {
    this.#sweep();
    const key = token === undefined ? undefined : parseToken(token);
    if (token !== undefined && key === undefined) throw new ExpiredContinue('the continue token is malformed; list again without it');
    const list = key === undefined ? await this.#start() : this.#open.get(key.id);
    if (list === undefined || (key !== undefined && list.given !== key.given)) {
      throw new ExpiredContinue('the continue token has expired (its list was idle too long, or the server restarted); list again without it');
    }
    const id = key?.id ?? randomBytes(12).toString('base64url');
    this.#open.delete(id);
    const records: IndicatorRecord[] = [];
    while (records.length < limit) {
      const next = await list.cursor.next();
      if (next === null) break;
      records.push(next);
    }
    list.given += records.length;
    list.lastUsed = this.#o.clock.now();
    if (records.length < limit || !(await list.cursor.hasNext())) {
      await list.cursor.close();
      return { records };
    }
    this.#remember(id, list);
    return { records, continueToken: `${id}.${list.given}`, remaining: Math.max(0, list.total - list.given) };
  }

  /** Closes every open cursor. */
  async close(): Promise<void> {
    const lists = [...this.#open.values()];
    this.#open.clear();
    await Promise.all(lists.map((l) => l.cursor.close()));
  }

  /** Open list cursors (for tests and metrics). */
  get openCount(): number {
    return this.#open.size;
  }

  async #start(): Promise<OpenList> {
    const total = await this.#col.estimatedDocumentCount();
    return { cursor: this.#col.find({}, { batchSize: 1000 }).map(readRecord), given: 0, lastUsed: this.#o.clock.now(), total };
  }

  #remember(id: string, list: OpenList): void {
    const max = this.#o.maxOpen ?? 16;
    while (this.#open.size >= max) {
      const [oldest] = this.#open.keys();
      if (oldest === undefined) break;
      void this.#open.get(oldest)?.cursor.close();
      this.#open.delete(oldest);
    }
    this.#open.set(id, list);
  }

  #sweep(): void {
    const cutoff = this.#o.clock.now() - (this.#o.idleMs ?? 120_000);
    for (const [id, l] of this.#open) {
      if (l.lastUsed >= cutoff) continue;
      void l.cursor.close();
      this.#open.delete(id);
    }
  }
}

function parseToken(token: string): { id: string; given: number } | undefined {
  const m = /^([A-Za-z0-9_-]{16})\.(\d{1,15})$/.exec(token);
  return m === null ? undefined : { id: m[1]!, given: Number(m[2]) };
}

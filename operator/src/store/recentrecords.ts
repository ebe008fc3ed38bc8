/**
 * The replica's most recent record states (`replica_recent`): for each applied batch of log
 * entries, documents (≤ 1,000 states each) holding the state of every record the batch changed,
 * as it was after each entry (an ADD's inserted record, a REVOKE's updated record), in log
 * order. Only the
 * newest `keep` positions (up to a quarter more until the next prune) are kept, so the
 * collection stays about `keep` records whatever the size of `indicators`.
 *
 * Why: drift repair needs the records admitted or revoked at or above the working set's floor
 * (`logIndex ≥ floor OR revokedAtIndex ≥ floor`). FerretDB 1.x evaluates `$or`, ranges and
 * `$in` in Go after reading every document (446 s at 10^6 records), and pushes down only
 * equalities, each still a full scan in SQL; reading this small collection instead costs a
 * scan of `keep` records (docs/adr/2026-12-06-million-indicators.md, Decision 3).
 *
 * Coverage is proved by the documents themselves, as in the served-changes journal: a request
 * for `floor` is answered only when the documents cover every position from `floor` to the last
 * one they hold without a gap; otherwise the caller reads `indicators`. The sink writes a
 * batch's document after its records and before the replica saves its cursor, so a crash
 * replays the batch and rewrites it. Stamps the working set does not show (`addedAt`,
 * `revokedAt`) may differ from the stored record's after such a replay.
 */
import { MongoServerError, type Collection, type Db } from 'mongodb';
import type { IndicatorRecord } from './indicators.ts';

/** Collection name. */
export const REPLICA_RECENT = 'replica_recent';

/** Positions kept when the sink is not told. @default 12,500 (the default working-set budget, 10,000, with a quarter to spare) */
export const DEFAULT_RECENT_POSITIONS = 12_500;

/** One batch's document. */
interface RecentDoc {
  /** First log index of the batch. */
  _id: number;
  /** Last log index of the batch. */
  last: number;
  /**
   * The state of each record the batch changed, after the entry that changed it, in log order
   * (no `_id`), as one JSON text: FerretDB converts a string in a fraction of the time it takes
   * to convert a thousand nested documents, both ways.
   */
  json: string;
}

/** The record states of a document's text (its two dates revived). */
function statesOf(json: string): IndicatorRecord[] {
  const states = JSON.parse(json) as Array<IndicatorRecord & { addedAt?: string | Date; revokedAt?: string | Date }>;
  for (const r of states) {
    if (typeof r.addedAt === 'string') r.addedAt = new Date(r.addedAt);
    if (typeof r.revokedAt === 'string') r.revokedAt = new Date(r.revokedAt);
  }
  return states;
}

const DUPLICATE_KEY = 11000;

/** Records per document, so a document stays far below MongoDB's 16 MB whatever the batch size. */
const PART = 1000;

/** Where an entry's state sits in the log: its REVOKE's index for a revoked record, else its ADD's. */
function position(r: IndicatorRecord): number {
  return r.state === 'revoked' ? (r.revokedAtIndex ?? r.logIndex) : r.logIndex;
}

/** The documents of one batch: ≤ PART states each, covering `first`..`last` without a gap. */
function parts(first: number, last: number, records: readonly IndicatorRecord[]): RecentDoc[] {
  const docs: RecentDoc[] = [];
  for (let i = 0; i < records.length || i === 0; i += PART) {
    const part = records.slice(i, i + PART);
    const next = records[i + PART];
    docs.push({ _id: i === 0 ? first : position(part[0]!), last: next === undefined ? last : position(next) - 1, json: JSON.stringify(part) });
  }
  return docs;
}

/** Writes and reads `replica_recent`. */
export class RecentRecords {
  readonly #col: Collection<RecentDoc>;
  readonly #keep: number;
  /** First and last index of the documents stored, oldest first; loaded at the first write. */
  #spans: Array<{ first: number; last: number }> | undefined;

  /** `keep`: how many of the newest log positions stay covered. */
  constructor(db: Db, keep: number) {
    this.#col = db.collection<RecentDoc>(REPLICA_RECENT);
    this.#keep = keep;
  }

  /**
   * Records the states of the entries `first`..`last` (one applied batch), then, once the
   * oldest document is a quarter of `keep` positions past the newest `keep`, deletes every
   * document wholly older than them (one scan of this small collection). With `treeSize` (the size of the log the batch comes from), a batch
   * wholly below its newest `keep` positions is not recorded. Idempotent: a replayed batch (which starts at the saved cursor, so at the
   * first index of the batch that was in flight) replaces its document, and a replay that runs
   * further than the first attempt covers the longer span.
   */
  async write(first: number, last: number, records: readonly IndicatorRecord[], treeSize = 0): Promise<void> {
    // A catch-up's batches wholly below the newest `keep` positions of the log would be deleted
    // again before anyone reads them: skipped (the documents that follow still start at or
    // below every floor that needs them).
    if (last < treeSize - this.#keep) return;
    const spans = this.#spans ?? await this.#loadSpans();
    for (const part of parts(first, last, records)) {
      // An insert costs FerretDB a fraction of an upsert; only a replayed batch finds its document.
      await this.#col.insertOne(part).catch(async (err: unknown) => {
        if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
        await this.#col.replaceOne({ _id: part._id }, { last: part.last, json: part.json });
      });
      const held = spans.find((s) => s.first === part._id);
      if (held !== undefined) held.last = part.last;
      else spans.push({ first: part._id, last: part.last });
    }
    spans.sort((a, b) => a.first - b.first);
    // Pruned in one scan of this small collection once a quarter of `keep` positions fell out, not per batch.
    const threshold = last - this.#keep + 1;
    if (spans.length > 0 && spans[0]!.last < threshold - Math.ceil(this.#keep / 4)) {
      await this.#col.deleteMany({ last: { $lt: threshold } });
      this.#spans = spans.filter((s) => s.last >= threshold);
    }
  }

  async #loadSpans(): Promise<Array<{ first: number; last: number }>> {
    // Once per process: the collection is about `keep` records.
    const docs = await this.#col.find({}, { projection: { _id: 1, last: 1 } }).toArray();
    this.#spans = docs.map((d) => ({ first: d._id, last: d.last })).sort((a, b) => a.first - b.first);
    return this.#spans;
  }

  /**
   * The current state of every record admitted or revoked at position `floor` or later, when
   * the documents cover every position from `floor` on without a gap; undefined when they do not
   * (pruned below `floor`, or written before this collection existed): the caller reads the records.
   */
  async since(floor: number): Promise<IndicatorRecord[] | undefined> {
    const docs = (await this.#col.find({}).toArray()).sort((a, b) => a._id - b._id);
    const start = docs.findIndex((d) => d._id <= floor && d.last >= floor);
    if (start < 0) return undefined;
    let covered = docs[start]!.last + 1;
    const latest = new Map<string, IndicatorRecord>();
    for (const d of docs.slice(start)) {
      if (d._id > covered) return undefined;
      covered = Math.max(covered, d.last + 1);
      for (const r of statesOf(d.json)) latest.set(r.digest, r);
    }
    // A record changed below the floor and again above it appears with its latest state; one
    // changed only below it is left out, as the query on `indicators` leaves it out.
    return [...latest.values()].filter((r) => r.logIndex >= floor || (r.revokedAtIndex ?? -1) >= floor);
  }
}

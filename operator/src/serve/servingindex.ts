/**
 * The serving index: every replicated indicator as served (record.ts ServedRecord), held in the
 * serve process and ordered by log position, so a TAXII page, an object by id and the list of
 * source feeds are computed in memory without a database query (docs/adr/2026-12-06-taxii-serving-index.md).
 * FerretDB 1.x answers every query but an insert by scanning the collection, `_id` equality
 * included, so at 10^6 records no page that touches the database can meet 200 ms.
 *
 * Built by one streaming read at start; kept current by reading the records changed since the
 * last watermark (ServedSource.changedSince) whenever the replica's watermark moves. Every
 * entry below a watermark is applied before the cursor is saved, so a refresh that starts after
 * reading watermark W sees every version below W; the index then serves versions below W only,
 * exactly as the database reader does. Records are replaced whole, newest position wins, so a
 * refresh that sees a record twice, or one applied beyond W, changes nothing wrong.
 */
import type { IndicatorReader, ServedChange, ServedRecord, VersionPage, VersionQuery, VersionRow } from './record.ts';
import { stixIdOfDigest } from './stixview.ts';
import { mayReceive, type Tlp } from './tlp.ts';

/** Where the index reads from (store/servedindicators.ts over MongoDB). */
export interface ServedSource {
  /** The replica's watermark; Number.MAX_SAFE_INTEGER when no replica cursor exists. */
  watermark(): Promise<number>;
  /** Every record, with position -1; else the records admitted or revoked at `position` or later (on FerretDB a scan of every record). */
  changedSince(position: number): AsyncIterable<ServedRecord>;
  /** The changes at positions `from`..`to` - 1 from a journal (store/servedchanges.ts); undefined when it does not cover them. */
  changes?(from: number, to: number): Promise<readonly ServedChange[] | undefined>;
}

/** Options of {@link ServingIndex.build}. */
export interface ServingIndexOptions {
  /** Longest a request waits for a refresh before it is answered from the index as it is. @default 2000 */
  readonly refreshWaitMs?: number;
  /** Called every `progressEvery` records while building (long work shows progress). */
  readonly progress?: (loaded: number) => void;
  /** @default 100000 */
  readonly progressEvery?: number;
  /** Told about a refresh that failed (the index keeps serving what it has). */
  readonly onRefreshError?: (err: unknown) => void;
}

const NO_WATERMARK = Number.MAX_SAFE_INTEGER;

/** A record as held: replaced whole when the record changes; rows point at it. */
interface Holder {
  record: ServedRecord;
}

/** Shares equal windows, metadata and stamps between records: most come from the same rounds and batches. */
class Interner {
  readonly #objects = new Map<string, object>();
  readonly #dates = new Map<number, Date>();

  record(r: ServedRecord): ServedRecord {
    return {
      digest: r.digest, type: this.#shared(r.type, r.type), value: r.value, state: r.state, logIndex: r.logIndex, proposerId: this.#shared(r.proposerId, r.proposerId),
      addedAt: this.#date(r.addedAt),
      ...(r.revokedAtIndex !== undefined ? { revokedAtIndex: r.revokedAtIndex } : {}),
      ...(r.meta !== undefined ? { meta: this.#shared(JSON.stringify(r.meta), r.meta) } : {}),
      ...(r.window !== undefined ? { window: this.#shared(`${r.window.opensAt} ${r.window.closesAt}`, r.window) } : {}),
      ...(r.revocationWindow !== undefined ? { revocationWindow: this.#shared(`${r.revocationWindow.opensAt} ${r.revocationWindow.closesAt}`, r.revocationWindow) } : {}),
      ...(r.revokedAt !== undefined ? { revokedAt: this.#date(r.revokedAt) } : {}),
    };
  }

  #shared<T>(key: string, value: T): T {
    const known = this.#objects.get(key);
    if (known !== undefined) return known as T;
    // A bounded pool: unique values (per-indicator metadata) must not pile up.
    if (this.#objects.size > 50_000) this.#objects.clear();
    this.#objects.set(key, value as object);
    return value;
  }

  #date(d: Date): Date {
    const t = d.getTime();
    const known = this.#dates.get(t);
    if (known !== undefined) return known;
    if (this.#dates.size > 50_000) this.#dates.clear();
    this.#dates.set(t, d);
    return d;
  }
}

/** The kind of version row `position` is for `r` now, or undefined when the row is stale. */
function kindAt(r: ServedRecord, position: number): 'add' | 'revoke' | undefined {
  if (r.logIndex === position) return 'add';
  return r.state === 'revoked' && r.revokedAtIndex === position ? 'revoke' : undefined;
}

function inView(q: VersionQuery, kind: 'add' | 'revoke', r: ServedRecord): boolean {
  if (q.view === 'all') return true;
  if (q.view === 'first') return kind === 'add';
  return kind === 'revoke' || r.state === 'active';
}

function addedAfter(q: VersionQuery, kind: 'add' | 'revoke', r: ServedRecord): boolean {
  if (q.addedAfter === undefined) return true;
  const at = kind === 'add' ? r.addedAt : (r.revokedAt ?? r.addedAt);
  return at.getTime() > q.addedAfter.getTime();
}

/** The in-memory IndicatorReader of the serve process. */
export class ServingIndex implements IndicatorReader {
  readonly #source: ServedSource;
  readonly #opts: ServingIndexOptions;
  readonly #interner = new Interner();
  /** STIX id → record. */
  readonly #byId = new Map<string, Holder>();
  /** Version rows ordered by position: `#positions[i]` is the log index of row `#holders[i]`. */
  #positions: number[] = [];
  #holders: Holder[] = [];
  #stale = 0;
  /** Source feed → TLP value → how many records. */
  readonly #sources = new Map<string, Map<unknown, number>>();
  #watermark = -1;
  #refreshing: Promise<void> | undefined;

  private constructor(source: ServedSource, opts: ServingIndexOptions) {
    this.#source = source;
    this.#opts = opts;
  }

  /** Builds the index by one streaming read of `source`. */
  static async build(source: ServedSource, opts: ServingIndexOptions = {}): Promise<ServingIndex> {
    const index = new ServingIndex(source, opts);
    const mark = await source.watermark();
    const every = opts.progressEvery ?? 100_000;
    let loaded = 0;
    for await (const r of source.changedSince(-1)) {
      index.#upsert(r);
      loaded += 1;
      if (loaded % every === 0) opts.progress?.(loaded);
    }
    index.#sortRows(0);
    index.#watermark = mark;
    return index;
  }

  /** How many indicators the index holds. */
  get size(): number {
    return this.#byId.size;
  }

  /** The watermark the index has reached (versions below it are served). */
  get position(): number {
    return this.#watermark;
  }

  /** Reads what changed since the index's watermark (one at a time; callers share a running refresh). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshOnce().finally(() => { this.#refreshing = undefined; });
    return this.#refreshing;
  }

  async #refreshOnce(): Promise<void> {
    const mark = await this.#source.watermark();
    if (mark === this.#watermark && mark !== NO_WATERMARK) return;
    // Without a replica cursor positions say nothing about what changed: read everything.
    const since = mark === NO_WATERMARK ? -1 : Math.max(-1, this.#watermark === NO_WATERMARK ? -1 : this.#watermark);
    const from = this.#positions.length;
    const journal = since >= 0 ? await this.#source.changes?.(since, mark) : undefined;
    if (journal !== undefined) {
      for (const c of journal) this.#apply(c);
    } else {
      for await (const r of this.#source.changedSince(since)) this.#upsert(r);
    }
    if (this.#positions.length > from) this.#sortRows(from);
    if (this.#stale > this.#positions.length / 8) this.#compact();
    this.#watermark = mark;
  }

  /** Applies one journal change: an admission carries its record; a revocation revokes the record held, unless it is newer. */
  #apply(c: ServedChange): void {
    if (c.kind === 'add') {
      this.#upsert(c.record);
      return;
    }
    const held = this.#byId.get(stixIdOfDigest(c.digest))?.record;
    if (held === undefined || held.logIndex >= c.index) return;
    this.#upsert({ ...held, state: 'revoked', revokedAtIndex: c.index, revokedAt: c.revokedAt, revocationWindow: c.window });
  }

  /** Replaces (or adds) a record unless the index holds a newer state of it. */
  #upsert(incoming: ServedRecord): void {
    const id = stixIdOfDigest(incoming.digest);
    const held = this.#byId.get(id);
    const top = (r: ServedRecord): number => Math.max(r.logIndex, r.revokedAtIndex ?? -1);
    if (held !== undefined && top(held.record) >= top(incoming)) return;
    const r = this.#interner.record(incoming);
    if (held === undefined) {
      const holder: Holder = { record: r };
      // A fresh flat copy: the id is built by concatenation, and V8 keeps that as a tree of
      // string pieces (≈ 400 bytes), where a flat 47-character string takes ≈ 64.
      this.#byId.set(Buffer.from(id, 'latin1').toString('latin1'), holder);
      this.#count(r, 1);
      this.#pushRows(holder, -1);
      return;
    }
    const before = held.record;
    this.#count(before, -1);
    this.#count(r, 1);
    held.record = r;
    // Rows of the old state that no longer name a version of the new one; compacted later.
    if (before.logIndex !== r.logIndex) this.#stale += 1;
    if (before.state === 'revoked' && (r.state !== 'revoked' || r.revokedAtIndex !== before.revokedAtIndex)) this.#stale += 1;
    this.#pushRows(held, top(before));
  }

  /** Appends the rows of `holder` above position `known` (a log index names one entry, so never a row already held). */
  #pushRows(holder: Holder, known: number): void {
    const r = holder.record;
    if (r.logIndex > known) {
      this.#positions.push(r.logIndex);
      this.#holders.push(holder);
    }
    if (r.state === 'revoked' && r.revokedAtIndex !== undefined && r.revokedAtIndex > known) {
      this.#positions.push(r.revokedAtIndex);
      this.#holders.push(holder);
    }
  }

  #count(r: ServedRecord, by: number): void {
    const source = r.meta?.source;
    if (source === undefined) return;
    const tlps = this.#sources.get(source) ?? new Map<unknown, number>();
    const n = (tlps.get(r.meta?.tlp) ?? 0) + by;
    if (n > 0) tlps.set(r.meta?.tlp, n);
    else tlps.delete(r.meta?.tlp);
    if (tlps.size > 0) this.#sources.set(source, tlps);
    else this.#sources.delete(source);
  }

  /** Sorts the rows from `from` on; sorts them all only when those do not all come after the rest. */
  #sortRows(from: number): void {
    const start = this.#sortedTail(from);
    if (start === from || from === 0) return;
    this.#sortedTail(0);
  }

  /** Sorts rows `from`.. by position; returns `from` when they now all follow the rows before, else 0. */
  #sortedTail(from: number): number {
    const order = Array.from({ length: this.#positions.length - from }, (_, i) => from + i);
    order.sort((a, b) => (this.#positions[a] ?? 0) - (this.#positions[b] ?? 0));
    const positions = order.map((i) => this.#positions[i] ?? 0);
    const holders = order.map((i) => this.#holders[i] as Holder);
    positions.forEach((p, k) => { this.#positions[from + k] = p; });
    holders.forEach((h, k) => { this.#holders[from + k] = h; });
    return from === 0 || (this.#positions[from - 1] ?? -1) < (positions[0] ?? 0) ? from : 0;
  }

  #compact(): void {
    const positions: number[] = [];
    const holders: Holder[] = [];
    this.#positions.forEach((p, i) => {
      const h = this.#holders[i] as Holder;
      if (kindAt(h.record, p) === undefined) return;
      positions.push(p);
      holders.push(h);
    });
    this.#positions = positions;
    this.#holders = holders;
    this.#stale = 0;
  }

  /** First row whose position is above `after` (binary search). */
  #firstAbove(after: number): number {
    let lo = 0;
    let hi = this.#positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#positions[mid] ?? 0) > after) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * The index's watermark, after reading what changed when the replica's moved; waits for that
   * refresh at most `refreshWaitMs`, then answers from the index as it is (a consistent earlier
   * watermark: versions appear late, never out of order).
   */
  async watermark(): Promise<number> {
    const wait = this.#opts.refreshWaitMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const run = this.refresh().catch((err: unknown) => this.#opts.onRefreshError?.(err));
    await Promise.race([run, new Promise<void>((resolve) => { timer = setTimeout(resolve, wait); })]);
    clearTimeout(timer);
    return this.#watermark;
  }

  versions(q: VersionQuery, watermark: number): Promise<VersionPage> {
    const rows: VersionRow[] = [];
    const end = Math.min(watermark, this.#watermark === -1 ? watermark : this.#watermark);
    for (let i = this.#firstAbove(q.after); i < this.#positions.length && rows.length <= q.limit; i += 1) {
      const position = this.#positions[i] ?? 0;
      if (position >= end) break;
      const r = (this.#holders[i] as Holder).record;
      const kind = kindAt(r, position);
      if (kind === undefined || !mayReceive(q.tlps, r.meta?.tlp) || (q.source !== undefined && r.meta?.source !== q.source)) continue;
      if (inView(q, kind, r) && addedAfter(q, kind, r)) rows.push({ index: position, kind, record: r });
    }
    return Promise.resolve({ rows: rows.slice(0, q.limit), more: rows.length > q.limit });
  }

  byStixId(stixId: string, tlps: readonly Tlp[]): Promise<ServedRecord | undefined> {
    const r = this.#byId.get(stixId)?.record;
    return Promise.resolve(r !== undefined && mayReceive(tlps, r.meta?.tlp) ? r : undefined);
  }

  sources(tlps: readonly Tlp[]): Promise<string[]> {
    const out = [...this.#sources].filter(([, byTlp]) => [...byTlp.keys()].some((t) => mayReceive(tlps, t))).map(([s]) => s);
    return Promise.resolve(out.sort());
  }
}

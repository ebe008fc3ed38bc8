/**
 * Tally: what a scan saw, per indicator and per hour bucket: the number of records that matched,
 * first and last seen (the records' own timestamps), and counts by source type (`zeek:dns`,
 * `suricata:http`, `combined`...). Keyed by digest, so a scan that swaps to a newer snapshot in
 * the middle (indicator ids change) keeps counting into the same entries. Only digests, counts
 * and times are kept: never a log line or an address of the partner's own hosts.
 */
import type { IndicatorType } from '../domain/indicator.ts';
import type { MatcherSnapshot } from './snapshot.ts';

/** Length of a time bucket (the sightings collection stores one document per indicator per hour). */
export const BUCKET_MS = 3_600_000;

/** Counts of one indicator in one hour bucket. */
export interface BucketTally {
  count: number;
  firstSeen: number;
  lastSeen: number;
  readonly sources: Record<string, number>;
}

/** Everything seen of one indicator. */
export interface IndicatorTally {
  readonly digest: string;
  readonly type: IndicatorType;
  readonly value: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  /** Hour buckets by their start (epoch milliseconds). */
  readonly buckets: Map<number, BucketTally>;
}

/** Only records whose time lies in [start, end) count (epoch ms; either bound optional). */
export interface TimeWindow {
  readonly start?: number | undefined;
  readonly end?: number | undefined;
}

/** Accumulates matches; see the module doc. */
export class Tally {
  readonly #byDigest = new Map<string, IndicatorTally>();
  #byId = new Map<number, IndicatorTally>();
  #snap: MatcherSnapshot | undefined;
  readonly #start: number;
  readonly #end: number;
  /** Records that matched at least one indicator (inside the window). */
  matchedRecords = 0;
  /** Matching records outside the time window (not counted). */
  outsideWindow = 0;

  constructor(window: TimeWindow = {}) {
    this.#start = window.start ?? -Infinity;
    this.#end = window.end ?? Infinity;
  }

  /** Counts one record that matched `ids[0..n)` (distinct ids of `snap`) at `tsMs` from `source`. */
  record(snap: MatcherSnapshot, ids: Int32Array, n: number, tsMs: number, source: string): void {
    if (tsMs < this.#start || tsMs >= this.#end) {
      this.outsideWindow++;
      return;
    }
    if (snap !== this.#snap) {
      this.#snap = snap;
      this.#byId = new Map();
    }
    this.matchedRecords++;
    const bucket = Math.floor(tsMs / BUCKET_MS) * BUCKET_MS;
    for (let k = 0; k < n; k++) addTo(this.#entry(snap, ids[k] ?? 0), bucket, tsMs, source);
  }

  #entry(snap: MatcherSnapshot, id: number): IndicatorTally {
    let e = this.#byId.get(id);
    if (e !== undefined) return e;
    const digest = snap.digest(id);
    e = this.#byDigest.get(digest);
    if (e === undefined) {
      e = { digest, type: snap.type(id), value: snap.value(id), count: 0, firstSeen: Infinity, lastSeen: -Infinity, buckets: new Map() };
      this.#byDigest.set(digest, e);
    }
    this.#byId.set(id, e);
    return e;
  }

  /** Every indicator seen, most records first. */
  entries(): IndicatorTally[] {
    return [...this.#byDigest.values()].sort((a, b) => b.count - a.count || a.digest.localeCompare(b.digest));
  }

  /** Adds another tally's counts (shards of one scan). */
  merge(other: Tally): void {
    this.matchedRecords += other.matchedRecords;
    for (const e of other.#byDigest.values()) {
      let mine = this.#byDigest.get(e.digest);
      if (mine === undefined) {
        mine = { digest: e.digest, type: e.type, value: e.value, count: 0, firstSeen: Infinity, lastSeen: -Infinity, buckets: new Map() };
        this.#byDigest.set(e.digest, mine);
      }
      for (const [start, b] of e.buckets) mergeBucket(mine, start, b);
    }
  }
}

function addTo(e: IndicatorTally, bucket: number, ts: number, source: string): void {
  e.count++;
  if (ts < e.firstSeen) e.firstSeen = ts;
  if (ts > e.lastSeen) e.lastSeen = ts;
  let b = e.buckets.get(bucket);
  if (b === undefined) {
    b = { count: 0, firstSeen: ts, lastSeen: ts, sources: {} };
    e.buckets.set(bucket, b);
  }
  b.count++;
  if (ts < b.firstSeen) b.firstSeen = ts;
  if (ts > b.lastSeen) b.lastSeen = ts;
  b.sources[source] = (b.sources[source] ?? 0) + 1;
}

function mergeBucket(e: IndicatorTally, start: number, b: BucketTally): void {
  e.count += b.count;
  e.firstSeen = Math.min(e.firstSeen, b.firstSeen);
  e.lastSeen = Math.max(e.lastSeen, b.lastSeen);
  const mine = e.buckets.get(start);
  if (mine === undefined) {
    e.buckets.set(start, { count: b.count, firstSeen: b.firstSeen, lastSeen: b.lastSeen, sources: { ...b.sources } });
    return;
  }
  mine.count += b.count;
  mine.firstSeen = Math.min(mine.firstSeen, b.firstSeen);
  mine.lastSeen = Math.max(mine.lastSeen, b.lastSeen);
  for (const [k, v] of Object.entries(b.sources)) mine.sources[k] = (mine.sources[k] ?? 0) + v;
}

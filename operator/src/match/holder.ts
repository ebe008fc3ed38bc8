/**
 * SnapshotHolder: the current matcher snapshot of the partner's replicated indicators (active,
 * not expired), rebuilt and swapped whole when the replica changes: an admission or revocation
 * changes the replica's version, and the earliest `validUntil` among the loaded indicators is
 * the time the set must be rebuilt for expiry. Readers call `current()` and keep what they got
 * for as long as they like: a snapshot never changes (maltrail's trailsdict swap).
 * Refreshing is pulled (`refresh()`, rate-limited by `minIntervalMs`), so a scan refreshes
 * between chunks and no timer runs.
 */
import { isDeepStrictEqual } from 'node:util';
import { isIndicatorType } from '../domain/indicator.ts';
import type { ActiveIndicator } from '../store/replicaread.ts';
import { SnapshotBuilder, type MatcherSnapshot } from './snapshot.ts';

/** Where the indicators come from (store/replicaread.ts ReplicaReader is one). */
export interface IndicatorSource {
  version(): Promise<unknown>;
  active(now: Date): AsyncIterable<ActiveIndicator>;
}

/** What a load found. */
export interface LoadInfo {
  readonly loaded: number;
  readonly refused: Readonly<Record<string, number>>;
  readonly builtAt: Date;
  /** The earliest validUntil after builtAt, when any. */
  readonly nextExpiry: Date | undefined;
}

/** Options of SnapshotHolder. */
export interface HolderOptions {
  readonly now?: () => Date;
  /** Least time between two version checks. @default 30000 */
  readonly minIntervalMs?: number;
}

async function build(src: IndicatorSource, now: Date): Promise<{ snapshot: MatcherSnapshot; info: LoadInfo }> {
  const b = new SnapshotBuilder();
  const refused: Record<string, number> = {};
  let next = Infinity;
  for await (const ind of src.active(now)) {
    const why = isIndicatorType(ind.type) ? b.add({ type: ind.type, value: ind.value, digest: ind.digest }) : 'unsupported-type';
    if (why !== undefined) {
      refused[why] = (refused[why] ?? 0) + 1;
      continue;
    }
    const until = ind.validUntil === undefined ? NaN : Date.parse(ind.validUntil);
    if (until < next) next = until;
  }
  return { snapshot: b.build(), info: { loaded: b.count, refused, builtAt: now, nextExpiry: Number.isFinite(next) ? new Date(next) : undefined } };
}

/** Holds and refreshes the snapshot; see the module doc. */
export class SnapshotHolder {
  readonly #src: IndicatorSource;
  readonly #now: () => Date;
  readonly #minInterval: number;
  #snapshot: MatcherSnapshot;
  #info: LoadInfo;
  #version: unknown;
  #checkedAt: number;

  private constructor(src: IndicatorSource, opts: HolderOptions, first: { snapshot: MatcherSnapshot; info: LoadInfo }, version: unknown) {
    this.#src = src;
    this.#now = opts.now ?? (() => new Date());
    this.#minInterval = opts.minIntervalMs ?? 30_000;
    this.#snapshot = first.snapshot;
    this.#info = first.info;
    this.#version = version;
    this.#checkedAt = first.info.builtAt.getTime();
  }

  /** Loads the first snapshot. */
  static async load(src: IndicatorSource, opts: HolderOptions = {}): Promise<SnapshotHolder> {
    const now = (opts.now ?? (() => new Date()))();
    const version = await src.version();
    return new SnapshotHolder(src, opts, await build(src, now), version);
  }

  /** The snapshot to match against now. */
  current(): MatcherSnapshot {
    return this.#snapshot;
  }

  /** What the current snapshot was built from. */
  get info(): LoadInfo {
    return this.#info;
  }

  /** Rebuilds and swaps when the replica changed or an indicator expired; returns true when it swapped. */
  async refresh(force = false): Promise<boolean> {
    const now = this.#now();
    if (!force && now.getTime() - this.#checkedAt < this.#minInterval) return false;
    this.#checkedAt = now.getTime();
    const version = await this.#src.version();
    const expired = this.#info.nextExpiry !== undefined && this.#info.nextExpiry.getTime() <= now.getTime();
    if (!expired && isDeepStrictEqual(version, this.#version)) return false;
    const next = await build(this.#src, now);
    this.#snapshot = next.snapshot;
    this.#info = next.info;
    this.#version = version;
    return true;
  }
}

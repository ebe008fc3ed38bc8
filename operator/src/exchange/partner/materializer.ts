/**
 * The working set of a partner's cluster (docs/adr/2026-12-06-million-indicators.md): which
 * verified entries become ThreatIndicator custom objects. The full set is the partner database,
 * served to `kubectl get threatindicators` by the aggregated API (serve/replicaapi.ts); etcd keeps
 * only the most recent `budget` log positions, plus whatever analysts pinned or annotated.
 *
 * Invariants:
 * - Replication never waits for Kubernetes: `offer` queues entries and returns; a background
 *   loop writes them through the Kubernetes sink with its own retries. The queue never holds
 *   more than `budget` entries: an entry older than the newest `budget` positions would be
 *   evicted as soon as written, so it is dropped (drift repair writes what should exist).
 * - A restart loses nothing: after each written batch the position written up to is reported
 *   (`onWritten`, persisted by the service), and a new process hands the records at or above it
 *   back with {@link Materializer.resume}; they are written before any new entry.
 * - Eviction deletes only objects the log wrote (status.logIndex or status.revocation set) whose
 *   position is below the floor (`treeSize - budget`), never an object with the
 *   `threatmesh.io/pinned=true` label or a `threatmesh.io/` annotation (an analyst's vote or
 *   revocation request), and never edits one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ThreatIndicator } from '../../api/types.ts';
import type { VerifiedEntry } from '../../domain/stores.ts';
import type { Logger } from '../../log.ts';
import type { IndicatorRecord } from '../../store/indicators.ts';

/** Label that keeps a ThreatIndicator in the working set whatever its age. */
export const PINNED_LABEL = 'threatmesh.io/pinned';

/** The lowest log position kept in the working set of a log of `treeSize` entries. */
export function materializeFloor(treeSize: number, budget: number): number {
  return Math.max(0, treeSize - budget);
}

function position(o: ThreatIndicator): number | undefined {
  const s = o.status;
  if (s?.logIndex === undefined && s?.revocation === undefined) return undefined;
  return Math.max(s.logIndex ?? -1, s.revocation?.logIndex ?? -1);
}

function pinned(o: ThreatIndicator): boolean {
  if (o.metadata.labels?.[PINNED_LABEL] === 'true') return true;
  return Object.keys(o.metadata.annotations ?? {}).some((k) => k.startsWith('threatmesh.io/'));
}

/** Names of the objects to evict from the working set: log-written, below `floor`, not pinned. */
export function evictable(objects: readonly ThreatIndicator[], floor: number): string[] {
  return objects.filter((o) => {
    const at = position(o);
    return at !== undefined && at < floor && !pinned(o);
  }).map((o) => o.metadata.name).sort();
}

/** The log position a replicated record reflects: its revocation's, else its admission's. */
export function recordPosition(r: Pick<IndicatorRecord, 'logIndex' | 'revokedAtIndex'>): number {
  return Math.max(r.logIndex, r.revokedAtIndex ?? -1);
}

/** Where the materializer writes (exchange/partner/kubesink.ts KubeIndicatorSink). */
export interface WorkingSetSink {
  /** Writes `entries`; once `signal` aborts (a stop) it may end early with a rejection, and nothing counts as written. */
  applyMany(entries: readonly VerifiedEntry[], signal?: AbortSignal): Promise<void>;
  /** Writes replicated records (their latest state) as {@link applyMany} writes entries; used by {@link Materializer.resume}. */
  restore(records: readonly IndicatorRecord[], signal?: AbortSignal): Promise<void>;
}

/** Everything a {@link Materializer} is built from. */
export interface MaterializerOptions {
  readonly sink: WorkingSetSink;
  /** Log positions kept as objects. */
  readonly budget: number;
  readonly log: Logger;
  /** Entries written per call of the sink. @default 256 */
  readonly batch?: number;
  /** Pause after a failed write before trying again; doubled after each further failure. @default 500 */
  readonly retryMs?: number;
  /** Longest pause between retries: a healed API server is written to again within this. @default 5000 */
  readonly maxRetryMs?: number;
  /** Told after each written batch: every position below `nextIndex` that was offered or resumed is in the cluster (or was dropped below the floor). @default none */
  readonly onWritten?: (nextIndex: number) => void;
  /** Told about each failed write (it is retried). @default none */
  readonly onFailed?: (err: unknown) => void;
  /** Told when a write succeeds after failures. @default none */
  readonly onRecovered?: () => void;
}

/** Writes the newest verified entries to the cluster in the background. */
export class Materializer {
  readonly #o: MaterializerOptions;
  #queue: VerifiedEntry[] = [];
  #resumed: IndicatorRecord[] = [];
  #treeSize = 0;
  #running: Promise<void> | undefined;
  #stopped = false;
  readonly #stop = new AbortController();
  #dropped = 0;

  constructor(opts: MaterializerOptions) {
    this.#o = opts;
  }

  /** The current floor: positions below it are not kept. */
  get floor(): number {
    return materializeFloor(this.#treeSize, this.#o.budget);
  }

  /** Entries dropped because they were older than the budget when their turn came. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues verified entries of a log now `treeSize` long; never waits for Kubernetes. */
  offer(entries: readonly VerifiedEntry[], treeSize: number): void {
    this.#treeSize = Math.max(this.#treeSize, treeSize, ...entries.map((e) => e.index + 1));
    this.#queue.push(...entries);
    this.#trim();
    this.#running ??= this.#drain().finally(() => { this.#running = undefined; });
  }

  /**
   * Queues replicated records that an earlier process may not have written (positions at or
   * above its last `onWritten`), ahead of every entry; never waits for Kubernetes. Records
   * below the floor are dropped like entries. With no records it only learns the log's size:
   * the floor a restarted process evicts and repairs from is the earlier process's.
   */
  resume(records: readonly IndicatorRecord[], treeSize: number): void {
    this.#treeSize = Math.max(this.#treeSize, treeSize, ...records.map((r) => recordPosition(r) + 1));
    if (records.length === 0) return;
    this.#resumed.push(...records);
    this.#resumed.sort((a, b) => recordPosition(a) - recordPosition(b));
    this.#trim();
    this.#running ??= this.#drain().finally(() => { this.#running = undefined; });
  }

  /** True while queued entries or resumed records are being written (or retried). */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  /** Resolves when everything queued so far is written (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /**
   * Stops once the requests in flight answer (the batch in progress is cut short and not
   * reported written); queued entries are left to the next process's resume and to drift repair.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stop.abort();
    await this.#running;
  }

  #trim(): void {
    const floor = this.floor;
    const before = this.#queue.length;
    this.#queue = this.#queue.filter((e) => e.index >= floor);
    const resumed = this.#resumed.length;
    this.#resumed = this.#resumed.filter((r) => recordPosition(r) >= floor);
    this.#dropped += before - this.#queue.length + resumed - this.#resumed.length;
  }

  async #drain(): Promise<void> {
    let failures = 0;
    while (!this.#stopped && this.#queue.length + this.#resumed.length > 0) {
      this.#trim();
      const step = this.#next();
      try {
        await step.write();
        if (failures > 0) this.#o.onRecovered?.();
        failures = 0;
        this.#o.onWritten?.(step.upTo);
      } catch (err) {
        step.putBack();
        if (this.#stopped) break;
        failures++;
        const delayMs = Math.min((this.#o.retryMs ?? 500) * 2 ** (failures - 1), this.#o.maxRetryMs ?? 5_000);
        this.#o.log.warn('writing replicated ThreatIndicators failed; retrying with backoff (the partner database has them already)', { entries: step.size, failures, delayMs, err });
        this.#o.onFailed?.(err);
        // A stop ends the pause at once.
        await sleep(delayMs, undefined, { signal: this.#stop.signal }).catch(() => undefined);
      }
    }
  }

  // Resumed records go first (they are older than every queued entry), then entries in log order.
  #next(): { write: () => Promise<void>; putBack: () => void; size: number; upTo: number } {
    const size = this.#o.batch ?? 256;
    if (this.#resumed.length > 0) {
      const records = this.#resumed.splice(0, size);
      return {
        write: () => this.#o.sink.restore(records, this.#stop.signal), putBack: () => this.#resumed.unshift(...records), size: records.length,
        // Sorted: until every resumed record is written, nothing from the oldest one left counts as written.
        upTo: this.#resumed.length > 0 ? recordPosition(this.#resumed[0]!) : recordPosition(records[records.length - 1]!) + 1,
      };
    }
    const batch = this.#queue.splice(0, size);
    return { write: () => this.#o.sink.applyMany(batch, this.#stop.signal), putBack: () => this.#queue.unshift(...batch), size: batch.length, upTo: batch[batch.length - 1]!.index + 1 };
  }
}

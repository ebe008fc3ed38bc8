/**
 * A shared informer: an in-memory cache of one resource kept current by list+watch, after
 * client-go's reflector. It lists (paginated), watches from the list's resourceVersion with
 * bookmarks, tracks the resourceVersion of every event, re-lists and diffs on 410 Gone,
 * reconnects with capped jittered backoff on network errors, and re-delivers every object to the
 * handlers on a resync period.
 */
import type { Logger } from '../log.ts';
import { ApiError, type KubeReader, type ListOptions } from './client.ts';
import { sleep, systemClock, type Clock, type TimerHandle } from './clock.ts';
import { jitteredBackoff } from './ratelimit.ts';
import type { KubeObject, ObjectKey, Reader, ResourceRef } from './types.ts';

/** Callbacks for cache changes. Handlers must be quick and must not throw (errors are logged). */
export interface EventHandler<T extends KubeObject> {
  onAdd?(obj: T): void;
  /** Also called with oldObj === newObj on every resync. */
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T): void;
}

/** Options of an Informer. */
export interface InformerOptions {
  readonly client: KubeReader;
  readonly ref: ResourceRef;
  readonly log: Logger;
  /** Only this namespace. @default all namespaces */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Re-deliver every cached object this often; 0 turns resync off. @default 10 hours (controller-runtime) */
  readonly resyncMs?: number;
  /** Objects per list page. @default 500 */
  readonly pageSize?: number;
  /** Reconnect backoff: first delay and cap. @default 800 ms and 30 s (client-go) */
  readonly backoffBaseMs?: number;
  readonly backoffCapMs?: number;
  /** Server-side watch timeout is drawn from [min, 2·min). @default 300 s */
  readonly minWatchTimeoutSeconds?: number;
  /**
   * Applied to every object before it is cached (client-go SetTransform), to save memory.
   * @default stripManagedFields
   */
  readonly transform?: (obj: KubeObject) => KubeObject;
  readonly clock?: Clock;
  readonly random?: () => number;
}

/**
 * Drops metadata.managedFields, which reconcilers do not read and which is often the largest
 * part of an object. Safe for later updates: the API server keeps the stored managedFields when
 * a write omits them.
 */
export function stripManagedFields(obj: KubeObject): KubeObject {
  const meta = obj.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  if (meta.managedFields === undefined) return obj;
  const { managedFields: _dropped, ...rest } = meta;
  return { ...obj, metadata: rest };
}

/** `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): ObjectKey {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

/** True for 410 Gone, as an ApiError (list/watch answer) or a watch ERROR event. */
export function isGone(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 410 || err.reason === 'Expired' || err.reason === 'Gone');
}

interface StatusObject {
  code?: number;
  reason?: string;
  message?: string;
}

/** How one list+watch round ended: the watch closed, 410 Gone, or another error. */
export type RoundOutcome = 'ended' | 'gone' | 'failed';

/**
 * Decides after one list+watch round whether to back off before the next, and the new count of
 * consecutive failures. A healthy round (events arrived or it stayed up for a second) resets the
 * count. A closed healthy watch reconnects at once; 410 Gone re-lists at once, but only once in
 * a row; anything else backs off, with the delay growing per consecutive failure. Pure.
 */
export function afterRound(outcome: RoundOutcome, healthy: boolean, failures: number): { failures: number; wait: boolean } {
  const f = healthy ? 0 : failures;
  if (outcome === 'ended' && healthy) return { failures: 0, wait: false };
  if (outcome === 'gone' && f === 0) return { failures: 1, wait: false };
  return { failures: f + 1, wait: true };
}

/** Counters describing what the informer did; useful in logs, tests and benchmarks. */
export interface InformerStats {
  lists: number;
  watches: number;
  reconnects: number;
  gone: number;
  events: number;
}

/** A list+watch cache of one resource, readable through Reader<T>. */
export class Informer<T extends KubeObject> implements Reader<T> {
  private readonly opts: InformerOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly store = new Map<ObjectKey, T>();
  private readonly handlers: EventHandler<T>[] = [];
  private readonly syncWaiters: (() => void)[] = [];
  private readonly abort = new AbortController();
  private resourceVersion = '';
  private needList = true;
  private synced = false;
  private loop: Promise<void> | undefined;
  private resyncTimer: TimerHandle | undefined;
  private watchEvents = 0;
  /** What the informer did so far. */
  readonly stats: InformerStats = { lists: 0, watches: 0, reconnects: 0, gone: 0, events: 0 };

  constructor(opts: InformerOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
  }

  /** The resource this informer caches. */
  get ref(): ResourceRef {
    return this.opts.ref;
  }

  /** Adds a handler; objects already cached are delivered to it as adds first. */
  addHandler(h: EventHandler<T>): void {
    this.handlers.push(h);
    for (const obj of this.store.values()) this.call(h, 'onAdd', () => h.onAdd?.(obj));
  }

  /**
   * Seeds the cache with a snapshot taken at `resourceVersion` (for example state persisted
   * before a restart) so start() watches from there instead of listing first. The snapshot must
   * be complete and consistent at that version; if the version is too old, the server answers
   * 410 Gone and the informer re-lists and diffs, emitting deletes for seeded objects that no
   * longer exist. Call before start().
   */
  resumeFrom(resourceVersion: string, objects: readonly T[]): void {
    if (this.loop) throw new Error(`informer for ${this.opts.ref.plural}: resumeFrom must be called before start()`);
    this.store.clear();
    for (const o of objects) this.store.set(objectKey(o), this.withTypeMeta(o));
    this.resourceVersion = resourceVersion;
    this.needList = false;
    this.synced = true;
  }

  /** Starts list+watch in the background. Call once. */
  start(): void {
    if (this.loop) throw new Error(`informer for ${this.opts.ref.plural} already started`);
    this.loop = this.run();
    this.scheduleResync();
  }

  /** Stops watching and resolves when the loop has ended. The cache stays readable. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.resyncTimer?.cancel();
    for (const w of this.syncWaiters.splice(0)) w();
    await this.loop;
  }

  /** True once the first full list has been loaded into the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves when hasSynced() becomes true (or the informer stops). */
  waitForSync(): Promise<void> {
    if (this.synced || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** The last resourceVersion seen from a list, an event or a bookmark. */
  lastResourceVersion(): string {
    return this.resourceVersion;
  }

  get(key: ObjectKey): T | undefined {
    return this.store.get(key);
  }

  list(namespace?: string): T[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  /** Number of cached objects. */
  size(): number {
    return this.store.size;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      const started = this.clock.now();
      this.watchEvents = 0;
      let outcome: RoundOutcome = 'ended';
      try {
        if (this.needList) await this.relist();
        await this.watchOnce(signal);
      } catch (err) {
        if (signal.aborted) break;
        outcome = this.noteFailure(err);
      }
      const healthy = this.watchEvents > 0 || this.clock.now() - started >= 1000;
      const next = afterRound(outcome, healthy, failures);
      failures = next.failures;
      if (!next.wait) continue;
      this.stats.reconnects += 1;
      await sleep(this.clock, jitteredBackoff(failures, this.opts.backoffBaseMs ?? 800, this.opts.backoffCapMs ?? 30_000, this.random), signal);
    }
  }

  private noteFailure(err: unknown): RoundOutcome {
    const { ref, log } = this.opts;
    if (isGone(err)) {
      this.stats.gone += 1;
      this.needList = true;
      log.info('resourceVersion expired (410 Gone); re-listing', { resource: ref.plural, resourceVersion: this.resourceVersion });
      return 'gone';
    }
    log.warn('list/watch failed; reconnecting with backoff', { resource: ref.plural, err });
    return 'failed';
  }

  private selectors(): ListOptions {
    const { namespace, labelSelector, fieldSelector } = this.opts;
    return { namespace, labelSelector, fieldSelector };
  }

  private async relist(): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string;
    do {
      // stop() aborts a list in flight: an API server that does not answer must not hold a shutdown for the request timeout.
      const page = await this.opts.client.list<T>(this.opts.ref, { ...this.selectors(), limit: this.opts.pageSize ?? 500, continue: cont, signal: this.abort.signal });
      for (const item of page.items) items.push(this.withTypeMeta(item));
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    this.stats.lists += 1;
    this.replace(items, rv);
  }

  private replace(items: T[], rv: string): void {
    const next = new Map(items.map((o) => [objectKey(o), o] as const));
    for (const [k, old] of this.store) {
      if (next.has(k)) continue;
      this.store.delete(k);
      this.emit('onDelete', (h) => h.onDelete?.(old));
    }
    for (const [k, obj] of next) {
      const old = this.store.get(k);
      this.store.set(k, obj);
      if (!old) this.emit('onAdd', (h) => h.onAdd?.(obj));
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('onUpdate', (h) => h.onUpdate?.(old, obj));
    }
    this.resourceVersion = rv;
    this.needList = false;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private async watchOnce(signal: AbortSignal): Promise<void> {
    const min = this.opts.minWatchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(min + this.random() * min);
    const watchAbort = new AbortController();
    const onAbort = (): void => watchAbort.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.stats.watches += 1;
    try {
      const opts = { ...this.selectors(), resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds };
      for await (const ev of this.opts.client.watch<T>(this.opts.ref, opts, watchAbort.signal)) {
        this.watchEvents += 1;
        this.apply(ev.type, ev.object);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      watchAbort.abort();
    }
  }

  private apply(type: string, raw: T): void {
    if (type === 'ERROR') {
      const s = raw as unknown as StatusObject;
      throw new ApiError(s.code ?? 500, s.reason ?? '', s.message ?? 'watch error');
    }
    this.stats.events += 1;
    const rv = raw.metadata?.resourceVersion;
    if (type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const obj = this.withTypeMeta(raw);
    const key = objectKey(obj);
    const old = this.store.get(key);
    if (type === 'DELETED') {
      this.store.delete(key);
      this.emit('onDelete', (h) => h.onDelete?.(old ?? obj));
    } else {
      this.store.set(key, obj);
      if (old) this.emit('onUpdate', (h) => h.onUpdate?.(old, obj));
      else this.emit('onAdd', (h) => h.onAdd?.(obj));
    }
    if (rv) this.resourceVersion = rv;
  }

  private withTypeMeta(raw: T): T {
    const obj = (this.opts.transform ?? stripManagedFields)(raw) as T;
    // List items of built-in kinds come without apiVersion/kind; fill them in from the ref.
    if (obj.apiVersion && obj.kind) return obj;
    const { group, version, kind } = this.opts.ref;
    return { ...obj, apiVersion: group ? `${group}/${version}` : version, kind };
  }

  private scheduleResync(): void {
    const period = this.opts.resyncMs ?? 36_000_000;
    if (period <= 0 || this.abort.signal.aborted) return;
    this.resyncTimer = this.clock.setTimer(() => {
      for (const obj of this.store.values()) this.emit('onUpdate', (h) => h.onUpdate?.(obj, obj));
      this.scheduleResync();
    }, period);
  }

  private emit(what: string, fn: (h: EventHandler<T>) => void): void {
    for (const h of this.handlers) this.call(h, what, () => fn(h));
  }

  private call(_h: EventHandler<T>, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error('informer event handler threw', { resource: this.opts.ref.plural, handler: what, err });
    }
  }
}

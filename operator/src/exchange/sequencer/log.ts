/**
 * The sequencer's half that never changes what is decided: the append-only RFC 9162 Merkle log
 * of decided rounds, persisted through a {@link SequencerLogStore}, its signed tree heads, proofs
 * and the entries partners stream. At open the in-memory tree is rebuilt from the stored entries
 * and must hash to the latest stored signed head, else it refuses to open. Appends are
 * group-committed (one insert per batch, one batch at a time) and each settles on its own.
 *
 * It also answers what rounds need to know of the past: which indicators are active (latest
 * entry an ADD) and, for a revoked or rejected one, the earliest time a vote of a new ADD round
 * may be signed. A REJECT entry (an ADD round rejected by votes) leaves the indicator inactive.
 */
import { indicatorDigest } from '../../domain/canonical.ts';
import { entryLeafHash, readmissionFloor, voteSubject, type EntryBody, type IndexedEntry, type LogEntryKind } from '../../domain/entry.ts';
import { MerkleLog } from '../../domain/merkle.ts';
import type { SigningKey } from '../../domain/signature.ts';
import type { SequencerLogStore } from '../../domain/stores.ts';
import { signLogHead, verifyTreeHead, type SignedTreeHead } from '../../domain/treehead.ts';
import { keysValidAt, type RetiredKey } from '../../domain/keys.ts';
import type { Logger } from '../../log.ts';
import { GroupCommit } from '../../runtime/groupcommit.ts';
import { ExchangeRefusal, sequencerStopping } from '../protocol/errors.ts';
import type { ProvenEntry } from '../protocol/messages.ts';
import { SEQUENCER_DEFAULTS } from './defaults.ts';
import { StoredPages, type StoredPageLimits } from './pages.ts';

/** Thrown when the stored log cannot be trusted or the sequencer is misconfigured; the message says what to do. */
export class SequencerStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SequencerStateError';
  }
}

/** What the log is opened with. */
export interface SequencerLogOptions {
  readonly store: SequencerLogStore;
  /** Signs tree heads; its key id is the log id. */
  readonly key: SigningKey;
  /** Earlier tree-head keys: after a rotation the stored head is signed by one of them (valid at its timestamp). @default none */
  readonly retiredKeys?: readonly RetiredKey[];
  /** Recent entries kept in memory to serve partners without a database read (0: always read the store). @default SEQUENCER_DEFAULTS.entryCacheSize */
  readonly entryCacheSize?: number;
  /** A head older than this is signed again for the same size when asked (the heartbeat partners check). @default SEQUENCER_DEFAULTS.headHeartbeatMs */
  readonly headHeartbeatMs?: number;
  /** Waiters for a larger log are woken at most this often (appends in between are told together). @default SEQUENCER_DEFAULTS.headCoalesceMs */
  readonly headCoalesceMs?: number;
  /** Paging of store reads for streams behind the entry cache (shared across streams). @default StoredPageLimits defaults */
  readonly storePages?: StoredPageLimits;
  readonly now: () => Date;
  readonly log: Logger;
}

/** The round an append decides: which indicator, which entry kind, and the subject its votes signed. */
export interface AppendedRound {
  readonly digest: string;
  readonly kind: LogEntryKind;
  readonly subject: string;
}

interface QueuedAppend {
  readonly body: EntryBody;
  readonly round: AppendedRound;
  readonly resolve: (index: number) => void;
  readonly reject: (err: Error) => void;
}

/** The log of one sequencer. Create with {@link SequencerLog.open}. */
export class SequencerLog {
  readonly #o: SequencerLogOptions;
  readonly #tree = new MerkleLog();
  // Log index of the latest entry of every logged indicator, under its subject (ADD: the digest,
  // so it is here exactly while the indicator is active; REVOKE: the revocation subject).
  readonly #decided = new Map<string, number>();
  // Revoked indicators, and those whose latest entry is a REJECT: digest → the earliest time (ms) a vote of a new ADD round may be signed.
  readonly #readmitFloor = new Map<string, number>();
  // The most recent entries; #cache[0] has index #cacheStart.
  #cache: IndexedEntry[] = [];
  #cacheStart = 0;
  // Appends are written in batches, one batch at a time; each append settles on its own.
  readonly #appends = new GroupCommit<QueuedAppend>((batch) => this.#serial(() => this.#commit(batch)), { maxBatch: SEQUENCER_DEFAULTS.appendBatch });
  readonly #waiters = new Set<() => void>();
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #lastWake = -Infinity;
  #latest: SignedTreeHead | undefined;
  #signing: { readonly size: number; readonly head: Promise<SignedTreeHead> } | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #pages: StoredPages;
  #wakes = 0;
  #coalesced = 0;
  #stopped = false;
  // Appends not settled yet (queued or being written): a stop answers them all at once.
  readonly #unsettled = new Set<QueuedAppend>();

  private constructor(opts: SequencerLogOptions) {
    this.#o = opts;
    this.#pages = new StoredPages((from, to) => opts.store.entries(from, to), opts.storePages);
  }

  /**
   * Rebuilds the log from the store and checks it against the latest stored signed tree head.
   * Throws {@link SequencerStateError} when entries are missing, out of order or modified, or
   * when the head was signed by another key.
   */
  static async open(opts: SequencerLogOptions): Promise<SequencerLog> {
    const log = new SequencerLog(opts);
    for await (const e of opts.store.entries(0)) {
      if (e.index !== log.size) throw new SequencerStateError(`log_entries is not contiguous: expected index ${log.size}, found ${e.index}; restore the missing entries from a backup or a partner replica`);
      log.#record(e);
    }
    const latest = await opts.store.latestTreeHead();
    checkRestored(opts, log.#tree, latest);
    log.#latest = latest;
    opts.log.info('sequencer log restored', { treeSize: log.size, rootHash: log.#tree.rootHash(), signedTreeSize: latest?.treeSize ?? 0 });
    return log;
  }

  /** Number of entries in the log. */
  get size(): number {
    return this.#tree.size;
  }

  /** Log index of the latest entry decided on `subject` (ADD: while the indicator is active; REVOKE: while it is revoked). */
  decided(subject: string): number | undefined {
    return this.#decided.get(subject);
  }

  /** For a revoked indicator, or one whose latest round was rejected: the earliest time (ms) a vote of a new ADD round may be signed. */
  readmitFloor(digest: string): number | undefined {
    return this.#readmitFloor.get(digest);
  }

  /**
   * Appends the entry of a decided round (group-committed) and resolves with its index. An ADD of
   * an indicator that is already active, or a REVOKE of one that is not, is never appended: it
   * resolves with the index of the entry that decided it, or rejects when there is none. A REJECT
   * of an active indicator is never appended either: it rejects. Once {@link stop}ped it rejects
   * with the sequencer-stopping refusal.
   */
  append(body: EntryBody, round: AppendedRound): Promise<number> {
    if (this.#stopped) return Promise.reject(sequencerStopping());
    return new Promise<number>((resolve, reject) => {
      const q: QueuedAppend = {
        body, round,
        resolve: (i) => {
          this.#unsettled.delete(q);
          resolve(i);
        },
        reject: (err) => {
          this.#unsettled.delete(q);
          reject(err);
        },
      };
      this.#unsettled.add(q);
      this.#appends.add(q);
    });
  }

  /**
   * The signed head of the current log, signing and persisting a new one when the log grew.
   * Not serialized with appends: every entry in memory is already stored, so a head signed
   * over the in-memory log only covers stored entries. Concurrent callers share one signing.
   * A head older than the heartbeat is signed again for the same size, in memory only (the
   * stored head of that size stays the restore check), so partners can tell a quiet log from a
   * silent sequencer.
   */
  treeHead(): Promise<SignedTreeHead> {
    const latest = this.#latest;
    if (latest !== undefined && latest.treeSize === this.size) {
      const heartbeat = this.#o.headHeartbeatMs ?? SEQUENCER_DEFAULTS.headHeartbeatMs;
      if (this.#o.now().getTime() - Date.parse(latest.timestamp) < heartbeat) return Promise.resolve(latest);
      this.#latest = signLogHead(this.#o.key, this.#tree, this.#o.now());
      return Promise.resolve(this.#latest);
    }
    if (this.#signing !== undefined && this.#signing.size === this.size) return this.#signing.head;
    const head = signLogHead(this.#o.key, this.#tree, this.#o.now());
    const stored = this.#o.store.insertTreeHead(head).then(() => {
      if (this.#latest === undefined || head.treeSize > this.#latest.treeSize) this.#latest = head;
      return head;
    });
    const signing = { size: head.treeSize, head: stored };
    this.#signing = signing;
    const clear = (): void => {
      if (this.#signing === signing) this.#signing = undefined;
    };
    stored.then(clear, clear);
    return stored;
  }

  /**
   * Resolves when the log has at least `minSize` entries, after `waitMs` (capped), or when
   * `signal` aborts (a stopping endpoint: no wait outlives it), whichever is first.
   */
  waitForSize(minSize: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (this.size >= minSize || waitMs <= 0 || signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done, { once: true });
      const check = (): void => {
        if (this.size >= minSize) done();
      };
      const timer = setTimeout(done, Math.min(waitMs, SEQUENCER_DEFAULTS.maxHeadWaitMs));
      this.#waiters.add(check);
    });
  }

  /** The entry at `index` when it is among the recent entries held in memory (no database read); undefined otherwise. */
  cachedEntry(index: number): IndexedEntry | undefined {
    if (!Number.isSafeInteger(index) || index < this.#cacheStart || index >= this.size) return undefined;
    return this.#cache[index - this.#cacheStart];
  }

  /**
   * Stops taking appends: new ones, those queued and those being written reject at once with
   * the sequencer-stopping refusal (UNAVAILABLE), without an error line (the endpoint's stop
   * counts them in one). A write in flight may still land: the caller's vote again then finds
   * the round decided, on whichever replica serves next.
   */
  stop(): void {
    this.#stopped = true;
    for (const q of [...this.#unsettled]) q.reject(sequencerStopping());
  }

  /** Times the head waiters were woken, and appends told with a wake already scheduled (coalesced into it). */
  wakeups(): { readonly wakes: number; readonly coalesced: number } {
    return { wakes: this.#wakes, coalesced: this.#coalesced };
  }

  /** RFC 9162 inclusion proof of `index` in the tree of `size` leaves; refuses sizes beyond the log. */
  inclusionProof(index: number, size: number): string[] {
    this.#checkRange(index, size, index < size);
    return this.#tree.inclusionProof(index, size);
  }

  /** RFC 9162 consistency proof from `oldSize` to `newSize`; refuses sizes beyond the log. */
  consistencyProof(oldSize: number, newSize: number): string[] {
    this.#checkRange(oldSize, newSize, oldSize <= newSize);
    return this.#tree.consistencyProof(oldSize, newSize);
  }

  /**
   * Entries [from, size) from the store, each with its inclusion proof in the tree of `size`
   * leaves. The proof comes from the in-memory tree, so an entry edited in the database no
   * longer matches its proof and partners detect it.
   */
  async *entries(from: number, size: number): AsyncGenerator<ProvenEntry> {
    this.#checkRange(from, size, from <= size);
    let expected = from;
    // Snapshot before any await: trimming replaces the array (pushes only append past `size`).
    const cache = this.#cache;
    const cacheStart = this.#cacheStart;
    const stored = Math.min(size, cacheStart);
    while (expected < stored) {
      const page = this.#pages.startOf(expected);
      const end = Math.min(stored, page + this.#pages.size);
      // A page reaching past the log (a cache smaller than a page) is read for this stream alone.
      const entries = page + this.#pages.size <= this.size ? (await this.#pages.page(page)).slice(expected - page, end - page) : this.#o.store.entries(expected, stored);
      for await (const entry of entries) {
        if (entry.index !== expected) throw new SequencerStateError(`log_entries is missing index ${expected}; restore it from a backup or a partner replica`);
        yield { entry, proof: this.#tree.inclusionProof(entry.index, size) };
        expected += 1;
      }
      if (expected < end) throw new SequencerStateError(`log_entries ends at ${expected}, before the requested size ${stored}`);
    }
    for (const entry of cache.slice(expected - cacheStart, size - cacheStart)) yield { entry, proof: this.#tree.inclusionProof(entry.index, size) };
  }

  /** Store pages read for streams behind the entry cache, and page requests another stream's read answered. */
  storePages(): { readonly reads: number; readonly shared: number } {
    return this.#pages.stats();
  }

  async #commit(queued: readonly QueuedAppend[]): Promise<void> {
    if (this.#stopped) {
      for (const q of queued) q.reject(sequencerStopping());
      return;
    }
    // An ADD or REJECT of an active indicator or a REVOKE of an inactive one (decided already, or earlier in this batch) is never appended.
    const active = new Map<string, boolean>();
    const batch = queued.filter((q) => {
      const { digest, kind } = q.round;
      const fresh = (active.get(digest) ?? this.#decided.has(digest)) === (kind === 'revoke');
      if (fresh) active.set(digest, kind === 'add');
      return fresh;
    });
    const start = this.size;
    const at = new Map(batch.map((q, i) => [q, start + i]));
    const rows = batch.map((q, i) => ({ entry: { ...q.body, index: start + i }, digest: q.round.digest }));
    try {
      await this.#o.store.insertEntries(rows);
      for (const { entry } of rows) this.#record(entry);
    } catch (err) {
      // Part of the batch may be stored: take back exactly what the database holds.
      await this.#reloadTail();
      // One line per failed write, not per round in it; a stop under the write is counted by the endpoint.
      if (!this.#stopped) this.#o.log.error('log append failed; its rounds stay open', { size: this.size, rounds: queued.length, first: queued[0]?.round.digest, last: queued.at(-1)?.round.digest, err });
    }
    for (const q of queued) {
      const mine = at.get(q);
      // A REJECT decides nothing later rounds look up: only its own position answers it.
      const index = mine !== undefined && mine < this.size ? mine : q.round.kind === 'reject' ? undefined : this.#decided.get(q.round.subject);
      if (index !== undefined) q.resolve(index);
      else q.reject(this.#stopped ? sequencerStopping() : new SequencerStateError(`could not store the entry for ${q.round.digest}; the round stays open: vote again to retry`));
    }
    if (this.size > start) {
      this.#o.log.info('entries appended', { from: start, to: this.size });
      this.#wake();
    }
  }

  // Wakes the waiters now if the last wake is older than the coalescing interval, else once at
  // its end: every follower then sees the same larger head and asks for the same entries.
  #wake(): void {
    if (this.#wakeTimer !== undefined) {
      this.#coalesced += 1;
      return;
    }
    const wait = this.#lastWake + (this.#o.headCoalesceMs ?? SEQUENCER_DEFAULTS.headCoalesceMs) - performance.now();
    const now = (): void => {
      this.#wakeTimer = undefined;
      this.#lastWake = performance.now();
      this.#wakes += 1;
      for (const w of [...this.#waiters]) w();
    };
    if (wait <= 0) now();
    // Unref'd: a pending wake must not keep a stopping process alive (its waiters time out on their own).
    else this.#wakeTimer = setTimeout(now, wait).unref();
  }

  async #reloadTail(): Promise<void> {
    try {
      for await (const e of this.#o.store.entries(this.size)) {
        if (e.index !== this.size) break;
        this.#record(e);
      }
    } catch (err) {
      if (!this.#stopped) this.#o.log.error('cannot re-read the log tail', { err });
    }
  }

  #record(entry: IndexedEntry): void {
    this.#tree.appendLeafHash(entryLeafHash(entry));
    const digest = indicatorDigest(entry.indicator);
    if (entry.kind !== 'reject') {
      this.#decided.delete(voteSubject(entry.kind === 'add' ? 'revoke' : 'add', digest));
      this.#decided.set(voteSubject(entry.kind, digest), entry.index);
    }
    if (entry.kind === 'add') this.#readmitFloor.delete(digest);
    else this.#readmitFloor.set(digest, readmissionFloor(entry));
    const limit = this.#o.entryCacheSize ?? SEQUENCER_DEFAULTS.entryCacheSize;
    if (limit === 0) {
      this.#cacheStart = this.size;
      return;
    }
    this.#cache.push(entry);
    // Trim in halves so trimming stays amortized O(1) per entry.
    if (this.#cache.length > 2 * limit) {
      const drop = this.#cache.length - limit;
      this.#cache = this.#cache.slice(drop);
      this.#cacheStart += drop;
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #checkRange(a: number, size: number, ordered: boolean): void {
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(size) || a < 0 || !ordered || size > this.size) {
      throw new ExchangeRefusal('out-of-range', 'out-of-range', `requested ${a} / tree size ${size}, but the log has ${this.size} entries; ask for a tree head first and stay within it`);
    }
  }
}

function checkRestored(opts: Pick<SequencerLogOptions, 'key' | 'retiredKeys'>, tree: MerkleLog, latest: SignedTreeHead | undefined): void {
  if (latest === undefined) return;
  const keys = keysValidAt({ publicKey: opts.key.publicKey, ...(opts.retiredKeys ? { retiredKeys: opts.retiredKeys } : {}) }, Date.parse(latest.timestamp));
  if (!keys.some((k) => verifyTreeHead(k, latest))) {
    throw new SequencerStateError(`the latest stored tree head (size ${latest.treeSize}, log id ${latest.logId}) is not validly signed by this sequencer's key ${opts.key.id}${opts.retiredKeys?.length ? ' nor by a retired key valid at its timestamp' : ''}; start the sequencer with the key that signed this log, or after a rotation list the old key under spec.retiredKeys of the sequencer's PartnerNode`);
  }
  if (latest.treeSize > tree.size) {
    throw new SequencerStateError(`the latest signed tree head covers ${latest.treeSize} entries but log_entries holds ${tree.size}; entries were lost: restore them from a backup or a partner replica`);
  }
  if (tree.rootHash(latest.treeSize) !== latest.rootHash) {
    throw new SequencerStateError(`the stored entries hash to root ${tree.rootHash(latest.treeSize)} at size ${latest.treeSize}, but the signed tree head says ${latest.rootHash}: log_entries was modified; restore it from a backup or a partner replica`);
  }
}

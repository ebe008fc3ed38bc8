/**
 * In-memory implementations of the exchange's persistence ports (domain/stores.ts) with the
 * same contract as the MongoDB ones: the log refuses a second entry at an index or a second
 * entry of one round (digest, kind, window start), keeps the first tree head of a size, and
 * lists entries by index; the round store keeps the first round of a subject and votes once per
 * (subject, partner, signing time); cursors replace each other. One contract test suite
 * (store/contract.ts) runs against both. Stored values are copies, so a caller that mutates
 * what it passed in or got back never changes the store. For unit tests and single-process use.
 */
import { indicatorDigest } from '../domain/canonical.ts';
import type { IndexedEntry } from '../domain/entry.ts';
import type { Vote } from '../domain/quorum.ts';
import type { CursorStore, EntryHistory, EntrySink, LeafStore, ReplicaCursor, SequencerLogStore, SequencerRoundStore, StoredRound, VerifiedEntry } from '../domain/stores.ts';
import { historyOf, type IndicatorHistory } from '../domain/verify.ts';
import type { SignedTreeHead } from '../domain/treehead.ts';

/** Thrown by the memory stores where MongoDB would answer E11000 (duplicate key). */
export class DuplicateKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DuplicateKeyError';
  }
}

/** {@link SequencerLogStore} in memory. */
export class MemoryLogStore implements SequencerLogStore {
  readonly #entries = new Map<number, IndexedEntry>();
  readonly #rounds = new Set<string>();
  readonly #heads = new Map<number, SignedTreeHead>();

  /** Inserts in order; stops at the first entry whose index or round is already stored (the ones before it stay stored). */
  insertEntries(entries: ReadonlyArray<{ readonly entry: IndexedEntry; readonly digest: string }>): Promise<void> {
    for (const { entry, digest } of entries) {
      const round = `${digest}\n${entry.kind}\n${entry.window.opensAt}`;
      if (this.#entries.has(entry.index)) return Promise.reject(new DuplicateKeyError(`log entry ${entry.index} is already stored`));
      if (this.#rounds.has(round)) return Promise.reject(new DuplicateKeyError(`the ${entry.kind} round of ${digest} opened at ${entry.window.opensAt} is already logged`));
      this.#entries.set(entry.index, structuredClone(entry));
      this.#rounds.add(round);
    }
    return Promise.resolve();
  }

  /** Entries with index in [from, to) in index order (to: all). */
  async *entries(from: number, to?: number): AsyncGenerator<IndexedEntry> {
    const indexes = [...this.#entries.keys()].filter((i) => i >= from && (to === undefined || i < to)).sort((a, b) => a - b);
    for (const i of indexes) {
      // One entry per turn of the event loop, as a database cursor delivers them.
      const e = await Promise.resolve(this.#entries.get(i));
      if (e !== undefined) yield structuredClone(e);
    }
  }

  /** Stores a signed tree head; a head of the same size already stored is kept (first one wins). */
  insertTreeHead(head: SignedTreeHead): Promise<void> {
    if (!this.#heads.has(head.treeSize)) this.#heads.set(head.treeSize, { ...head });
    return Promise.resolve();
  }

  /** The stored head with the largest tree size, if any. */
  latestTreeHead(): Promise<SignedTreeHead | undefined> {
    const largest = Math.max(-1, ...this.#heads.keys());
    const head = this.#heads.get(largest);
    return Promise.resolve(head === undefined ? undefined : { ...head });
  }

  /** Test hook: replaces the stored entry at `index` (tampering, as an attacker with database access would). */
  tamper(index: number, edit: (e: IndexedEntry) => IndexedEntry): void {
    const e = this.#entries.get(index);
    if (e !== undefined) this.#entries.set(index, edit(structuredClone(e)));
  }

  /** Test hook: forgets the stored entry at `index`. */
  drop(index: number): void {
    const e = this.#entries.get(index);
    if (e === undefined) return;
    this.#entries.delete(index);
    this.#rounds.delete(`${indicatorDigest(e.indicator)}\n${e.kind}\n${e.window.opensAt}`);
  }
}

/** {@link SequencerRoundStore} in memory. */
export class MemoryRoundStore implements SequencerRoundStore {
  readonly #rounds = new Map<string, StoredRound>();
  readonly #votes = new Map<string, Map<string, Vote>>();

  /** Every stored round with its votes, oldest window first. */
  loadRounds(): Promise<StoredRound[]> {
    const rounds = [...this.#rounds.values()]
      .sort((a, b) => (a.window.opensAt < b.window.opensAt ? -1 : a.window.opensAt > b.window.opensAt ? 1 : 0))
      .map((r) => structuredClone({ ...r, votes: [...r.votes, ...(this.#votes.get(r.subject)?.values() ?? [])] }));
    return Promise.resolve(rounds);
  }

  /** Stores a new round; one already stored under the subject is kept. */
  saveRound(round: StoredRound): Promise<void> {
    if (!this.#rounds.has(round.subject)) this.#rounds.set(round.subject, structuredClone(round));
    return Promise.resolve();
  }

  /** Stores a counted vote of an open round (idempotent per partner and signing time). */
  saveVote(subject: string, vote: Vote): Promise<void> {
    const votes = this.#votes.get(subject) ?? new Map<string, Vote>();
    const key = `${vote.partnerId}/${vote.signedAt}`;
    if (!votes.has(key)) votes.set(key, { ...vote });
    this.#votes.set(subject, votes);
    return Promise.resolve();
  }

  /** Removes a decided or expired round and its votes. */
  deleteRound(subject: string): Promise<void> {
    this.#rounds.delete(subject);
    this.#votes.delete(subject);
    return Promise.resolve();
  }
}

/** {@link CursorStore} in memory. */
export class MemoryCursorStore implements CursorStore {
  readonly #cursors = new Map<string, ReplicaCursor>();

  /** The cursor of `sourceId`, if one was saved. */
  load(sourceId: string): Promise<ReplicaCursor | undefined> {
    const c = this.#cursors.get(sourceId);
    return Promise.resolve(c === undefined ? undefined : structuredClone(c));
  }

  /** Replaces the cursor of `sourceId`. */
  save(sourceId: string, cursor: ReplicaCursor): Promise<void> {
    this.#cursors.set(sourceId, structuredClone(cursor));
    return Promise.resolve();
  }

  /** Clears a halt after an operator has investigated it, keeping the position. */
  clearHalt(sourceId: string): Promise<void> {
    const c = this.#cursors.get(sourceId);
    if (c !== undefined) {
      const { halted: _cleared, ...rest } = c;
      this.#cursors.set(sourceId, rest);
    }
    return Promise.resolve();
  }
}

/** A partner's applied entries in memory: the sink the replica writes and the history it checks new entries against. */
export class MemoryIndicatorStore implements EntrySink, EntryHistory {
  /** Every entry applied, in order (replays included, as a sink sees them). */
  readonly applied: VerifiedEntry[] = [];
  readonly #latest = new Map<string, IndicatorHistory>();

  /** Records one applied entry. */
  apply(entry: VerifiedEntry): Promise<void> {
    this.applied.push(entry);
    this.#latest.set(entry.digest, historyOf(entry));
    return Promise.resolve();
  }

  /** The latest entry applied for each of `digests`. */
  lastEntries(digests: readonly string[]): Promise<ReadonlyMap<string, IndicatorHistory>> {
    return Promise.resolve(new Map(digests.flatMap((d) => {
      const h = this.#latest.get(d);
      return h === undefined ? [] : [[d, h] as const];
    })));
  }
}

/** {@link LeafStore} in memory. */
export class MemoryLeafStore implements LeafStore {
  readonly #hashes: string[] = [];

  size(): Promise<number> {
    return Promise.resolve(this.#hashes.length);
  }

  append(from: number, hashes: readonly string[]): Promise<void> {
    if (from > this.#hashes.length) return Promise.reject(new Error(`the leaf store has ${this.#hashes.length} leaves; cannot store index ${from}`));
    this.#hashes.splice(from, hashes.length, ...hashes);
    return Promise.resolve();
  }

  range(from: number, to: number): Promise<string[]> {
    if (to > this.#hashes.length) return Promise.reject(new Error(`the leaf store has ${this.#hashes.length} leaves, not ${to}`));
    return Promise.resolve(this.#hashes.slice(from, Math.max(from, to)));
  }

  clear(): Promise<void> {
    this.#hashes.length = 0;
    return Promise.resolve();
  }
}

/**
 * The persistence ports of the partner exchange, pure interfaces: what the sequencer needs from
 * its log and round stores, and what a partner's replica needs from its cursor store and its
 * sinks. store/ implements them over MongoDB and in memory (one contract test suite runs
 * against both); the sequencer and the replica depend on these interfaces only.
 */
import type { EntryKind, EntryWindow, IndexedEntry } from './entry.ts';
import type { Vote } from './quorum.ts';
import type { SignedTreeHead } from './treehead.ts';
import type { IndicatorHistory, Violation } from './verify.ts';

/** Persistence the sequencer needs (store/log.ts MongoLogStore, store/memory.ts MemoryLogStore). */
export interface SequencerLogStore {
  /** Inserts consecutive entries in order; on failure a prefix may be stored (the sequencer re-reads the tail). */
  insertEntries(entries: ReadonlyArray<{ readonly entry: IndexedEntry; readonly digest: string }>): Promise<void>;
  entries(from: number, to?: number): AsyncIterable<IndexedEntry>;
  insertTreeHead(head: SignedTreeHead): Promise<void>;
  latestTreeHead(): Promise<SignedTreeHead | undefined>;
}

/** A pending round as persisted: what a restarted sequencer needs to continue it. */
export interface StoredRound {
  readonly subject: string;
  readonly kind: EntryKind;
  readonly indicatorJson: string;
  /** The proposal's meta_json; absent or empty when it carried no metadata. */
  readonly metaJson?: string;
  readonly proposerId: string;
  readonly signature: string;
  /** Protocol v2: the batch proposal's proof; absent for a single proposal. */
  readonly batch?: string;
  readonly window: EntryWindow;
  readonly votes: readonly Vote[];
}

/** Persistence of open rounds (store/rounds.ts MongoRoundStore, store/memory.ts MemoryRoundStore). Without it, rounds live in memory only. */
export interface SequencerRoundStore {
  loadRounds(): Promise<StoredRound[]>;
  saveRound(round: StoredRound): Promise<void>;
  saveVote(subject: string, vote: Vote): Promise<void>;
  deleteRound(subject: string): Promise<void>;
}

/** An entry that passed every check, with its indicator digest. */
export interface VerifiedEntry extends IndexedEntry {
  readonly digest: string;
  /** Its RFC 9162 leaf hash (hex), as verified in the signed tree. */
  readonly leafHash?: string;
}

/**
 * Where verified entries go: the partner's MongoDB (store/indicators.ts) or its cluster's
 * ThreatIndicator objects. `apply` must be idempotent: after a crash the same entry may be
 * applied again, and entries always arrive in log order.
 */
export interface EntrySink {
  apply(entry: VerifiedEntry): Promise<void>;
  /** Optional batch form with the same contract, for sinks that can write many entries in one round trip. */
  applyMany?(entries: readonly VerifiedEntry[]): Promise<void>;
}

/** Why a source was abandoned, persisted with the cursor. */
export interface HaltRecord extends Violation {
  readonly at: string;
}

/**
 * Replication progress from one source: entries below `nextIndex` are applied, `head` is the
 * latest tree head verified consistent with every earlier accepted head (entries below
 * `nextIndex` are all in it).
 */
export interface ReplicaCursor {
  readonly nextIndex: number;
  readonly head?: SignedTreeHead;
  readonly halted?: HaltRecord;
}

/** Persistence of cursors (store/cursor.ts implements it over MongoDB). */
export interface CursorStore {
  load(sourceId: string): Promise<ReplicaCursor | undefined>;
  save(sourceId: string, cursor: ReplicaCursor): Promise<void>;
}

/**
 * What a partner's replica reads back of what it applied: per indicator digest, the latest
 * entry's kind, index and window (store/indicators.ts over the partner's MongoDB, store/memory.ts).
 * The replica checks every new entry against it (domain/verify.ts checkHistory).
 */
export interface EntryHistory {
  /** The history of each digest among `digests` that has one. */
  lastEntries(digests: readonly string[]): Promise<ReadonlyMap<string, IndicatorHistory>>;
}

/**
 * The leaf hashes of every entry a partner verified, by log index: enough to recompute any
 * earlier root of the log and to prove consistency between two sizes without the sequencer, so
 * a partner can settle a comparison of tree heads with a peer when the sequencer refuses a proof
 * (store/leaves.ts over MongoDB, store/memory.ts).
 */
export interface LeafStore {
  /** Number of leaves stored: every index below it has its hash. */
  size(): Promise<number>;
  /** Stores `hashes` (hex) at indexes `from`, `from + 1`, …; idempotent, overwrites those positions; `from` must not exceed size(). */
  append(from: number, hashes: readonly string[]): Promise<void>;
  /** The hashes of indexes [from, to) (to at most size()). */
  range(from: number, to: number): Promise<string[]>;
  /** Forgets every leaf (a replica rebuilt from scratch). */
  clear(): Promise<void>;
}

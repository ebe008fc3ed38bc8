/**
 * A partner's replica of the sequencer's log: pulls signed tree heads and entries from its
 * cursor, verifies each step (tree-head signature, consistency with the last accepted head,
 * leaf inclusion, quorum certificate, proposer signature) and only then applies the entry
 * through an {@link EntrySink}. Any failed check halts replication from that source, persists
 * the typed reason in the cursor, and every later sync refuses until an operator clears it.
 */
import type { SignedTreeHead } from '../../domain/treehead.ts';
import type { Logger } from '../../log.ts';
import { jitteredBackoff } from '../../runtime/ratelimit.ts';
import { entryLeafHash } from '../../domain/entry.ts';
import { verifyInclusion } from '../../domain/merkle.ts';
import type { CursorStore, EntryHistory, EntrySink, HaltRecord, LeafStore, ReplicaCursor, VerifiedEntry } from '../../domain/stores.ts';
import { comparePeerHead, consistencyProofFromLeaves, type PeerOutcome } from './peers.ts';
import { EntryVerifier } from './verifier.ts';
import { OrderedWriter, chunks } from './writer.ts';
import { checkConsistency, checkTreeHead, type HaltReason, type TrustAnchors, type Violation } from '../../domain/verify.ts';
import type { WireEntryResult } from '../protocol/wire.ts';
import { PARTNER_DEFAULTS } from './defaults.ts';

/** Where entries come from (the sequencer's client implements it). Nothing it returns is trusted. */
export interface LogSource {
  treeHead(minTreeSize: number, waitMs: number): Promise<SignedTreeHead>;
  consistencyProof(oldSize: number, newSize: number): Promise<string[]>;
  entries(from: number, treeSize: number): AsyncIterable<WireEntryResult>;
}






/** Thrown when replication from a source is halted; `reason` says which check failed. */
export class ReplicationHalted extends Error {
  /** The failed check. */
  readonly reason: HaltReason;
  /** The entry at fault, when one is. */
  readonly index: number | undefined;
  constructor(record: Violation) {
    super(record.message);
    this.name = 'ReplicationHalted';
    this.reason = record.reason;
    this.index = record.index;
  }
}

/** What one sync did. */
export interface SyncResult {
  readonly applied: number;
  readonly treeSize: number;
  readonly rootHash: string;
  /** True when every entry of the accepted head is applied. */
  readonly caughtUp: boolean;
}

/** Everything a replica is built from. */
export interface PartnerReplicaOptions {
  /** Names the source in the cursor store (one cursor per sequencer). */
  readonly sourceId: string;
  readonly source: LogSource;
  readonly sink: EntrySink;
  readonly cursors: CursorStore;
  readonly anchors: TrustAnchors;
  readonly now: () => Date;
  readonly log: Logger;
  /** Apply and save the cursor after this many verified entries (and at the end of each sync). @default PARTNER_DEFAULTS.checkpointEvery */
  readonly checkpointEvery?: number;
  /** When a sync starts more than this many entries behind, it applies them in batches of this many instead (never fewer than `checkpointEvery`). @default PARTNER_DEFAULTS.catchUpEvery */
  readonly catchUpEvery?: number;
  /** What was applied before, per indicator (the partner's MongoDB sink): every entry is checked against it. @default none (only entries of the same sync are known) */
  readonly history?: EntryHistory;
  /** Keeps the leaf hash of every verified entry, to settle head comparisons with peers without the sequencer. @default none */
  readonly leaves?: LeafStore;
}

/** How {@link PartnerReplica.run} paces itself. */
export interface RunOptions {
  readonly signal: AbortSignal;
  /** Long-poll of each sync for new entries. @default PARTNER_DEFAULTS.waitMs */
  readonly waitMs?: number;
  /** Backoff after transport errors. @default PARTNER_DEFAULTS.retryBaseMs */
  readonly baseMs?: number;
  /** @default PARTNER_DEFAULTS.retryCapMs */
  readonly capMs?: number;
  readonly random?: () => number;
  /** Told about each failed sync before the backoff (not halts). @default none */
  readonly onFailure?: (err: unknown, failures: number) => void;
  /** Told when a sync succeeds after failures. @default none */
  readonly onRecovered?: () => void;
  /** A warning naming the step is logged every this often while one step of a sync waits this long. @default PARTNER_DEFAULTS.slowSyncMs */
  readonly slowSyncMs?: number;
}


/** What a sync waits on: named by the warning a slow sync logs, so a stall says where it is. */
export type SyncPhase = 'cursor read' | 'tree head' | 'consistency proof' | 'cursor save' | 'leaf backfill' | 'entry stream' | 'history read' | 'batch write';

/** One partner's replication from one sequencer. */
export class PartnerReplica {
  readonly #o: PartnerReplicaOptions;
  // What the sync in progress waits on, and since when (the slow-sync warning names it).
  #phase: { name: SyncPhase; since: number; at: number | undefined } | undefined;

  constructor(opts: PartnerReplicaOptions) {
    this.#o = opts;
  }

  /** The persisted cursor (nextIndex 0 when none). */
  async cursor(): Promise<ReplicaCursor> {
    return (await this.#o.cursors.load(this.#o.sourceId)) ?? { nextIndex: 0 };
  }

  /**
   * Fetches the latest tree head (waiting up to `waitMs` for one beyond the cursor), verifies
   * it, then pulls, verifies and applies every entry up to it. Throws
   * {@link ReplicationHalted} on a failed check (now and on every later call) and ordinary
   * errors for transport failures (retry later: the cursor only moves past applied entries).
   */
  async sync(waitMs = 0): Promise<SyncResult> {
    try {
      return await this.#sync(waitMs);
    } finally {
      this.#phase = undefined;
    }
  }

  async #sync(waitMs: number): Promise<SyncResult> {
    const start = await this.#in('cursor read', undefined, () => this.cursor());
    if (start.halted !== undefined) throw new ReplicationHalted(start.halted);
    // The long poll waits on purpose: it is not timed as a stall.
    const head = await this.#in('tree head', start.nextIndex, () => this.#o.source.treeHead(start.nextIndex + 1, waitMs), waitMs);
    await this.#check(start, checkTreeHead(this.#o.anchors, head));
    const accepted = start.head;
    const needsProof = accepted !== undefined && head.treeSize > accepted.treeSize && accepted.treeSize > 0;
    const proof = needsProof ? await this.#in('consistency proof', start.nextIndex, () => this.#o.source.consistencyProof(accepted.treeSize, head.treeSize)) : [];
    await this.#check(start, checkConsistency(accepted, head, proof));
    if (accepted === undefined || accepted.treeSize !== head.treeSize) await this.#in('cursor save', start.nextIndex, () => this.#o.cursors.save(this.#o.sourceId, { nextIndex: start.nextIndex, head }));
    await this.#in('leaf backfill', start.nextIndex, () => this.#backfillLeaves(start, head));
    const { applied, cursor } = await this.#pull(start, head);
    if (applied > 0) this.#o.log.info('replicated', { source: this.#o.sourceId, applied, treeSize: head.treeSize, rootHash: head.rootHash });
    return { applied, treeSize: head.treeSize, rootHash: head.rootHash, caughtUp: cursor.nextIndex === head.treeSize };
  }

  /**
   * Streams, verifies and applies the entries [start.nextIndex, head.treeSize) in batches (larger
   * when far behind): the write of one verified batch overlaps the verification of the next,
   * and the cursor moves only past written entries. Halts at the first entry that fails a
   * check, after writing the ones before it.
   */
  async #pull(start: ReplicaCursor, head: SignedTreeHead): Promise<{ applied: number; cursor: ReplicaCursor }> {
    let cursor: ReplicaCursor = { nextIndex: start.nextIndex, head };
    let applied = 0;
    if (cursor.nextIndex >= head.treeSize) return { applied, cursor };
    const verifier = new EntryVerifier({ anchors: this.#o.anchors, head, accepted: start.head, from: cursor.nextIndex, ...(this.#o.history !== undefined ? { history: this.#o.history } : {}) });
    const writer = new OrderedWriter<VerifiedEntry>(async (entries) => {
      // The leaves are verified already: storing them beside the records (not after) is safe, and
      // only the cursor, saved after both, says the batch is applied. Both settle before a
      // failure surfaces, so no write outlives the sync.
      const done = await Promise.allSettled([this.#apply(entries), this.#o.leaves?.append(entries[0]!.index, entries.map((e) => e.leafHash ?? entryLeafHash(e)))]);
      for (const d of done) if (d.status === 'rejected') throw d.reason;
      applied += entries.length;
      cursor = { nextIndex: entries[entries.length - 1]!.index + 1, head };
      await this.#o.cursors.save(this.#o.sourceId, cursor);
    });
    try {
      this.#enter('entry stream', cursor.nextIndex);
      for await (const raw of chunks(this.#o.source.entries(cursor.nextIndex, head.treeSize), this.#batchSize(head.treeSize - cursor.nextIndex))) {
        const { entries, violation } = await this.#in('history read', cursor.nextIndex, () => verifier.verify(raw));
        await this.#in('batch write', cursor.nextIndex, () => writer.push(entries));
        this.#enter('entry stream', cursor.nextIndex);
        verifier.written(cursor.nextIndex);
        if (violation !== undefined) {
          await this.#in('batch write', cursor.nextIndex, () => writer.drain());
          return this.#halt(cursor, violation);
        }
      }
      await this.#in('batch write', cursor.nextIndex, () => writer.drain());
    } catch (err) {
      // No write may outlive this sync: the next one starts from the persisted cursor.
      await writer.settle();
      throw err;
    }
    return { applied, cursor };
  }

  // Partners upgraded from before the leaf store: the leaves of entries already applied come from
  // the source, each checked for inclusion in the (verified) head, before new entries are pulled.
  async #backfillLeaves(start: ReplicaCursor, head: SignedTreeHead): Promise<void> {
    const leaves = this.#o.leaves;
    if (leaves === undefined) return;
    const have = await leaves.size();
    if (have >= start.nextIndex) return;
    this.#o.log.info('recording the leaf hashes of entries applied before', { source: this.#o.sourceId, from: have, to: start.nextIndex });
    let next = have;
    for await (const raw of chunks(this.#o.source.entries(have, start.nextIndex), this.#o.checkpointEvery ?? PARTNER_DEFAULTS.checkpointEvery)) {
      const hashes: string[] = [];
      for (const item of raw) {
        const leaf = item.ok && item.entry.index === next ? entryLeafHash(item.entry) : undefined;
        if (leaf === undefined || !item.ok || !verifyInclusion(leaf, next, head.treeSize, item.proof, head.rootHash)) {
          return this.#halt(start, { reason: 'tampered-entry', index: next, message: `entry ${next}, applied before, is not the leaf at that index of the signed tree of size ${head.treeSize}` });
        }
        hashes.push(leaf);
        next += 1;
      }
      await leaves.append(next - hashes.length, hashes);
    }
  }

  /**
   * Checks a tree head another partner accepted from the same sequencer against this
   * partner's accepted head (peers.ts comparePeerHead): halts with `fork` on proven
   * equivocation; throws {@link BadPeerHead} for a head the sequencer did not sign (the peer's
   * fault, no halt); returns `suspected` when the sequencer refuses the proof and nothing else
   * settles it. `peerProof` asks the peer for a proof from its own verified leaves.
   */
  async compareWithPeer(theirs: SignedTreeHead, peerProof?: (oldSize: number, newSize: number) => Promise<string[]>): Promise<PeerOutcome> {
    const cursor = await this.cursor();
    if (cursor.halted !== undefined) throw new ReplicationHalted(cursor.halted);
    const mine = cursor.head;
    if (mine === undefined) return { status: 'consistent', settledBy: 'equal' };
    const outcome = await comparePeerHead({
      anchors: this.#o.anchors, mine, theirs, sequencerProof: (a, b) => this.#o.source.consistencyProof(a, b),
      ...(this.#o.leaves !== undefined ? { leaves: this.#o.leaves } : {}), ...(peerProof !== undefined ? { peerProof } : {}),
    });
    if ('reason' in outcome) return this.#halt(cursor, outcome);
    return outcome;
  }

  /** The consistency proof between two sizes from this partner's verified leaves (what it answers a peer); throws when it has not verified that many. */
  consistencyProofFromLeaves(oldSize: number, newSize: number): Promise<string[]> {
    if (this.#o.leaves === undefined) return Promise.reject(new Error('this partner keeps no leaf hashes'));
    return consistencyProofFromLeaves(this.#o.leaves, oldSize, newSize);
  }

  /**
   * Syncs until `signal` aborts: each sync long-polls the source for `waitMs`; transport
   * errors are retried with capped exponential backoff. Rejects with {@link ReplicationHalted}
   * when a check fails (the caller raises the condition, Event and metric).
   */
  async run(opts: RunOptions): Promise<void> {
    const unwatch = this.#watch(opts.slowSyncMs ?? PARTNER_DEFAULTS.slowSyncMs, opts.signal);
    try {
      await this.#loop(opts);
    } finally {
      unwatch();
    }
  }

  async #loop(opts: RunOptions): Promise<void> {
    let failures = 0;
    while (!opts.signal.aborted) {
      try {
        await this.sync(opts.waitMs ?? PARTNER_DEFAULTS.waitMs);
        if (failures > 0) opts.onRecovered?.();
        failures = 0;
      } catch (err) {
        if (err instanceof ReplicationHalted) throw err;
        // A stop (the session rebuilt for a changed directory, shutdown) ends the poll: no failure.
        if (opts.signal.aborted) return;
        failures += 1;
        opts.onFailure?.(err, failures);
        const delay = jitteredBackoff(failures, opts.baseMs ?? PARTNER_DEFAULTS.retryBaseMs, opts.capMs ?? PARTNER_DEFAULTS.retryCapMs, opts.random ?? Math.random);
        this.#o.log.warn('sync failed; retrying', { source: this.#o.sourceId, failures, delayMs: delay, err });
        await abortableSleep(delay, opts.signal);
      }
    }
  }


  #enter(name: SyncPhase, at: number | undefined, graceMs = 0): void {
    this.#phase = { name, since: Date.now() + graceMs, at };
  }

  async #in<T>(name: SyncPhase, at: number | undefined, work: () => Promise<T>, graceMs = 0): Promise<T> {
    this.#enter(name, at, graceMs);
    return work();
  }

  /** Warns, every `everyMs`, while one phase of the sync in progress has waited longer than `everyMs`: a stall names what it waits on. */
  #watch(everyMs: number, signal: AbortSignal): () => void {
    const timer = setInterval(() => {
      const p = this.#phase;
      if (signal.aborted || p === undefined) return;
      const waited = Date.now() - p.since;
      if (waited >= everyMs) this.#o.log.warn('replica sync slow: waiting on one step', { source: this.#o.sourceId, phase: p.name, waitedMs: waited, ...(p.at !== undefined ? { nextIndex: p.at } : {}) });
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  // Far behind (a new partner, a long outage), larger batches: fewer commands and cursor saves per entry.
  #batchSize(behind: number): number {
    const every = this.#o.checkpointEvery ?? PARTNER_DEFAULTS.checkpointEvery;
    const catchUp = this.#o.catchUpEvery ?? PARTNER_DEFAULTS.catchUpEvery;
    return behind > catchUp ? Math.max(every, catchUp) : every;
  }

  async #apply(batch: readonly VerifiedEntry[]): Promise<void> {
    if (this.#o.sink.applyMany !== undefined) {
      await this.#o.sink.applyMany(batch);
      return;
    }
    for (const entry of batch) await this.#o.sink.apply(entry);
  }

  async #check(cursor: ReplicaCursor, violation: Violation | undefined): Promise<void> {
    if (violation !== undefined) await this.#halt(cursor, violation);
  }

  async #halt(cursor: ReplicaCursor, violation: Violation): Promise<never> {
    const halted: HaltRecord = { ...violation, at: this.#o.now().toISOString() };
    await this.#o.cursors.save(this.#o.sourceId, { ...cursor, halted });
    this.#o.log.error('replication halted', { source: this.#o.sourceId, reason: violation.reason, index: violation.index, detail: violation.message });
    throw new ReplicationHalted(violation);
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

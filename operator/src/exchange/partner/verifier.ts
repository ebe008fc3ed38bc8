/**
 * Verifies the entries of one sync in log order, in batches: each entry must decode, come at the
 * next expected index and pass the stateless checks (domain/verify.ts checkEntry: inclusion in
 * the signed head, quorum certificate, proposer signature), its voting window (checkWindow) and
 * its indicator's history (checkHistory) as applied before this sync (read once per batch from
 * the {@link EntryHistory}) or by earlier entries of this sync (kept here until they are written).
 * History stored for an index at or past the sync's start was written by an interrupted earlier
 * attempt at the same entries: it is not history before them, so it is not held against them.
 */
import { indicatorDigest } from '../../domain/canonical.ts';
import type { EntryHistory, VerifiedEntry } from '../../domain/stores.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { checkEntry, checkHistory, checkWindow, historyOf, type IndicatorHistory, type TrustAnchors, type Violation } from '../../domain/verify.ts';
import type { WireEntryResult } from '../protocol/wire.ts';

/** The entries of a batch that passed, in order, and the violation that stopped it, if any. */
export interface VerifiedBatch {
  readonly entries: readonly VerifiedEntry[];
  readonly violation?: Violation;
}

/** What a verifier checks entries against. */
export interface VerifierOptions {
  readonly anchors: TrustAnchors;
  /** The head the entries are proven in. */
  readonly head: SignedTreeHead;
  /** The head accepted before this sync (entries beyond its size were appended after it was signed). */
  readonly accepted: SignedTreeHead | undefined;
  /** What was applied before. @default none (only this sync's entries are known) */
  readonly history?: EntryHistory;
  /** Index of the first entry expected. */
  readonly from: number;
}

/** One sync's verifier. */
export class EntryVerifier {
  readonly #o: VerifierOptions;
  // Indicators whose latest entry was verified in this sync and may not be written yet.
  readonly #recent = new Map<string, IndicatorHistory>();
  // Indicators whose stored history is at or past `from`: written by an earlier attempt of this
  // range that failed before its cursor was saved (a crash, a failed write), so not "before" it.
  readonly #ahead = new Set<string>();
  #expected: number;

  constructor(opts: VerifierOptions) {
    this.#o = opts;
    this.#expected = opts.from;
  }

  /** Verifies `items` in order; stops at the first violation (the entries before it passed). */
  async verify(items: readonly WireEntryResult[]): Promise<VerifiedBatch> {
    const known = await this.#lookup(items);
    const entries: VerifiedEntry[] = [];
    for (const item of items) {
      const checked = this.#one(item, known);
      if ('reason' in checked) return { entries, violation: checked };
      entries.push(checked);
    }
    return { entries };
  }

  /** Forgets what entries below `nextIndex` taught: they are written, the history store has them. */
  written(nextIndex: number): void {
    for (const [digest, h] of this.#recent) if (h.index < nextIndex) this.#recent.delete(digest);
  }

  #one(item: WireEntryResult, known: Map<string, IndicatorHistory>): VerifiedEntry | Violation {
    if (!item.ok) return { reason: 'malformed-entry', message: item.message, index: item.index };
    const { entry, proof } = item;
    if (entry.index !== this.#expected) return { reason: 'out-of-order', message: `expected entry ${this.#expected}, the source sent ${entry.index}`, index: entry.index };
    const checked = checkEntry(this.#o.anchors, this.#o.head, entry, proof);
    if ('reason' in checked) return checked;
    const window = checkWindow(this.#o.anchors, entry, this.#o.accepted);
    if (window !== undefined) return window;
    // Without a history store, an indicator this sync has not seen is unknown, not "never admitted";
    // so is one whose stored history an interrupted earlier attempt of these entries wrote (each
    // entry is bound to its index by the inclusion proof, and passed these checks that time).
    const unknown = (this.#o.history === undefined && !known.has(checked.digest)) || this.#ahead.delete(checked.digest);
    const history = unknown ? undefined : checkHistory(this.#o.anchors, entry, known.get(checked.digest));
    if (history !== undefined) return history;
    const h = historyOf(entry);
    known.set(checked.digest, h);
    this.#recent.set(checked.digest, h);
    this.#expected += 1;
    return { ...entry, digest: checked.digest, leafHash: checked.leafHash };
  }

  // The history of every indicator of the batch: this sync's first, then the store's (one read).
  async #lookup(items: readonly WireEntryResult[]): Promise<Map<string, IndicatorHistory>> {
    const digests = [...new Set(items.flatMap((i) => (i.ok ? [indicatorDigest(i.entry.indicator)] : [])))];
    const known = new Map<string, IndicatorHistory>();
    const missing = digests.filter((d) => {
      const h = this.#recent.get(d);
      if (h !== undefined) known.set(d, h);
      return h === undefined;
    });
    if (missing.length > 0 && this.#o.history !== undefined) {
      for (const [d, h] of await this.#o.history.lastEntries(missing)) {
        if (h.index < this.#o.from) known.set(d, h);
        else this.#ahead.add(d);
      }
    }
    return known;
  }
}

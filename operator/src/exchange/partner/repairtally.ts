/**
 * What one drift repair found, record by record, and its `drift repair` log line
 * (docs/adr/2026-12-07-chaos-drift-repairs.md): each restored or corrected object is a divergence
 * to explain, so the line names the first ones (the counts are always whole) and says how many
 * corrections replaced the spec (another uid) rather than patching owned status fields. Split
 * from kubesink.ts, which does the writes.
 */

/** What `KubeIndicatorSink.ensure` (kubesink.ts) did to one object. */
export type EnsureOutcome = 'created' | 'corrected' | 'unchanged';

/** What one drift repair did. */
export interface RepairReport {
  /** Objects that were missing and were created again. */
  readonly restored: number;
  /** Objects whose spec or owned status fields differed from the log and were rewritten. */
  readonly corrected: number;
  readonly unchanged: number;
  /** Records that cannot be rebuilt: stored without window and proposal signature, or revoked without the revocation certificate. */
  readonly skipped: number;
  /** Names of Approved objects with no record in the log (reported, not deleted). */
  readonly unlogged: readonly string[];
}

/** Names of restored (and of corrected) objects a drift repair's log line carries at most (the counts are always whole). */
export const RESTORED_NAMES_LOGGED = 20;

/** Counts and names of one drift repair's outcomes. */
export class RepairTally {
  readonly counts = { restored: 0, corrected: 0, unchanged: 0, skipped: 0 };
  #failed = 0;
  #recreated = 0;
  readonly #restoredNames: string[] = [];
  readonly #correctedNames: string[] = [];

  /** Counts one record's outcome on object `name`; `sameObject` is false when the object's uid changed (it was recreated). */
  add(name: string, outcome: EnsureOutcome | 'skipped', sameObject: boolean): void {
    this.counts[outcome === 'created' ? 'restored' : outcome] += 1;
    if (outcome === 'created' && this.#restoredNames.length < RESTORED_NAMES_LOGGED) this.#restoredNames.push(name);
    if (outcome !== 'corrected') return;
    if (this.#correctedNames.length < RESTORED_NAMES_LOGGED) this.#correctedNames.push(name);
    if (!sameObject) this.#recreated += 1;
  }

  /** Counts one record whose write failed. */
  fail(): void {
    this.#failed += 1;
  }

  /** The log line's fields besides the namespace and `unlogged`. */
  fields(): Record<string, unknown> {
    return {
      ...this.counts, failed: this.#failed,
      ...(this.#restoredNames.length > 0 ? { restoredNames: [...this.#restoredNames].sort() } : {}),
      ...(this.counts.corrected > 0 ? { recreated: this.#recreated, correctedNames: [...this.#correctedNames].sort() } : {}),
    };
  }
}

/**
 * The sequencer's open rounds by subject, in opening order, with a count per proposer so the
 * round quota is checked in constant time whatever the number of open rounds.
 */
import type { Vote } from '../../domain/quorum.ts';
import type { PendingRound } from '../protocol/messages.ts';

/** An open round and the votes counted so far, by partner id. */
export interface Round extends PendingRound {
  readonly votes: Map<string, Vote>;
}

/** Open rounds by subject (insertion order = opening order), counted per proposer. */
export class PendingRounds {
  readonly #bySubject = new Map<string, Round>();
  readonly #perProposer = new Map<string, number>();

  /** Number of open rounds. */
  get size(): number {
    return this.#bySubject.size;
  }

  /** The open round of `subject`, if any. */
  get(subject: string): Round | undefined {
    return this.#bySubject.get(subject);
  }

  /** Opens (or puts back) a round; it goes last in opening order. */
  set(subject: string, round: Round): void {
    this.delete(subject);
    this.#bySubject.set(subject, round);
    this.#perProposer.set(round.proposerId, this.openBy(round.proposerId) + 1);
  }

  /** Drops the round of `subject`; false when there was none. */
  delete(subject: string): boolean {
    const round = this.#bySubject.get(subject);
    if (round === undefined) return false;
    this.#bySubject.delete(subject);
    const left = this.openBy(round.proposerId) - 1;
    if (left > 0) this.#perProposer.set(round.proposerId, left);
    else this.#perProposer.delete(round.proposerId);
    return true;
  }

  /** How many rounds `proposerId` has open. */
  openBy(proposerId: string): number {
    return this.#perProposer.get(proposerId) ?? 0;
  }

  /** Open rounds in opening order. */
  values(): IterableIterator<Round> {
    return this.#bySubject.values();
  }

  /** [subject, round] in opening order. */
  [Symbol.iterator](): IterableIterator<[string, Round]> {
    return this.#bySubject[Symbol.iterator]();
  }
}

/** The optional `batch` member of a round: present only for a batch proposal. */
export function batchOf(batch: string | undefined): { readonly batch?: string } {
  return batch === undefined ? {} : { batch };
}

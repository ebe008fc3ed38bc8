/**
 * Round persistence of the sequencer: writes open rounds and their counted votes to the
 * {@link SequencerRoundStore}, tracks each save until it settles, deletes decided rounds, and
 * reads the stored rounds back at start (re-verified as if proposed now). Without a round store
 * it keeps nothing (rounds live in memory only). It also appends decided rounds to the log
 * ({@link SequencerLog}) and tracks those appends while in flight, so the same round is not
 * decided twice meanwhile.
 *
 * A save in flight is tracked by subject (a round) or by subject and voter (a vote): nothing is
 * acknowledged (not even as already-pending or duplicate to a caller's retry) or listed before
 * it is stored, because a failed save drops it again and nobody would propose or vote a second
 * time (closing-stop25 "Found 4"). The sequencer asks {@link RoundSaves.roundInFlight} and
 * {@link RoundSaves.voteInFlight} and makes a retry wait for the save.
 */
import { everyKey } from '../../domain/keys.ts';
import { verifyVote, type Vote, type Voter } from '../../domain/quorum.ts';
import { metaJson, parseIndicatorJson, parseMetaJson, voteSubject } from '../../domain/entry.ts';
import { verifySignedProposal } from '../../domain/proposalbatch.ts';
import type { SequencerRoundStore, StoredRound } from '../../domain/stores.ts';
import type { Logger } from '../../log.ts';
import type { EntryBody } from '../../domain/entry.ts';
import { isSequencerStopping } from '../protocol/errors.ts';
import type { SequencerLog } from './log.ts';
import { batchOf, type Round } from './pending.ts';

/** What {@link RoundSaves} is built from. */
export interface RoundSavesOptions {
  /** Keeps open rounds across restarts. @default none (round and vote saves are no-ops) */
  readonly rounds?: SequencerRoundStore;
  /** The log decided rounds are appended to. */
  readonly entries: SequencerLog;
  readonly log: Logger;
}

/** How {@link RoundSaves.restore} re-verifies a stored round: the directory now, and where a vote verified with a key is remembered. */
export interface RestoreChecks {
  /** The sequencer's partners by id. */
  readonly partners: ReadonlyMap<string, Voter>;
  /** Remembers a vote verified with `voter`'s key; returns the copy to count. */
  readonly verifiedVote: (voter: Voter, v: Vote) => Vote;
}

/** The round store's writes, with the saves in flight tracked until they settle. */
export class RoundSaves {
  readonly #opts: RoundSavesOptions;
  readonly #saving = new Map<string, Promise<void>>();
  readonly #admitting = new Map<string, Promise<number>>();
  // Rejected rounds whose REJECT entry is being appended: no new round of the subject opens before its floor is known.
  readonly #rejecting = new Map<string, Promise<number | undefined>>();

  constructor(opts: RoundSavesOptions) {
    this.#opts = opts;
  }

  /** Stores a round just opened; a failed save runs `undo` (drops the round) and rejects. Undefined without a round store (nothing to wait for). */
  saveRound(round: Round, undo: () => void): Promise<void> | undefined {
    if (this.#opts.rounds === undefined) return undefined;
    return this.#stored(round.subject, this.#opts.rounds.saveRound(storedRound(round)), undo);
  }

  /** Stores a vote just counted in `subject`'s open round; a failed save runs `undo` (uncounts it) and rejects. Undefined without a round store. */
  saveVote(subject: string, vote: Vote, undo: () => void): Promise<void> | undefined {
    if (this.#opts.rounds === undefined) return undefined;
    return this.#stored(voteKey(subject, vote.partnerId), this.#opts.rounds.saveVote(subject, vote), undo);
  }

  /**
   * Appends an approved round's entry with `votes` and resolves to its log index. While it is in
   * flight {@link RoundSaves.admitting} returns it; a failed append runs `reopen` (the round stays
   * open so a later vote retries the append) and rejects.
   */
  admit(round: Round, votes: readonly Vote[], reopen: () => void): Promise<number> {
    const admit = this.#opts.entries.append({ kind: round.kind, indicator: round.indicator, ...(round.meta !== undefined ? { meta: round.meta } : {}), proposerId: round.proposerId, proposalSignature: round.signature, ...(round.batch !== undefined ? { proposalBatch: round.batch } : {}), window: round.window, votes }, { digest: round.digest, kind: round.kind, subject: round.subject });
    this.#admitting.set(round.subject, admit);
    const clear = (): void => {
      this.#admitting.delete(round.subject);
    };
    admit.then(clear, (err: unknown) => {
      clear();
      // The log's 'log append failed' line (or the stop's summary) already says it, once for every round of the write.
      reopen();
      this.#opts.log.debug('append failed; round kept open', { digest: round.digest, err });
    });
    return admit;
  }

  /** The append of `subject`'s approved round while it is in flight. */
  admitting(subject: string): Promise<number> | undefined {
    return this.#admitting.get(subject);
  }

  /**
   * Appends the REJECT entry `body` of a rejected round and resolves to its index, or to
   * undefined when the append failed (logged as an error unless the sequencer is stopping: the
   * round is closed either way).
   */
  async appendRejection(round: Round, body: EntryBody): Promise<number | undefined> {
    const append = this.#opts.entries.append(body, { digest: round.digest, kind: 'reject', subject: round.subject }).catch((err: unknown) => {
      if (!isSequencerStopping(err)) this.#opts.log.error('cannot log the rejection; the round is closed without a REJECT entry', { digest: round.digest, proposer: round.proposerId, err });
      return undefined;
    });
    this.#rejecting.set(round.subject, append);
    try {
      return await append;
    } finally {
      this.#rejecting.delete(round.subject);
    }
  }

  /** Whether `subject`'s round is approved and being appended, or rejected and its REJECT entry being appended. */
  deciding(subject: string): boolean {
    return this.#admitting.has(subject) || this.#rejecting.has(subject);
  }

  /** The save of `subject`'s round while it is in flight (a retry waits for it before answering). */
  roundInFlight(subject: string): Promise<void> | undefined {
    return this.#saving.get(subject);
  }

  /** The save of `partnerId`'s vote in `subject`'s round while it is in flight. */
  voteInFlight(subject: string, partnerId: string): Promise<void> | undefined {
    return this.#saving.get(voteKey(subject, partnerId));
  }

  /** Drops a decided or expired round from the store; a failure only leaves a stale round that the next start re-checks (logged). */
  forget(subject: string): void {
    this.#opts.rounds?.deleteRound(subject).catch((err: unknown) => this.#opts.log.warn('cannot delete a decided round', { subject, err }));
  }

  /**
   * The stored rounds that still verify against `checks` (indicator, metadata, proposer
   * signature, with only their valid votes), in stored order. A round that does not verify is
   * logged, forgotten and left out. Empty without a store.
   */
  async restore(checks: RestoreChecks): Promise<Round[]> {
    if (this.#opts.rounds === undefined) return [];
    const out: Round[] = [];
    for (const r of await this.#opts.rounds.loadRounds()) {
      const round = restoredRound(r, checks);
      if (round !== undefined) {
        out.push(round);
        continue;
      }
      this.#opts.log.warn('stored round does not verify; dropped', { subject: r.subject, proposer: r.proposerId });
      this.forget(r.subject);
    }
    return out;
  }

  // Tracks a save under `key` until it settles; a failure runs `undo` and reaches the caller.
  async #stored(key: string, save: Promise<void>, undo: () => void): Promise<void> {
    this.#saving.set(key, save);
    try {
      await save;
    } catch (err) {
      undo();
      throw err;
    } finally {
      if (this.#saving.get(key) === save) this.#saving.delete(key);
    }
  }
}

// A stored round re-verified as if proposed now (indicator, metadata, proposer signature), with only its valid votes; undefined when it does not verify.
function restoredRound(r: StoredRound, checks: RestoreChecks): Round | undefined {
  const parsed = parseIndicatorJson(r.indicatorJson);
  const meta = parseMetaJson(r.metaJson ?? '');
  const proposer = checks.partners.get(r.proposerId);
  if (!parsed.ok || !meta.ok || proposer === undefined || voteSubject(r.kind, parsed.digest) !== r.subject) return undefined;
  if (!everyKey(proposer).some((k) => verifySignedProposal(k, r.kind, parsed.indicator, r, meta.meta))) return undefined;
  const votes = new Map<string, Vote>();
  for (const v of r.votes) {
    const voter = checks.partners.get(v.partnerId);
    if (voter !== undefined && v.digest === r.subject && !votes.has(v.partnerId) && verifyVote(voter, v)) votes.set(v.partnerId, checks.verifiedVote(voter, v));
  }
  return { kind: r.kind, indicator: parsed.indicator, indicatorJson: r.indicatorJson, ...(meta.meta !== undefined ? { meta: meta.meta } : {}), digest: parsed.digest, subject: r.subject, proposerId: r.proposerId, signature: r.signature, ...batchOf(r.batch), window: r.window, votes };
}

function storedRound(r: Round): StoredRound {
  return { subject: r.subject, kind: r.kind, indicatorJson: r.indicatorJson, ...(r.meta !== undefined ? { metaJson: metaJson(r.meta) } : {}), proposerId: r.proposerId, signature: r.signature, ...batchOf(r.batch), window: r.window, votes: [...r.votes.values()] };
}

// The in-flight key of a vote: one per voter and subject.
function voteKey(subject: string, partnerId: string): string {
  return `${subject}/${partnerId}`;
}

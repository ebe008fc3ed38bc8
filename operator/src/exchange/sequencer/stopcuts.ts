/**
 * Calls a stopping sequencer endpoint cuts short. Each gets one clear answer (UNAVAILABLE,
 * reason sequencer-stopping: ask again, another replica may serve) instead of the error the
 * database closing under it would raise, and the stop logs one summary line instead of one
 * error line per call (a replica that lost its Lease with 500 appends in flight logged 500).
 */
import type { Logger } from '../../log.ts';
import { ExchangeRefusal, isSequencerStopping, sequencerStopping } from '../protocol/errors.ts';

/** Counts the calls cut short once `stopping` aborts; see the file comment. */
export class StopCuts {
  readonly #stopping: AbortSignal;
  #calls = 0;
  #failures = 0;
  #firstFailure: string | undefined;

  constructor(stopping: AbortSignal) {
    this.#stopping = stopping;
  }

  /**
   * What to answer a call that failed with `err`. Before the stop: `err` itself. Once stopping:
   * the stopping refusal for a failure that is not a refusal of the request (a database write
   * cut by the stop, an append refused because the log stopped), counted; any other refusal
   * (a bad signature, a missing role) as it is.
   */
  answer(err: unknown): unknown {
    if (!this.#stopping.aborted) return err;
    if (err instanceof ExchangeRefusal && !isSequencerStopping(err)) return err;
    this.#calls += 1;
    if (!isSequencerStopping(err)) {
      this.#failures += 1;
      this.#firstFailure ??= err instanceof Error ? err.message : String(err);
    }
    return sequencerStopping();
  }

  /** Logs the one summary line of the stop (nothing when no call was cut): calls cut so far, and those still running, which get the same answer when they fail. */
  report(log: Logger, stillRunning: number): void {
    if (this.#calls === 0 && stillRunning === 0) return;
    log.info('calls cut short by the stop, answered UNAVAILABLE sequencer-stopping', {
      calls: this.#calls, stillRunning, failedUnderStop: this.#failures, ...(this.#firstFailure !== undefined ? { firstFailure: this.#firstFailure } : {}),
    });
  }
}

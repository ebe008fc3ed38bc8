/**
 * The wait for convergence after a trial's last heal. Reading the trial's digests from the log
 * scans it on FerretDB 1.24 (no `$in` pushdown): 40–70 s a read at 18,000 entries on a loaded
 * machine, load the run put on the very network it judges, and more with every trial. So each
 * poll reads the small collections (head, open rounds, cursors) and reads the log only when they
 * say every partner is at the head, at most once per {@link WaitTiming.logReadGapMs}. An entry
 * never leaves the log, so a read that found everything stays true.
 */
import { behind, unlogged, type Expectation, type PartnerCursor, type SequencerHead, type SequencerState } from './check.ts';

/** Where the wait reads the network's state. */
export interface ConvergenceReads {
  head(): Promise<SequencerHead>;
  cursors(): Promise<readonly PartnerCursor[]>;
  /** The entries of the trial's digests (the costly read). */
  log(): Promise<Pick<SequencerState, 'entries'>>;
}

/** The wait's clock and pacing; tests pass a fake clock. */
export interface WaitTiming {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Between polls. @default 2000 */
  pollMs: number;
  /** Least time between two reads of the log. @default 15000 */
  logReadGapMs: number;
  /** Between two progress lines. @default 15000 */
  progressMs: number;
}

const REAL_TIME: WaitTiming = {
  now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)), pollMs: 2000, logReadGapMs: 15_000, progressMs: 15_000,
};

/** Polls until the network has converged (no open round, every expectation in the log, every partner at the head) or `deadline`. */
export async function waitForConvergence(reads: ConvergenceReads, exp: Expectation, deadline: number, progress: (m: string) => void, t: WaitTiming = REAL_TIME): Promise<{ done: boolean; seconds: number; waiting: string[] }> {
  const from = t.now();
  let waiting: string[] = ['not checked yet'];
  let inLog: string[] = ['the log not read yet (read once every partner is at its head)'];
  let lastLogRead = -Infinity;
  let lastProgress = -Infinity;
  while (t.now() < deadline) {
    try {
      const moving = behind(await reads.head(), await reads.cursors());
      if (moving.length === 0 && inLog.length > 0 && t.now() - lastLogRead >= t.logReadGapMs) {
        inLog = unlogged(exp, await reads.log());
        lastLogRead = t.now();
      }
      waiting = [...inLog, ...moving];
    } catch (err) {
      waiting = [`cannot read state: ${err instanceof Error ? err.message : String(err)}`];
    }
    if (waiting.length === 0) return { done: true, seconds: (t.now() - from) / 1000, waiting };
    if (t.now() - lastProgress >= t.progressMs) {
      lastProgress = t.now();
      progress(`  waiting: ${waiting.join('; ')}`);
    }
    await t.sleep(t.pollMs);
  }
  return { done: false, seconds: (t.now() - from) / 1000, waiting };
}

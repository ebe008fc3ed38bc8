/**
 * The missing-decision check: a sequencer that censors a decision. A partner knows every ADD
 * round it voted on (automatically or by an analyst's annotation), with the round's window and
 * the sequencer's answer to its vote. A decided ADD round is logged (an ADD entry when admitted,
 * a REJECT entry when rejected by votes; docs/adr/2026-12-06-signed-rejections.md), so once the
 * sequencer has signed a tree head dated past the round's deadline, and this partner has applied
 * that head, the decision must be in the partner database. When it is not, the round is reported
 * once, with the evidence:
 * - `acknowledged`: the sequencer answered this partner's vote "approved" or "rejected" (the
 *   decision was appended at a log index, it said) and a head signed `graceMs` after that answer
 *   lacks it. That is the sequencer withholding a decision it made: censorship.
 * - `unacknowledged`: the vote was only counted, the round's window closed `graceMs` ago, and
 *   nothing is logged. Either too few partners voted (the round expired: expiries are not
 *   logged) or the sequencer withheld the decision; the partners who voted can tell which.
 * The deadline is compared with the sequencer's own signed head time, not this partner's clock.
 * Rounds are tracked in memory: a restart forgets the rounds voted before it.
 */
import type { Vote, VoteDecision } from '../../domain/quorum.ts';
import type { EntryWindow } from '../../domain/entry.ts';
import type { PendingRound, VoteResult } from '../protocol/messages.ts';

/** How strong the evidence of a missing decision is (the `evidence` label of the metric). */
export type MissingEvidence = 'acknowledged' | 'unacknowledged';

/** Every evidence, for metrics reported at 0 from the start. */
export const MISSING_EVIDENCE: readonly MissingEvidence[] = ['acknowledged', 'unacknowledged'];

/** One ADD round this partner voted on. */
export interface VotedRound {
  /** The indicator digest (derived by this partner, not taken from the sequencer). */
  readonly digest: string;
  readonly indicator: string;
  readonly window: EntryWindow;
  readonly decision: VoteDecision;
  /** When the sequencer answered the vote (this partner's clock). */
  readonly answeredAt: string;
  /** The sequencer's answer to the vote. */
  readonly status: VoteResult['status'];
  /** The log index the sequencer named with an `approved` or `rejected` answer. */
  readonly logIndex?: number | undefined;
}

/** A round whose decision is not in the log: what it means and what to do. */
export interface MissingDecision {
  readonly round: VotedRound;
  readonly evidence: MissingEvidence;
  readonly message: string;
}

/** The applied, signed head the check compares with. */
export interface AppliedHead {
  readonly treeSize: number;
  /** ISO 8601, signed by the sequencer. */
  readonly timestamp: string;
}

/** Which of `rounds` have an ADD or REJECT entry with that window in the partner database, as {@link roundKey}s. */
export type DecisionLookup = (rounds: ReadonlyArray<{ readonly digest: string; readonly opensAt: string }>) => Promise<ReadonlySet<string>>;

/** What a {@link DecisionWatch} is built from. */
export interface DecisionWatchOptions {
  readonly lookup: DecisionLookup;
  /** Time a decision may take to appear in a signed head: append latency plus clock skew. @default PARTNER_DEFAULTS.decisionGraceMs */
  readonly graceMs: number;
  /** Most rounds tracked; the oldest are forgotten beyond it. @default 50_000 */
  readonly maxTracked?: number;
}

/** The key of a round in a {@link DecisionLookup} answer: `digest@opensAt`. */
export function roundKey(digest: string, opensAt: string): string {
  return `${digest}@${opensAt}`;
}

const DECIDED: ReadonlySet<VoteResult['status']> = new Set(['approved', 'rejected']);

/** When a round's decision must be in a signed head. */
export function deadlineOf(r: VotedRound, graceMs: number): number {
  const from = DECIDED.has(r.status) ? Date.parse(r.answeredAt) : Date.parse(r.window.closesAt);
  return from + graceMs;
}

/** The report of a round missing from a head signed at `head`. */
export function missingDecision(r: VotedRound, head: AppliedHead): MissingDecision {
  const round = `the ADD round of ${r.indicator} (digest ${r.digest.slice(0, 16)}…, window ${r.window.opensAt} to ${r.window.closesAt}) this partner voted ${r.decision} on`;
  if (DECIDED.has(r.status)) {
    return {
      round: r, evidence: 'acknowledged',
      message: `${round} was answered "${r.status}" by the sequencer (logged at index ${r.logIndex ?? '?'}, it said), but its tree head of ${head.timestamp} (size ${head.treeSize}) carries no ${r.status === 'approved' ? 'ADD' : 'REJECT'} entry for it: the sequencer withholds a decision it made (censorship). Keep this partner's logs and the vote answer, compare tree heads with peers, and raise it with the network's operators (docs/trust-model.md "Missing decisions")`,
    };
  }
  return {
    round: r, evidence: 'unacknowledged',
    message: `${round} closed at ${r.window.closesAt} and the sequencer's tree head of ${head.timestamp} (size ${head.treeSize}) carries no ADD or REJECT entry for it: either too few partners voted (an expired round is not logged) or the sequencer withheld the decision. Ask the partners who voted on it (their vote answers say whether quorum was reached); if it was, the sequencer censors (docs/trust-model.md "Missing decisions")`,
  };
}

/** Tracks the ADD rounds this partner voted on and reports those whose decision the log lacks. */
export class DecisionWatch {
  readonly #o: DecisionWatchOptions;
  readonly #rounds = new Map<string, VotedRound>();

  constructor(opts: DecisionWatchOptions) {
    this.#o = opts;
  }

  /** Rounds being watched. */
  get size(): number {
    return this.#rounds.size;
  }

  /** Records a vote on `round` the sequencer answered with `result` at `answeredAt`; only ADD rounds are logged either way, so only they are watched. */
  voted(round: PendingRound, vote: Vote, result: VoteResult, answeredAt: Date): void {
    if (round.kind !== 'add' || result.status === 'duplicate') return;
    const key = roundKey(round.digest, round.window.opensAt);
    this.#rounds.delete(key);
    this.#rounds.set(key, {
      digest: round.digest, indicator: `${round.indicator.type} ${round.indicator.value}`, window: round.window, decision: vote.decision,
      answeredAt: answeredAt.toISOString(), status: result.status, ...(result.logIndex !== undefined ? { logIndex: result.logIndex } : {}),
    });
    const max = this.#o.maxTracked ?? 50_000;
    for (const oldest of this.#rounds.keys()) {
      if (this.#rounds.size <= max) break;
      this.#rounds.delete(oldest);
    }
  }

  /**
   * The rounds past their deadline at `head` (a head this partner has applied in full) whose
   * decision the partner database lacks; each is reported once and forgotten, as are the rounds
   * found logged.
   */
  async check(head: AppliedHead | undefined): Promise<MissingDecision[]> {
    if (head === undefined) return [];
    const at = Date.parse(head.timestamp);
    const due = [...this.#rounds.entries()].filter(([, r]) => deadlineOf(r, this.#o.graceMs) < at);
    if (due.length === 0) return [];
    const logged = await this.#o.lookup(due.map(([, r]) => ({ digest: r.digest, opensAt: r.window.opensAt })));
    const missing: MissingDecision[] = [];
    for (const [key, r] of due) {
      this.#rounds.delete(key);
      if (!logged.has(key)) missing.push(missingDecision(r, head));
    }
    return missing;
  }
}

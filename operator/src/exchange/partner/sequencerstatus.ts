/**
 * The status of the sequencer's PartnerNode after each sync period: reachable or not, the log
 * size and root this partner holds, its lag, and the conditions Replicating (halted, failing with
 * the cause, unreachable or replicating) and HeadFresh (the age of the newest verified tree
 * head). A new failure cause and a HeadFresh change for the worse raise Warning Events; a head
 * dated ahead is misbehaviour. Split from service.ts, which runs it once per sync period, as
 * peerstatus.ts does for the peers.
 */
import type { Logger } from '../../log.ts';
import type { EventRecorder } from '../../runtime/types.ts';
import type { ReplicaCursor } from '../../domain/stores.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { checkTreeHead } from '../../domain/verify.ts';
import type { FailureReporter } from './failures.ts';
import type { PartnerMetrics } from './metrics.ts';
import type { SequencerRef } from './network.ts';
import type { PartnerSession } from './session.ts';
import { HEAD_FRESH, HEAD_FRESH_REASON, HeadWatch, LagTracker, REPLICATING_REASON, haltConditionReason, type PartnerStatusWriter, type ReplicatingCondition } from './status.ts';

/** Everything a {@link SequencerStatusReporter} reads and writes through. */
export interface SequencerStatusOptions {
  readonly status: PartnerStatusWriter;
  readonly events: EventRecorder;
  readonly metrics: PartnerMetrics;
  /** The exchange's failing loops: Replicating=False names the current one. */
  readonly failures: FailureReporter;
  readonly log: Logger;
  readonly now: () => Date;
  /** Oldest the newest verified tree head may be before HeadFresh turns False. */
  readonly maxHeadAgeMs: number;
  /** The condition the halt report wrote, while replication is halted (incidents.ts); undefined before it is written. */
  readonly haltCondition: () => ReplicatingCondition | undefined;
  /** Reports sequencer misbehaviour (a head dated ahead). */
  readonly onMisbehaviour: (seq: SequencerRef, reason: string, message: string) => Promise<void>;
  /** Runs a side step (the failure Event) as the exchange's loop runs its steps: failures logged and counted, never thrown; not awaited. */
  readonly step: (name: string, fn: () => Promise<unknown>) => void;
}

/** Writes the sequencer PartnerNode's status once per sync period and keeps the newest verified tree head. */
export class SequencerStatusReporter {
  readonly #o: SequencerStatusOptions;
  readonly #lag = new LagTracker();
  readonly #heads = new HeadWatch();
  // The newest tree head verified from the sequencer (the missing-decision check's clock).
  #newestHead: SignedTreeHead | undefined;
  #lastCursor: ReplicaCursor | undefined;

  constructor(opts: SequencerStatusOptions) {
    this.#o = opts;
  }

  /** The newest tree head verified from the sequencer; undefined before the first. */
  get newestHead(): SignedTreeHead | undefined {
    return this.#newestHead;
  }

  // Halted, failing (with the cause), unreachable or replicating; a new failure cause also raises one Warning Event.
  // A halt persisted in the cursor counts before the session has read it back: a restarted
  // process reports before its replication loop rethrows that halt, and must not say Replicating=True meanwhile.
  #replicatingCondition(session: PartnerSession, seq: SequencerRef, size: number | undefined, cursor: ReplicaCursor): ReplicatingCondition {
    const halted = session.halted ?? cursor.halted;
    if (halted !== undefined) return this.#o.haltCondition() ?? { status: 'False', reason: haltConditionReason(halted.reason), message: `replication halted (${halted.reason}): ${halted.message}` };
    const failing = this.#o.failures.current();
    const due = this.#o.failures.eventDue();
    const what = (f: { loop: string }): string => (f.loop === 'replication' ? `replication from ${seq.partnerId} failing` : 'writing replicated entries as ThreatIndicators failing (the partner database has them)');
    if (due !== undefined) this.#o.step('failure event', () => this.#o.events.event(seq.node, 'Warning', due.reason, `${what(due)}: ${due.message}`));
    if (failing !== undefined) return { status: 'False', reason: failing.reason, message: `${what(failing)}: ${failing.message}` };
    if (size === undefined) return { status: 'False', reason: REPLICATING_REASON.Unreachable, message: `sequencer ${seq.endpoint} unreachable; retrying` };
    return { status: 'True', reason: REPLICATING_REASON.Replicating, message: `replicating from ${seq.partnerId} at ${seq.endpoint}` };
  }

  /** Writes the sequencer PartnerNode's status; returns the sequencer's verified tree size (undefined when unreachable). */
  async report(session: PartnerSession, seq: SequencerRef): Promise<number | undefined> {
    const now = this.#o.now();
    // With the database down the status still tells why (the last cursor read stands in).
    const cursor = await session.replica.cursor().then((c) => (this.#lastCursor = c), (err: unknown) => {
      this.#o.failures.failed('status', err);
      return this.#lastCursor ?? { nextIndex: 0 };
    });
    let size: number | undefined;
    try {
      const head = await session.client.treeHead(0, 0);
      if (checkTreeHead({ sequencerKey: seq.key, sequencerRetiredKeys: seq.retiredKeys, partners: [] }, head) === undefined) {
        this.#lag.observe(head);
        this.#newestHead = head;
        size = head.treeSize;
        this.#heads.observe(head, now);
      }
    } catch (err) {
      this.#o.log.debug('sequencer unreachable', { endpoint: seq.endpoint, err });
    }
    const applied = cursor.nextIndex;
    const lag = this.#lag.lag(applied, size ?? Math.max(applied, cursor.head?.treeSize ?? 0), now);
    this.#o.metrics.treeSize.set(cursor.head?.treeSize ?? 0);
    this.#o.metrics.lagEntries.set(lag.entries);
    const condition = this.#replicatingCondition(session, seq, size, cursor);
    await this.#o.status.write(seq.node, {
      reachable: size !== undefined, ...(size !== undefined ? { lastSeen: now.toISOString() } : {}),
      logSize: cursor.head?.treeSize ?? 0, ...(cursor.head ? { rootHash: cursor.head.rootHash } : {}), lagEntries: lag.entries, lagSeconds: lag.seconds,
    }, [condition, await this.#headFresh(seq, now)]);
    return size;
  }

  // HeadFresh of the sequencer: the age of the newest verified head, a metric, and on a change for the worse an Event (a head dated ahead is misbehaviour).
  async #headFresh(seq: SequencerRef, now: Date): Promise<ReplicatingCondition> {
    const { condition, ageSeconds } = this.#heads.check(now, this.#o.maxHeadAgeMs);
    if (ageSeconds !== undefined) this.#o.metrics.headAge.set(ageSeconds);
    const was = seq.node.status?.conditions?.find((c) => c.type === HEAD_FRESH)?.reason;
    if (condition.status === 'False' && was !== condition.reason) {
      if (condition.reason === HEAD_FRESH_REASON.Future) await this.#o.onMisbehaviour(seq, 'future-head', condition.message);
      else await this.#o.events.event(seq.node, 'Warning', condition.reason, condition.message);
    }
    return condition;
  }
}

/**
 * What the partner exchange reports when something goes wrong that retrying does not fix: a
 * verified entry the cluster refused (kept in the partner database, Materialized=False, an
 * Event), a sequencer caught misbehaving outside the log (metric, error log, Event), and a halt
 * of replication (metric, Replicating=False with the halt's reason on the sequencer's and the
 * accusing peer's PartnerNode, Events), and a decided round missing from the log (metric, error
 * log, Event; decisions.ts). Split from service.ts.
 */
import type { Db } from 'mongodb';
import type { PartnerNode } from '../../api/types.ts';
import type { VerifiedEntry } from '../../domain/stores.ts';
import type { Logger } from '../../log.ts';
import type { KubeEventRecorder } from '../../runtime/events.ts';
import type { MissingDecision } from './decisions.ts';
import type { PartnerMetrics } from './metrics.ts';
import type { SequencerRef } from './network.ts';
import type { ReplicationHalted } from './replica.ts';
import { haltConditionReason, MATERIALIZED, type KubePartnerStatus, type ReplicatingCondition } from './status.ts';
import { recordUnmaterialized } from './workingset.ts';

/** Everything an {@link IncidentReporter} writes through. */
export interface IncidentOptions {
  readonly db: Db;
  readonly status: KubePartnerStatus;
  readonly events: KubeEventRecorder;
  readonly metrics: PartnerMetrics;
  readonly log: Logger;
  readonly now: () => Date;
}

/** Reports refused entries, sequencer misbehaviour and halts. */
export class IncidentReporter {
  readonly #o: IncidentOptions;

  constructor(opts: IncidentOptions) {
    this.#o = opts;
  }

  /** A verified entry the API server refused: counted, kept in MongoDB for `threatmesh replica status`, reported on `node` (the sequencer's PartnerNode) when known. */
  async unmaterialized(entry: VerifiedEntry, why: string, node: PartnerNode | undefined): Promise<void> {
    this.#o.metrics.unmaterialized.inc();
    const count = await recordUnmaterialized(this.#o.db, entry, why, this.#o.now());
    if (node === undefined) return;
    const message = `${count} verified log entr${count === 1 ? 'y' : 'ies'} could not be written as ThreatIndicators and ${count === 1 ? 'is' : 'are'} only in the partner database (latest: entry ${entry.index}: ${why}); see threatmesh replica status`;
    await this.#o.status.write(node, {}, { type: MATERIALIZED, status: 'False', reason: 'InvalidEntries', message });
    await this.#o.events.event(node, 'Warning', 'EntryNotMaterialized', `entry ${entry.index} (${entry.indicator.type}): ${why}`);
  }

  /** The sequencer was caught lying outside the log (no halt: nothing false was applied): metric, Warning Event, error log. */
  async misbehaviour(seq: SequencerRef, reason: string, message: string): Promise<void> {
    this.#o.metrics.misbehaviour.inc({ reason });
    this.#o.log.error('the sequencer misbehaves', { sequencer: seq.partnerId, reason, detail: message });
    await this.#o.events.event(seq.node, 'Warning', 'SequencerMisbehaviour', message);
  }

  /** A decision missing from the log (decisions.ts): metric by evidence, error log, Warning Event MissingDecision on the sequencer's PartnerNode. */
  async missingDecision(seq: SequencerRef, m: MissingDecision): Promise<void> {
    this.#o.metrics.missingDecisions.inc({ evidence: m.evidence });
    this.#o.log.error('a decided round is missing from the sequencer\'s log', { sequencer: seq.partnerId, evidence: m.evidence, digest: m.round.digest, opensAt: m.round.window.opensAt, answer: m.round.status, logIndex: m.round.logIndex, detail: m.message });
    await this.#o.events.event(seq.node, 'Warning', 'MissingDecision', m.message);
  }

  /** Replication halted (on `peer`'s gossiped head, if any); returns the Replicating condition it keeps showing. */
  halt(err: ReplicationHalted, peer: PartnerNode | undefined): ReplicatingCondition {
    this.#o.metrics.halted.set({ reason: err.reason }, 1);
    const message = `replication halted (${err.reason})${peer ? ` on the tree head gossiped by ${peer.spec.partnerId}` : ''}: ${err.message}`;
    this.#o.log.error('exchange replication halted', { reason: err.reason, peer: peer?.spec.partnerId, detail: err.message });
    return { status: 'False', reason: haltConditionReason(err.reason), message };
  }

  /** Writes a halt's condition and Warning Events on the sequencer's and the peer's PartnerNodes. */
  async reportHalt(condition: ReplicatingCondition, seq: SequencerRef, peer: PartnerNode | undefined): Promise<void> {
    for (const node of peer === undefined ? [seq.node] : [seq.node, peer]) {
      await this.#o.status.write(node, {}, condition);
      await this.#o.events.event(node, 'Warning', condition.reason, condition.message);
    }
  }
}

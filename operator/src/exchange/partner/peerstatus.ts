/**
 * The status of a peer partner's PartnerNode after each gossip round: reachable or not, its
 * accepted head, and the HeadsAgree condition. A change for the worse (a head the sequencer did
 * not sign, a suspected equivocation) raises Warning Events and sets the metrics; a consistent
 * comparison clears them. Split from service.ts, which runs it once per peer and sync period.
 */
import type { PartnerNode } from '../../api/types.ts';
import type { KubeEventRecorder } from '../../runtime/events.ts';
import type { PartnerMetrics } from './metrics.ts';
import type { PartnerSession, PeerCheck } from './session.ts';
import { HEADS_AGREE, HEADS_AGREE_REASON, type KubePartnerStatus, type ReplicatingCondition } from './status.ts';

/** Everything a {@link PeerStatusReporter} writes through. */
export interface PeerStatusOptions {
  readonly status: KubePartnerStatus;
  readonly events: KubeEventRecorder;
  readonly metrics: PartnerMetrics;
  readonly now: () => Date;
}

/** Gossips with a peer and writes what it learnt to the peer's PartnerNode. */
export class PeerStatusReporter {
  readonly #o: PeerStatusOptions;

  constructor(opts: PeerStatusOptions) {
    this.#o = opts;
  }

  /** One gossip round with `peer`; an unreachable peer is marked so and the error rethrown (the caller counts it). */
  async report(session: PartnerSession, peer: PartnerNode): Promise<void> {
    const now = this.#o.now().toISOString();
    let got: Awaited<ReturnType<PartnerSession['gossip']>>;
    try {
      got = await session.gossip(peer);
    } catch (err) {
      await this.#o.status.write(peer, { reachable: false }, undefined);
      throw err;
    }
    const head = got.head.head;
    this.#o.metrics.badPeerHeads.inc({ peer: peer.spec.partnerId }, 0);
    const condition = got.check === undefined ? undefined : await this.#check(session, peer, got.check);
    await this.#o.status.write(peer, { reachable: true, lastSeen: now, ...(head ? { logSize: head.treeSize, rootHash: head.rootHash } : {}) }, condition);
  }

  // The HeadsAgree condition of a peer after a comparison, with a metric and, on a change for the worse, Warning Events.
  async #check(session: PartnerSession, peer: PartnerNode, check: PeerCheck): Promise<ReplicatingCondition> {
    const { metrics, events } = this.#o;
    const id = peer.spec.partnerId;
    const was = peer.status?.conditions?.find((c) => c.type === HEADS_AGREE)?.reason;
    if (check.status === 'consistent') {
      metrics.equivocationSuspected.set({ peer: id }, 0);
      return { type: HEADS_AGREE, status: 'True', reason: HEADS_AGREE_REASON.Consistent, message: `${id}'s accepted head is consistent with ours (settled by ${check.settledBy})` };
    }
    if (check.status === 'bad-head') {
      metrics.badPeerHeads.inc({ peer: id });
      if (was !== HEADS_AGREE_REASON.BadHead) await events.event(peer, 'Warning', HEADS_AGREE_REASON.BadHead, `${id} gossiped a tree head the sequencer did not sign; ignored (replication goes on): ${check.message}`);
      return { type: HEADS_AGREE, status: 'False', reason: HEADS_AGREE_REASON.BadHead, message: check.message };
    }
    metrics.equivocationSuspected.set({ peer: id }, 1);
    if (was !== HEADS_AGREE_REASON.EquivocationSuspected) {
      await events.event(peer, 'Warning', HEADS_AGREE_REASON.EquivocationSuspected, check.message);
      await events.event(session.sequencerNode, 'Warning', HEADS_AGREE_REASON.EquivocationSuspected, `comparing with ${id}: ${check.message}`);
    }
    return { type: HEADS_AGREE, status: 'Unknown', reason: HEADS_AGREE_REASON.EquivocationSuspected, message: check.message };
  }
}

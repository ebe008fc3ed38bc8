/**
 * Rejections as this partner's cluster knows them: ThreatIndicators in phase Rejected (its own
 * proposals and those it was asked to vote on). The sequencer's rejected rounds are not in the
 * replicated log, so this is the best a partner can count without a protocol change.
 */
import { THREAT_INDICATORS } from '../api/schemas/index.ts';
import type { ThreatIndicator } from '../api/types.ts';
import { listAll, type KubeReader } from '../runtime/client.ts';
import { indicatorTlp, tlpAllows, type Tlp } from './tlp.ts';
import type { RejectedProposal } from './trends.ts';

/** Where rejected proposals come from. */
export interface RejectionSource {
  /** Rejected proposals at or below `ceiling`. */
  rejected(ceiling: Tlp): Promise<RejectedProposal[]>;
}

/** The time a rejection is dated by: the Ready condition's transition, else the proposal's time, else creation. */
export function rejectedAt(ti: ThreatIndicator): Date {
  const ready = ti.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
  return new Date(ready ?? ti.spec.provenance?.proposedAt ?? ti.metadata.creationTimestamp ?? 0);
}

/** ThreatIndicators in phase Rejected of `namespace` (every namespace when absent), read page by page. */
export function clusterRejections(client: Pick<KubeReader, 'list'>, namespace?: string): RejectionSource {
  return {
    rejected: async (ceiling) => {
      const items = await listAll<ThreatIndicator>(client, THREAT_INDICATORS, namespace ? { namespace } : {});
      return items
        .filter((ti) => ti.status?.phase === 'Rejected' && tlpAllows(ceiling, indicatorTlp(ti.spec)))
        .map((ti) => ({ at: rejectedAt(ti), type: ti.spec.type, feed: ti.spec.provenance?.feed, proposerId: ti.spec.proposal?.partnerId ?? ti.spec.provenance?.partner }));
    },
  };
}

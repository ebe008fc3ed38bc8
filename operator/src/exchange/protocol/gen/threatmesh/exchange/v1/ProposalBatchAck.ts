// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { ProposalOutcome as _threatmesh_exchange_v1_ProposalOutcome, ProposalOutcome__Output as _threatmesh_exchange_v1_ProposalOutcome__Output } from '../../../threatmesh/exchange/v1/ProposalOutcome.ts';

export interface ProposalBatchAck {
  /**
   * One outcome per proposal, in order.
   */
  'outcomes'?: (_threatmesh_exchange_v1_ProposalOutcome)[];
}

export interface ProposalBatchAck__Output {
  /**
   * One outcome per proposal, in order.
   */
  'outcomes': (_threatmesh_exchange_v1_ProposalOutcome__Output)[];
}

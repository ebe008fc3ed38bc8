// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { PendingProposal as _threatmesh_exchange_v1_PendingProposal, PendingProposal__Output as _threatmesh_exchange_v1_PendingProposal__Output } from '../../../threatmesh/exchange/v1/PendingProposal.ts';

export interface PendingProposals {
  'proposals'?: (_threatmesh_exchange_v1_PendingProposal)[];
  /**
   * Rounds pending in all (for paging).
   */
  'total'?: (number);
}

export interface PendingProposals__Output {
  'proposals': (_threatmesh_exchange_v1_PendingProposal__Output)[];
  /**
   * Rounds pending in all (for paging).
   */
  'total': (number);
}

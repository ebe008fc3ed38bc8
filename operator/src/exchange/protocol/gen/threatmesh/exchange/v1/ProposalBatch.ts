// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { Proposal as _threatmesh_exchange_v1_Proposal, Proposal__Output as _threatmesh_exchange_v1_Proposal__Output } from '../../../threatmesh/exchange/v1/Proposal.ts';

export interface ProposalBatch {
  'proposals'?: (_threatmesh_exchange_v1_Proposal)[];
}

export interface ProposalBatch__Output {
  'proposals': (_threatmesh_exchange_v1_Proposal__Output)[];
}

// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { ProposalAck as _threatmesh_exchange_v1_ProposalAck, ProposalAck__Output as _threatmesh_exchange_v1_ProposalAck__Output } from '../../../threatmesh/exchange/v1/ProposalAck.ts';
import type { Refusal as _threatmesh_exchange_v1_Refusal, Refusal__Output as _threatmesh_exchange_v1_Refusal__Output } from '../../../threatmesh/exchange/v1/Refusal.ts';

export interface ProposalOutcome {
  'ack'?: (_threatmesh_exchange_v1_ProposalAck | null);
  'refusal'?: (_threatmesh_exchange_v1_Refusal | null);
  'outcome'?: "ack"|"refusal";
}

export interface ProposalOutcome__Output {
  'ack'?: (_threatmesh_exchange_v1_ProposalAck__Output | null);
  'refusal'?: (_threatmesh_exchange_v1_Refusal__Output | null);
  'outcome'?: "ack"|"refusal";
}

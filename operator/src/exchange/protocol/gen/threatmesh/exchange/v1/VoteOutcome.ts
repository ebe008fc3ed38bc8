// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { VoteAck as _threatmesh_exchange_v1_VoteAck, VoteAck__Output as _threatmesh_exchange_v1_VoteAck__Output } from '../../../threatmesh/exchange/v1/VoteAck.ts';
import type { Refusal as _threatmesh_exchange_v1_Refusal, Refusal__Output as _threatmesh_exchange_v1_Refusal__Output } from '../../../threatmesh/exchange/v1/Refusal.ts';

export interface VoteOutcome {
  'ack'?: (_threatmesh_exchange_v1_VoteAck | null);
  'refusal'?: (_threatmesh_exchange_v1_Refusal | null);
  'outcome'?: "ack"|"refusal";
}

export interface VoteOutcome__Output {
  'ack'?: (_threatmesh_exchange_v1_VoteAck__Output | null);
  'refusal'?: (_threatmesh_exchange_v1_Refusal__Output | null);
  'outcome'?: "ack"|"refusal";
}

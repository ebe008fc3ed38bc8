// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { VoteOutcome as _threatmesh_exchange_v1_VoteOutcome, VoteOutcome__Output as _threatmesh_exchange_v1_VoteOutcome__Output } from '../../../threatmesh/exchange/v1/VoteOutcome.ts';

export interface VoteBatchAck {
  /**
   * One outcome per vote, in order.
   */
  'outcomes'?: (_threatmesh_exchange_v1_VoteOutcome)[];
}

export interface VoteBatchAck__Output {
  /**
   * One outcome per vote, in order.
   */
  'outcomes': (_threatmesh_exchange_v1_VoteOutcome__Output)[];
}

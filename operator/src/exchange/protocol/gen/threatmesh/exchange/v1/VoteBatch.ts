// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { SignedVote as _threatmesh_exchange_v1_SignedVote, SignedVote__Output as _threatmesh_exchange_v1_SignedVote__Output } from '../../../threatmesh/exchange/v1/SignedVote.ts';

export interface VoteBatch {
  'votes'?: (_threatmesh_exchange_v1_SignedVote)[];
}

export interface VoteBatch__Output {
  'votes': (_threatmesh_exchange_v1_SignedVote__Output)[];
}

// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { VoteStatus as _threatmesh_exchange_v1_VoteStatus, VoteStatus__Output as _threatmesh_exchange_v1_VoteStatus__Output } from '../../../threatmesh/exchange/v1/VoteStatus.ts';
import type { Long } from '@grpc/proto-loader';

export interface VoteAck {
  'status'?: (_threatmesh_exchange_v1_VoteStatus);
  'logIndex'?: (number | string | Long);
  'approvals'?: (number);
  'rejections'?: (number);
  'required'?: (number);
}

export interface VoteAck__Output {
  'status': (_threatmesh_exchange_v1_VoteStatus__Output);
  'logIndex': (number);
  'approvals': (number);
  'rejections': (number);
  'required': (number);
}

// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { Long } from '@grpc/proto-loader';

export interface ConsistencyProofRequest {
  'oldSize'?: (number | string | Long);
  'newSize'?: (number | string | Long);
}

export interface ConsistencyProofRequest__Output {
  'oldSize': (number);
  'newSize': (number);
}

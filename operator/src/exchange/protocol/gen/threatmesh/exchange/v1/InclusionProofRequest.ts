// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { Long } from '@grpc/proto-loader';

export interface InclusionProofRequest {
  'index'?: (number | string | Long);
  'treeSize'?: (number | string | Long);
}

export interface InclusionProofRequest__Output {
  'index': (number);
  'treeSize': (number);
}

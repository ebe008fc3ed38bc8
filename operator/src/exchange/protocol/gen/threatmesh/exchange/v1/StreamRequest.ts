// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { Long } from '@grpc/proto-loader';

export interface StreamRequest {
  'fromIndex'?: (number | string | Long);
  'treeSize'?: (number | string | Long);
}

export interface StreamRequest__Output {
  'fromIndex': (number);
  'treeSize': (number);
}

// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { Long } from '@grpc/proto-loader';

export interface TreeHeadRequest {
  'minTreeSize'?: (number | string | Long);
  'waitMs'?: (number);
}

export interface TreeHeadRequest__Output {
  'minTreeSize': (number);
  'waitMs': (number);
}

// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { Long } from '@grpc/proto-loader';

export interface SignedTreeHead {
  'treeSize'?: (number | string | Long);
  'rootHash'?: (string);
  'timestamp'?: (string);
  'logId'?: (string);
  'signature'?: (string);
}

export interface SignedTreeHead__Output {
  'treeSize': (number);
  'rootHash': (string);
  'timestamp': (string);
  'logId': (string);
  'signature': (string);
}

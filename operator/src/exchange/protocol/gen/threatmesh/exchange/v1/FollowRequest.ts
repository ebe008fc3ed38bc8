// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Revision 4: FollowLog's request.
 */
export interface FollowRequest {
  /**
   * The first entry the caller needs (its cursor).
   */
  'fromIndex'?: (number | string | Long);
  /**
   * The size of the tree head the caller accepted (0: none): the first head pushed carries the
   * consistency proof from it when it is smaller than that head (else no proof).
   */
  'treeSize'?: (number | string | Long);
  /**
   * Bounds of each entries message, as StreamBatchRequest's (0: the sequencer's defaults).
   */
  'maxEntries'?: (number);
  'maxBytes'?: (number);
}

/**
 * Revision 4: FollowLog's request.
 */
export interface FollowRequest__Output {
  /**
   * The first entry the caller needs (its cursor).
   */
  'fromIndex': (number);
  /**
   * The size of the tree head the caller accepted (0: none): the first head pushed carries the
   * consistency proof from it when it is smaller than that head (else no proof).
   */
  'treeSize': (number);
  /**
   * Bounds of each entries message, as StreamBatchRequest's (0: the sequencer's defaults).
   */
  'maxEntries': (number);
  'maxBytes': (number);
}

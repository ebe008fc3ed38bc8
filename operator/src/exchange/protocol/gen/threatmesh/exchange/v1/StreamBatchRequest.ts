// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Revision 3: StreamEntries' request with the caller's bounds on one batch.
 */
export interface StreamBatchRequest {
  'fromIndex'?: (number | string | Long);
  'treeSize'?: (number | string | Long);
  /**
   * Most entries per LogEntryBatch, 1..1,000; 0 means the sequencer's default (256). More than
   * 1,000 is refused (INVALID_ARGUMENT, batch-too-large). The sequencer may send fewer.
   */
  'maxEntries'?: (number);
  /**
   * Most bytes per LogEntryBatch the caller wants; 0 means the sequencer's default (1 MiB). The
   * sequencer sends no more than its own bound either; a single entry larger than both is sent
   * alone. Keep it under the caller's gRPC receive limit.
   */
  'maxBytes'?: (number);
}

/**
 * Revision 3: StreamEntries' request with the caller's bounds on one batch.
 */
export interface StreamBatchRequest__Output {
  'fromIndex': (number);
  'treeSize': (number);
  /**
   * Most entries per LogEntryBatch, 1..1,000; 0 means the sequencer's default (256). More than
   * 1,000 is refused (INVALID_ARGUMENT, batch-too-large). The sequencer may send fewer.
   */
  'maxEntries': (number);
  /**
   * Most bytes per LogEntryBatch the caller wants; 0 means the sequencer's default (1 MiB). The
   * sequencer sends no more than its own bound either; a single entry larger than both is sent
   * alone. Keep it under the caller's gRPC receive limit.
   */
  'maxBytes': (number);
}

// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { LogEntry as _threatmesh_exchange_v1_LogEntry, LogEntry__Output as _threatmesh_exchange_v1_LogEntry__Output } from '../../../threatmesh/exchange/v1/LogEntry.ts';

/**
 * Revision 3: consecutive entries of one StreamEntryBatches call, at least one. Each entry is
 * exactly what StreamEntries would send (its index, body and inclusion proof in the tree of
 * StreamBatchRequest.tree_size leaves); partners check every one as they would single entries.
 */
export interface LogEntryBatch {
  'entries'?: (_threatmesh_exchange_v1_LogEntry)[];
}

/**
 * Revision 3: consecutive entries of one StreamEntryBatches call, at least one. Each entry is
 * exactly what StreamEntries would send (its index, body and inclusion proof in the tree of
 * StreamBatchRequest.tree_size leaves); partners check every one as they would single entries.
 */
export interface LogEntryBatch__Output {
  'entries': (_threatmesh_exchange_v1_LogEntry__Output)[];
}

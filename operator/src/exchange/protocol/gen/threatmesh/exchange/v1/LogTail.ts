// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { LogEntry as _threatmesh_exchange_v1_LogEntry, LogEntry__Output as _threatmesh_exchange_v1_LogEntry__Output } from '../../../threatmesh/exchange/v1/LogEntry.ts';
import type { TailHead as _threatmesh_exchange_v1_TailHead, TailHead__Output as _threatmesh_exchange_v1_TailHead__Output } from '../../../threatmesh/exchange/v1/TailHead.ts';

/**
 * Revision 4: one FollowLog message: either a tree head or entries, never both and never neither.
 * Entries are field 1 exactly as LogEntryBatch's, so a LogEntryBatch message is a LogTail
 * message with entries only (the sequencer sends the same bytes on both streams).
 */
export interface LogTail {
  /**
   * Consecutive entries of the latest head sent on this stream, with inclusion proofs in its tree.
   */
  'entries'?: (_threatmesh_exchange_v1_LogEntry)[];
  /**
   * A new signed tree head; its entries follow in the next messages.
   */
  'head'?: (_threatmesh_exchange_v1_TailHead | null);
}

/**
 * Revision 4: one FollowLog message: either a tree head or entries, never both and never neither.
 * Entries are field 1 exactly as LogEntryBatch's, so a LogEntryBatch message is a LogTail
 * message with entries only (the sequencer sends the same bytes on both streams).
 */
export interface LogTail__Output {
  /**
   * Consecutive entries of the latest head sent on this stream, with inclusion proofs in its tree.
   */
  'entries': (_threatmesh_exchange_v1_LogEntry__Output)[];
  /**
   * A new signed tree head; its entries follow in the next messages.
   */
  'head': (_threatmesh_exchange_v1_TailHead__Output | null);
}

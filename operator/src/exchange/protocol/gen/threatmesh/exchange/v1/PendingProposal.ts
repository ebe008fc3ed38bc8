// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { EntryKind as _threatmesh_exchange_v1_EntryKind, EntryKind__Output as _threatmesh_exchange_v1_EntryKind__Output } from '../../../threatmesh/exchange/v1/EntryKind.ts';
import type { VotingWindow as _threatmesh_exchange_v1_VotingWindow, VotingWindow__Output as _threatmesh_exchange_v1_VotingWindow__Output } from '../../../threatmesh/exchange/v1/VotingWindow.ts';

export interface PendingProposal {
  'kind'?: (_threatmesh_exchange_v1_EntryKind);
  'indicatorJson'?: (string);
  'proposerId'?: (string);
  'signature'?: (string);
  'digest'?: (string);
  'subject'?: (string);
  'window'?: (_threatmesh_exchange_v1_VotingWindow | null);
  /**
   * Votes counted so far, and approvals needed (the tally only informs; voters still judge for themselves).
   */
  'approvals'?: (number);
  'rejections'?: (number);
  'required'?: (number);
  /**
   * The metadata the proposer signed with the indicator (Proposal.meta_json); empty when none.
   */
  'metaJson'?: (string);
  /**
   * Protocol v2: the proposal's Proposal.batch_proof; empty for a single proposal.
   */
  'batchProof'?: (string);
}

export interface PendingProposal__Output {
  'kind': (_threatmesh_exchange_v1_EntryKind__Output);
  'indicatorJson': (string);
  'proposerId': (string);
  'signature': (string);
  'digest': (string);
  'subject': (string);
  'window': (_threatmesh_exchange_v1_VotingWindow__Output | null);
  /**
   * Votes counted so far, and approvals needed (the tally only informs; voters still judge for themselves).
   */
  'approvals': (number);
  'rejections': (number);
  'required': (number);
  /**
   * The metadata the proposer signed with the indicator (Proposal.meta_json); empty when none.
   */
  'metaJson': (string);
  /**
   * Protocol v2: the proposal's Proposal.batch_proof; empty for a single proposal.
   */
  'batchProof': (string);
}

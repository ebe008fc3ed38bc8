// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { EntryKind as _threatmesh_exchange_v1_EntryKind, EntryKind__Output as _threatmesh_exchange_v1_EntryKind__Output } from '../../../threatmesh/exchange/v1/EntryKind.ts';
import type { VotingWindow as _threatmesh_exchange_v1_VotingWindow, VotingWindow__Output as _threatmesh_exchange_v1_VotingWindow__Output } from '../../../threatmesh/exchange/v1/VotingWindow.ts';
import type { SignedVote as _threatmesh_exchange_v1_SignedVote, SignedVote__Output as _threatmesh_exchange_v1_SignedVote__Output } from '../../../threatmesh/exchange/v1/SignedVote.ts';
import type { Long } from '@grpc/proto-loader';

export interface LogEntry {
  'index'?: (number | string | Long);
  'kind'?: (_threatmesh_exchange_v1_EntryKind);
  'indicatorJson'?: (string);
  'proposerId'?: (string);
  'proposalSignature'?: (string);
  'window'?: (_threatmesh_exchange_v1_VotingWindow | null);
  /**
   * The quorum certificate: every valid vote collected in the round, by partner id.
   */
  'votes'?: (_threatmesh_exchange_v1_SignedVote)[];
  /**
   * Inclusion proof of this entry's leaf in the tree of StreamRequest.tree_size leaves.
   */
  'inclusionProof'?: (string)[];
  /**
   * The metadata the proposer signed (Proposal.meta_json); empty when none. Part of the leaf
   * bytes when present, so the signed tree head commits to it.
   */
  'metaJson'?: (string);
  /**
   * Protocol v2: the proposal's Proposal.batch_proof (ADD and REJECT entries); empty for a
   * single proposal. Part of the leaf bytes when present (with "v":2).
   */
  'proposalBatchProof'?: (string);
}

export interface LogEntry__Output {
  'index': (number);
  'kind': (_threatmesh_exchange_v1_EntryKind__Output);
  'indicatorJson': (string);
  'proposerId': (string);
  'proposalSignature': (string);
  'window': (_threatmesh_exchange_v1_VotingWindow__Output | null);
  /**
   * The quorum certificate: every valid vote collected in the round, by partner id.
   */
  'votes': (_threatmesh_exchange_v1_SignedVote__Output)[];
  /**
   * Inclusion proof of this entry's leaf in the tree of StreamRequest.tree_size leaves.
   */
  'inclusionProof': (string)[];
  /**
   * The metadata the proposer signed (Proposal.meta_json); empty when none. Part of the leaf
   * bytes when present, so the signed tree head commits to it.
   */
  'metaJson': (string);
  /**
   * Protocol v2: the proposal's Proposal.batch_proof (ADD and REJECT entries); empty for a
   * single proposal. Part of the leaf bytes when present (with "v":2).
   */
  'proposalBatchProof': (string);
}

// Original file: operator/src/exchange/protocol/threatmesh.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ConsistencyProofRequest as _threatmesh_exchange_v1_ConsistencyProofRequest, ConsistencyProofRequest__Output as _threatmesh_exchange_v1_ConsistencyProofRequest__Output } from '../../../threatmesh/exchange/v1/ConsistencyProofRequest.ts';
import type { FollowRequest as _threatmesh_exchange_v1_FollowRequest, FollowRequest__Output as _threatmesh_exchange_v1_FollowRequest__Output } from '../../../threatmesh/exchange/v1/FollowRequest.ts';
import type { InclusionProofRequest as _threatmesh_exchange_v1_InclusionProofRequest, InclusionProofRequest__Output as _threatmesh_exchange_v1_InclusionProofRequest__Output } from '../../../threatmesh/exchange/v1/InclusionProofRequest.ts';
import type { ListPendingRequest as _threatmesh_exchange_v1_ListPendingRequest, ListPendingRequest__Output as _threatmesh_exchange_v1_ListPendingRequest__Output } from '../../../threatmesh/exchange/v1/ListPendingRequest.ts';
import type { LogEntry as _threatmesh_exchange_v1_LogEntry, LogEntry__Output as _threatmesh_exchange_v1_LogEntry__Output } from '../../../threatmesh/exchange/v1/LogEntry.ts';
import type { LogEntryBatch as _threatmesh_exchange_v1_LogEntryBatch, LogEntryBatch__Output as _threatmesh_exchange_v1_LogEntryBatch__Output } from '../../../threatmesh/exchange/v1/LogEntryBatch.ts';
import type { LogTail as _threatmesh_exchange_v1_LogTail, LogTail__Output as _threatmesh_exchange_v1_LogTail__Output } from '../../../threatmesh/exchange/v1/LogTail.ts';
import type { PendingProposals as _threatmesh_exchange_v1_PendingProposals, PendingProposals__Output as _threatmesh_exchange_v1_PendingProposals__Output } from '../../../threatmesh/exchange/v1/PendingProposals.ts';
import type { Proof as _threatmesh_exchange_v1_Proof, Proof__Output as _threatmesh_exchange_v1_Proof__Output } from '../../../threatmesh/exchange/v1/Proof.ts';
import type { Proposal as _threatmesh_exchange_v1_Proposal, Proposal__Output as _threatmesh_exchange_v1_Proposal__Output } from '../../../threatmesh/exchange/v1/Proposal.ts';
import type { ProposalAck as _threatmesh_exchange_v1_ProposalAck, ProposalAck__Output as _threatmesh_exchange_v1_ProposalAck__Output } from '../../../threatmesh/exchange/v1/ProposalAck.ts';
import type { ProposalBatch as _threatmesh_exchange_v1_ProposalBatch, ProposalBatch__Output as _threatmesh_exchange_v1_ProposalBatch__Output } from '../../../threatmesh/exchange/v1/ProposalBatch.ts';
import type { ProposalBatchAck as _threatmesh_exchange_v1_ProposalBatchAck, ProposalBatchAck__Output as _threatmesh_exchange_v1_ProposalBatchAck__Output } from '../../../threatmesh/exchange/v1/ProposalBatchAck.ts';
import type { SignedTreeHead as _threatmesh_exchange_v1_SignedTreeHead, SignedTreeHead__Output as _threatmesh_exchange_v1_SignedTreeHead__Output } from '../../../threatmesh/exchange/v1/SignedTreeHead.ts';
import type { SignedVote as _threatmesh_exchange_v1_SignedVote, SignedVote__Output as _threatmesh_exchange_v1_SignedVote__Output } from '../../../threatmesh/exchange/v1/SignedVote.ts';
import type { StreamBatchRequest as _threatmesh_exchange_v1_StreamBatchRequest, StreamBatchRequest__Output as _threatmesh_exchange_v1_StreamBatchRequest__Output } from '../../../threatmesh/exchange/v1/StreamBatchRequest.ts';
import type { StreamRequest as _threatmesh_exchange_v1_StreamRequest, StreamRequest__Output as _threatmesh_exchange_v1_StreamRequest__Output } from '../../../threatmesh/exchange/v1/StreamRequest.ts';
import type { TreeHeadRequest as _threatmesh_exchange_v1_TreeHeadRequest, TreeHeadRequest__Output as _threatmesh_exchange_v1_TreeHeadRequest__Output } from '../../../threatmesh/exchange/v1/TreeHeadRequest.ts';
import type { VoteAck as _threatmesh_exchange_v1_VoteAck, VoteAck__Output as _threatmesh_exchange_v1_VoteAck__Output } from '../../../threatmesh/exchange/v1/VoteAck.ts';
import type { VoteBatch as _threatmesh_exchange_v1_VoteBatch, VoteBatch__Output as _threatmesh_exchange_v1_VoteBatch__Output } from '../../../threatmesh/exchange/v1/VoteBatch.ts';
import type { VoteBatchAck as _threatmesh_exchange_v1_VoteBatchAck, VoteBatchAck__Output as _threatmesh_exchange_v1_VoteBatchAck__Output } from '../../../threatmesh/exchange/v1/VoteBatchAck.ts';

export interface ExchangeClient extends grpc.Client {
  /**
   * Revision 4, the live tail: first the latest signed tree head, then every later one as the
   * log grows (each with the consistency proof from the head sent before it on this stream),
   * each head followed by the entries [cursor, its tree_size) with their inclusion proofs in its
   * tree, packed as StreamEntryBatches packs them (cursor: from_index, then the size of the
   * head before). Heads may be coalesced under load. The stream stays open until the caller
   * cancels it, its deadline, a stop of the sequencer (UNAVAILABLE sequencer-stopping) or a
   * range longer than the sequencer's per-stream bound (the stream then ends OK after the part
   * sent: resume with StreamEntryBatches and follow again). A sequencer before revision 4
   * answers UNIMPLEMENTED: call GetTreeHead, GetConsistencyProof and StreamEntryBatches instead.
   */
  FollowLog(argument: _threatmesh_exchange_v1_FollowRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogTail__Output>;
  FollowLog(argument: _threatmesh_exchange_v1_FollowRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogTail__Output>;
  /**
   * Revision 4, the live tail: first the latest signed tree head, then every later one as the
   * log grows (each with the consistency proof from the head sent before it on this stream),
   * each head followed by the entries [cursor, its tree_size) with their inclusion proofs in its
   * tree, packed as StreamEntryBatches packs them (cursor: from_index, then the size of the
   * head before). Heads may be coalesced under load. The stream stays open until the caller
   * cancels it, its deadline, a stop of the sequencer (UNAVAILABLE sequencer-stopping) or a
   * range longer than the sequencer's per-stream bound (the stream then ends OK after the part
   * sent: resume with StreamEntryBatches and follow again). A sequencer before revision 4
   * answers UNIMPLEMENTED: call GetTreeHead, GetConsistencyProof and StreamEntryBatches instead.
   */
  followLog(argument: _threatmesh_exchange_v1_FollowRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogTail__Output>;
  followLog(argument: _threatmesh_exchange_v1_FollowRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogTail__Output>;
  
  /**
   * RFC 9162 consistency proof between the trees of old_size and new_size leaves.
   */
  GetConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  GetConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  GetConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  GetConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  /**
   * RFC 9162 consistency proof between the trees of old_size and new_size leaves.
   */
  getConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  
  /**
   * RFC 9162 inclusion proof of leaf index in the tree of tree_size leaves.
   */
  GetInclusionProof(argument: _threatmesh_exchange_v1_InclusionProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  GetInclusionProof(argument: _threatmesh_exchange_v1_InclusionProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  GetInclusionProof(argument: _threatmesh_exchange_v1_InclusionProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  GetInclusionProof(argument: _threatmesh_exchange_v1_InclusionProofRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  /**
   * RFC 9162 inclusion proof of leaf index in the tree of tree_size leaves.
   */
  getInclusionProof(argument: _threatmesh_exchange_v1_InclusionProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  getInclusionProof(argument: _threatmesh_exchange_v1_InclusionProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  getInclusionProof(argument: _threatmesh_exchange_v1_InclusionProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  getInclusionProof(argument: _threatmesh_exchange_v1_InclusionProofRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  
  /**
   * The latest signed tree head; waits up to wait_ms for the log to reach min_tree_size.
   */
  GetTreeHead(argument: _threatmesh_exchange_v1_TreeHeadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_SignedTreeHead__Output>): grpc.ClientUnaryCall;
  GetTreeHead(argument: _threatmesh_exchange_v1_TreeHeadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_SignedTreeHead__Output>): grpc.ClientUnaryCall;
  GetTreeHead(argument: _threatmesh_exchange_v1_TreeHeadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_SignedTreeHead__Output>): grpc.ClientUnaryCall;
  GetTreeHead(argument: _threatmesh_exchange_v1_TreeHeadRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_SignedTreeHead__Output>): grpc.ClientUnaryCall;
  /**
   * The latest signed tree head; waits up to wait_ms for the log to reach min_tree_size.
   */
  getTreeHead(argument: _threatmesh_exchange_v1_TreeHeadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_SignedTreeHead__Output>): grpc.ClientUnaryCall;
  getTreeHead(argument: _threatmesh_exchange_v1_TreeHeadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_SignedTreeHead__Output>): grpc.ClientUnaryCall;
  getTreeHead(argument: _threatmesh_exchange_v1_TreeHeadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_SignedTreeHead__Output>): grpc.ClientUnaryCall;
  getTreeHead(argument: _threatmesh_exchange_v1_TreeHeadRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_SignedTreeHead__Output>): grpc.ClientUnaryCall;
  
  /**
   * The proposals waiting for votes, so voters can judge them.
   */
  ListPending(argument: _threatmesh_exchange_v1_ListPendingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_PendingProposals__Output>): grpc.ClientUnaryCall;
  ListPending(argument: _threatmesh_exchange_v1_ListPendingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_PendingProposals__Output>): grpc.ClientUnaryCall;
  ListPending(argument: _threatmesh_exchange_v1_ListPendingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_PendingProposals__Output>): grpc.ClientUnaryCall;
  ListPending(argument: _threatmesh_exchange_v1_ListPendingRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_PendingProposals__Output>): grpc.ClientUnaryCall;
  /**
   * The proposals waiting for votes, so voters can judge them.
   */
  listPending(argument: _threatmesh_exchange_v1_ListPendingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_PendingProposals__Output>): grpc.ClientUnaryCall;
  listPending(argument: _threatmesh_exchange_v1_ListPendingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_PendingProposals__Output>): grpc.ClientUnaryCall;
  listPending(argument: _threatmesh_exchange_v1_ListPendingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_PendingProposals__Output>): grpc.ClientUnaryCall;
  listPending(argument: _threatmesh_exchange_v1_ListPendingRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_PendingProposals__Output>): grpc.ClientUnaryCall;
  
  /**
   * Submits a signed proposal to add an indicator (kind ADD) or to revoke an admitted one
   * (kind REVOKE). Idempotent: an indicator already admitted (or revoked) is acknowledged.
   */
  Propose(argument: _threatmesh_exchange_v1_Proposal, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalAck__Output>): grpc.ClientUnaryCall;
  Propose(argument: _threatmesh_exchange_v1_Proposal, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalAck__Output>): grpc.ClientUnaryCall;
  Propose(argument: _threatmesh_exchange_v1_Proposal, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalAck__Output>): grpc.ClientUnaryCall;
  Propose(argument: _threatmesh_exchange_v1_Proposal, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalAck__Output>): grpc.ClientUnaryCall;
  /**
   * Submits a signed proposal to add an indicator (kind ADD) or to revoke an admitted one
   * (kind REVOKE). Idempotent: an indicator already admitted (or revoked) is acknowledged.
   */
  propose(argument: _threatmesh_exchange_v1_Proposal, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalAck__Output>): grpc.ClientUnaryCall;
  propose(argument: _threatmesh_exchange_v1_Proposal, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalAck__Output>): grpc.ClientUnaryCall;
  propose(argument: _threatmesh_exchange_v1_Proposal, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalAck__Output>): grpc.ClientUnaryCall;
  propose(argument: _threatmesh_exchange_v1_Proposal, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalAck__Output>): grpc.ClientUnaryCall;
  
  /**
   * Many proposals in one call (feeds propose in bulk); each item is answered on its own.
   */
  ProposeBatch(argument: _threatmesh_exchange_v1_ProposalBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalBatchAck__Output>): grpc.ClientUnaryCall;
  ProposeBatch(argument: _threatmesh_exchange_v1_ProposalBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalBatchAck__Output>): grpc.ClientUnaryCall;
  ProposeBatch(argument: _threatmesh_exchange_v1_ProposalBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalBatchAck__Output>): grpc.ClientUnaryCall;
  ProposeBatch(argument: _threatmesh_exchange_v1_ProposalBatch, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalBatchAck__Output>): grpc.ClientUnaryCall;
  /**
   * Many proposals in one call (feeds propose in bulk); each item is answered on its own.
   */
  proposeBatch(argument: _threatmesh_exchange_v1_ProposalBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalBatchAck__Output>): grpc.ClientUnaryCall;
  proposeBatch(argument: _threatmesh_exchange_v1_ProposalBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalBatchAck__Output>): grpc.ClientUnaryCall;
  proposeBatch(argument: _threatmesh_exchange_v1_ProposalBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalBatchAck__Output>): grpc.ClientUnaryCall;
  proposeBatch(argument: _threatmesh_exchange_v1_ProposalBatch, callback: grpc.requestCallback<_threatmesh_exchange_v1_ProposalBatchAck__Output>): grpc.ClientUnaryCall;
  
  /**
   * Log entries [from_index, tree_size), each with its inclusion proof in the tree of
   * tree_size leaves (the size of a signed tree head the caller already holds).
   */
  StreamEntries(argument: _threatmesh_exchange_v1_StreamRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogEntry__Output>;
  StreamEntries(argument: _threatmesh_exchange_v1_StreamRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogEntry__Output>;
  /**
   * Log entries [from_index, tree_size), each with its inclusion proof in the tree of
   * tree_size leaves (the size of a signed tree head the caller already holds).
   */
  streamEntries(argument: _threatmesh_exchange_v1_StreamRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogEntry__Output>;
  streamEntries(argument: _threatmesh_exchange_v1_StreamRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogEntry__Output>;
  
  /**
   * Revision 3: the entries StreamEntries would send, in the same order with the same proofs,
   * packed several per message (each message at most max_entries entries and about max_bytes
   * bytes; an entry larger than that travels alone). A sequencer before revision 3 answers
   * UNIMPLEMENTED: call StreamEntries instead.
   */
  StreamEntryBatches(argument: _threatmesh_exchange_v1_StreamBatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogEntryBatch__Output>;
  StreamEntryBatches(argument: _threatmesh_exchange_v1_StreamBatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogEntryBatch__Output>;
  /**
   * Revision 3: the entries StreamEntries would send, in the same order with the same proofs,
   * packed several per message (each message at most max_entries entries and about max_bytes
   * bytes; an entry larger than that travels alone). A sequencer before revision 3 answers
   * UNIMPLEMENTED: call StreamEntries instead.
   */
  streamEntryBatches(argument: _threatmesh_exchange_v1_StreamBatchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogEntryBatch__Output>;
  streamEntryBatches(argument: _threatmesh_exchange_v1_StreamBatchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_threatmesh_exchange_v1_LogEntryBatch__Output>;
  
  /**
   * Submits one partner's signed vote on a pending proposal.
   */
  Vote(argument: _threatmesh_exchange_v1_SignedVote, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteAck__Output>): grpc.ClientUnaryCall;
  Vote(argument: _threatmesh_exchange_v1_SignedVote, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteAck__Output>): grpc.ClientUnaryCall;
  Vote(argument: _threatmesh_exchange_v1_SignedVote, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteAck__Output>): grpc.ClientUnaryCall;
  Vote(argument: _threatmesh_exchange_v1_SignedVote, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteAck__Output>): grpc.ClientUnaryCall;
  /**
   * Submits one partner's signed vote on a pending proposal.
   */
  vote(argument: _threatmesh_exchange_v1_SignedVote, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteAck__Output>): grpc.ClientUnaryCall;
  vote(argument: _threatmesh_exchange_v1_SignedVote, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteAck__Output>): grpc.ClientUnaryCall;
  vote(argument: _threatmesh_exchange_v1_SignedVote, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteAck__Output>): grpc.ClientUnaryCall;
  vote(argument: _threatmesh_exchange_v1_SignedVote, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteAck__Output>): grpc.ClientUnaryCall;
  
  /**
   * Many votes of the caller in one call; each item is answered on its own.
   */
  VoteBatch(argument: _threatmesh_exchange_v1_VoteBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteBatchAck__Output>): grpc.ClientUnaryCall;
  VoteBatch(argument: _threatmesh_exchange_v1_VoteBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteBatchAck__Output>): grpc.ClientUnaryCall;
  VoteBatch(argument: _threatmesh_exchange_v1_VoteBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteBatchAck__Output>): grpc.ClientUnaryCall;
  VoteBatch(argument: _threatmesh_exchange_v1_VoteBatch, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteBatchAck__Output>): grpc.ClientUnaryCall;
  /**
   * Many votes of the caller in one call; each item is answered on its own.
   */
  voteBatch(argument: _threatmesh_exchange_v1_VoteBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteBatchAck__Output>): grpc.ClientUnaryCall;
  voteBatch(argument: _threatmesh_exchange_v1_VoteBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteBatchAck__Output>): grpc.ClientUnaryCall;
  voteBatch(argument: _threatmesh_exchange_v1_VoteBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteBatchAck__Output>): grpc.ClientUnaryCall;
  voteBatch(argument: _threatmesh_exchange_v1_VoteBatch, callback: grpc.requestCallback<_threatmesh_exchange_v1_VoteBatchAck__Output>): grpc.ClientUnaryCall;
  
}

export interface ExchangeHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Revision 4, the live tail: first the latest signed tree head, then every later one as the
   * log grows (each with the consistency proof from the head sent before it on this stream),
   * each head followed by the entries [cursor, its tree_size) with their inclusion proofs in its
   * tree, packed as StreamEntryBatches packs them (cursor: from_index, then the size of the
   * head before). Heads may be coalesced under load. The stream stays open until the caller
   * cancels it, its deadline, a stop of the sequencer (UNAVAILABLE sequencer-stopping) or a
   * range longer than the sequencer's per-stream bound (the stream then ends OK after the part
   * sent: resume with StreamEntryBatches and follow again). A sequencer before revision 4
   * answers UNIMPLEMENTED: call GetTreeHead, GetConsistencyProof and StreamEntryBatches instead.
   */
  FollowLog: grpc.handleServerStreamingCall<_threatmesh_exchange_v1_FollowRequest__Output, _threatmesh_exchange_v1_LogTail>;
  
  /**
   * RFC 9162 consistency proof between the trees of old_size and new_size leaves.
   */
  GetConsistencyProof: grpc.handleUnaryCall<_threatmesh_exchange_v1_ConsistencyProofRequest__Output, _threatmesh_exchange_v1_Proof>;
  
  /**
   * RFC 9162 inclusion proof of leaf index in the tree of tree_size leaves.
   */
  GetInclusionProof: grpc.handleUnaryCall<_threatmesh_exchange_v1_InclusionProofRequest__Output, _threatmesh_exchange_v1_Proof>;
  
  /**
   * The latest signed tree head; waits up to wait_ms for the log to reach min_tree_size.
   */
  GetTreeHead: grpc.handleUnaryCall<_threatmesh_exchange_v1_TreeHeadRequest__Output, _threatmesh_exchange_v1_SignedTreeHead>;
  
  /**
   * The proposals waiting for votes, so voters can judge them.
   */
  ListPending: grpc.handleUnaryCall<_threatmesh_exchange_v1_ListPendingRequest__Output, _threatmesh_exchange_v1_PendingProposals>;
  
  /**
   * Submits a signed proposal to add an indicator (kind ADD) or to revoke an admitted one
   * (kind REVOKE). Idempotent: an indicator already admitted (or revoked) is acknowledged.
   */
  Propose: grpc.handleUnaryCall<_threatmesh_exchange_v1_Proposal__Output, _threatmesh_exchange_v1_ProposalAck>;
  
  /**
   * Many proposals in one call (feeds propose in bulk); each item is answered on its own.
   */
  ProposeBatch: grpc.handleUnaryCall<_threatmesh_exchange_v1_ProposalBatch__Output, _threatmesh_exchange_v1_ProposalBatchAck>;
  
  /**
   * Log entries [from_index, tree_size), each with its inclusion proof in the tree of
   * tree_size leaves (the size of a signed tree head the caller already holds).
   */
  StreamEntries: grpc.handleServerStreamingCall<_threatmesh_exchange_v1_StreamRequest__Output, _threatmesh_exchange_v1_LogEntry>;
  
  /**
   * Revision 3: the entries StreamEntries would send, in the same order with the same proofs,
   * packed several per message (each message at most max_entries entries and about max_bytes
   * bytes; an entry larger than that travels alone). A sequencer before revision 3 answers
   * UNIMPLEMENTED: call StreamEntries instead.
   */
  StreamEntryBatches: grpc.handleServerStreamingCall<_threatmesh_exchange_v1_StreamBatchRequest__Output, _threatmesh_exchange_v1_LogEntryBatch>;
  
  /**
   * Submits one partner's signed vote on a pending proposal.
   */
  Vote: grpc.handleUnaryCall<_threatmesh_exchange_v1_SignedVote__Output, _threatmesh_exchange_v1_VoteAck>;
  
  /**
   * Many votes of the caller in one call; each item is answered on its own.
   */
  VoteBatch: grpc.handleUnaryCall<_threatmesh_exchange_v1_VoteBatch__Output, _threatmesh_exchange_v1_VoteBatchAck>;
  
}

export interface ExchangeDefinition extends grpc.ServiceDefinition {
  FollowLog: MethodDefinition<_threatmesh_exchange_v1_FollowRequest, _threatmesh_exchange_v1_LogTail, _threatmesh_exchange_v1_FollowRequest__Output, _threatmesh_exchange_v1_LogTail__Output>
  GetConsistencyProof: MethodDefinition<_threatmesh_exchange_v1_ConsistencyProofRequest, _threatmesh_exchange_v1_Proof, _threatmesh_exchange_v1_ConsistencyProofRequest__Output, _threatmesh_exchange_v1_Proof__Output>
  GetInclusionProof: MethodDefinition<_threatmesh_exchange_v1_InclusionProofRequest, _threatmesh_exchange_v1_Proof, _threatmesh_exchange_v1_InclusionProofRequest__Output, _threatmesh_exchange_v1_Proof__Output>
  GetTreeHead: MethodDefinition<_threatmesh_exchange_v1_TreeHeadRequest, _threatmesh_exchange_v1_SignedTreeHead, _threatmesh_exchange_v1_TreeHeadRequest__Output, _threatmesh_exchange_v1_SignedTreeHead__Output>
  ListPending: MethodDefinition<_threatmesh_exchange_v1_ListPendingRequest, _threatmesh_exchange_v1_PendingProposals, _threatmesh_exchange_v1_ListPendingRequest__Output, _threatmesh_exchange_v1_PendingProposals__Output>
  Propose: MethodDefinition<_threatmesh_exchange_v1_Proposal, _threatmesh_exchange_v1_ProposalAck, _threatmesh_exchange_v1_Proposal__Output, _threatmesh_exchange_v1_ProposalAck__Output>
  ProposeBatch: MethodDefinition<_threatmesh_exchange_v1_ProposalBatch, _threatmesh_exchange_v1_ProposalBatchAck, _threatmesh_exchange_v1_ProposalBatch__Output, _threatmesh_exchange_v1_ProposalBatchAck__Output>
  StreamEntries: MethodDefinition<_threatmesh_exchange_v1_StreamRequest, _threatmesh_exchange_v1_LogEntry, _threatmesh_exchange_v1_StreamRequest__Output, _threatmesh_exchange_v1_LogEntry__Output>
  StreamEntryBatches: MethodDefinition<_threatmesh_exchange_v1_StreamBatchRequest, _threatmesh_exchange_v1_LogEntryBatch, _threatmesh_exchange_v1_StreamBatchRequest__Output, _threatmesh_exchange_v1_LogEntryBatch__Output>
  Vote: MethodDefinition<_threatmesh_exchange_v1_SignedVote, _threatmesh_exchange_v1_VoteAck, _threatmesh_exchange_v1_SignedVote__Output, _threatmesh_exchange_v1_VoteAck__Output>
  VoteBatch: MethodDefinition<_threatmesh_exchange_v1_VoteBatch, _threatmesh_exchange_v1_VoteBatchAck, _threatmesh_exchange_v1_VoteBatch__Output, _threatmesh_exchange_v1_VoteBatchAck__Output>
}

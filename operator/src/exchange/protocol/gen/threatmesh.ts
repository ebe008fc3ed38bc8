import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AcceptedHead as _threatmesh_exchange_v1_AcceptedHead, AcceptedHead__Output as _threatmesh_exchange_v1_AcceptedHead__Output } from './threatmesh/exchange/v1/AcceptedHead.ts';
import type { AcceptedHeadRequest as _threatmesh_exchange_v1_AcceptedHeadRequest, AcceptedHeadRequest__Output as _threatmesh_exchange_v1_AcceptedHeadRequest__Output } from './threatmesh/exchange/v1/AcceptedHeadRequest.ts';
import type { ConsistencyProofRequest as _threatmesh_exchange_v1_ConsistencyProofRequest, ConsistencyProofRequest__Output as _threatmesh_exchange_v1_ConsistencyProofRequest__Output } from './threatmesh/exchange/v1/ConsistencyProofRequest.ts';
import type { ExchangeClient as _threatmesh_exchange_v1_ExchangeClient, ExchangeDefinition as _threatmesh_exchange_v1_ExchangeDefinition } from './threatmesh/exchange/v1/Exchange.ts';
import type { FollowRequest as _threatmesh_exchange_v1_FollowRequest, FollowRequest__Output as _threatmesh_exchange_v1_FollowRequest__Output } from './threatmesh/exchange/v1/FollowRequest.ts';
import type { GossipClient as _threatmesh_exchange_v1_GossipClient, GossipDefinition as _threatmesh_exchange_v1_GossipDefinition } from './threatmesh/exchange/v1/Gossip.ts';
import type { InclusionProofRequest as _threatmesh_exchange_v1_InclusionProofRequest, InclusionProofRequest__Output as _threatmesh_exchange_v1_InclusionProofRequest__Output } from './threatmesh/exchange/v1/InclusionProofRequest.ts';
import type { ListPendingRequest as _threatmesh_exchange_v1_ListPendingRequest, ListPendingRequest__Output as _threatmesh_exchange_v1_ListPendingRequest__Output } from './threatmesh/exchange/v1/ListPendingRequest.ts';
import type { LogEntry as _threatmesh_exchange_v1_LogEntry, LogEntry__Output as _threatmesh_exchange_v1_LogEntry__Output } from './threatmesh/exchange/v1/LogEntry.ts';
import type { LogEntryBatch as _threatmesh_exchange_v1_LogEntryBatch, LogEntryBatch__Output as _threatmesh_exchange_v1_LogEntryBatch__Output } from './threatmesh/exchange/v1/LogEntryBatch.ts';
import type { LogTail as _threatmesh_exchange_v1_LogTail, LogTail__Output as _threatmesh_exchange_v1_LogTail__Output } from './threatmesh/exchange/v1/LogTail.ts';
import type { PendingProposal as _threatmesh_exchange_v1_PendingProposal, PendingProposal__Output as _threatmesh_exchange_v1_PendingProposal__Output } from './threatmesh/exchange/v1/PendingProposal.ts';
import type { PendingProposals as _threatmesh_exchange_v1_PendingProposals, PendingProposals__Output as _threatmesh_exchange_v1_PendingProposals__Output } from './threatmesh/exchange/v1/PendingProposals.ts';
import type { Proof as _threatmesh_exchange_v1_Proof, Proof__Output as _threatmesh_exchange_v1_Proof__Output } from './threatmesh/exchange/v1/Proof.ts';
import type { Proposal as _threatmesh_exchange_v1_Proposal, Proposal__Output as _threatmesh_exchange_v1_Proposal__Output } from './threatmesh/exchange/v1/Proposal.ts';
import type { ProposalAck as _threatmesh_exchange_v1_ProposalAck, ProposalAck__Output as _threatmesh_exchange_v1_ProposalAck__Output } from './threatmesh/exchange/v1/ProposalAck.ts';
import type { ProposalBatch as _threatmesh_exchange_v1_ProposalBatch, ProposalBatch__Output as _threatmesh_exchange_v1_ProposalBatch__Output } from './threatmesh/exchange/v1/ProposalBatch.ts';
import type { ProposalBatchAck as _threatmesh_exchange_v1_ProposalBatchAck, ProposalBatchAck__Output as _threatmesh_exchange_v1_ProposalBatchAck__Output } from './threatmesh/exchange/v1/ProposalBatchAck.ts';
import type { ProposalOutcome as _threatmesh_exchange_v1_ProposalOutcome, ProposalOutcome__Output as _threatmesh_exchange_v1_ProposalOutcome__Output } from './threatmesh/exchange/v1/ProposalOutcome.ts';
import type { Refusal as _threatmesh_exchange_v1_Refusal, Refusal__Output as _threatmesh_exchange_v1_Refusal__Output } from './threatmesh/exchange/v1/Refusal.ts';
import type { SignedTreeHead as _threatmesh_exchange_v1_SignedTreeHead, SignedTreeHead__Output as _threatmesh_exchange_v1_SignedTreeHead__Output } from './threatmesh/exchange/v1/SignedTreeHead.ts';
import type { SignedVote as _threatmesh_exchange_v1_SignedVote, SignedVote__Output as _threatmesh_exchange_v1_SignedVote__Output } from './threatmesh/exchange/v1/SignedVote.ts';
import type { StreamBatchRequest as _threatmesh_exchange_v1_StreamBatchRequest, StreamBatchRequest__Output as _threatmesh_exchange_v1_StreamBatchRequest__Output } from './threatmesh/exchange/v1/StreamBatchRequest.ts';
import type { StreamRequest as _threatmesh_exchange_v1_StreamRequest, StreamRequest__Output as _threatmesh_exchange_v1_StreamRequest__Output } from './threatmesh/exchange/v1/StreamRequest.ts';
import type { TailHead as _threatmesh_exchange_v1_TailHead, TailHead__Output as _threatmesh_exchange_v1_TailHead__Output } from './threatmesh/exchange/v1/TailHead.ts';
import type { TreeHeadRequest as _threatmesh_exchange_v1_TreeHeadRequest, TreeHeadRequest__Output as _threatmesh_exchange_v1_TreeHeadRequest__Output } from './threatmesh/exchange/v1/TreeHeadRequest.ts';
import type { VoteAck as _threatmesh_exchange_v1_VoteAck, VoteAck__Output as _threatmesh_exchange_v1_VoteAck__Output } from './threatmesh/exchange/v1/VoteAck.ts';
import type { VoteBatch as _threatmesh_exchange_v1_VoteBatch, VoteBatch__Output as _threatmesh_exchange_v1_VoteBatch__Output } from './threatmesh/exchange/v1/VoteBatch.ts';
import type { VoteBatchAck as _threatmesh_exchange_v1_VoteBatchAck, VoteBatchAck__Output as _threatmesh_exchange_v1_VoteBatchAck__Output } from './threatmesh/exchange/v1/VoteBatchAck.ts';
import type { VoteOutcome as _threatmesh_exchange_v1_VoteOutcome, VoteOutcome__Output as _threatmesh_exchange_v1_VoteOutcome__Output } from './threatmesh/exchange/v1/VoteOutcome.ts';
import type { VotingWindow as _threatmesh_exchange_v1_VotingWindow, VotingWindow__Output as _threatmesh_exchange_v1_VotingWindow__Output } from './threatmesh/exchange/v1/VotingWindow.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  threatmesh: {
    exchange: {
      v1: {
        AcceptedHead: MessageTypeDefinition<_threatmesh_exchange_v1_AcceptedHead, _threatmesh_exchange_v1_AcceptedHead__Output>
        AcceptedHeadRequest: MessageTypeDefinition<_threatmesh_exchange_v1_AcceptedHeadRequest, _threatmesh_exchange_v1_AcceptedHeadRequest__Output>
        ConsistencyProofRequest: MessageTypeDefinition<_threatmesh_exchange_v1_ConsistencyProofRequest, _threatmesh_exchange_v1_ConsistencyProofRequest__Output>
        EntryKind: EnumTypeDefinition
        Exchange: SubtypeConstructor<typeof grpc.Client, _threatmesh_exchange_v1_ExchangeClient> & { service: _threatmesh_exchange_v1_ExchangeDefinition }
        FollowRequest: MessageTypeDefinition<_threatmesh_exchange_v1_FollowRequest, _threatmesh_exchange_v1_FollowRequest__Output>
        /**
         * A partner operator's gossip endpoint: the tree head it accepted (verified) from the sequencer,
         * so peers can check that the sequencer shows everyone the same history. Read-only; every
         * partner in the caller's directory may call it over mutual TLS.
         */
        Gossip: SubtypeConstructor<typeof grpc.Client, _threatmesh_exchange_v1_GossipClient> & { service: _threatmesh_exchange_v1_GossipDefinition }
        InclusionProofRequest: MessageTypeDefinition<_threatmesh_exchange_v1_InclusionProofRequest, _threatmesh_exchange_v1_InclusionProofRequest__Output>
        ListPendingRequest: MessageTypeDefinition<_threatmesh_exchange_v1_ListPendingRequest, _threatmesh_exchange_v1_ListPendingRequest__Output>
        LogEntry: MessageTypeDefinition<_threatmesh_exchange_v1_LogEntry, _threatmesh_exchange_v1_LogEntry__Output>
        LogEntryBatch: MessageTypeDefinition<_threatmesh_exchange_v1_LogEntryBatch, _threatmesh_exchange_v1_LogEntryBatch__Output>
        LogTail: MessageTypeDefinition<_threatmesh_exchange_v1_LogTail, _threatmesh_exchange_v1_LogTail__Output>
        PendingProposal: MessageTypeDefinition<_threatmesh_exchange_v1_PendingProposal, _threatmesh_exchange_v1_PendingProposal__Output>
        PendingProposals: MessageTypeDefinition<_threatmesh_exchange_v1_PendingProposals, _threatmesh_exchange_v1_PendingProposals__Output>
        Proof: MessageTypeDefinition<_threatmesh_exchange_v1_Proof, _threatmesh_exchange_v1_Proof__Output>
        Proposal: MessageTypeDefinition<_threatmesh_exchange_v1_Proposal, _threatmesh_exchange_v1_Proposal__Output>
        ProposalAck: MessageTypeDefinition<_threatmesh_exchange_v1_ProposalAck, _threatmesh_exchange_v1_ProposalAck__Output>
        ProposalBatch: MessageTypeDefinition<_threatmesh_exchange_v1_ProposalBatch, _threatmesh_exchange_v1_ProposalBatch__Output>
        ProposalBatchAck: MessageTypeDefinition<_threatmesh_exchange_v1_ProposalBatchAck, _threatmesh_exchange_v1_ProposalBatchAck__Output>
        ProposalOutcome: MessageTypeDefinition<_threatmesh_exchange_v1_ProposalOutcome, _threatmesh_exchange_v1_ProposalOutcome__Output>
        ProposalStatus: EnumTypeDefinition
        Refusal: MessageTypeDefinition<_threatmesh_exchange_v1_Refusal, _threatmesh_exchange_v1_Refusal__Output>
        SignedTreeHead: MessageTypeDefinition<_threatmesh_exchange_v1_SignedTreeHead, _threatmesh_exchange_v1_SignedTreeHead__Output>
        SignedVote: MessageTypeDefinition<_threatmesh_exchange_v1_SignedVote, _threatmesh_exchange_v1_SignedVote__Output>
        StreamBatchRequest: MessageTypeDefinition<_threatmesh_exchange_v1_StreamBatchRequest, _threatmesh_exchange_v1_StreamBatchRequest__Output>
        StreamRequest: MessageTypeDefinition<_threatmesh_exchange_v1_StreamRequest, _threatmesh_exchange_v1_StreamRequest__Output>
        TailHead: MessageTypeDefinition<_threatmesh_exchange_v1_TailHead, _threatmesh_exchange_v1_TailHead__Output>
        TreeHeadRequest: MessageTypeDefinition<_threatmesh_exchange_v1_TreeHeadRequest, _threatmesh_exchange_v1_TreeHeadRequest__Output>
        VoteAck: MessageTypeDefinition<_threatmesh_exchange_v1_VoteAck, _threatmesh_exchange_v1_VoteAck__Output>
        VoteBatch: MessageTypeDefinition<_threatmesh_exchange_v1_VoteBatch, _threatmesh_exchange_v1_VoteBatch__Output>
        VoteBatchAck: MessageTypeDefinition<_threatmesh_exchange_v1_VoteBatchAck, _threatmesh_exchange_v1_VoteBatchAck__Output>
        VoteOutcome: MessageTypeDefinition<_threatmesh_exchange_v1_VoteOutcome, _threatmesh_exchange_v1_VoteOutcome__Output>
        VoteStatus: EnumTypeDefinition
        VotingWindow: MessageTypeDefinition<_threatmesh_exchange_v1_VotingWindow, _threatmesh_exchange_v1_VotingWindow__Output>
      }
    }
  }
}


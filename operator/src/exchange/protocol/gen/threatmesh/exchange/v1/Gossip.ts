// Original file: operator/src/exchange/protocol/threatmesh.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AcceptedHead as _threatmesh_exchange_v1_AcceptedHead, AcceptedHead__Output as _threatmesh_exchange_v1_AcceptedHead__Output } from '../../../threatmesh/exchange/v1/AcceptedHead.ts';
import type { AcceptedHeadRequest as _threatmesh_exchange_v1_AcceptedHeadRequest, AcceptedHeadRequest__Output as _threatmesh_exchange_v1_AcceptedHeadRequest__Output } from '../../../threatmesh/exchange/v1/AcceptedHeadRequest.ts';
import type { ConsistencyProofRequest as _threatmesh_exchange_v1_ConsistencyProofRequest, ConsistencyProofRequest__Output as _threatmesh_exchange_v1_ConsistencyProofRequest__Output } from '../../../threatmesh/exchange/v1/ConsistencyProofRequest.ts';
import type { Proof as _threatmesh_exchange_v1_Proof, Proof__Output as _threatmesh_exchange_v1_Proof__Output } from '../../../threatmesh/exchange/v1/Proof.ts';

/**
 * A partner operator's gossip endpoint: the tree head it accepted (verified) from the sequencer,
 * so peers can check that the sequencer shows everyone the same history. Read-only; every
 * partner in the caller's directory may call it over mutual TLS.
 */
export interface GossipClient extends grpc.Client {
  GetAcceptedHead(argument: _threatmesh_exchange_v1_AcceptedHeadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_AcceptedHead__Output>): grpc.ClientUnaryCall;
  GetAcceptedHead(argument: _threatmesh_exchange_v1_AcceptedHeadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_AcceptedHead__Output>): grpc.ClientUnaryCall;
  GetAcceptedHead(argument: _threatmesh_exchange_v1_AcceptedHeadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_AcceptedHead__Output>): grpc.ClientUnaryCall;
  GetAcceptedHead(argument: _threatmesh_exchange_v1_AcceptedHeadRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_AcceptedHead__Output>): grpc.ClientUnaryCall;
  getAcceptedHead(argument: _threatmesh_exchange_v1_AcceptedHeadRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_AcceptedHead__Output>): grpc.ClientUnaryCall;
  getAcceptedHead(argument: _threatmesh_exchange_v1_AcceptedHeadRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_AcceptedHead__Output>): grpc.ClientUnaryCall;
  getAcceptedHead(argument: _threatmesh_exchange_v1_AcceptedHeadRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_AcceptedHead__Output>): grpc.ClientUnaryCall;
  getAcceptedHead(argument: _threatmesh_exchange_v1_AcceptedHeadRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_AcceptedHead__Output>): grpc.ClientUnaryCall;
  
  /**
   * RFC 9162 consistency proof between the trees of old_size and new_size leaves, computed by the
   * answering partner from the leaf hashes it verified (new_size at most its accepted head's
   * size), so two partners can settle whether their heads agree when the sequencer refuses a
   * proof. Added in exchange.v1 revision 2 (issue 11); an older partner answers UNIMPLEMENTED.
   */
  GetConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  GetConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  GetConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  GetConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  /**
   * RFC 9162 consistency proof between the trees of old_size and new_size leaves, computed by the
   * answering partner from the leaf hashes it verified (new_size at most its accepted head's
   * size), so two partners can settle whether their heads agree when the sequencer refuses a
   * proof. Added in exchange.v1 revision 2 (issue 11); an older partner answers UNIMPLEMENTED.
   */
  getConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  getConsistencyProof(argument: _threatmesh_exchange_v1_ConsistencyProofRequest, callback: grpc.requestCallback<_threatmesh_exchange_v1_Proof__Output>): grpc.ClientUnaryCall;
  
}

/**
 * A partner operator's gossip endpoint: the tree head it accepted (verified) from the sequencer,
 * so peers can check that the sequencer shows everyone the same history. Read-only; every
 * partner in the caller's directory may call it over mutual TLS.
 */
export interface GossipHandlers extends grpc.UntypedServiceImplementation {
  GetAcceptedHead: grpc.handleUnaryCall<_threatmesh_exchange_v1_AcceptedHeadRequest__Output, _threatmesh_exchange_v1_AcceptedHead>;
  
  /**
   * RFC 9162 consistency proof between the trees of old_size and new_size leaves, computed by the
   * answering partner from the leaf hashes it verified (new_size at most its accepted head's
   * size), so two partners can settle whether their heads agree when the sequencer refuses a
   * proof. Added in exchange.v1 revision 2 (issue 11); an older partner answers UNIMPLEMENTED.
   */
  GetConsistencyProof: grpc.handleUnaryCall<_threatmesh_exchange_v1_ConsistencyProofRequest__Output, _threatmesh_exchange_v1_Proof>;
  
}

export interface GossipDefinition extends grpc.ServiceDefinition {
  GetAcceptedHead: MethodDefinition<_threatmesh_exchange_v1_AcceptedHeadRequest, _threatmesh_exchange_v1_AcceptedHead, _threatmesh_exchange_v1_AcceptedHeadRequest__Output, _threatmesh_exchange_v1_AcceptedHead__Output>
  GetConsistencyProof: MethodDefinition<_threatmesh_exchange_v1_ConsistencyProofRequest, _threatmesh_exchange_v1_Proof, _threatmesh_exchange_v1_ConsistencyProofRequest__Output, _threatmesh_exchange_v1_Proof__Output>
}

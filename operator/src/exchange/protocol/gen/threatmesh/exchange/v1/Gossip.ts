// Original file: operator/src/exchange/protocol/threatmesh.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AcceptedHead as _threatmesh_exchange_v1_AcceptedHead, AcceptedHead__Output as _threatmesh_exchange_v1_AcceptedHead__Output } from '../../../threatmesh/exchange/v1/AcceptedHead.ts';
import type { AcceptedHeadRequest as _threatmesh_exchange_v1_AcceptedHeadRequest, AcceptedHeadRequest__Output as _threatmesh_exchange_v1_AcceptedHeadRequest__Output } from '../../../threatmesh/exchange/v1/AcceptedHeadRequest.ts';

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
  
}

/**
 * A partner operator's gossip endpoint: the tree head it accepted (verified) from the sequencer,
 * so peers can check that the sequencer shows everyone the same history. Read-only; every
 * partner in the caller's directory may call it over mutual TLS.
 */
export interface GossipHandlers extends grpc.UntypedServiceImplementation {
  GetAcceptedHead: grpc.handleUnaryCall<_threatmesh_exchange_v1_AcceptedHeadRequest__Output, _threatmesh_exchange_v1_AcceptedHead>;
  
}

export interface GossipDefinition extends grpc.ServiceDefinition {
  GetAcceptedHead: MethodDefinition<_threatmesh_exchange_v1_AcceptedHeadRequest, _threatmesh_exchange_v1_AcceptedHead, _threatmesh_exchange_v1_AcceptedHeadRequest__Output, _threatmesh_exchange_v1_AcceptedHead__Output>
}

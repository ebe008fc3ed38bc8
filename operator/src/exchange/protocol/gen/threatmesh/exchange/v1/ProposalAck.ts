// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { ProposalStatus as _threatmesh_exchange_v1_ProposalStatus, ProposalStatus__Output as _threatmesh_exchange_v1_ProposalStatus__Output } from '../../../threatmesh/exchange/v1/ProposalStatus.ts';
import type { VotingWindow as _threatmesh_exchange_v1_VotingWindow, VotingWindow__Output as _threatmesh_exchange_v1_VotingWindow__Output } from '../../../threatmesh/exchange/v1/VotingWindow.ts';
import type { Long } from '@grpc/proto-loader';

export interface ProposalAck {
  'status'?: (_threatmesh_exchange_v1_ProposalStatus);
  /**
   * Indicator digest.
   */
  'digest'?: (string);
  /**
   * What votes must sign as their digest: the indicator digest for ADD, the revocation
   * subject (SHA-256 of {"digest","kind":"revoke"}) for REVOKE.
   */
  'subject'?: (string);
  /**
   * Log index when status is ALREADY_ADMITTED.
   */
  'logIndex'?: (number | string | Long);
  'window'?: (_threatmesh_exchange_v1_VotingWindow | null);
}

export interface ProposalAck__Output {
  'status': (_threatmesh_exchange_v1_ProposalStatus__Output);
  /**
   * Indicator digest.
   */
  'digest': (string);
  /**
   * What votes must sign as their digest: the indicator digest for ADD, the revocation
   * subject (SHA-256 of {"digest","kind":"revoke"}) for REVOKE.
   */
  'subject': (string);
  /**
   * Log index when status is ALREADY_ADMITTED.
   */
  'logIndex': (number);
  'window': (_threatmesh_exchange_v1_VotingWindow__Output | null);
}

// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { SignedTreeHead as _threatmesh_exchange_v1_SignedTreeHead, SignedTreeHead__Output as _threatmesh_exchange_v1_SignedTreeHead__Output } from '../../../threatmesh/exchange/v1/SignedTreeHead.ts';

export interface AcceptedHead {
  /**
   * The partner answering (its certificate CN).
   */
  'partnerId'?: (string);
  /**
   * Its latest accepted signed tree head; unset before it accepted any.
   */
  'head'?: (_threatmesh_exchange_v1_SignedTreeHead | null);
}

export interface AcceptedHead__Output {
  /**
   * The partner answering (its certificate CN).
   */
  'partnerId': (string);
  /**
   * Its latest accepted signed tree head; unset before it accepted any.
   */
  'head': (_threatmesh_exchange_v1_SignedTreeHead__Output | null);
}

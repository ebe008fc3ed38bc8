// Original file: operator/src/exchange/protocol/threatmesh.proto

import type { SignedTreeHead as _threatmesh_exchange_v1_SignedTreeHead, SignedTreeHead__Output as _threatmesh_exchange_v1_SignedTreeHead__Output } from '../../../threatmesh/exchange/v1/SignedTreeHead.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * Revision 4: a tree head pushed on FollowLog.
 */
export interface TailHead {
  'head'?: (_threatmesh_exchange_v1_SignedTreeHead | null);
  /**
   * The size of the tree the proof starts from: the head sent before on this stream, or the
   * request's tree_size for the first one; 0 when no proof is sent.
   */
  'oldSize'?: (number | string | Long);
  /**
   * RFC 9162 consistency proof between the trees of old_size and head.tree_size leaves.
   */
  'consistencyProof'?: (string)[];
}

/**
 * Revision 4: a tree head pushed on FollowLog.
 */
export interface TailHead__Output {
  'head': (_threatmesh_exchange_v1_SignedTreeHead__Output | null);
  /**
   * The size of the tree the proof starts from: the head sent before on this stream, or the
   * request's tree_size for the first one; 0 when no proof is sent.
   */
  'oldSize': (number);
  /**
   * RFC 9162 consistency proof between the trees of old_size and head.tree_size leaves.
   */
  'consistencyProof': (string)[];
}

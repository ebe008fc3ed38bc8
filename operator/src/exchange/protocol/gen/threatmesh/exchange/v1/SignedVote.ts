// Original file: operator/src/exchange/protocol/threatmesh.proto


export interface SignedVote {
  'partnerId'?: (string);
  /**
   * The subject voted on (ProposalAck.subject).
   */
  'digest'?: (string);
  /**
   * "approve" or "reject".
   */
  'decision'?: (string);
  'reason'?: (string);
  'hasReason'?: (boolean);
  'signedAt'?: (string);
  'signature'?: (string);
}

export interface SignedVote__Output {
  'partnerId': (string);
  /**
   * The subject voted on (ProposalAck.subject).
   */
  'digest': (string);
  /**
   * "approve" or "reject".
   */
  'decision': (string);
  'reason': (string);
  'hasReason': (boolean);
  'signedAt': (string);
  'signature': (string);
}

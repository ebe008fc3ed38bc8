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
  /**
   * Empty (protocol v1): signature of kind "vote" over the vote fields. Set (protocol v2): the
   * signature is of kind "vote-batch" over the Merkle root of a batch of the voter's own votes.
   */
  'signature'?: (string);
  /**
   * Protocol v2, a batch vote: "<leaf index> <batch size> <root> <proof hash> ..." (single
   * spaces, decimal without leading zeros, lowercase hex): the RFC 9162 inclusion proof of this
   * vote's signed fields (leaf: the text a single vote signs) in the batch whose root the voter
   * signed as canonical {"kind":"vote-batch","partnerId","root","size"}. Empty: a single vote.
   */
  'batchProof'?: (string);
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
  /**
   * Empty (protocol v1): signature of kind "vote" over the vote fields. Set (protocol v2): the
   * signature is of kind "vote-batch" over the Merkle root of a batch of the voter's own votes.
   */
  'signature': (string);
  /**
   * Protocol v2, a batch vote: "<leaf index> <batch size> <root> <proof hash> ..." (single
   * spaces, decimal without leading zeros, lowercase hex): the RFC 9162 inclusion proof of this
   * vote's signed fields (leaf: the text a single vote signs) in the batch whose root the voter
   * signed as canonical {"kind":"vote-batch","partnerId","root","size"}. Empty: a single vote.
   */
  'batchProof': (string);
}

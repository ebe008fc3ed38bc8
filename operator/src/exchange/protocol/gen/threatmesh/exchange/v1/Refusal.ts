// Original file: operator/src/exchange/protocol/threatmesh.proto


/**
 * Why one item of a batch was refused: the reason and message a single call would have
 * returned as its status (for example "bad-vote-signature").
 */
export interface Refusal {
  'reason'?: (string);
  'message'?: (string);
}

/**
 * Why one item of a batch was refused: the reason and message a single call would have
 * returned as its status (for example "bad-vote-signature").
 */
export interface Refusal__Output {
  'reason': (string);
  'message': (string);
}

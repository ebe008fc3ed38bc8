// Original file: operator/src/exchange/protocol/threatmesh.proto


export interface ListPendingRequest {
  /**
   * Rounds to skip, in opening order.
   */
  'offset'?: (number);
  /**
   * Most rounds returned; 0 or more than 1,000 means 1,000.
   */
  'limit'?: (number);
}

export interface ListPendingRequest__Output {
  /**
   * Rounds to skip, in opening order.
   */
  'offset': (number);
  /**
   * Most rounds returned; 0 or more than 1,000 means 1,000.
   */
  'limit': (number);
}

// Original file: operator/src/exchange/protocol/threatmesh.proto

export const VoteStatus = {
  VOTE_STATUS_UNSPECIFIED: 'VOTE_STATUS_UNSPECIFIED',
  /**
   * Counted; quorum not decided yet.
   */
  COUNTED: 'COUNTED',
  /**
   * This vote completed the quorum: the entry was appended at log_index.
   */
  APPROVED: 'APPROVED',
  /**
   * Quorum can no longer be reached: the round is closed. An ADD round rejected by its reject
   * votes is logged as a REJECT entry at log_index; a REVOKE round is not logged (log_index 0).
   */
  REJECTED: 'REJECTED',
  /**
   * This partner already voted in this round; the first vote stands.
   */
  DUPLICATE: 'DUPLICATE',
} as const;

export type VoteStatus =
  | 'VOTE_STATUS_UNSPECIFIED'
  | 0
  /**
   * Counted; quorum not decided yet.
   */
  | 'COUNTED'
  | 1
  /**
   * This vote completed the quorum: the entry was appended at log_index.
   */
  | 'APPROVED'
  | 2
  /**
   * Quorum can no longer be reached: the round is closed. An ADD round rejected by its reject
   * votes is logged as a REJECT entry at log_index; a REVOKE round is not logged (log_index 0).
   */
  | 'REJECTED'
  | 3
  /**
   * This partner already voted in this round; the first vote stands.
   */
  | 'DUPLICATE'
  | 4

export type VoteStatus__Output = typeof VoteStatus[keyof typeof VoteStatus]

// Original file: operator/src/exchange/protocol/threatmesh.proto

export const ProposalStatus = {
  PROPOSAL_STATUS_UNSPECIFIED: 'PROPOSAL_STATUS_UNSPECIFIED',
  /**
   * A new voting round was opened.
   */
  OPENED: 'OPENED',
  /**
   * A round for this indicator is already open; the proposal joined it.
   */
  ALREADY_PENDING: 'ALREADY_PENDING',
  /**
   * The indicator is already in the log (ADD) or already revoked (REVOKE).
   */
  ALREADY_ADMITTED: 'ALREADY_ADMITTED',
} as const;

export type ProposalStatus =
  | 'PROPOSAL_STATUS_UNSPECIFIED'
  | 0
  /**
   * A new voting round was opened.
   */
  | 'OPENED'
  | 1
  /**
   * A round for this indicator is already open; the proposal joined it.
   */
  | 'ALREADY_PENDING'
  | 2
  /**
   * The indicator is already in the log (ADD) or already revoked (REVOKE).
   */
  | 'ALREADY_ADMITTED'
  | 3

export type ProposalStatus__Output = typeof ProposalStatus[keyof typeof ProposalStatus]

// Original file: operator/src/exchange/protocol/threatmesh.proto

export const EntryKind = {
  ENTRY_KIND_UNSPECIFIED: 'ENTRY_KIND_UNSPECIFIED',
  ADD: 'ADD',
  REVOKE: 'REVOKE',
  /**
   * Log entries only (never a proposal: refused invalid-kind): an ADD round rejected by votes.
   * The entry carries the ADD proposal (indicator_json, meta_json, proposal_signature) and, as
   * votes, the reject votes on the ADD subject that made the quorum unreachable.
   */
  REJECT: 'REJECT',
} as const;

export type EntryKind =
  | 'ENTRY_KIND_UNSPECIFIED'
  | 0
  | 'ADD'
  | 1
  | 'REVOKE'
  | 2
  /**
   * Log entries only (never a proposal: refused invalid-kind): an ADD round rejected by votes.
   * The entry carries the ADD proposal (indicator_json, meta_json, proposal_signature) and, as
   * votes, the reject votes on the ADD subject that made the quorum unreachable.
   */
  | 'REJECT'
  | 3

export type EntryKind__Output = typeof EntryKind[keyof typeof EntryKind]

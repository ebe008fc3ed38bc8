// Original file: operator/src/exchange/protocol/threatmesh.proto

export const EntryKind = {
  ENTRY_KIND_UNSPECIFIED: 'ENTRY_KIND_UNSPECIFIED',
  ADD: 'ADD',
  REVOKE: 'REVOKE',
} as const;

export type EntryKind =
  | 'ENTRY_KIND_UNSPECIFIED'
  | 0
  | 'ADD'
  | 1
  | 'REVOKE'
  | 2

export type EntryKind__Output = typeof EntryKind[keyof typeof EntryKind]

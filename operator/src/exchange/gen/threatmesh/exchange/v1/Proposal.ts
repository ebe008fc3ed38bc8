// Original file: operator/src/exchange/threatmesh.proto

import type { EntryKind as _threatmesh_exchange_v1_EntryKind, EntryKind__Output as _threatmesh_exchange_v1_EntryKind__Output } from '../../../threatmesh/exchange/v1/EntryKind.ts';

export interface Proposal {
  'kind'?: (_threatmesh_exchange_v1_EntryKind);
  /**
   * RFC 8785 canonical JSON of the normalized indicator: {"type":...,"value":...}.
   */
  'indicatorJson'?: (string);
  /**
   * Must equal the caller's certificate identity.
   */
  'proposerId'?: (string);
  /**
   * ADD: signature of kind "proposal" over indicator_json.
   * REVOKE: signature of kind "revocation" over {"digest":<indicator digest>,"kind":"revoke"}.
   */
  'signature'?: (string);
}

export interface Proposal__Output {
  'kind': (_threatmesh_exchange_v1_EntryKind__Output);
  /**
   * RFC 8785 canonical JSON of the normalized indicator: {"type":...,"value":...}.
   */
  'indicatorJson': (string);
  /**
   * Must equal the caller's certificate identity.
   */
  'proposerId': (string);
  /**
   * ADD: signature of kind "proposal" over indicator_json.
   * REVOKE: signature of kind "revocation" over {"digest":<indicator digest>,"kind":"revoke"}.
   */
  'signature': (string);
}

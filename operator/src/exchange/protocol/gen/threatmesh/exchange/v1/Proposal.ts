// Original file: operator/src/exchange/protocol/threatmesh.proto

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
   * ADD: signature of kind "proposal" over indicator_json when meta_json is empty, else over
   * RFC 8785 canonical JSON of {"indicator":<indicator>,"meta":<meta>}.
   * REVOKE: signature of kind "revocation" over {"digest":<indicator digest>,"kind":"revoke"}.
   */
  'signature'?: (string);
  /**
   * ADD only, optional: RFC 8785 canonical JSON of the indicator's metadata, at most 4,096
   * bytes, members (all optional, at least one): tlp ("clear", "green", "amber",
   * "amber+strict", "red"), confidence (integer 0..100), labels (1..32 distinct strings of
   * 1..64 characters), validFrom and validUntil (RFC 3339, validUntil after validFrom),
   * source (feed name, 1..253 characters); anything else is refused (invalid-meta).
   * Empty: no metadata (the indicator alone is signed, as before metadata existed).
   */
  'metaJson'?: (string);
  /**
   * Protocol v2, ADD only, a batch proposal: "<leaf index> <batch size> <root> <proof hash> ..."
   * (single spaces, decimal without leading zeros, lowercase hex; the same spelling as
   * SignedVote.batch_proof): the RFC 9162 inclusion proof of the text a single ADD proposal
   * signs (see signature) in the batch whose root the proposer signed, kind "proposal-batch",
   * as canonical {"kind":"proposal-batch","root","size"}; signature is then that signature.
   * Empty: a single proposal.
   */
  'batchProof'?: (string);
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
   * ADD: signature of kind "proposal" over indicator_json when meta_json is empty, else over
   * RFC 8785 canonical JSON of {"indicator":<indicator>,"meta":<meta>}.
   * REVOKE: signature of kind "revocation" over {"digest":<indicator digest>,"kind":"revoke"}.
   */
  'signature': (string);
  /**
   * ADD only, optional: RFC 8785 canonical JSON of the indicator's metadata, at most 4,096
   * bytes, members (all optional, at least one): tlp ("clear", "green", "amber",
   * "amber+strict", "red"), confidence (integer 0..100), labels (1..32 distinct strings of
   * 1..64 characters), validFrom and validUntil (RFC 3339, validUntil after validFrom),
   * source (feed name, 1..253 characters); anything else is refused (invalid-meta).
   * Empty: no metadata (the indicator alone is signed, as before metadata existed).
   */
  'metaJson': (string);
  /**
   * Protocol v2, ADD only, a batch proposal: "<leaf index> <batch size> <root> <proof hash> ..."
   * (single spaces, decimal without leading zeros, lowercase hex; the same spelling as
   * SignedVote.batch_proof): the RFC 9162 inclusion proof of the text a single ADD proposal
   * signs (see signature) in the batch whose root the proposer signed, kind "proposal-batch",
   * as canonical {"kind":"proposal-batch","root","size"}; signature is then that signature.
   * Empty: a single proposal.
   */
  'batchProof': (string);
}

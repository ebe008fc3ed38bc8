/**
 * Key rotation and compromise. A signer (a partner's voting key, the sequencer's tree-head key)
 * has one current key and may have retired ones, each valid for signatures dated before its
 * `validUntil`: rotation moves the old key there with a little overlap (signatures in flight
 * still count), compromise moves it there dated before the compromise (later signatures under it
 * are refused, history stays verifiable). Dated signatures (votes, tree heads) are checked
 * against the keys valid at their date; undated ones (proposals) against every key. Pure.
 */
import type { PublicKey } from './signature.ts';

/** A key that no longer signs: it verifies only signatures dated before `validUntil` (ISO 8601). */
export interface RetiredKey {
  readonly publicKey: PublicKey;
  readonly validUntil: string;
}

/** The keys of one signer: the current key, and the retired ones. */
export interface KeyHistory {
  readonly publicKey: PublicKey;
  /** @default none */
  readonly retiredKeys?: readonly RetiredKey[];
}

/** The keys that may have made a signature dated `at` (ms since the epoch): the current key, then retired keys still valid then. */
export function keysValidAt(signer: KeyHistory, at: number): PublicKey[] {
  const retired = (signer.retiredKeys ?? []).filter((k) => Number.isFinite(at) && at < Date.parse(k.validUntil)).map((k) => k.publicKey);
  return [signer.publicKey, ...retired];
}

/** Every key of the signer, for signatures that carry no date (proposals in the log). */
export function everyKey(signer: KeyHistory): PublicKey[] {
  return [signer.publicKey, ...(signer.retiredKeys ?? []).map((k) => k.publicKey)];
}

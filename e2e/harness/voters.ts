/** The voting parties of an exchange test: a fresh Ed25519 key each, and the directory that trusts them. */
import { SigningKey } from '../../operator/src/domain/signature.ts';
import type { PartnerEntry } from '../../operator/src/exchange/protocol/tls.ts';

/** A signing key per id and one directory entry per id (contributor and voter) with its public key. */
export function votingParties<Id extends string>(ids: readonly Id[]): { readonly keys: Record<Id, SigningKey>; readonly directory: PartnerEntry[] } {
  const keys = Object.fromEntries(ids.map((id) => [id, SigningKey.generate()])) as Record<Id, SigningKey>;
  return { keys, directory: ids.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter'] })) };
}

/**
 * The partner directory the sequencer serves, derived from the PartnerNodes of its namespace:
 * schema-checked, keys parsed, ambiguous partner ids left out, the sequencer's own PartnerNode
 * recognized. Pure.
 */
import type { PartnerNode } from '../../api/types.ts';
import type { KindValidator } from '../../api/validate.ts';
import { partnerEntry } from '../../api/partners.ts';
import type { PartnerRole } from '../../domain/quorum.ts';
import type { PublicKey } from '../../domain/signature.ts';
import { objectKey } from '../../runtime/informer.ts';
import type { PartnerEntry } from '../protocol/tls.ts';

/** A PartnerNode left out of the directory, and why. */
export interface SkippedPartner {
  readonly name: string;
  readonly reason: string;
}

/** The directory the sequencer serves, derived from the PartnerNodes of its namespace. */
export interface SequencerDirectory {
  /** Partners allowed to call, by id order; the sequencer's own PartnerNode is never among them. */
  readonly partners: readonly PartnerEntry[];
  /** The public key published by the sequencer's own PartnerNode (role sequencer, partnerId = ours), when there is one. */
  readonly selfKey?: PublicKey;
  readonly skipped: readonly SkippedPartner[];
}

/**
 * Derives the directory from PartnerNodes: objects that fail the schema or carry an unusable key
 * are skipped with the reason; a partner id claimed by PartnerNodes with different keys is
 * skipped entirely; PartnerNodes with role sequencer are never partners (the one named
 * `selfId` publishes this sequencer's key). Pure.
 */
export function sequencerDirectory(nodes: readonly PartnerNode[], selfId: string, validator: KindValidator): SequencerDirectory {
  const skipped: SkippedPartner[] = [];
  const byId = new Map<string, PartnerEntry[]>();
  let selfKey: PublicKey | undefined;
  for (const pn of [...nodes].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (pn.metadata.deletionTimestamp !== undefined) continue;
    const entry = usableEntry(pn, validator);
    if (typeof entry === 'string') {
      skipped.push({ name: pn.metadata.name, reason: entry });
    } else if ((pn.spec.roles as readonly string[]).includes('sequencer')) {
      if (pn.spec.partnerId === selfId) selfKey = entry.publicKey;
      else skipped.push({ name: pn.metadata.name, reason: `role sequencer with partnerId ${JSON.stringify(pn.spec.partnerId)}, but this sequencer is ${JSON.stringify(selfId)}; keep one sequencer PartnerNode` });
    } else {
      byId.set(entry.partnerId, [...(byId.get(entry.partnerId) ?? []), entry]);
    }
  }
  const partners: PartnerEntry[] = [];
  for (const [id, claims] of [...byId].sort(([a], [b]) => a.localeCompare(b))) {
    if (claims.every((c) => c.publicKey.equals(claims[0]!.publicKey))) partners.push(claims[0]!);
    else skipped.push({ name: id, reason: `partner id ${JSON.stringify(id)} is claimed by ${claims.length} PartnerNodes with different public keys; delete or fix all but one` });
  }
  return { partners, skipped, ...(selfKey !== undefined ? { selfKey } : {}) };
}

function usableEntry(pn: PartnerNode, validator: KindValidator): PartnerEntry | string {
  const valid = validator.validate(pn);
  if (!valid.ok) return `invalid PartnerNode: ${valid.errors.join('; ')}`;
  const parsed = partnerEntry(objectKey(pn), pn);
  if (!parsed.ok) return parsed.message;
  const roles = parsed.entry.roles.filter((r): r is PartnerRole => (r as string) !== 'sequencer');
  const pin = pn.spec.tls?.pinnedCertSha256;
  return { partnerId: parsed.entry.partnerId, publicKey: parsed.entry.publicKey, roles, ...(pin !== undefined ? { certFingerprint256: fingerprintOfHex(pin) } : {}) };
}

/** `ab12…` (lower-case hex, as PartnerNodes pin it) → `AB:12:…` (as node reports certificate fingerprints). */
export function fingerprintOfHex(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}


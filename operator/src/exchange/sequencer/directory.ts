/**
 * The partner directory the sequencer serves, derived from the PartnerNodes of its namespace:
 * schema-checked, keys parsed, ambiguous partner ids left out, the sequencer's own PartnerNode
 * recognized. Pure.
 */
import type { PartnerNode } from '../../api/types.ts';
import type { KindValidator } from '../../api/validate.ts';
import { networkDirectory, type SkippedPartner } from '../../api/partners.ts';
import type { PublicKey } from '../../domain/signature.ts';
import type { RetiredKey } from '../../domain/keys.ts';
import type { PartnerEntry } from '../protocol/tls.ts';

/** The directory the sequencer serves, derived from the PartnerNodes of its namespace. */
export interface SequencerDirectory {
  /** Partners allowed to call, by id order; the sequencer's own PartnerNode is never among them. */
  readonly partners: readonly PartnerEntry[];
  /** The public key published by the sequencer's own PartnerNode (role sequencer, partnerId = ours), when there is one. */
  readonly selfKey?: PublicKey;
  /** Its retired tree-head keys (spec.retiredKeys): a log signed before a rotation still opens. */
  readonly selfRetiredKeys?: readonly RetiredKey[];
  readonly skipped: readonly SkippedPartner[];
}

/**
 * The directory the sequencer serves (api/partners.ts networkDirectory: schema-checked, keys
 * parsed, ambiguous ids and shared keys left out, pins kept); PartnerNodes with role sequencer
 * are never partners, and the one named `selfId` publishes this sequencer's key. Pure.
 */
export function sequencerDirectory(nodes: readonly PartnerNode[], selfId: string, validator: KindValidator): SequencerDirectory {
  const dir = networkDirectory(nodes, validator);
  const skipped: SkippedPartner[] = [...dir.skipped];
  let selfKey: PublicKey | undefined;
  let selfRetiredKeys: readonly RetiredKey[] | undefined;
  for (const s of dir.sequencers) {
    if (s.entry.partnerId === selfId) {
      selfKey = s.entry.publicKey;
      selfRetiredKeys = s.entry.retiredKeys;
    }
    else skipped.push({ name: s.node.metadata.name, reason: `role sequencer with partnerId ${JSON.stringify(s.entry.partnerId)}, but this sequencer is ${JSON.stringify(selfId)}; keep one sequencer PartnerNode` });
  }
  return { partners: dir.partners.map((p) => p.entry), skipped, ...(selfKey !== undefined ? { selfKey } : {}), ...(selfRetiredKeys !== undefined ? { selfRetiredKeys } : {}) };
}

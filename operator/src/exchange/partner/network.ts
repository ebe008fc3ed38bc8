/**
 * The network as a partner's exchange sees it, derived from the PartnerNodes of the exchange
 * namespace (the same directory the sequencer derives): the one sequencer (endpoint and tree-head key), this partner's peers (gossip
 * endpoints) and the partner directory the replica and the gossip endpoint trust. Pure.
 */
import type { PartnerNode } from '../../api/types.ts';
import type { PublicKey } from '../../domain/signature.ts';
import type { RetiredKey } from '../../domain/keys.ts';
import { networkDirectory, type DirectoryMember, type SkippedPartner } from '../../api/partners.ts';
import type { KindValidator } from '../../api/validate.ts';
import type { PartnerEntry } from '../protocol/tls.ts';

/** The sequencer as its PartnerNode names it. */
export interface SequencerRef {
  readonly node: PartnerNode;
  readonly partnerId: string;
  readonly endpoint: string;
  readonly key: PublicKey;
  /** Retired tree-head keys (spec.retiredKeys), each valid for heads dated before its validUntil. */
  readonly retiredKeys: readonly RetiredKey[];
}

/** What the partner exchange works with; `problem` says why there is no usable sequencer. */
export interface PartnerNetwork {
  readonly sequencer?: SequencerRef;
  readonly problem?: string;
  /** PartnerNodes of the other partners (not this one, not the sequencer), by partner id. */
  readonly peers: readonly PartnerNode[];
  /** Every partner with a usable key (the sequencer excluded), for trust anchors and gossip authorization. */
  readonly partners: readonly PartnerEntry[];
  /** PartnerNodes left out of the directory, and why. */
  readonly skipped: readonly SkippedPartner[];
  /** Changes whenever the sequencer or any partner identity changes: the replica is rebuilt then. */
  readonly fingerprint: string;
}

/** Derives the network from the PartnerNodes of `namespace` for partner `self` (api/partners.ts networkDirectory: schema-checked, deduplicated, pins kept). */
export function partnerNetwork(nodes: readonly PartnerNode[], self: string, namespace: string, validator: KindValidator): PartnerNetwork {
  const dir = networkDirectory(nodes, validator);
  const seq = sequencerOf(dir.sequencers, namespace);
  const partners: PartnerEntry[] = dir.partners.map((p) => p.entry);
  const peers = dir.partners.filter((p) => p.entry.partnerId !== self).map((p) => p.node);
  const fingerprint = JSON.stringify([
    seq.sequencer ? [seq.sequencer.partnerId, seq.sequencer.endpoint, seq.sequencer.key.toRawBase64(), retiredPrint(seq.sequencer.retiredKeys)] : seq.problem,
    partners.map((p) => [p.partnerId, p.publicKey.toRawBase64(), retiredPrint(p.retiredKeys), [...p.roles].sort(), p.certFingerprint256 ?? '']),
  ]);
  return { ...seq, peers, partners, skipped: dir.skipped, fingerprint };
}

function sequencerOf(found: readonly DirectoryMember[], namespace: string): Pick<PartnerNetwork, 'sequencer' | 'problem'> {
  if (found.length === 0) return { problem: `no PartnerNode with role sequencer in namespace ${namespace}; apply one with the sequencer's endpoint and tree-head public key` };
  if (found.length > 1) return { problem: `${found.length} PartnerNodes with role sequencer in namespace ${namespace} (${found.map((n) => n.node.metadata.name).join(', ')}); keep exactly one` };
  const { node, entry } = found[0]!;
  return { sequencer: { node, partnerId: entry.partnerId, endpoint: node.spec.endpoint, key: entry.publicKey, retiredKeys: entry.retiredKeys ?? [] } };
}

function retiredPrint(keys: readonly RetiredKey[] | undefined): string[] {
  return (keys ?? []).map((k) => `${k.publicKey.toRawBase64()}@${k.validUntil}`);
}

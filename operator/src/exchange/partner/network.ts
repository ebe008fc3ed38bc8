/**
 * The network as a partner's exchange sees it, derived from the PartnerNodes of the exchange
 * namespace: the one sequencer (endpoint and tree-head key), this partner's peers (gossip
 * endpoints) and the partner directory the replica and the gossip endpoint trust. Pure.
 */
import type { PartnerNode } from '../../api/types.ts';
import { PublicKey } from '../../domain/signature.ts';
import type { PartnerEntry } from '../protocol/tls.ts';

/** The sequencer as its PartnerNode names it. */
export interface SequencerRef {
  readonly node: PartnerNode;
  readonly partnerId: string;
  readonly endpoint: string;
  readonly key: PublicKey;
}

/** What the partner exchange works with; `problem` says why there is no usable sequencer. */
export interface PartnerNetwork {
  readonly sequencer?: SequencerRef;
  readonly problem?: string;
  /** PartnerNodes of the other partners (not this one, not the sequencer), by partner id. */
  readonly peers: readonly PartnerNode[];
  /** Every partner with a usable key (the sequencer excluded), for trust anchors and gossip authorization. */
  readonly partners: readonly PartnerEntry[];
  /** Changes whenever the sequencer or any partner identity changes: the replica is rebuilt then. */
  readonly fingerprint: string;
}

function keyOf(pn: PartnerNode): PublicKey | undefined {
  try {
    return PublicKey.fromRawBase64(pn.spec.publicKey);
  } catch {
    return undefined;
  }
}

function usable(nodes: readonly PartnerNode[]): PartnerNode[] {
  return nodes.filter((pn) => pn.metadata.deletionTimestamp === undefined && keyOf(pn) !== undefined)
    .sort((a, b) => a.spec.partnerId.localeCompare(b.spec.partnerId) || a.metadata.name.localeCompare(b.metadata.name));
}

function sequencerOf(nodes: readonly PartnerNode[], namespace: string): Pick<PartnerNetwork, 'sequencer' | 'problem'> {
  const found = nodes.filter((pn) => pn.spec.roles.includes('sequencer'));
  if (found.length === 0) return { problem: `no PartnerNode with role sequencer in namespace ${namespace}; apply one with the sequencer's endpoint and tree-head public key` };
  if (found.length > 1) return { problem: `${found.length} PartnerNodes with role sequencer in namespace ${namespace} (${found.map((n) => n.metadata.name).join(', ')}); keep exactly one` };
  const node = found[0]!;
  return { sequencer: { node, partnerId: node.spec.partnerId, endpoint: node.spec.endpoint, key: keyOf(node)! } };
}

/** Derives the network from the PartnerNodes of `namespace` for partner `self`. */
export function partnerNetwork(nodes: readonly PartnerNode[], self: string, namespace: string): PartnerNetwork {
  const ok = usable(nodes);
  const seq = sequencerOf(ok, namespace);
  const others = ok.filter((pn) => !pn.spec.roles.includes('sequencer'));
  const partners: PartnerEntry[] = others.map((pn) => ({ partnerId: pn.spec.partnerId, publicKey: keyOf(pn)!, roles: pn.spec.roles.filter((r) => r !== 'sequencer') }));
  const peers = others.filter((pn) => pn.spec.partnerId !== self);
  const fingerprint = JSON.stringify([
    seq.sequencer ? [seq.sequencer.partnerId, seq.sequencer.endpoint, seq.sequencer.key.toRawBase64()] : seq.problem,
    partners.map((p) => [p.partnerId, p.publicKey.toRawBase64(), [...p.roles].sort()]),
  ]);
  return { ...seq, peers, partners, fingerprint };
}

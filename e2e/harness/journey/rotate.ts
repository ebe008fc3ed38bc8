/**
 * Key rotation as an operator of the network does it (docs/trust-model.md "Key rotation"): the
 * party's PartnerNode is rewritten in every cluster with the new key and the old one retired
 * (api/partners.ts rotatedPartnerNode, what `threatmesh keys rotate` writes), then the party
 * restarts with the new key; both targets share this first step.
 */
import { PARTNER_NODES } from '../../../operator/src/api/schemas/index.ts';
import { rotatedPartnerNode } from '../../../operator/src/api/partners.ts';
import type { PartnerNode } from '../../../operator/src/api/types.ts';
import { NETWORK_NAMESPACE } from '../../../operator/src/dev/sandbox/network.ts';
import type { PublicKey } from '../../../operator/src/domain/signature.ts';
import type { KubeHttpClient } from '../../../operator/src/runtime/kube.ts';

/** Publishes `next` as `partyId`'s key in the PartnerNode every cluster holds, the old key valid for signatures dated before `validUntil`. */
export async function publishRotation(clients: readonly KubeHttpClient[], partyId: string, next: PublicKey, validUntil: Date): Promise<void> {
  for (const client of clients) {
    const pn = await client.get<PartnerNode>(PARTNER_NODES, partyId, NETWORK_NAMESPACE);
    if (pn === undefined) throw new Error(`no PartnerNode ${partyId} in namespace ${NETWORK_NAMESPACE} of one cluster; every cluster holds every party's PartnerNode`);
    await client.update(PARTNER_NODES, rotatedPartnerNode(pn, next, validUntil));
  }
}

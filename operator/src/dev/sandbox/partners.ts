/**
 * The local partners of the sandbox: Ed25519 identities kept on disk, their PartnerNode objects,
 * and the voters' automatic side for the sandbox: every local voter approves each indicator whose
 * proposal a local partner signed (and nothing else), writing signed votes into its status, where
 * the ThreatIndicator controller counts them.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { API_VERSION, THREAT_INDICATORS } from '../../api/schemas/index.ts';
import type { PartnerNode, Role, ThreatIndicator, VoteRecord } from '../../api/types.ts';
import { indicatorDigest } from '../../domain/canonical.ts';
import type { Indicator } from '../../domain/indicator.ts';
import { signVote } from '../../domain/quorum.ts';
import { SigningKey } from '../../domain/signature.ts';
import { verifyProposal } from '../../domain/entry.ts';
import { metaOfSpec } from '../../api/specmeta.ts';
import type { StatusWriter } from '../../runtime/client.ts';

/** One local partner: its id, roles and private key (on disk at keyPath). */
export interface LocalPartner {
  readonly id: string;
  readonly roles: readonly Role[];
  readonly key: SigningKey;
  readonly keyPath: string;
}

/** What a local partner is made of. */
export interface PartnerPlan {
  readonly id: string;
  readonly roles: readonly Role[];
}

/**
 * The partner identities under `dir/partners/<id>/private.pem`: read when present (so a restarted
 * sandbox keeps its keys and votes stay valid), generated (mode 0600) when not.
 */
export async function loadOrCreatePartners(dir: string, plans: readonly PartnerPlan[]): Promise<LocalPartner[]> {
  const out: LocalPartner[] = [];
  for (const p of plans) {
    const keyDir = join(dir, 'partners', p.id);
    const keyPath = join(keyDir, 'private.pem');
    let key: SigningKey;
    try {
      key = SigningKey.fromPem(await readFile(keyPath, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${keyPath}: ${err instanceof Error ? err.message : String(err)}; delete it to get a new key`, { cause: err });
      key = SigningKey.generate();
      await mkdir(keyDir, { recursive: true, mode: 0o700 });
      await writeFile(keyPath, key.toPem(), { mode: 0o600, flag: 'wx' });
    }
    out.push({ id: p.id, roles: p.roles, key, keyPath });
  }
  return out;
}

/** The PartnerNode object of a local partner in `namespace`. */
export function partnerNode(p: LocalPartner, namespace: string): PartnerNode {
  return {
    apiVersion: API_VERSION,
    kind: 'PartnerNode',
    metadata: { name: p.id, namespace, labels: { 'app.kubernetes.io/part-of': 'threatmesh-sandbox' } },
    spec: { partnerId: p.id, organization: `${p.id} (local sandbox)`, endpoint: '127.0.0.1:8443', publicKey: p.key.publicKey.toRawBase64(), roles: [...p.roles], maxTlp: 'amber' },
  };
}

function indicatorOf(ti: ThreatIndicator): Indicator {
  return { type: ti.spec.type, value: ti.spec.value };
}

/** True when a local partner with the contributor role signed this indicator's proposal. Never throws. */
export function proposedLocally(ti: ThreatIndicator, partners: readonly LocalPartner[]): boolean {
  const proposal = ti.spec.proposal;
  const proposer = partners.find((p) => p.id === proposal?.partnerId && p.roles.includes('contributor'));
  if (!proposal || !proposer) return false;
  // Signed with the spec's metadata (exchange/specmeta.ts), or over the indicator alone before metadata was signed.
  const meta = metaOfSpec(ti.spec);
  if (meta.ok && meta.meta !== undefined && verifyProposal(proposer.key.publicKey, 'add', indicatorOf(ti), proposal.signature, meta.meta)) return true;
  return verifyProposal(proposer.key.publicKey, 'add', indicatorOf(ti), proposal.signature);
}

/** The approve votes of the local voters that `ti` still lacks (none for indicators not proposed locally). */
export function missingVotes(ti: ThreatIndicator, partners: readonly LocalPartner[], now: Date): VoteRecord[] {
  if (ti.status?.phase !== undefined && ti.status.phase !== 'Proposed') return [];
  if (!proposedLocally(ti, partners)) return [];
  const voted = new Set((ti.status?.votes ?? []).map((v) => v.partnerId));
  const digest = indicatorDigest(indicatorOf(ti));
  return partners.filter((p) => p.roles.includes('voter') && !voted.has(p.id)).map((p) => {
    const v = signVote(p.key, { partnerId: p.id, digest, decision: 'approve', signedAt: now.toISOString(), reason: 'sandbox: proposal signed by a local partner' });
    return { partnerId: v.partnerId, decision: v.decision, reason: 'sandbox: proposal signed by a local partner', signedAt: v.signedAt, signature: v.signature };
  });
}

/**
 * Adds the missing local votes to every indicator in `indicators` (one status patch per
 * indicator, keeping the votes already there); returns how many indicators it voted on.
 */
export async function voteOnLocalProposals(status: StatusWriter, indicators: readonly ThreatIndicator[], partners: readonly LocalPartner[], now: Date): Promise<number> {
  let n = 0;
  for (const ti of indicators) {
    const add = missingVotes(ti, partners, now);
    if (add.length === 0) continue;
    await status.patchStatus(THREAT_INDICATORS, ti.metadata.name, ti.metadata.namespace, { status: { votes: [...(ti.status?.votes ?? []), ...add] } });
    n += 1;
  }
  return n;
}

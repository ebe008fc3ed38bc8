/**
 * How a replicated record (store/indicators.ts IndicatorRecord) looks through the aggregated
 * Kubernetes API `replica.threatmesh.io/v1alpha1` (serve/replicaapi.ts): the ThreatIndicator a
 * replica would have written for it — same name, spec (type, value, STIX pattern, provenance,
 * proposal signature, signed metadata) and status (phase, votes, quorum, log index, revocation
 * certificate) — and the row `kubectl get` prints (the CRD's printer columns).
 *
 * The phase is what the record proves, not a re-evaluation: Revoked when the replica applied a
 * REVOKE entry, Expired when a signed validUntil has passed, Approved otherwise (the replica
 * verified the quorum certificate before storing it). The time the replica stored the ADD is
 * the object's creationTimestamp.
 */
import { indicatorObjectName } from '../domain/canonical.ts';
import type { Indicator } from '../domain/indicator.ts';
import { stixPattern } from '../domain/stix.ts';
import { withMeta } from '../api/specmeta.ts';
import type { Phase, RevocationRecord, ThreatIndicatorSpec, ThreatIndicatorStatus, VoteRecord } from '../api/types.ts';
import type { IndicatorRecord, StoredRevocation } from '../store/indicators.ts';
import { NAME_LABEL, TYPE_LABEL } from './replicaselector.ts';

/** API group of the aggregated API. */
export const REPLICA_GROUP = 'replica.threatmesh.io';
/** Its only version. */
export const REPLICA_VERSION = 'v1alpha1';
/** apiVersion of its objects. */
export const REPLICA_API_VERSION = `${REPLICA_GROUP}/${REPLICA_VERSION}`;

/** A ThreatIndicator as the aggregated API serves it. */
export interface ReplicaIndicator {
  readonly apiVersion: typeof REPLICA_API_VERSION;
  readonly kind: 'ThreatIndicator';
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid: string; readonly creationTimestamp?: string; readonly labels: Readonly<Record<string, string>> };
  readonly spec: ThreatIndicatorSpec;
  readonly status: ThreatIndicatorStatus;
}

/** A column of the Table kubectl prints. */
export interface TableColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'date';
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

/** The Table columns, as the ThreatIndicator CRD's printer columns. */
export const TABLE_COLUMNS: readonly TableColumn[] = [
  { name: 'Name', type: 'string', format: 'name', description: 'object name: <type>-<first 40 hex digits of the digest>', priority: 0 },
  { name: 'Type', type: 'string', format: '', description: 'indicator type', priority: 0 },
  { name: 'Value', type: 'string', format: '', description: 'normalized value', priority: 0 },
  { name: 'Phase', type: 'string', format: '', description: 'Approved, Revoked or Expired', priority: 0 },
  { name: 'Votes', type: 'string', format: '', description: 'approvals in the quorum certificate', priority: 0 },
  { name: 'Index', type: 'integer', format: '', description: 'log index of the admission', priority: 1 },
  { name: 'Revocation', type: 'integer', format: '', description: 'log index of the revocation', priority: 1 },
  { name: 'Age', type: 'date', format: '', description: 'time since this partner stored it', priority: 0 },
];

function vote(v: Readonly<Record<string, string>>): VoteRecord {
  return {
    partnerId: v['partnerId'] ?? '', decision: v['decision'] === 'reject' ? 'reject' : 'approve', signedAt: v['signedAt'] ?? '', signature: v['signature'] ?? '',
    ...(v['reason'] !== undefined ? { reason: v['reason'] } : {}),
    // A protocol v2 batch vote verifies only with its proof.
    ...(v['batch'] !== undefined ? { batch: v['batch'] } : {}),
  };
}

function revocation(rv: StoredRevocation): RevocationRecord {
  return { logIndex: rv.logIndex, proposerId: rv.proposerId, signature: rv.proposalSignature, window: { opensAt: rv.window.opensAt, closesAt: rv.window.closesAt }, votes: rv.votes.map(vote) };
}

/** The phase a record proves at `now`. */
export function recordPhase(r: IndicatorRecord, now: Date): Phase {
  if (r.state === 'revoked') return 'Revoked';
  const until = r.meta?.validUntil;
  return until !== undefined && Date.parse(until) <= now.getTime() ? 'Expired' : 'Approved';
}

/** The ThreatIndicator of a record, in `namespace`. */
export function replicaIndicator(r: IndicatorRecord, namespace: string, now: Date): ReplicaIndicator {
  const indicator = { type: r.type, value: r.value } as Indicator;
  const spec = withMeta({
    type: indicator.type, value: indicator.value, pattern: stixPattern(indicator),
    provenance: { partner: r.proposerId, ...(r.window ? { proposedAt: r.window.opensAt } : {}) },
    ...(r.proposalSignature !== undefined ? { proposal: { partnerId: r.proposerId, signature: r.proposalSignature, ...(r.proposalBatch !== undefined ? { batch: r.proposalBatch } : {}) } } : {}),
  }, r.meta);
  const votes = r.votes.map(vote);
  const approvals = votes.filter((v) => v.decision === 'approve').length;
  const status: ThreatIndicatorStatus = {
    phase: recordPhase(r, now), votes, logIndex: r.logIndex,
    quorum: { approvals, rejections: votes.length - approvals, summary: String(approvals) },
    ...(r.revocation !== undefined ? { revocation: revocation(r.revocation) } : {}),
  };
  const name = indicatorObjectName(indicator);
  const created = r.addedAt instanceof Date ? r.addedAt.toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
  return {
    apiVersion: REPLICA_API_VERSION, kind: 'ThreatIndicator',
    metadata: { name, namespace, uid: uidOf(r.digest), ...(created ? { creationTimestamp: created } : {}), labels: { [TYPE_LABEL]: r.type, [NAME_LABEL]: name } },
    spec, status,
  };
}

/** The row of a record under {@link TABLE_COLUMNS}. */
export function tableCells(o: ReplicaIndicator): unknown[] {
  return [o.metadata.name, o.spec.type, o.spec.value, o.status.phase ?? '', o.status.quorum?.summary ?? '', o.status.logIndex ?? null, o.status.revocation?.logIndex ?? null, o.metadata.creationTimestamp ?? ''];
}

// A stable UID from the digest (UUID layout, version nibble 5): the same indicator has the same uid at every request.
function uidOf(digest: string): string {
  const h = digest.padEnd(32, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16] ?? '0', 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

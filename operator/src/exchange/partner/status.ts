/**
 * PartnerNode status written by a partner's partner exchange: reachability, the replicated log
 * size and root, lag, and the `Replicating` condition. Only these fields are merge-patched
 * (with the object's resourceVersion, so a concurrent write of the PartnerNode controller is
 * never overwritten: a conflict is retried next period), keeping the controller's Ready.
 */
import { isDeepStrictEqual } from 'node:util';
import { PARTNER_NODES } from '../../api/schemas/index.ts';
import type { PartnerNode, PartnerNodeStatus } from '../../api/types.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { ApiError, type KubeReader, type StatusWriter } from '../../runtime/client.ts';
import { objectKey } from '../../runtime/informer.ts';
import { setCondition } from '../../runtime/status.ts';
import type { CacheReader } from '../../runtime/types.ts';
import { headFreshness, type HaltReason, type HeadFreshness } from '../../domain/verify.ts';

/** Condition type the partner exchange owns on PartnerNodes. */
export const REPLICATING = 'Replicating';

/** Condition type the partner exchange owns on peers' PartnerNodes: whether their accepted head agrees with ours. */
export const HEADS_AGREE = 'HeadsAgree';

/** Reasons of the HeadsAgree condition. */
export const HEADS_AGREE_REASON = { Consistent: 'Consistent', EquivocationSuspected: 'EquivocationSuspected', BadHead: 'BadHead' } as const;

/** Condition type the partner exchange owns on the sequencer's PartnerNode: whether every verified entry could be written as a ThreatIndicator. */
export const MATERIALIZED = 'Materialized';

/** Condition type the partner exchange owns on the sequencer's PartnerNode: whether the newest signed head it saw is recent. */
export const HEAD_FRESH = 'HeadFresh';

/** Reasons of the HeadFresh condition. */
export const HEAD_FRESH_REASON = { Fresh: 'Fresh', Stale: 'StaleHead', Future: 'FutureHead', NoHead: 'NoHead' } as const;

/**
 * The HeadFresh condition for the newest verified head (`head`, undefined before the first) and
 * its freshness. Pure.
 */
export function headFreshCondition(head: SignedTreeHead | undefined, fresh: HeadFreshness | undefined, maxAgeMs: number): ReplicatingCondition {
  if (head === undefined || fresh === undefined) return { type: HEAD_FRESH, status: 'Unknown', reason: HEAD_FRESH_REASON.NoHead, message: 'no signed tree head from the sequencer yet' };
  const at = `the newest signed tree head (size ${head.treeSize}) is dated ${head.timestamp}`;
  if (fresh.status === 'future') return { type: HEAD_FRESH, status: 'False', reason: HEAD_FRESH_REASON.Future, message: `${at}, ahead of this clock: a head dated ahead would hide a silent sequencer; check the sequencer's clock (NTP)` };
  // The message names the head, not its running age: a message that changed every sync period
  // would patch the PartnerNode every period (the age is the gauge threatmesh_exchange_sequencer_head_age_seconds).
  if (fresh.status === 'stale') return { type: HEAD_FRESH, status: 'False', reason: HEAD_FRESH_REASON.Stale, message: `${at}, older than the limit of ${Math.round(maxAgeMs / 1000)} s: the sequencer stopped signing heads or cannot be reached; new entries may be withheld` };
  return { type: HEAD_FRESH, status: 'True', reason: HEAD_FRESH_REASON.Fresh, message: `${at}, within the limit of ${Math.round(maxAgeMs / 1000)} s` };
}

/**
 * The newest tree head verified from the sequencer, for the heartbeat check. A head dated ahead
 * is kept apart and never becomes the newest: it would hold the age at zero however long the
 * sequencer then stays silent.
 */
export class HeadWatch {
  #newest: SignedTreeHead | undefined;
  #future: SignedTreeHead | undefined;

  /** Records a head whose signature was verified. */
  observe(head: SignedTreeHead, now: Date): void {
    this.#future = headFreshness(head, now).status === 'future' ? head : undefined;
    const newest = this.#newest;
    if (this.#future === undefined && (newest === undefined || head.treeSize > newest.treeSize || Date.parse(head.timestamp) > Date.parse(newest.timestamp))) this.#newest = head;
  }

  /** The HeadFresh condition at `now`, and the newest head's age in seconds (undefined before the first head). */
  check(now: Date, maxAgeMs: number): { readonly condition: ReplicatingCondition; readonly ageSeconds: number | undefined } {
    const head = this.#future ?? this.#newest;
    const condition = headFreshCondition(head, head === undefined ? undefined : headFreshness(head, now, maxAgeMs), maxAgeMs);
    return { condition, ageSeconds: this.#newest === undefined ? undefined : headFreshness(this.#newest, now, maxAgeMs).ageMs / 1000 };
  }
}

/** Reasons of the Replicating condition (halt reasons are CamelCased: fork → Fork). */
export const REPLICATING_REASON = { Replicating: 'Replicating', NoSequencer: 'NoSequencer', Unreachable: 'Unreachable' } as const;

/** A condition to set (type `Replicating` unless given); undefined leaves it as it is. */
export interface ReplicatingCondition {
  /** @default REPLICATING */
  readonly type?: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

/** The status fields the partner exchange owns. */
export type ReplicationFields = Pick<PartnerNodeStatus, 'reachable' | 'lastSeen' | 'logSize' | 'rootHash' | 'lagEntries' | 'lagSeconds'>;

/** A halt reason as a condition reason (metav1.Condition reasons are CamelCase, no dashes). */
export function haltConditionReason(reason: HaltReason): string {
  return reason.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

/**
 * How far this partner is behind the sequencer. It remembers the heads it saw (size and signed
 * time); lag in seconds is the age of the oldest head whose entries are not all applied.
 */
export class LagTracker {
  readonly #heads: Array<{ size: number; at: number }> = [];

  /** Records a head seen at the sequencer. */
  observe(head: SignedTreeHead): void {
    const last = this.#heads[this.#heads.length - 1];
    if (last !== undefined && last.size >= head.treeSize) return;
    const at = Date.parse(head.timestamp);
    this.#heads.push({ size: head.treeSize, at: Number.isNaN(at) ? 0 : at });
  }

  /** Lag given the entries applied, at `now`; 0/0 when caught up with every head seen. */
  lag(applied: number, sequencerSize: number, now: Date): { entries: number; seconds: number } {
    while (this.#heads.length > 0 && this.#heads[0]!.size <= applied) this.#heads.shift();
    const entries = Math.max(0, sequencerSize - applied);
    const oldest = this.#heads[0];
    if (entries === 0 || oldest === undefined) return { entries, seconds: 0 };
    return { entries, seconds: Math.max(0, Math.floor((now.getTime() - oldest.at) / 1000)) };
  }
}

/** Writes the partner exchange's fields (only those given) and optionally the Replicating condition. */
export interface PartnerStatusWriter {
  write(node: PartnerNode, fields: ReplicationFields, condition: ReplicatingCondition | readonly ReplicatingCondition[] | undefined): Promise<boolean>;
}

/** How often lastSeen alone is refreshed: writing it every sync period would churn the object. */
const LAST_SEEN_REFRESH_MS = 30_000;

/** The PartnerNode status writer over the Kubernetes API. */
export class KubePartnerStatus implements PartnerStatusWriter {
  readonly #client: KubeReader & StatusWriter;
  readonly #now: () => Date;
  readonly #cache: CacheReader<PartnerNode> | undefined;

  /** `cache`: the operator's PartnerNode informer, read instead of a GET before each write (a stale copy only costs a 409, retried next period). */
  constructor(client: KubeReader & StatusWriter, now: () => Date, cache?: CacheReader<PartnerNode>) {
    this.#client = client;
    this.#now = now;
    this.#cache = cache;
  }

  /** Patches what changed; returns true when it wrote. A conflict or a vanished object is left for the next period. */
  async write(node: PartnerNode, fields: ReplicationFields, condition: ReplicatingCondition | readonly ReplicatingCondition[] | undefined): Promise<boolean> {
    const fresh = this.#cache !== undefined ? this.#cache.get(objectKey(node)) : await this.#client.get<PartnerNode>(PARTNER_NODES, node.metadata.name, node.metadata.namespace);
    if (fresh === undefined) return false;
    const next = this.#changes(fresh.status ?? {}, fields, condition);
    if (Object.keys(next).length === 0) return false;
    try {
      await this.#client.patchStatus(PARTNER_NODES, fresh.metadata.name, fresh.metadata.namespace, { metadata: { resourceVersion: fresh.metadata.resourceVersion }, status: next });
      return true;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 409 || err.status === 404)) return false;
      throw err;
    }
  }

  #changes(current: PartnerNodeStatus, fields: ReplicationFields, condition: ReplicatingCondition | readonly ReplicatingCondition[] | undefined): Record<string, unknown> {
    const next = changedFields(current, fields);
    if (condition === undefined) return next;
    let conditions = current.conditions;
    for (const c of [condition].flat()) conditions = setCondition(conditions, { type: REPLICATING, ...c }, this.#now());
    if (!isDeepStrictEqual(conditions, current.conditions)) next['conditions'] = conditions;
    return next;
  }
}

function changedFields(current: PartnerNodeStatus, fields: ReplicationFields): Record<string, unknown> {
  const next: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && k !== 'lastSeen' && !isDeepStrictEqual((current as Record<string, unknown>)[k], v)) next[k] = v;
  if (fields.lastSeen !== undefined && (Object.keys(next).length > 0 || staleLastSeen(current.lastSeen, fields.lastSeen))) next['lastSeen'] = fields.lastSeen;
  return next;
}

function staleLastSeen(old: string | undefined, now: string): boolean {
  return old === undefined || Date.parse(now) - Date.parse(old) >= LAST_SEEN_REFRESH_MS;
}

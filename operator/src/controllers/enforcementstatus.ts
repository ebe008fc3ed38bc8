/**
 * The status of an EnforcementPolicy from one sync report, pure: counts, artifact sizes, the
 * high-water mark, and the Ready and Degraded conditions with what to do about them.
 */
import { isDeepStrictEqual } from 'node:util';
import type { EnforcementPolicy, EnforcementPolicyStatus, ResolvedPolicy } from '../api/enforcement.ts';
import type { SyncReport } from '../enforce/enforcer.ts';
import { rfc3339, setCondition } from '../runtime/status.ts';
import { CONDITION } from '../api/reasons.ts';

/** Condition reasons of the EnforcementPolicy controller. */
export const ENFORCEMENT_REASON = {
  Enforcing: 'Enforcing',
  LoggingOnly: 'LoggingOnly',
  TargetError: 'TargetError',
  LimitReached: 'LimitReached',
  MapConflict: 'MapConflict',
  WithinLimits: 'WithinLimits',
  AllowlistUnavailable: 'AllowlistUnavailable',
  InvalidAllowlist: 'InvalidAllowlist',
} as const;

/** How long lastSyncTime may lag before a status write is made for it alone. */
export const SYNC_TIME_REFRESH_MS = 60_000;

function readyCondition(policy: ResolvedPolicy, report: SyncReport, generation: number | undefined): Parameters<typeof setCondition>[1] {
  if (report.errors.length > 0) {
    return { type: CONDITION.Ready, status: 'False', reason: ENFORCEMENT_REASON.TargetError, message: `${report.errors.slice(0, 3).join('; ').slice(0, 2000)} (retrying every poll)`, observedGeneration: generation };
  }
  const enforcing = policy.mode === 'Enforce';
  // A deprecated field still works; the condition says so where `kubectl describe` shows it.
  const notes = policy.deprecated.length > 0 ? `; ${policy.deprecated.join('; ')}` : '';
  const what = `${report.selected} indicators selected; ${report.cilium?.cidrs ?? 0} CIDRs in ${report.cilium?.groups ?? 0} CiliumCIDRGroups, ${report.haproxy?.hosts ?? 0} hosts and ${report.haproxy?.ips ?? 0} addresses in HAProxy maps${notes}`;
  return enforcing
    ? { type: CONDITION.Ready, status: 'True', reason: ENFORCEMENT_REASON.Enforcing, message: `enforcing: ${what}`, observedGeneration: generation }
    : { type: CONDITION.Ready, status: 'True', reason: ENFORCEMENT_REASON.LoggingOnly, message: `log only, nothing is denied: ${what} would be enforced (CIDR groups are written, no deny policy; HAProxy maps kept empty)`, observedGeneration: generation };
}

function degradedCondition(report: SyncReport, haproxyAllowed: boolean, generation: number | undefined): Parameters<typeof setCondition>[1] {
  const leftOut = (report.cilium?.leftOut ?? 0) + (report.haproxy?.leftOut ?? 0);
  if (!haproxyAllowed) {
    return { type: CONDITION.Degraded, status: 'True', reason: ENFORCEMENT_REASON.MapConflict, message: 'another EnforcementPolicy (created earlier) already writes the same HAProxy maps on the same runtime API; this policy leaves them alone: give it other maps or disable HAProxy in one of them', observedGeneration: generation };
  }
  if (leftOut > 0) {
    return { type: CONDITION.Degraded, status: 'True', reason: ENFORCEMENT_REASON.LimitReached, message: `${leftOut} selected entries are not enforced because a limit was reached (Cilium ${report.cilium?.leftOut ?? 0}, HAProxy ${report.haproxy?.leftOut ?? 0}); the lowest-confidence, oldest ones were left out: raise targets.*.max* or narrow the selector`, observedGeneration: generation };
  }
  return { type: CONDITION.Degraded, status: 'False', reason: ENFORCEMENT_REASON.WithinLimits, message: 'every selected entry is enforced', observedGeneration: generation };
}

function counts(report: SyncReport): EnforcementPolicyStatus {
  const c = report.cilium;
  const h = report.haproxy;
  return {
    selected: report.selected,
    skipped: report.skipped,
    cidrs: c?.cidrs ?? 0,
    cidrGroups: c?.groups ?? 0,
    largestGroupBytes: c?.largestGroupBytes ?? 0,
    domains: h?.hosts ?? 0,
    addresses: h?.ips ?? 0,
    leftOut: (c?.leftOut ?? 0) + (h?.leftOut ?? 0),
    decayed: report.decayed,
  };
}

/** The status after a sync; `report.changed` stamps lastChangeTime. */
export function statusAfterSync(obj: EnforcementPolicy, policy: ResolvedPolicy, report: SyncReport, haproxyAllowed: boolean, now: Date): EnforcementPolicyStatus {
  const old = obj.status ?? {};
  const generation = obj.metadata.generation;
  let conditions = setCondition(old.conditions, readyCondition(policy, report, generation), now);
  conditions = setCondition(conditions, degradedCondition(report, haproxyAllowed, generation), now);
  const stamp = rfc3339(now);
  return {
    mode: policy.mode,
    logIndex: report.highWater,
    ...counts(report),
    lastSyncTime: stamp,
    lastChangeTime: report.changed || old.lastChangeTime === undefined ? stamp : old.lastChangeTime,
    conditions,
    observedGeneration: generation,
  };
}

/** True when `next` differs from the stored status in more than a fresh lastSyncTime, or lastSyncTime is stale. */
export function statusWorthWriting(old: EnforcementPolicyStatus | undefined, next: EnforcementPolicyStatus, now: Date): boolean {
  if (!old) return true;
  const { lastSyncTime: a, ...restOld } = old;
  const { lastSyncTime: _b, ...restNext } = next;
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(restOld)), JSON.parse(JSON.stringify(restNext)))) return true;
  return a === undefined || now.getTime() - Date.parse(a) >= SYNC_TIME_REFRESH_MS;
}

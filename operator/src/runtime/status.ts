/**
 * Status conditions (metav1.Condition semantics): one condition per type, lastTransitionTime
 * changes only when the status flips, observedGeneration says which spec the condition judged.
 * Pure functions; reason constants live with the controllers.
 */
import type { Condition } from './types.ts';

/** A condition to set; lastTransitionTime is filled in by setCondition. */
export interface ConditionInput {
  readonly type: string;
  readonly status: Condition['status'];
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
}

/**
 * Returns a new condition list with `input` set. An existing condition of the same type keeps
 * its lastTransitionTime unless the status changes; other conditions are kept in order.
 */
export function setCondition(conditions: readonly Condition[] | undefined, input: ConditionInput, now: Date): Condition[] {
  const list = conditions ?? [];
  const old = list.find((c) => c.type === input.type);
  const lastTransitionTime = old && old.status === input.status ? old.lastTransitionTime : rfc3339(now);
  const next: Condition = { type: input.type, status: input.status, reason: input.reason, message: input.message, lastTransitionTime };
  if (input.observedGeneration !== undefined) next.observedGeneration = input.observedGeneration;
  if (!old) return [...list, next];
  return list.map((c) => (c === old ? next : c));
}

/** The condition of `type`, if present. */
export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the condition of `type` exists with status True. */
export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** Returns the list without the condition of `type`. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/**
 * True when both lists hold the same conditions (order-insensitive), so a controller can skip a
 * status write that would change nothing.
 */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const d = findCondition(y, c.type);
    return d !== undefined && d.status === c.status && d.reason === c.reason && d.message === c.message
      && d.lastTransitionTime === c.lastTransitionTime && d.observedGeneration === c.observedGeneration;
  });
}

/** RFC 3339 with second precision, the format metav1.Time serializes to. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Status-writing helpers shared by the three controllers: merge-patch the status subresource
 * only when something changed, and the `onTerminal` hook that records Ready=False.
 */
import type { StatusWriter } from '../runtime/client.ts';
import { setCondition } from '../runtime/status.ts';
import type { Condition, KubeObject, ObjectKey, ResourceRef, TerminalError } from '../runtime/types.ts';
import { isDeepStrictEqual } from 'node:util';
import { CONDITION } from '../api/reasons.ts';

/** An object with a status that carries conditions and observedGeneration. */
export interface WithStatus extends KubeObject {
  status?: { conditions?: Condition[]; observedGeneration?: number };
}

/**
 * Writes `next` as the object's status with a JSON merge patch on the status subresource, unless
 * it equals the current status. Returns true when it wrote. Fields absent in `next` but present
 * before are cleared (null in the merge patch). The patch carries the object's resourceVersion:
 * `next` is computed from a cached copy, and other writers (the exchange's votes and
 * certificates, its Replicating condition) patch the same status, so a stale write must fail
 * with 409 Conflict instead of putting back the arrays it read.
 */
export async function writeStatus(writer: StatusWriter, ref: ResourceRef, obj: KubeObject, next: Record<string, unknown>): Promise<boolean> {
  const current = (obj.status ?? {}) as Record<string, unknown>;
  if (isDeepStrictEqual(stripUndefined(current), stripUndefined(next))) return false;
  const patch: Record<string, unknown> = { ...stripUndefined(next) };
  for (const k of Object.keys(current)) if (!(k in patch)) patch[k] = null;
  const rv = obj.metadata.resourceVersion;
  await writer.patchStatus(ref, obj.metadata.name, obj.metadata.namespace, rv === undefined ? { status: patch } : { metadata: { resourceVersion: rv }, status: patch });
  return true;
}

function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(o)) as Record<string, unknown>;
}

/**
 * The Controller `onTerminal` hook: records Ready=False with the TerminalError's reason and
 * message and the generation it judged, keeping the rest of the status.
 */
export function readyFalseOnTerminal<T extends WithStatus>(writer: StatusWriter, ref: ResourceRef, now: () => Date): (key: ObjectKey, obj: T | undefined, err: TerminalError) => Promise<void> {
  return async (_key, obj, err) => {
    if (!obj) return;
    const status = obj.status ?? {};
    const observedGeneration = obj.metadata.generation;
    const conditions = setCondition(status.conditions, { type: CONDITION.Ready, status: 'False', reason: err.reason, message: err.message, observedGeneration }, now());
    await writeStatus(writer, ref, obj, { ...(status as Record<string, unknown>), conditions, observedGeneration });
  };
}

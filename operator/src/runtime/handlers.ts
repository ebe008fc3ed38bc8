/**
 * Informer event handlers that turn object events into work-queue keys: the object's own key,
 * its controller owner's key (Jobs owned by a Feed wake the Feed), or any mapping.
 */
import type { EventHandler } from './informer.ts';
import { objectKey } from './informer.ts';
import { ownerKey } from './owner.ts';
import type { KubeObject, ObjectKey } from './types.ts';

/** Enqueues the key of every added, updated or deleted object. */
export function enqueueObject<T extends KubeObject>(add: (key: ObjectKey) => void): EventHandler<T> {
  return enqueueMapped(add, (obj) => [objectKey(obj)]);
}

/**
 * Enqueues the key of the controller owner of kind `kind` in API group `group` ('' for core)
 * of every event's object; objects without such an owner are ignored.
 */
export function enqueueOwner<T extends KubeObject>(add: (key: ObjectKey) => void, kind: string, group: string): EventHandler<T> {
  return enqueueMapped(add, (obj) => {
    const k = ownerKey(obj, kind, group);
    return k === undefined ? [] : [k];
  });
}

/** Enqueues the keys `map` returns for every event's object (both old and new on updates). */
export function enqueueMapped<T extends KubeObject>(add: (key: ObjectKey) => void, map: (obj: T) => ObjectKey[]): EventHandler<T> {
  const all = (obj: T): void => {
    for (const k of map(obj)) add(k);
  };
  return {
    onAdd: all,
    onUpdate: (oldObj, newObj) => {
      all(oldObj);
      all(newObj);
    },
    onDelete: all,
  };
}

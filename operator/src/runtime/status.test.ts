import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { conditionsEqual, findCondition, isConditionTrue, removeCondition, rfc3339, setCondition } from './status.ts';
import type { Condition } from './types.ts';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T00:05:00.500Z');
const ready = (status: Condition['status'], reason: string, at = '2026-01-01T00:00:00Z', observedGeneration?: number): Condition =>
  ({ type: 'Ready', status, reason, message: reason.toLowerCase(), lastTransitionTime: at, ...(observedGeneration === undefined ? {} : { observedGeneration }) });

describe('setCondition', () => {
  const table: { name: string; before: Condition[] | undefined; input: Parameters<typeof setCondition>[1]; want: Condition[] }[] = [
    {
      name: 'adds a new condition stamped now',
      before: undefined,
      input: { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'reconciled', observedGeneration: 1 },
      want: [ready('True', 'Reconciled', '2026-01-01T00:05:00Z', 1)],
    },
    {
      name: 'same status: keeps lastTransitionTime, updates reason, message and generation',
      before: [ready('False', 'Invalid', '2026-01-01T00:00:00Z', 1)],
      input: { type: 'Ready', status: 'False', reason: 'StillInvalid', message: 'stillinvalid', observedGeneration: 2 },
      want: [ready('False', 'StillInvalid', '2026-01-01T00:00:00Z', 2)],
    },
    {
      name: 'status flips: lastTransitionTime moves to now',
      before: [ready('False', 'Invalid')],
      input: { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'reconciled' },
      want: [ready('True', 'Reconciled', '2026-01-01T00:05:00Z')],
    },
    {
      name: 'other conditions keep their place',
      before: [{ type: 'Degraded', status: 'False', reason: 'OK', message: '', lastTransitionTime: 'x' }, ready('Unknown', 'Pending')],
      input: { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'reconciled' },
      want: [{ type: 'Degraded', status: 'False', reason: 'OK', message: '', lastTransitionTime: 'x' }, ready('True', 'Reconciled', '2026-01-01T00:05:00Z')],
    },
  ];
  for (const t of table) {
    test(t.name, () => {
      const before = structuredClone(t.before);
      assert.deepEqual(setCondition(t.before, t.input, t1), t.want);
      assert.deepEqual(t.before, before, 'the input list is not mutated');
    });
  }
});

describe('condition queries', () => {
  const list = [ready('True', 'Reconciled'), { type: 'Degraded', status: 'False' as const, reason: 'OK', message: '', lastTransitionTime: 'x' }];
  test('find, isTrue and remove', () => {
    assert.equal(findCondition(list, 'Ready')?.reason, 'Reconciled');
    assert.equal(findCondition(list, 'Nope'), undefined);
    assert.equal(isConditionTrue(list, 'Ready'), true);
    assert.equal(isConditionTrue(list, 'Degraded'), false);
    assert.equal(isConditionTrue(undefined, 'Ready'), false);
    assert.deepEqual(removeCondition(list, 'Ready').map((c) => c.type), ['Degraded']);
  });
  test('conditionsEqual ignores order and sees every field', () => {
    assert.equal(conditionsEqual(list, [...list].reverse()), true);
    assert.equal(conditionsEqual(list, [ready('True', 'Other'), list[1] as Condition]), false);
    assert.equal(conditionsEqual(undefined, []), true);
    assert.equal(conditionsEqual(list, list.slice(1)), false);
  });
  test('setting the same condition twice changes nothing', () => {
    const once = setCondition(undefined, { type: 'Ready', status: 'True', reason: 'R', message: 'm' }, t0);
    const twice = setCondition(once, { type: 'Ready', status: 'True', reason: 'R', message: 'm' }, t1);
    assert.equal(conditionsEqual(once, twice), true);
  });
  test('rfc3339 drops milliseconds', () => {
    assert.equal(rfc3339(t1), '2026-01-01T00:05:00Z');
  });
});

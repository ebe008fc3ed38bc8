import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './client.ts';
import { afterRound, isGone, objectKey, stripManagedFields, type RoundOutcome } from './informer.ts';

describe('afterRound', () => {
  const table: { outcome: RoundOutcome; healthy: boolean; failures: number; want: { failures: number; wait: boolean } }[] = [
    { outcome: 'ended', healthy: true, failures: 3, want: { failures: 0, wait: false } },
    { outcome: 'ended', healthy: false, failures: 0, want: { failures: 1, wait: true } },
    { outcome: 'ended', healthy: false, failures: 2, want: { failures: 3, wait: true } },
    { outcome: 'failed', healthy: true, failures: 5, want: { failures: 1, wait: true } },
    { outcome: 'failed', healthy: false, failures: 5, want: { failures: 6, wait: true } },
    { outcome: 'gone', healthy: true, failures: 4, want: { failures: 1, wait: false } },
    { outcome: 'gone', healthy: false, failures: 0, want: { failures: 1, wait: false } },
    { outcome: 'gone', healthy: false, failures: 1, want: { failures: 2, wait: true } },
  ];
  for (const t of table) {
    test(`${t.outcome}, healthy ${t.healthy}, ${t.failures} failures → ${JSON.stringify(t.want)}`, () => {
      assert.deepEqual(afterRound(t.outcome, t.healthy, t.failures), t.want);
    });
  }
});

describe('isGone', () => {
  const table: { err: unknown; want: boolean }[] = [
    { err: new ApiError(410, 'Expired', 'too old resource version: 1 (200)'), want: true },
    { err: new ApiError(410, '', 'gone'), want: true },
    { err: new ApiError(500, 'Expired', 'The provided continue parameter is too old'), want: true },
    { err: new ApiError(409, 'Conflict', 'x'), want: false },
    { err: new Error('ECONNRESET'), want: false },
  ];
  for (const t of table) test(`${String(t.err)} → ${t.want}`, () => assert.equal(isGone(t.err), t.want));
});

describe('objectKey', () => {
  test('namespace/name, or name for cluster-scoped objects', () => {
    assert.equal(objectKey({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'ns' } }), 'ns/a');
    assert.equal(objectKey({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } }), 'ns');
  });
});

describe('stripManagedFields', () => {
  test('drops managedFields and keeps everything else', () => {
    const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', resourceVersion: '7', managedFields: [{ manager: 'x' }] }, data: { k: 'v' } };
    assert.deepEqual(stripManagedFields(obj), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', resourceVersion: '7' }, data: { k: 'v' } });
    assert.deepEqual(obj.metadata.managedFields, [{ manager: 'x' }], 'input not mutated');
  });
  test('returns objects without managedFields unchanged', () => {
    const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } };
    assert.equal(stripManagedFields(obj), obj);
  });
});

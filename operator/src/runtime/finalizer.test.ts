import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { finalizerStep, withFinalizer, withoutFinalizer, type FinalizerStep } from './finalizer.ts';
import type { KubeObject } from './types.ts';

const F = 'threatmesh.io/cleanup';
const obj = (finalizers: string[] | undefined, deleting: boolean): KubeObject => ({
  apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed',
  metadata: { name: 'f', namespace: 'ns', finalizers, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
});

describe('finalizerStep', () => {
  const table: { finalizers: string[] | undefined; deleting: boolean; want: FinalizerStep }[] = [
    { finalizers: undefined, deleting: false, want: 'add' },
    { finalizers: ['other'], deleting: false, want: 'add' },
    { finalizers: [F], deleting: false, want: 'apply' },
    { finalizers: ['other', F], deleting: false, want: 'apply' },
    { finalizers: [F], deleting: true, want: 'cleanup' },
    { finalizers: ['other', F], deleting: true, want: 'cleanup' },
    { finalizers: ['other'], deleting: true, want: 'done' },
    { finalizers: undefined, deleting: true, want: 'done' },
  ];
  for (const t of table) {
    test(`finalizers ${JSON.stringify(t.finalizers)}, deleting ${t.deleting} → ${t.want}`, () => {
      assert.equal(finalizerStep(obj(t.finalizers, t.deleting), F), t.want);
    });
  }
});

describe('finalizer list edits are idempotent', () => {
  test('withFinalizer adds once and keeps others', () => {
    assert.deepEqual(withFinalizer(undefined, F), [F]);
    assert.deepEqual(withFinalizer(['a'], F), ['a', F]);
    assert.deepEqual(withFinalizer(withFinalizer(['a'], F), F), ['a', F]);
  });
  test('withoutFinalizer removes ours only', () => {
    assert.deepEqual(withoutFinalizer(['a', F, 'b'], F), ['a', 'b']);
    assert.deepEqual(withoutFinalizer(withoutFinalizer(['a', F], F), F), ['a']);
    assert.deepEqual(withoutFinalizer(undefined, F), []);
  });
  test('inputs are not mutated', () => {
    const list = ['a'];
    withFinalizer(list, F);
    withoutFinalizer(list, 'a');
    assert.deepEqual(list, ['a']);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { controllerOf, controllerRef, groupOf, isControlledBy, ownerKey, withControllerReference } from './owner.ts';
import type { KubeObject } from './types.ts';

const feed: KubeObject = { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'abuse', namespace: 'tm', uid: 'u-1' } };
const job: KubeObject = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'abuse-1', namespace: 'tm' } };

describe('owner references', () => {
  test('controllerRef points at the owner and blocks its deletion', () => {
    assert.deepEqual(controllerRef(feed), { apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', name: 'abuse', uid: 'u-1', controller: true, blockOwnerDeletion: true });
  });
  test('an owner without uid is refused with advice', () => {
    assert.throws(() => controllerRef({ ...feed, metadata: { name: 'draft' } }), /no metadata.uid/);
  });
  test('withControllerReference sets it once, idempotently', () => {
    const owned = withControllerReference(withControllerReference(job, feed), feed);
    assert.equal(owned.metadata.ownerReferences?.length, 1);
    assert.equal(isControlledBy(owned, feed), true);
    assert.equal(job.metadata.ownerReferences, undefined, 'input not mutated');
  });
  test('refuses to steal an object controlled by someone else', () => {
    const owned = withControllerReference(job, feed);
    const other = { ...feed, metadata: { ...feed.metadata, name: 'other', uid: 'u-2' } };
    assert.throws(() => withControllerReference(owned, other), /already controlled by Feed abuse/);
  });
  test('ownerKey maps a child to its owner key only for the right kind and group', () => {
    const owned = withControllerReference(job, feed);
    assert.equal(ownerKey(owned, 'Feed', 'threatmesh.io'), 'tm/abuse');
    assert.equal(ownerKey(owned, 'Feed', 'other.io'), undefined);
    assert.equal(ownerKey(owned, 'PartnerNode', 'threatmesh.io'), undefined);
    assert.equal(ownerKey(job, 'Feed', 'threatmesh.io'), undefined);
    assert.equal(controllerOf(job), undefined);
  });
  test('groupOf', () => {
    assert.equal(groupOf('v1'), '');
    assert.equal(groupOf('batch/v1'), 'batch');
  });
});

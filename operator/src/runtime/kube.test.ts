import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resourcePath, toApiError } from './kube.ts';
import type { ResourceRef } from './types.ts';

const cm: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const ti: ResourceRef = { group: 'threatmesh.io', version: 'v1alpha1', plural: 'threatindicators', kind: 'ThreatIndicator', namespaced: true };
const crd: ResourceRef = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false };

describe('resourcePath', () => {
  const table: { args: Parameters<typeof resourcePath>; want: string }[] = [
    { args: [cm], want: '/api/v1/configmaps' },
    { args: [cm, 'ns'], want: '/api/v1/namespaces/ns/configmaps' },
    { args: [cm, 'ns', 'a'], want: '/api/v1/namespaces/ns/configmaps/a' },
    { args: [ti, 'tm', 'x', 'status'], want: '/apis/threatmesh.io/v1alpha1/namespaces/tm/threatindicators/x/status' },
    { args: [crd, 'ignored', 'feeds.threatmesh.io'], want: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/feeds.threatmesh.io' },
    { args: [cm, 'ns', 'a b'], want: '/api/v1/namespaces/ns/configmaps/a%20b' },
  ];
  for (const t of table) test(t.want, () => assert.equal(resourcePath(...t.args), t.want));
});

describe('toApiError', () => {
  test('decodes a Status body', () => {
    const e = toApiError(409, JSON.stringify({ kind: 'Status', code: 409, reason: 'Conflict', message: 'the object has been modified' }));
    assert.deepEqual([e.status, e.reason, e.message], [409, 'Conflict', 'the object has been modified']);
  });
  test('keeps plain text bodies', () => {
    const e = toApiError(502, 'bad gateway');
    assert.deepEqual([e.status, e.reason, e.message], [502, '', 'bad gateway']);
  });
  test('names the status when there is no body', () => {
    assert.equal(toApiError(500, '').message, 'HTTP 500');
  });
});

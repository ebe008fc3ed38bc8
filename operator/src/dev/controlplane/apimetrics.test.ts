import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countsSince, requestCounts } from './apimetrics.ts';

const text = [
  '# HELP apiserver_request_total [STABLE] Counter of apiserver requests',
  'apiserver_request_total{code="201",component="apiserver",dry_run="",group="threatmesh.io",resource="threatindicators",scope="resource",subresource="",verb="POST",version="v1alpha1"} 40',
  'apiserver_request_total{code="409",component="apiserver",dry_run="",group="threatmesh.io",resource="threatindicators",scope="resource",subresource="",verb="POST",version="v1alpha1"} 2',
  'apiserver_request_total{code="200",component="apiserver",dry_run="",group="threatmesh.io",resource="threatindicators",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 42',
  'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="namespaces",scope="resource",subresource="",verb="GET",version="v1"} 7',
  'apiserver_request_duration_seconds_bucket{resource="threatindicators",verb="POST",le="0.1"} 3',
  'apiserver_request_total{code="200",component="apiserver",group="threatmesh.io",resource="threatindicators",scope="namespace",subresource="",verb="LIST",version="v1alpha1"} 1e+00',
].join('\n');

test('requests of one resource are summed over codes, keyed by verb and subresource', () => {
  const cases: Array<[string, Record<string, number>]> = [
    ['threatindicators', { POST: 42, 'PATCH/status': 42, LIST: 1 }],
    ['namespaces', { GET: 7 }],
    ['pods', {}],
  ];
  for (const [resource, want] of cases) assert.deepEqual(requestCounts(text, resource), want, resource);
});

test('counts since a first reading leave unchanged verbs out', () => {
  assert.deepEqual(countsSince({ POST: 2, GET: 5 }, { POST: 12, GET: 5, 'PATCH/status': 3 }), { POST: 10, 'PATCH/status': 3 });
});

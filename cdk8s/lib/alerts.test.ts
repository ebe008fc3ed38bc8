import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { metricNames, metricSelectors, type MetricSelector } from './alerts.ts';

/** PromQL and the selectors it reads: functions, keywords, grouping labels and ranges are not metrics. */
const CASES: ReadonlyArray<[string, readonly MetricSelector[]]> = [
  ['max by (namespace, pod, reason) (threatmesh_exchange_halted) > 0', [{ name: 'threatmesh_exchange_halted', matchers: [] }]],
  ['sum by (namespace) (rate(controller_runtime_webhook_requests_total{code=~"5.."}[5m])) > 0', [{ name: 'controller_runtime_webhook_requests_total', matchers: [{ label: 'code', op: '=~', value: '5..' }] }]],
  ['sum(threatmesh_feeds{state="failing", namespace!="x"}) or vector(0)', [{ name: 'threatmesh_feeds', matchers: [{ label: 'state', op: '=', value: 'failing' }, { label: 'namespace', op: '!=', value: 'x' }] }]],
  ['histogram_quantile(0.95, sum by (le, controller) (rate(a_bucket[5m])))', [{ name: 'a_bucket', matchers: [] }]],
  ['a / on (pod) group_left b unless c offset 5m', [{ name: 'a', matchers: [] }, { name: 'b', matchers: [] }, { name: 'c', matchers: [] }]],
  ['min_over_time(x[24h]) == bool 0', [{ name: 'x', matchers: [] }]],
];

describe('metricSelectors', () => {
  for (const [expr, want] of CASES) {
    it(expr, () => {
      assert.deepEqual(metricSelectors(expr), want);
      assert.deepEqual(metricNames(expr), [...new Set(want.map((s) => s.name))]);
    });
  }
});

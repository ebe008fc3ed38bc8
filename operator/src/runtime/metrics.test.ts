import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { RuntimeMetrics } from './metrics.ts';

/** Series (name plus labels, as exposed) that must show before any activity, after each setup. */
const CASES: ReadonlyArray<[string, (m: RuntimeMetrics) => void, readonly string[]]> = [
  ['a controller, before its first reconcile', (m) => m.initController('feed'), [
    'controller_runtime_reconcile_total{controller="feed",result="success"} 0',
    'controller_runtime_reconcile_total{controller="feed",result="error"} 0',
    'controller_runtime_reconcile_total{controller="feed",result="terminal"} 0',
    'controller_runtime_reconcile_errors_total{controller="feed"} 0',
    'controller_runtime_reconcile_time_seconds_count{controller="feed"} 0',
    'controller_runtime_reconcile_time_seconds_bucket{le="+Inf",controller="feed"} 0',
  ]],
  ['a work queue, before its first add', (m) => m.queueMetrics('feed'), [
    'workqueue_depth{name="feed"} 0',
    'workqueue_adds_total{name="feed"} 0',
    'workqueue_retries_total{name="feed"} 0',
  ]],
  ['the webhook, before its first request', (m) => m.initWebhook('/validate'), [
    'controller_runtime_webhook_requests_total{webhook="/validate",code="200"} 0',
    'controller_runtime_webhook_requests_total{webhook="/validate",code="500"} 0',
  ]],
];

describe('RuntimeMetrics reports labelled series at zero before any activity', () => {
  for (const [name, setup, series] of CASES) {
    it(name, async () => {
      const m = new RuntimeMetrics();
      const before = (await m.expose()).body;
      for (const s of series) assert.ok(!before.includes(s), `not yet: ${s}`);
      setup(m);
      const lines = (await m.expose()).body.split('\n');
      for (const s of series) assert.ok(lines.includes(s), `${s} in:\n${lines.filter((l) => !l.startsWith('#')).join('\n')}`);
    });
  }

  it('a later observation counts from zero', async () => {
    const m = new RuntimeMetrics();
    m.initController('feed');
    m.observeReconcile('feed', 'error', 0.01);
    const body = (await m.expose()).body;
    assert.match(body, /^controller_runtime_reconcile_total\{controller="feed",result="error"\} 1$/m);
    assert.match(body, /^controller_runtime_reconcile_errors_total\{controller="feed"\} 1$/m);
    assert.match(body, /^controller_runtime_reconcile_total\{controller="feed",result="success"\} 0$/m);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../log.ts';
import { HealthServer } from './health.ts';
import { RuntimeMetrics } from './metrics.ts';

const log = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');

describe('HealthServer', () => {
  test('serves metrics, liveness and readiness on loopback', async () => {
    const metrics = new RuntimeMetrics();
    metrics.indicators.set({ phase: 'Approved' }, 3);
    let synced = false;
    const server = new HealthServer({ metrics, log, port: 0, readyChecks: [{ name: 'informers', check: () => synced || 'caches not synced: feeds' }] });
    const port = await server.start();
    try {
      const get = async (path: string): Promise<[number, string]> => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        return [res.status, await res.text()];
      };
      assert.deepEqual(await get('/healthz'), [200, 'ok\n']);
      const [notReady, why] = await get('/readyz');
      assert.equal(notReady, 500);
      assert.match(why, /\[-\]informers failed: caches not synced: feeds/);
      synced = true;
      assert.deepEqual(await get('/readyz'), [200, 'ok\n']);
      assert.match((await get('/readyz?verbose'))[1], /\[\+\]informers ok/);
      const [status, body] = await get('/metrics');
      assert.equal(status, 200);
      assert.match(body, /threatmesh_indicators\{phase="Approved"\} 3/);
      assert.match(body, /# TYPE controller_runtime_reconcile_total counter/);
      assert.equal((await get('/nope'))[0], 404);
    } finally {
      await server.stop();
    }
  });

  test('an informational check is served alone at /readyz/NAME and listed by ?verbose, but /readyz does not fail on it', async () => {
    let exchange: true | string = 'partner exchange not started';
    const server = new HealthServer({ metrics: new RuntimeMetrics(), log, port: 0, readyChecks: [{ name: 'informers', check: () => true }, { name: 'runnables', informational: true, check: () => exchange }] });
    const port = await server.start();
    try {
      const get = async (path: string): Promise<[number, string]> => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        return [res.status, await res.text()];
      };
      const rows: ReadonlyArray<readonly [string, number, RegExp]> = [
        ['/readyz', 200, /^ok\n$/],
        ['/readyz?verbose', 200, /\[\+\]informers ok\n\[-\]runnables failed \(informational\): partner exchange not started\nok/],
        ['/readyz/runnables', 500, /\[-\]runnables failed: partner exchange not started\nnot ready/],
        ['/readyz/informers', 200, /^ok\n$/],
        ['/readyz/nope', 404, /one of \/readyz\/informers, \/readyz\/runnables/],
      ];
      for (const [path, status, body] of rows) {
        const [got, text] = await get(path);
        assert.equal(got, status, `${path}: ${text}`);
        assert.match(text, body, path);
      }
      exchange = true;
      assert.deepEqual(await get('/readyz/runnables'), [200, 'ok\n']);
    } finally {
      await server.stop();
    }
  });

  test('a taken port is reported with advice', async () => {
    const metrics = new RuntimeMetrics();
    const a = new HealthServer({ metrics, log, port: 0, readyChecks: [] });
    const port = await a.start();
    try {
      const b = new HealthServer({ metrics, log, port, readyChecks: [] });
      await assert.rejects(b.start(), /cannot listen on 127\.0\.0\.1:\d+ .*choose another port/);
    } finally {
      await a.stop();
    }
  });
});

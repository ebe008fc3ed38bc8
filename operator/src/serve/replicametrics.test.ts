import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { createLogger } from '../log.ts';
import { ManualClock } from '../runtime/clock.ts';
import type { HealthCheck } from '../runtime/health.ts';
import { DatabaseReadiness, ReplicaApiMetrics, classifyRequest } from './replicametrics.ts';

const P = '/apis/replica.threatmesh.io/v1alpha1';

/** Method, path and query → the verb and resource labels kube-apiserver would give. */
const REQUESTS: ReadonlyArray<[string, string, string, string, string]> = [
  ['GET', `${P}/threatindicators`, '', 'list', 'threatindicators'],
  ['GET', `${P}/namespaces/tm/threatindicators`, 'limit=500', 'list', 'threatindicators'],
  ['GET', `${P}/namespaces/tm/threatindicators/ipv4-abc`, '', 'get', 'threatindicators'],
  ['GET', `${P}/namespaces/tm/threatindicators`, 'watch=true', 'watch', 'threatindicators'],
  ['GET', `${P}/threatindicators`, 'watch=1', 'watch', 'threatindicators'],
  ['GET', `${P}/namespaces/tm/threatindicators/`, '', 'list', 'threatindicators'],
  ['DELETE', `${P}/namespaces/tm/threatindicators/ipv4-abc`, '', 'delete', 'threatindicators'],
  ['DELETE', `${P}/namespaces/tm/threatindicators`, '', 'deletecollection', 'threatindicators'],
  ['POST', `${P}/namespaces/tm/threatindicators`, '', 'create', 'threatindicators'],
  ['PUT', `${P}/namespaces/tm/threatindicators/x`, '', 'update', 'threatindicators'],
  ['PATCH', `${P}/namespaces/tm/threatindicators/x`, '', 'patch', 'threatindicators'],
  ['OPTIONS', `${P}/threatindicators`, '', 'other', 'threatindicators'],
  ['GET', P, '', 'get', 'discovery'],
  ['GET', '/apis', '', 'get', 'discovery'],
  ['GET', `${P}/`, '', 'get', 'discovery'],
  ['GET', '/apis/replica.threatmesh.io', '', 'get', 'discovery'],
  ['GET', `${P}/namespaces/tm/feeds`, '', 'get', 'unknown'],
  ['GET', '/apis/threatmesh.io/v1alpha1', '', 'get', 'unknown'],
  ['GET', '/etc/passwd', '', 'get', 'unknown'],
  ['POST', '/apisx', '', 'create', 'unknown'],
];

describe('classifyRequest: fixed label values from method and path', () => {
  for (const [method, path, query, verb, resource] of REQUESTS) {
    it(`${method} ${path}${query ? `?${query}` : ''} → ${verb} ${resource}`, () => {
      assert.deepEqual(classifyRequest(method, path, new URLSearchParams(query), P), { verb, resource });
    });
  }
});

const lines = async (m: ReplicaApiMetrics): Promise<string[]> => (await m.expose()).body.split('\n');

describe('ReplicaApiMetrics', () => {
  it('reports its labelled series at zero before any request', async () => {
    const body = await lines(new ReplicaApiMetrics(() => []));
    for (const s of [
      'threatmesh_replica_api_requests_total{verb="get",resource="threatindicators",code="500"} 0',
      'threatmesh_replica_api_requests_total{verb="list",resource="threatindicators",code="200"} 0',
      'threatmesh_replica_api_request_duration_seconds_count{verb="list",resource="threatindicators",code="200"} 0',
      'threatmesh_replica_api_authentication_total{result="no-verified-certificate"} 0',
      'threatmesh_replica_api_authorization_total{decision="error"} 0',
      'threatmesh_replica_api_database_errors_total{operation="ping"} 0',
      'threatmesh_replica_api_list_pages_total{page="continued",more="true"} 0',
      'threatmesh_replica_api_tls_handshake_errors_total 0',
      'threatmesh_replica_api_ready 1',
      'threatmesh_replica_api_database_up 0',
    ]) assert.ok(body.includes(s), `${s} in:\n${body.filter((l) => !l.startsWith('#')).join('\n')}`);
  });

  it('counts requests and list pages into the series the alerts read', async () => {
    const m = new ReplicaApiMetrics(() => []);
    m.observeRequest('get', 'threatindicators', 500, 0.2);
    m.observeRequest('list', 'threatindicators', 200, 3);
    m.observeListPage(500, true, false);
    const body = await lines(m);
    for (const s of [
      'threatmesh_replica_api_requests_total{verb="get",resource="threatindicators",code="500"} 1',
      'threatmesh_replica_api_request_duration_seconds_bucket{le="2.5",verb="list",resource="threatindicators",code="200"} 0',
      'threatmesh_replica_api_request_duration_seconds_bucket{le="5",verb="list",resource="threatindicators",code="200"} 1',
      'threatmesh_replica_api_list_pages_total{page="continued",more="false"} 1',
      'threatmesh_replica_api_list_items_bucket{le="500"} 1',
      'threatmesh_replica_api_list_items_bucket{le="100"} 0',
    ]) assert.ok(body.includes(s), s);
  });

  it('the open lists gauge reads its count at each scrape', async () => {
    const m = new ReplicaApiMetrics(() => []);
    assert.ok((await lines(m)).includes('threatmesh_replica_api_open_lists 0'));
    let open = 3;
    m.countOpenLists(() => open);
    assert.ok((await lines(m)).includes('threatmesh_replica_api_open_lists 3'));
    open = 1;
    assert.ok((await lines(m)).includes('threatmesh_replica_api_open_lists 1'));
  });

  it('the ready gauge reads the checks at each scrape', async () => {
    let state: true | string = 'down';
    const checks: HealthCheck[] = [{ name: 'database', check: () => state }];
    const m = new ReplicaApiMetrics(() => checks);
    assert.ok((await lines(m)).includes('threatmesh_replica_api_ready 0'));
    state = true;
    assert.ok((await lines(m)).includes('threatmesh_replica_api_ready 1'));
  });
});

describe('DatabaseReadiness', () => {
  it('is ready once the database answered, and stays ready through later failures, which database_up and the error count show', async () => {
    const clock = new ManualClock();
    const metrics = new ReplicaApiMetrics(() => []);
    const answers: Array<Error | undefined> = [new Error('connection refused'), undefined, new Error('connection reset'), undefined];
    let pings = 0;
    const r = new DatabaseReadiness({ clock, metrics, intervalMs: 1000, ping: () => {
      const a = answers[pings++];
      return a === undefined ? Promise.resolve() : Promise.reject(a);
    } });
    assert.match(String(r.check.check()), /has not answered a ping yet$/);
    r.start();
    const seen: Array<[true | string, string, boolean]> = [];
    for (let i = 0; i < answers.length; i++) {
      await clock.advance(i === 0 ? 0 : 1000);
      seen.push([r.check.check(), r.lastError, (await lines(metrics)).includes('threatmesh_replica_api_database_up 1')]);
    }
    assert.deepEqual(seen, [
      ['the partner database has not answered a ping yet: connection refused', 'connection refused', false],
      [true, '', true],
      [true, 'connection reset', false],
      [true, '', true],
    ]);
    assert.ok((await lines(metrics)).includes('threatmesh_replica_api_database_errors_total{operation="ping"} 2'));
    r.stop();
    await clock.advance(5000);
    assert.equal(pings, 4);
    assert.equal(clock.timers(), 0);
  });

  it('logs a database down for ten minutes as one warning, a reminder after five, one per new cause and one line when it answers again', async () => {
    const out = new PassThrough();
    const logged: Array<Record<string, unknown>> = [];
    out.on('data', (c: Buffer) => logged.push(...c.toString().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)));
    const clock = new ManualClock();
    // A ping every 10 s: refused for 10 minutes, then a different cause once, then answered.
    const answers: Array<Error | undefined> = [...Array.from({ length: 60 }, () => new Error('connection refused')), new Error('authentication failed'), undefined];
    let pings = 0;
    const r = new DatabaseReadiness({ clock, log: createLogger(out, 'info'), intervalMs: 10_000, ping: () => {
      const a = answers[pings++];
      return a === undefined ? Promise.resolve() : Promise.reject(a);
    } });
    r.start();
    for (let i = 0; i < answers.length; i++) await clock.advance(i === 0 ? 0 : 10_000);
    r.stop();
    await new Promise<void>((res) => setImmediate(res));
    assert.equal(pings, answers.length);
    assert.deepEqual(logged.map((l) => [l['level'], l['msg'], l['reminder'] ?? false, l['failuresSinceLastLine'] ?? '', l['previousCause'] ?? l['cause'] ?? '']), [
      ['warn', 'partner database did not answer a ping', false, '', ''],
      ['warn', 'partner database did not answer a ping', true, 30, ''],
      ['warn', 'partner database did not answer a ping', false, '', 'connection refused'],
      ['info', 'partner database answers again', false, '', 'authentication failed'],
    ], JSON.stringify(logged));
    assert.equal(logged[3]!['failedForMs'], 10_000, 'the recovery line says how long the last cause lasted');
  });
});

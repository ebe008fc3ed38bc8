/**
 * The reports' HTTP routes mounted on a real node:http server on loopback, over a real FerretDB:
 * a caller cleared for TLP:GREEN never sees an AMBER report (not in the list, 403 on the id) nor
 * an AMBER indicator in the trends; reports come as JSON, Markdown and HTML; foreign paths are
 * left to the server; other methods get 405.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MongoClient, type Db } from 'mongodb';
import { INDICATORS, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { recordOf } from '../../operator/src/report/fixtures.ts';
import { reportRoutes, type ReportCaller } from '../../operator/src/report/http.ts';
import { documentOf } from '../../operator/src/report/render.ts';
import { PartnerData } from '../../operator/src/report/source.ts';
import { summarize } from '../../operator/src/report/summarize.ts';
import { windowEnding } from '../../operator/src/report/period.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';

const DAY = 86_400_000;
const now = new Date();
const green = recordOf({ type: 'ipv4', value: '198.51.100.23', opensAt: new Date(now.getTime() - 2 * DAY), meta: { tlp: 'green', source: 'tm/feodo' } });
const amber = recordOf({ value: 'amber-only.example', opensAt: new Date(now.getTime() - DAY), meta: { tlp: 'amber', source: 'tm/private' } });

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let server: Server;
let base: string;
let greenId: string;
let amberId: string;

const callers: Record<string, ReportCaller> = { green: { id: 'partner-g', maxTlp: 'green' }, amber: { id: 'partner-a', maxTlp: 'amber' } };

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  db = mongo.db(`tm_report_http_${uniqueSuffix()}`);
  await db.collection<IndicatorRecord>(INDICATORS).insertMany([green, amber]);
  const data = new PartnerData(db);
  const w = windowEnding(now, 7 * DAY);
  for (const tlp of ['green', 'amber'] as const) {
    const out = await summarize(data, { window: w, audience: tlp });
    const doc = documentOf(out, { report: `tm/${tlp}`, createdAt: new Date(now.getTime() + (tlp === 'amber' ? 1000 : 0)), tlp });
    await data.store.saveReport(doc);
    if (tlp === 'green') greenId = doc.id; else amberId = doc.id;
  }
  const routes = reportRoutes({ reader: data });
  server = createServer((req, res) => {
    const caller = callers[String(req.headers['x-test-caller'])] ?? callers['green']!;
    routes(req, res, caller).then((handled) => { if (!handled) { res.writeHead(404); res.end('not mine'); } }, (err: unknown) => { res.writeHead(500); res.end(String(err)); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((r) => server?.close(r));
  await db?.dropDatabase();
  await mongo?.close();
  await cp?.stop();
});

async function get(path: string, caller: 'green' | 'amber', method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(`${base}${path}`, { method, headers: { 'x-test-caller': caller } });
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

test('the list and the ids are cut to the caller\'s TLP', async () => {
  const cases: Array<['green' | 'amber', string, number, RegExp | undefined]> = [
    ['green', `/reports/${greenId}`, 200, /"tlp":"green"/],
    ['green', `/reports/${amberId}`, 403, /marked TLP:AMBER, above what you may read \(TLP:GREEN\)/],
    ['amber', `/reports/${amberId}`, 200, /amber-only\.example/],
    ['green', '/reports/nope', 404, /no report \\"nope\\"; GET \/reports lists them/],
    ['green', '/reports/..%2F..%2Fetc', 400, /a report id has letters/],
  ];
  for (const [caller, path, status, body] of cases) {
    const r = await get(path, caller);
    assert.equal(r.status, status, `${caller} ${path}: ${r.body}`);
    if (body) assert.match(r.body, body, `${caller} ${path}`);
  }
  const greenList = JSON.parse((await get('/reports', 'green')).body) as { reports: Array<{ id: string }> };
  assert.deepEqual(greenList.reports.map((r) => r.id), [greenId]);
  const amberList = JSON.parse((await get('/reports', 'amber')).body) as { reports: Array<{ id: string }> };
  assert.deepEqual(amberList.reports.map((r) => r.id), [amberId, greenId]);
  assert.doesNotMatch((await get(`/reports/${greenId}`, 'green')).body, /amber-only/);
});

test('a report as Markdown and HTML', async () => {
  const md = await get(`/reports/${greenId}.md`, 'green');
  assert.match(md.type, /text\/markdown/);
  assert.match(md.body, /^\*\*TLP:GREEN\*\*/);
  const html = await get(`/reports/${greenId}.html`, 'green');
  assert.match(html.type, /text\/html/);
  assert.match(html.body, /<strong>TLP:GREEN<\/strong>/);
});

test('trends follow the caller\'s TLP, and a lower maxTlp in the query, never a higher one', async () => {
  const cases: Array<['green' | 'amber', string, number]> = [['green', '/trends?since=7d', 1], ['amber', '/trends?since=7d', 2], ['amber', '/trends?since=7d&maxTlp=clear', 0], ['green', '/trends?since=7d&maxTlp=red', 1]];
  for (const [caller, path, admitted] of cases) {
    const r = await get(path, caller);
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { totals: { admitted: number } }).totals.admitted, admitted, `${caller} ${path}`);
  }
  assert.doesNotMatch((await get('/trends', 'green')).body, /tm\/private/);
  const bad = await get('/trends?since=forever', 'green');
  assert.equal(bad.status, 400);
  assert.match(bad.body, /since: \\"forever\\" is not a duration/);
});

test('other methods get 405; other paths are left to the server', async () => {
  const post = await get('/reports', 'green', 'POST');
  assert.equal(post.status, 405);
  assert.equal((await get('/taxii2/', 'green')).body, 'not mine');
  assert.equal((await get('/reportsx', 'green')).body, 'not mine');
});

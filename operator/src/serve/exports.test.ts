import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { indicatorDigest } from '../domain/canonical.ts';
import { parseMispFeed } from '../feeds/misp.ts';
import { handleExport } from './exports.ts';
import { caller, consumer, memoryDeps, rec, revoked } from './fixtures.ts';
import type { ServeRequest } from './http.ts';
import type { ServedRecord } from './record.ts';

function get(path: string, query = '', headers: Record<string, string> = {}): ServeRequest {
  return { method: 'GET', segments: path.split('/').filter((s) => s !== ''), query: new URLSearchParams(query), headers };
}

function typed(index: number, type: string, value: string, over: Partial<ServedRecord> = {}): ServedRecord {
  return rec(index, 'x.example', { type, value, digest: indicatorDigest({ type: type as 'domain', value }), ...over });
}

const records = [
  typed(0, 'domain', 'green.evil.example'),
  typed(1, 'domain', 'amber.evil.example', { meta: { tlp: 'amber' } }),
  typed(2, 'ipv4', '198.51.100.7'),
  typed(3, 'cidr', '203.0.113.0/24', { meta: { tlp: 'amber' } }),
  typed(4, 'url', 'http://green.evil.example/a?b=c'),
  typed(5, 'sha256', 'a'.repeat(64)),
  typed(6, 'md5', 'b'.repeat(32), { meta: { tlp: 'green', validUntil: '2026-11-26T00:00:00.000Z' } }),
  revoked(typed(7, 'domain', 'gone.evil.example'), 8),
];

const FILES = ['suricata/threatmesh-domains.lst', 'suricata/threatmesh-urls.lst', 'suricata/threatmesh-md5.lst', 'suricata/threatmesh-sha256.lst', 'suricata/threatmesh-iprep.list', 'suricata/threatmesh.rules', 'zeek/threatmesh.intel', 'csv/indicators.csv', 'lists/domain.txt', 'lists/cidr.txt', 'misp/manifest.json', 'misp/hashes.csv'];

test('no export shows an AMBER indicator to a GREEN consumer', async () => {
  const { exports } = memoryDeps(records);
  const g = caller(consumer('siem', 'green'));
  const manifest = JSON.parse(String((await handleExport(exports, g, get('/exports/misp/manifest.json'))).body)) as Record<string, unknown>;
  const paths = [...FILES, ...Object.keys(manifest).map((u) => `misp/${u}.json`)];
  for (const path of paths) {
    const r = await handleExport(exports, g, get(`/exports/${path}`));
    assert.equal(r.status, 200, path);
    const text = String(r.body);
    for (const secret of ['amber.evil.example', '203.0.113.0', Buffer.from('amber.evil.example').toString('base64')]) assert.ok(!text.includes(secret), `${path} leaks ${secret}`);
  }
  const wide = String((await handleExport(exports, caller(consumer('soc', 'amber')), get('/exports/lists/domain.txt'))).body);
  assert.equal(wide, 'green.evil.example\namber.evil.example\n');
});

test('full exports hold what is in force; incremental ones add removals; ETag and If-None-Match', async () => {
  const { exports, audit } = memoryDeps(records);
  const g = caller(consumer('siem', 'green'));
  const csv = await handleExport(exports, g, get('/exports/csv/indicators.csv'));
  const lines = String(csv.body).trim().split('\n');
  assert.equal(lines[0], 'action,type,value,tlp,confidence,labels,valid_from,valid_until,source,stix_id,log_index,created_by_ref');
  assert.deepEqual(lines.slice(1).map((l) => l.split(',')[2]), ['green.evil.example', '198.51.100.7', 'http://green.evil.example/a?b=c', 'a'.repeat(64)], 'expired and revoked indicators are not in force');
  const again = await handleExport(exports, g, get('/exports/csv/indicators.csv', '', { 'if-none-match': String(csv.headers['etag']) }));
  assert.deepEqual([again.status, again.body], [304, '']);
  const since = await handleExport(exports, g, get('/exports/csv/indicators.csv', `since=${String(csv.headers['x-threatmesh-cursor'])}`));
  assert.equal(String(since.body).trim().split('\n').length, 1, 'nothing after the cursor');
  const mid = await handleExport(exports, g, get('/exports/csv/indicators.csv', `since=${Buffer.from('[1,5,"export"]').toString('base64url')}`));
  assert.deepEqual(String(mid.body).trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 3).join(' ')), ['remove domain gone.evil.example']);
  assert.equal((await handleExport(exports, g, get('/exports/csv/indicators.csv', 'since=garbage'))).status, 400);
  assert.equal((await handleExport(exports, g, get('/exports/misp/manifest.json', `since=${String(csv.headers['x-threatmesh-cursor'])}`))).status, 400);
  assert.equal((await handleExport(exports, g, get('/exports/../../etc/passwd'))).status, 404);
  assert.deepEqual(audit.events.slice(0, 2).map((e) => [e.api, e.resource, e.count, e.status]), [['export', 'csv/indicators.csv', 4, 200], ['export', 'csv/indicators.csv', 0, 304]]);
});

test('formats: Suricata base64 datasets and iprep, Zeek Intel without URL schemes, a MISP feed our own MISP reader accepts', async () => {
  const { exports } = memoryDeps(records);
  const g = caller(consumer('siem', 'green'));
  const body = async (p: string): Promise<string> => String((await handleExport(exports, g, get(`/exports/${p}`))).body);
  assert.equal(await body('suricata/threatmesh-domains.lst'), `${Buffer.from('green.evil.example').toString('base64')}\n`);
  assert.equal(await body('suricata/threatmesh-iprep.list'), '198.51.100.7,1,102\n');
  const zeek = (await body('zeek/threatmesh.intel')).split('\n');
  assert.equal(zeek[1], '#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url');
  assert.ok(zeek.some((l) => l.startsWith('green.evil.example/a?b=c\tIntel::URL\t')));
  assert.ok(zeek.filter((l) => l !== '' && !l.startsWith('#')).every((l) => l.split('\t').length === 5));
  const files = new Map<string, string>();
  const manifest = await body('misp/manifest.json');
  files.set('manifest.json', manifest);
  for (const uuid of Object.keys(JSON.parse(manifest) as object)) files.set(`${uuid}.json`, await body(`misp/${uuid}.json`));
  const values: string[] = [];
  for await (const batch of parseMispFeed((name) => Promise.resolve(Readable.from([Buffer.from(files.get(name) ?? '')])))) values.push(...batch.records.map((r) => r.value));
  assert.deepEqual(values.sort(), ['198.51.100.7', 'a'.repeat(64), 'green.evil.example', 'http://green.evil.example/a?b=c'].sort());
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectionId } from './collections.ts';
import { caller, consumer, memoryDeps, rec, revoked } from './fixtures.ts';
import { TAXII_MEDIA_TYPE, type Reply, type ServeRequest } from './http.ts';
import { stixIdOfDigest } from './stixview.ts';
import { handleTaxii } from './taxii.ts';
import type { Consumer } from './config.ts';
import type { TaxiiDeps } from './taxii.ts';

function get(path: string, query = '', headers: Record<string, string> = {}): ServeRequest {
  return { method: 'GET', segments: path.split('/').filter((s) => s !== ''), query: new URLSearchParams(query), headers: { accept: TAXII_MEDIA_TYPE, ...headers } };
}

function json(r: Reply): Record<string, unknown> {
  return JSON.parse(String(r.body)) as Record<string, unknown>;
}

const green = rec(0, 'green.evil.example');
const amber = rec(1, 'amber.evil.example', { meta: { tlp: 'amber', source: 'threatmesh/secret-feed' } });
const unmarked = rec(2, 'unmarked.evil.example', { meta: { source: 'threatmesh/feed-a' } });
const red = rec(3, 'red.evil.example', { meta: { tlp: 'red', source: 'threatmesh/feed-a' } });
const bogusTlp = rec(4, 'bogus-tlp.evil.example', { meta: { tlp: 'white' as 'clear' } });
const gone = revoked(rec(5, 'gone.evil.example'), 6);
const all = [green, amber, unmarked, red, bogusTlp, gone];

async function objectsOf(deps: TaxiiDeps, who: Consumer, coll: string, query = ''): Promise<Array<Record<string, unknown>>> {
  const r = await handleTaxii(deps, caller(who), get(`/api/collections/${coll}/objects/`, query));
  assert.equal(r.status, 200, String(r.body));
  return (json(r)['objects'] as Array<Record<string, unknown>> | undefined) ?? [];
}

test('an AMBER indicator never reaches a GREEN consumer, by any TAXII endpoint', async () => {
  const { taxii } = memoryDeps(all);
  const g = consumer('siem', 'green');
  const amberId = stixIdOfDigest(amber.digest);
  const names = (objs: Array<Record<string, unknown>>): unknown[] => objs.map((o) => o['name']);
  assert.deepEqual(names(await objectsOf(taxii, g, 'all')), ['green.evil.example', 'unmarked.evil.example', 'gone.evil.example']);
  assert.deepEqual(names(await objectsOf(taxii, g, 'all', `match[id]=${amberId}`)), []);
  assert.deepEqual(names(await objectsOf(taxii, g, 'all', 'match[version]=all')), ['green.evil.example', 'unmarked.evil.example', 'gone.evil.example', 'gone.evil.example']);
  const cases: Array<[string, number]> = [
    ['/api/collections/tlp-amber/objects/', 404],
    [`/api/collections/${collectionId('tlp-amber')}/`, 404],
    [`/api/collections/all/objects/${amberId}/`, 404],
    [`/api/collections/all/objects/${amberId}/versions/`, 404],
    ['/api/collections/tlp-red/manifest/', 404],
  ];
  for (const [path, status] of cases) assert.equal((await handleTaxii(taxii, caller(g), get(path))).status, status, path);
  const colls = json(await handleTaxii(taxii, caller(g), get('/api/collections/')))['collections'] as Array<{ alias: string; title: string }>;
  assert.deepEqual(colls.map((c) => c.alias).filter((a) => !a.startsWith('feed-')), ['all', 'tlp-clear', 'tlp-green']);
  assert.ok(!colls.some((c) => c.title.includes('secret-feed')), 'an amber-only feed does not even show its name');
  const manifest = json(await handleTaxii(taxii, caller(g), get('/api/collections/all/manifest/')))['objects'] as Array<{ id: string }>;
  assert.ok(!manifest.some((m) => m.id === amberId));
});

test('an indicator with an unknown TLP value is served to nobody, not even RED consumers', async () => {
  const { taxii } = memoryDeps(all);
  const objs = await objectsOf(taxii, consumer('top', 'red'), 'all');
  assert.ok(!objs.some((o) => o['name'] === 'bogus-tlp.evil.example'));
  assert.equal(objs.length, 5);
});

test('objects are STIX 2.1 indicators with TLP markings, identity, validity; a revoked one shows its revoked version', async () => {
  const { taxii } = memoryDeps(all);
  const objs = await objectsOf(taxii, consumer('siem', 'green'), 'all');
  const g = objs[0]!;
  assert.equal(g['type'], 'indicator');
  assert.equal(g['spec_version'], '2.1');
  assert.equal(g['id'], stixIdOfDigest(green.digest));
  assert.equal(g['pattern'], "[domain-name:value = 'green.evil.example']");
  assert.deepEqual(g['object_marking_refs'], ['marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb']);
  assert.match(String(g['created_by_ref']), /^identity--/);
  assert.equal(g['confidence'], 80);
  const unm = objs[1]!;
  assert.deepEqual(unm['object_marking_refs'], ['marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487'], 'no TLP is TLP:CLEAR');
  const last = objs[2]!;
  assert.equal(last['revoked'], true);
  assert.ok(String(last['modified']) > String(last['created']));
});

test('paging by next never loops or skips when every object shares one date_added', async () => {
  const many = Array.from({ length: 57 }, (_, i) => rec(i, `same-time-${i}.evil.example`));
  const { taxii } = memoryDeps(many, { maxPageSize: 10 });
  const g = caller(consumer('siem', 'green'));
  const seen: string[] = [];
  let next: string | undefined;
  let pages = 0;
  do {
    const r = await handleTaxii(taxii, g, get('/api/collections/tlp-green/objects/', next === undefined ? 'limit=1000' : `limit=1000&next=${next}`));
    const body = json(r);
    seen.push(...((body['objects'] as Array<{ name: string }>).map((o) => o.name)));
    assert.equal(r.headers['x-taxii-date-added-first'], '2026-11-25T12:00:00.000Z');
    next = body['more'] === true ? String(body['next']) : undefined;
    pages += 1;
  } while (next !== undefined && pages < 20);
  assert.equal(pages, 6, 'a limit above the server page size is lowered to it');
  assert.deepEqual(seen, many.map((r) => r.value));
});

test('bad requests get TAXII errors, never data', async () => {
  const { taxii } = memoryDeps(all);
  const g = caller(consumer('siem', 'green'));
  const cases: Array<[string, ServeRequest, number]> = [
    ['no Accept', { ...get('/api/collections/all/objects/'), headers: {} }, 406],
    ['JSON Accept', get('/api/collections/all/objects/', '', { accept: 'application/json' }), 406],
    ['TAXII 2.0', get('/api/collections/all/objects/', '', { accept: 'application/taxii+json;version=2.0' }), 406],
    ['bogus cursor', get('/api/collections/all/objects/', 'next=not-a-cursor!'), 400],
    ['forged cursor', get('/api/collections/all/objects/', `next=${Buffer.from('[1,-5,"x"]').toString('base64url')}`), 400],
    ['limit zero', get('/api/collections/all/objects/', 'limit=0'), 400],
    ['limit text', get('/api/collections/all/objects/', 'limit=ten'), 400],
    ['limit negative', get('/api/collections/all/objects/', 'limit=-1'), 400],
    ['added_after garbage', get('/api/collections/all/objects/', 'added_after=yesterday'), 400],
    ['match[version] garbage', get('/api/collections/all/objects/', 'match[version]=newest'), 400],
    ['match[id] not an id', get('/api/collections/all/objects/', 'match[id]=../../etc'), 400],
    ['unknown collection', get('/api/collections/nope/objects/'), 404],
    ['unknown resource', get('/api/collections/all/nope/'), 404],
    ['DELETE object', { ...get(`/api/collections/all/objects/${stixIdOfDigest(green.digest)}/`), method: 'DELETE' }, 405],
    ['POST by a consumer', { ...get('/api/collections/tlp-green/objects/'), method: 'POST' }, 403],
  ];
  for (const [what, req, status] of cases) {
    const r = await handleTaxii(taxii, g, req);
    assert.equal(r.status, status, `${what}: ${String(r.body)}`);
    const body = json(r);
    assert.equal(body['http_status'], String(status), what);
    assert.equal(typeof body['title'], 'string', what);
    assert.equal(body['objects'], undefined, what);
  }
});

test('a cursor from one query is refused by another (another collection or a wider consumer)', async () => {
  const many = Array.from({ length: 5 }, (_, i) => rec(i, `c-${i}.evil.example`));
  const { taxii } = memoryDeps(many, { maxPageSize: 2 });
  const first = json(await handleTaxii(taxii, caller(consumer('siem', 'green')), get('/api/collections/all/objects/')));
  const next = String(first['next']);
  assert.equal((await handleTaxii(taxii, caller(consumer('siem', 'green')), get('/api/collections/tlp-green/objects/', `next=${next}`))).status, 400);
  assert.equal((await handleTaxii(taxii, caller(consumer('other', 'amber')), get('/api/collections/all/objects/', `next=${next}`))).status, 400);
  assert.equal((await handleTaxii(taxii, caller(consumer('siem', 'green')), get('/api/collections/all/objects/', `next=${next}`))).status, 200);
});

test('match filters, versions, object by id, and manifest', async () => {
  const { taxii, audit } = memoryDeps(all);
  const g = consumer('siem', 'green');
  const goneId = stixIdOfDigest(gone.digest);
  assert.deepEqual(await objectsOf(taxii, g, 'all', 'match[type]=malware'), []);
  assert.deepEqual(await objectsOf(taxii, g, 'all', 'match[spec_version]=2.0'), []);
  assert.equal((await objectsOf(taxii, g, 'all', 'match[version]=first')).find((o) => o['id'] === goneId)?.['revoked'], undefined);
  assert.equal((await objectsOf(taxii, g, 'all', 'added_after=2026-11-25T12:00:30.000Z')).length, 1, 'only the revocation was added later');
  const vr = await handleTaxii(taxii, caller(g), get(`/api/collections/all/objects/${goneId}/versions/`));
  assert.deepEqual(json(vr)['versions'], ['2026-11-25T10:00:00.000Z', '2026-11-26T10:00:00.000Z']);
  const exact = await objectsOf(taxii, g, 'all', 'match[version]=2026-11-25T10:00:00.000Z');
  assert.ok(exact.every((o) => o['revoked'] === undefined) && exact.length === 3);
  const one = json(await handleTaxii(taxii, caller(g), get(`/api/collections/all/objects/${goneId}/`)))['objects'] as Array<Record<string, unknown>>;
  assert.deepEqual(one.map((o) => o['revoked']), [true]);
  const man = json(await handleTaxii(taxii, caller(g), get('/api/collections/tlp-green/manifest/')))['objects'] as Array<Record<string, unknown>>;
  assert.deepEqual(Object.keys(man[0] ?? {}).sort(), ['date_added', 'id', 'media_type', 'version']);
  assert.ok(audit.events.length >= 6 && audit.events.every((e) => e.identity === 'siem' && e.api === 'taxii'));
});

test('discovery, API root and collection resources', async () => {
  const { taxii } = memoryDeps(all);
  const g = caller(consumer('siem', 'green', true));
  const d = json(await handleTaxii(taxii, g, get('/taxii2/')));
  assert.deepEqual(d['api_roots'], ['/api/']);
  const root = json(await handleTaxii(taxii, g, get('/api/')));
  assert.deepEqual(root['versions'], [TAXII_MEDIA_TYPE]);
  const c = json(await handleTaxii(taxii, g, get('/api/collections/tlp-green/')));
  assert.deepEqual([c['id'], c['can_read'], c['can_write'], c['media_types']], [collectionId('tlp-green'), true, true, ['application/stix+json;version=2.1']]);
  assert.equal(json(await handleTaxii(taxii, g, get('/api/collections/all/')))['can_write'], false);
});

/**
 * `threatmesh serve` against real parts: FerretDB holding a partner's replicated indicators, a
 * real kube-apiserver for proposals, HTTPS with a run-time CA and an mTLS client certificate;
 * checked from outside with other projects' tools: the OASIS taxii2-client pages every
 * collection, the OASIS stix2-validator validates the objects as a STIX 2.1 bundle, and
 * suricataparser/idstools parse the Suricata rules. Adversarial: a GREEN consumer never gets
 * AMBER data over the wire, unauthenticated and wrongly authenticated requests get 401, a
 * consumer without the contributor role gets 403, and malformed requests get TAXII errors.
 * Every read lands in the audit log.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type Db } from 'mongodb';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../../operator/src/api/types.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { verifyProposal } from '../../operator/src/domain/entry.ts';
import { createLogger } from '../../operator/src/log.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import { collectionId } from '../../operator/src/serve/collections.ts';
import { loadServeConfig, tokenHash, validateServeConfig } from '../../operator/src/serve/config.ts';
import { startServeService, type RunningServe } from '../../operator/src/serve/service.ts';
import { stixIdOfDigest } from '../../operator/src/serve/stixview.ts';
import { SERVE_AUDIT } from '../../operator/src/store/audit.ts';
import { REPLICA_CURSORS } from '../../operator/src/store/cursor.ts';
import { INDICATORS, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { createTestCa, type IssuedCert, type TestCa } from '../harness/pki.ts';
import { python, pythonTools } from '../harness/python.ts';

const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const TOKENS = { green: 'green-consumer-token-0123456789', amber: 'amber-contributor-token-0123456789' };
const ns = `serve-${uniqueSuffix()}`;
let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let kube: KubeHttpClient;
let ca: TestCa;
let server: IssuedCert;
let client: IssuedCert;
let stranger: TestCa;
let strangerCert: IssuedCert;
let dir: string;
let serve: RunningServe;
let py: string;
const signer = SigningKey.generate();

function record(index: number, value: string, tlp: string | undefined, extra: Partial<IndicatorRecord> = {}): IndicatorRecord {
  const ind = { type: 'domain' as const, value };
  const digest = indicatorDigest(ind);
  return {
    _id: digest, digest, type: 'domain', value, state: 'active', logIndex: index, proposerId: 'partner-b', votes: [],
    window: { opensAt: '2026-11-25T10:00:00.000Z', closesAt: '2026-11-28T10:00:00.000Z' }, stixId: stixIdOfDigest(digest), addedAt: new Date('2026-11-25T12:00:00.000Z'),
    meta: { ...(tlp === undefined ? {} : { tlp: tlp as 'green' }), confidence: 70, source: 'threatmesh/feed-a', labels: ['c2'] }, ...extra,
  };
}

const GREEN = Array.from({ length: 23 }, (_, i) => record(i, `green-${i}.evil.example`, 'green'));
const AMBER = [record(23, 'amber-secret.evil.example', 'amber'), record(24, 'amber-two.evil.example', 'amber')];
const CLEAR = record(25, 'unmarked.evil.example', undefined);
const REVOKED = record(26, 'revoked.evil.example', 'green', { state: 'revoked', revokedAtIndex: 27, revokedAt: new Date('2026-11-25T13:00:00.000Z'), revocation: { logIndex: 27, proposerId: 'partner-c', proposalSignature: 's', window: { opensAt: '2026-11-26T09:00:00.000Z', closesAt: '2026-11-29T09:00:00.000Z' }, votes: [] } });
const BEYOND = record(40, 'not-yet-replicated.evil.example', 'green');

interface Res { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function call(method: string, path: string, opts: { token?: string; cert?: IssuedCert; headers?: Record<string, string>; body?: string; caPem?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: serve.port, method, path, ca: opts.caPem ?? ca.caPem, ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
      headers: { accept: 'application/taxii+json;version=2.1', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

before(async () => {
  py = await pythonTools();
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  db = mongo.db(`tm_serve_${uniqueSuffix()}`);
  await db.collection<IndicatorRecord>(INDICATORS).insertMany([...GREEN, ...AMBER, CLEAR, REVOKED, BEYOND]);
  await db.collection<{ _id: string; nextIndex: number }>(REPLICA_CURSORS).insertOne({ _id: 'sequencer', nextIndex: 28 });
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await applyManifests(kube, await loadYamlDir('crds'), 'serve-test');
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  ca = await createTestCa('serve-test-ca');
  server = await ca.issue('partner-a-serve', 'server');
  client = await ca.issue('siem-mtls', 'client');
  stranger = await createTestCa('stranger-ca');
  strangerCert = await stranger.issue('siem-mtls', 'client');
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-serve-'));
  await writeFile(join(dir, 'ca.pem'), ca.caPem);
  const config = await loadServeConfig(validateServeConfig({
    consumers: [
      { name: 'siem-green', maxTlp: 'green', tokens: [{ sha256: tokenHash(TOKENS.green) }] },
      { name: 'intel-amber', maxTlp: 'amber', roles: ['contributor'], tokens: [{ file: join(dir, 'amber-token') }] },
      { name: 'siem-mtls', maxTlp: 'green', certificates: [{ subject: 'siem-mtls' }] },
    ],
  }), async (p) => { await writeFile(p, `${TOKENS.amber}\n`); return `${TOKENS.amber}\n`; });
  serve = await startServeService({
    config, db, partnerId: 'partner-a', tls: { certPem: server.certPem, keyPem: server.keyPem, clientCaPem: ca.caPem },
    listen: { host: '127.0.0.1', port: 0 }, metricsBind: { host: '127.0.0.1', port: 0 }, proposing: { kube, namespace: ns, signer },
    log: createLogger(process.stderr, 'warn', { component: 'serve-test' }),
  });
});

after(async () => {
  await serve?.stop();
  await db?.dropDatabase();
  await mongo?.close();
  if (kube) {
    await kube.delete(namespaces, ns).catch(() => undefined);
    kube.close();
  }
  await cp?.stop();
  await ca?.dispose();
  await stranger?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const PAGE_ALL = `
import json, sys, requests
from taxii2client.v21 import Server, as_pages
class Bearer(requests.auth.AuthBase):
    def __init__(self, t): self.t = t
    def __call__(self, r):
        r.headers['Authorization'] = 'Bearer ' + self.t
        return r
url, token, ca = sys.argv[1], sys.argv[2], sys.argv[3]
server = Server(url, verify=ca, auth=Bearer(token))
root = server.api_roots[0]
out = {'title': server.title, 'collections': {}}
for c in root.collections:
    ids = []
    pages = 0
    for env in as_pages(c.get_objects, per_request=5):
        pages += 1
        ids += [o['id'] + ('#revoked' if o.get('revoked') else '') for o in env.get('objects', [])]
    out['collections'][c.alias] = {'ids': ids, 'pages': pages, 'can_write': c.can_write}
print(json.dumps(out))
`;

test('taxii2-client pages every collection; a GREEN consumer sees GREEN and CLEAR only, in log order, up to the replica watermark', async () => {
  const out = JSON.parse(await python(py, PAGE_ALL, [`https://127.0.0.1:${serve.port}/taxii2/`, TOKENS.green, join(dir, 'ca.pem')])) as { collections: Record<string, { ids: string[]; pages: number }> };
  const expected = [...GREEN, CLEAR, REVOKED].map((r) => r.stixId ?? '').map((id) => (id === REVOKED.stixId ? `${id}#revoked` : id));
  assert.deepEqual(out.collections['all']?.ids, expected);
  assert.equal(out.collections['all']?.pages, 5, '25 objects in pages of 5');
  assert.deepEqual(Object.keys(out.collections).filter((a) => !a.startsWith('feed-')).sort(), ['all', 'tlp-clear', 'tlp-green']);
  const everything = JSON.stringify(out);
  for (const r of [...AMBER, BEYOND]) assert.ok(!everything.includes(r.stixId ?? '?'), `${r.value} must not reach the GREEN consumer`);
});

const VALIDATE = `
import sys, json
from stix2validator import validate_file, ValidationOptions
r = validate_file(sys.argv[1], ValidationOptions(version='2.1', strict=False))
print(json.dumps({'valid': r.is_valid, 'errors': [str(e) for o in r.object_results for e in (o.errors or [])], 'warnings': [str(w) for o in r.object_results for w in (o.warnings or [])]}))
`;

test('the objects validate as a STIX 2.1 bundle with the OASIS stix2-validator', async () => {
  const res = await call('GET', '/api/collections/all/objects/?match[version]=all', { token: TOKENS.green });
  assert.equal(res.status, 200);
  assert.match(String(res.headers['x-taxii-date-added-first']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const objects = (JSON.parse(res.body) as { objects: unknown[] }).objects;
  const bundle = JSON.stringify({ type: 'bundle', id: 'bundle--6b1f4a0c-5e0e-4d5b-9e7c-3f8f2b1a0c11', objects });
  await writeFile(join(dir, 'bundle.json'), bundle);
  const report = await python(py, VALIDATE, [join(dir, 'bundle.json')]);
  const r = JSON.parse(report) as { valid: boolean; errors: string[] };
  assert.equal(r.valid, true, r.errors.join('\n'));
  const broken = { ...(objects[0] as Record<string, unknown>), pattern: "[domain-name:value = 'x'", confidence: 101 };
  await writeFile(join(dir, 'bundle.json'), JSON.stringify({ type: 'bundle', id: 'bundle--6b1f4a0c-5e0e-4d5b-9e7c-3f8f2b1a0c12', objects: [broken] }));
  const negative = JSON.parse(await python(py, VALIDATE, [join(dir, 'bundle.json')])) as { valid: boolean };
  assert.equal(negative.valid, false, 'the validator does reject a broken indicator');
});

test('over the wire: 401 without or with wrong credentials, mTLS certificates from the client CA only, 406, 403, 400 and never data', async () => {
  const cases: Array<[string, () => Promise<Res>, number]> = [
    ['no credentials', () => call('GET', '/api/collections/all/objects/'), 401],
    ['wrong token', () => call('GET', '/api/collections/all/objects/', { token: 'not-a-token-0123456789' }), 401],
    ['certificate from another CA', () => call('GET', '/api/collections/all/objects/', { cert: strangerCert }), 401],
    ['unknown export without credentials', () => call('GET', '/exports/csv/indicators.csv'), 401],
    ['no Accept', () => call('GET', '/api/collections/all/objects/', { token: TOKENS.green, headers: { accept: 'application/json' } }), 406],
    ['amber collection', () => call('GET', '/api/collections/tlp-amber/objects/', { token: TOKENS.green }), 404],
    ['amber object by id', () => call('GET', `/api/collections/all/objects/${AMBER[0]?.stixId ?? ''}/`, { token: TOKENS.green }), 404],
    ['bogus cursor', () => call('GET', '/api/collections/all/objects/?next=AAAA', { token: TOKENS.green }), 400],
    ['huge limit', () => call('GET', '/api/collections/all/objects/?limit=99999999999999', { token: TOKENS.green }), 200],
    ['POST by a reader', () => call('POST', '/api/collections/tlp-green/objects/', { token: TOKENS.green, headers: { 'content-type': 'application/taxii+json;version=2.1' }, body: '{"objects":[]}' }), 403],
  ];
  for (const [what, run, status] of cases) {
    const res = await run();
    assert.equal(res.status, status, `${what}: ${res.body}`);
    if (status === 401) assert.equal(res.headers['www-authenticate'], 'Bearer realm="threatmesh"', what);
    if (status !== 200) assert.ok(!res.body.includes('"objects"') && !res.body.includes('evil.example'), `${what} leaks data`);
  }
  const mtls = await call('GET', '/api/collections/all/objects/?limit=1', { cert: client });
  assert.equal(mtls.status, 200, mtls.body);
  const amber = await call('GET', '/api/collections/tlp-amber/objects/', { token: TOKENS.amber });
  assert.deepEqual((JSON.parse(amber.body) as { objects: Array<{ name: string }> }).objects.map((o) => o.name), ['amber-secret.evil.example', 'amber-two.evil.example']);
});

test('a contributor\'s POST becomes a ThreatIndicator proposal signed with the partner key, tracked by a pending status; bad bodies get 415/413/422', async () => {
  const envelope = { objects: [
    { type: 'indicator', spec_version: '2.1', id: 'indicator--0d6a8f55-1c5b-4b7e-9a8e-111111111111', created: '2026-11-25T10:00:00.000Z', modified: '2026-11-25T10:00:00.000Z', pattern: "[domain-name:value = 'Posted.Evil-ThreatMesh-Test.net']", pattern_type: 'stix', valid_from: '2026-11-25T10:00:00.000Z', confidence: 90, labels: ['phishing'] },
    { type: 'indicator', spec_version: '2.1', id: 'indicator--0d6a8f55-1c5b-4b7e-9a8e-222222222222', created: '2026-11-25T10:00:00.000Z', modified: '2026-11-25T10:00:00.000Z', pattern: "[ipv4-addr:value = '10.1.2.3']", pattern_type: 'stix', valid_from: '2026-11-25T10:00:00.000Z' },
    { type: 'malware', spec_version: '2.1', id: 'malware--0d6a8f55-1c5b-4b7e-9a8e-333333333333', name: 'x', is_family: false },
  ] };
  const headers = { 'content-type': 'application/taxii+json;version=2.1' };
  const res = await call('POST', '/api/collections/tlp-amber/objects/', { token: TOKENS.amber, headers, body: JSON.stringify(envelope) });
  assert.equal(res.status, 202, res.body);
  const status = JSON.parse(res.body) as { id: string; status: string; pending_count: number; failure_count: number; failures: Array<{ id: string; message: string }> };
  assert.deepEqual([status.status, status.pending_count, status.failure_count], ['pending', 1, 2], res.body);
  assert.match(status.failures.find((f) => f.id.endsWith('222222222222'))?.message ?? '', /warning list/);
  const list = await kube.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: ns });
  assert.equal(list.items.length, 1, 'only the valid indicator is proposed; nothing is admitted directly');
  const ti = list.items[0]!;
  assert.deepEqual([ti.spec.value, ti.spec.tlp, ti.spec.confidence, ti.spec.labels, ti.status?.phase ?? 'Proposed'], ['posted.evil-threatmesh-test.net', 'amber', 90, ['phishing'], 'Proposed']);
  const meta = { tlp: 'amber' as const, confidence: 90, labels: ['phishing'], validFrom: ti.spec.validFrom, source: 'taxii/intel-amber' };
  assert.ok(verifyProposal(signer.publicKey, 'add', { type: 'domain', value: 'posted.evil-threatmesh-test.net' }, ti.spec.proposal?.signature ?? '', meta), 'signed with the partner key over the spec metadata');
  const again = await call('GET', `/api/status/${status.id}/`, { token: TOKENS.amber });
  assert.equal((JSON.parse(again.body) as { status: string }).status, 'pending');
  assert.equal((await call('GET', `/api/status/${status.id}/`, { token: TOKENS.green })).status, 404, 'another consumer cannot read the status');
  // The network admits it: the replica writes the record and saves its cursor past it, and the status turns to success.
  await db.collection<IndicatorRecord>(INDICATORS).insertOne(record(28, 'posted.evil-threatmesh-test.net', 'amber'));
  await db.collection<{ _id: string; nextIndex: number }>(REPLICA_CURSORS).updateOne({ _id: 'sequencer' }, { $set: { nextIndex: 29 } });
  const done = JSON.parse((await call('GET', `/api/status/${status.id}/`, { token: TOKENS.amber })).body) as { status: string; success_count: number; successes: Array<{ message: string }> };
  assert.deepEqual([done.status, done.success_count], ['complete', 1]);
  assert.match(done.successes[0]?.message ?? '', /admitted by the network at log index 28/);
  // The OASIS client POSTs too, and accepts the status resource it gets back.
  const viaClient = JSON.parse(await python(py, `
import json, sys, requests
from taxii2client.v21 import Collection
class Bearer(requests.auth.AuthBase):
    def __init__(self, t): self.t = t
    def __call__(self, r):
        r.headers['Authorization'] = 'Bearer ' + self.t
        return r
c = Collection(sys.argv[1], verify=sys.argv[3], auth=Bearer(sys.argv[2]))
st = c.add_objects(json.dumps({'objects': [json.loads(sys.argv[4])]}), wait_for_completion=False)
print(json.dumps({'status': st.status, 'pending': st.pending_count, 'total': st.total_count, 'can_write': c.can_write}))
`, [`https://127.0.0.1:${serve.port}/api/collections/${collectionId('tlp-amber')}/`, TOKENS.amber, join(dir, 'ca.pem'), JSON.stringify({ ...envelope.objects[0], id: 'indicator--0d6a8f55-1c5b-4b7e-9a8e-444444444444', pattern: "[url:value = 'http://client.evil-threatmesh-test.net/x']" })])) as Record<string, unknown>;
  assert.deepEqual(viaClient, { status: 'pending', pending: 1, total: 1, can_write: true });
  const bad: Array<[string, Record<string, string>, string, number]> = [
    ['JSON content type', { 'content-type': 'application/json' }, JSON.stringify(envelope), 415],
    ['not JSON', headers, '{objects', 422],
    ['no objects', headers, '{"objects":[]}', 422],
    ['too large', headers, `{"objects":[${'"x",'.repeat(3_000_000)}"x"]}`, 413],
  ];
  for (const [what, h, body, code] of bad) assert.equal((await call('POST', '/api/collections/tlp-amber/objects/', { token: TOKENS.amber, headers: h, body })).status, code, what);
});

test('exports over HTTPS: no AMBER for GREEN, ETag/304, Suricata rules parse with suricataparser and idstools; every read is audited', async () => {
  for (const path of ['csv/indicators.csv', 'lists/domain.txt', 'zeek/threatmesh.intel', 'suricata/threatmesh-domains.lst', 'misp/manifest.json', 'misp/hashes.csv']) {
    const res = await call('GET', `/exports/${path}`, { token: TOKENS.green });
    assert.equal(res.status, 200, path);
    assert.ok(!res.body.includes('amber-secret') && !res.body.includes(Buffer.from('amber-secret.evil.example').toString('base64')), `${path} leaks amber`);
    const etag = String(res.headers['etag']);
    assert.equal((await call('GET', `/exports/${path}`, { token: TOKENS.green, headers: { 'if-none-match': etag } })).status, 304, path);
  }
  const rules = (await call('GET', '/exports/suricata/threatmesh.rules', { token: TOKENS.green })).body;
  await writeFile(join(dir, 'threatmesh.rules'), rules);
  const parsed = JSON.parse(await python(py, `
import sys, json
from suricataparser import parse_file
import idstools.rule
a = parse_file(sys.argv[1])
b = idstools.rule.parse_file(sys.argv[1])
print(json.dumps({'suricataparser': len(a), 'idstools': len(b), 'sids': sorted(int(r.sid) for r in a)}))
`, [join(dir, 'threatmesh.rules')])) as { suricataparser: number; idstools: number; sids: number[] };
  const ruleLines = rules.split('\n').filter((l) => l.startsWith('alert ')).length;
  assert.equal(parsed.suricataparser, ruleLines);
  assert.equal(parsed.idstools, ruleLines);
  assert.equal(new Set(parsed.sids).size, ruleLines, 'every rule has its own sid');
  const events = await db.collection(SERVE_AUDIT).find({ identity: 'siem-green' }).toArray();
  assert.ok(events.some((e) => e['api'] === 'export' && e['resource'] === 'csv/indicators.csv' && e['count'] === 24));
  assert.ok(events.some((e) => e['api'] === 'taxii' && e['action'] === 'objects'));
});

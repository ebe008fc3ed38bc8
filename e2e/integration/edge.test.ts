/**
 * Sightings shared across the trust boundary, against real parts: the partner's HTTPS server
 * (`startServeService`, real TLS) over a real FerretDB holding its replicated `indicators`, and
 * `threatmesh edge` run as a user runs it. The edge pulls the TLP-limited matcher set, scans a
 * Zeek log, pushes one signed report, and the partner stores exactly the local counts; with the
 * partner down it scans with its last set and keeps the report pending, and sends it once the
 * partner is back. A hostile peer cannot store forged sightings: another party's name, a wrong
 * key, a field that would leak a client address, a non-sighter, a replayed older report and
 * sightings of indicators the partner does not hold are all refused or ignored.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { reportPayload } from '../../operator/src/match/report.ts';
import { signSightingReport, type SignedSightingReport } from '../../operator/src/match/sharing.ts';
import { loadServeConfig, tokenHash, validateServeConfig } from '../../operator/src/serve/config.ts';
import { startServeService, type RunningServe } from '../../operator/src/serve/service.ts';
import { INDICATORS } from '../../operator/src/store/indicators.ts';
import { MongoPushPositions, MongoReceivedSightings, RECEIVED_SIGHTINGS } from '../../operator/src/store/receivedsightings.ts';
import { MongoScanStore, SIGHTINGS, type SightingPart } from '../../operator/src/store/sightings.ts';
import { SightingPusher } from '../../operator/src/match/push.ts';
import { postReport } from '../../operator/src/match/sightingclient.ts';
import { runCli } from '../harness/cli.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const database = `tm_edge_${uniqueSuffix()}`;
const edgeKey = SigningKey.generate();
const peerKey = SigningKey.generate();
const TOKENS = { edge: 'edge-site-token-0123456789abcdef', peer: 'peer-b-token-0123456789abcdef', reader: 'reader-token-0123456789abcdef' };
const LISTED = [
  { type: 'domain', value: 'evil.example', tlp: 'green' }, { type: 'ipv4', value: '203.0.113.66', tlp: 'clear' }, { type: 'domain', value: 'secret.example', tlp: 'amber' },
] as const;
const digestOf = (i: { type: 'domain' | 'ipv4'; value: string }): string => indicatorDigest(i);

let cp: ControlPlane;
let ca: TestCa;
let mongo: MongoClient;
let db: Db;
let dir: string;
let serving: RunningServe | undefined;
let port = 0;
let tls: { certPem: string; keyPem: string };

async function serve(): Promise<void> {
  const config = await loadServeConfig(validateServeConfig({
    consumers: [
      { name: 'edge-site-1', maxTlp: 'green', roles: ['consumer', 'sighter'], tokens: [{ sha256: tokenHash(TOKENS.edge) }], sightingKey: edgeKey.publicKey.toRaw().toString('base64') },
      { name: 'peer-b', maxTlp: 'amber', roles: ['consumer', 'sighter'], tokens: [{ sha256: tokenHash(TOKENS.peer) }], sightingKey: peerKey.publicKey.toRaw().toString('base64') },
      { name: 'reader', maxTlp: 'red', roles: ['consumer'], tokens: [{ sha256: tokenHash(TOKENS.reader) }] },
    ],
  }), (p) => readFile(p, 'utf8'));
  serving = await startServeService({ config, db, partnerId: 'partner-a', tls, listen: { host: '127.0.0.1', port }, metricsBind: { host: '127.0.0.1', port: 0 }, log: quiet });
  port = serving.port;
}

function call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, method, ca: ca.caPem, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    }).on('error', reject).end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const ZEEK = '#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n';
function dnsLog(base: number): string {
  const rows: string[] = [];
  for (let i = 0; i < 300; i++) {
    const query = i % 3 === 0 ? `www${i}.evil.example` : i % 5 === 0 ? `x.secret.example` : `ok${i}.example.net`;
    rows.push(`${(base + i * 10).toFixed(6)}\tC${i}\t10.1.0.${i % 200}\t5353\t10.0.0.53\t53\tudp\t${i}\t0.01\t${query}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t198.18.0.1\t60.000000\tF`);
  }
  return ZEEK + rows.join('\n') + '\n';
}

async function edge(state: string, log: string): Promise<{ code: number | null; out: Record<string, unknown>; stderr: string }> {
  const r = await runCli(['edge', '--server', `https://127.0.0.1:${port}`, '--ca', join(dir, 'ca.pem'), '--token-file', join(dir, 'edge.token'), '--id', 'edge-site-1',
    '--signing-key', join(dir, 'edge.pem'), '--log', log, '--format', 'zeek', '--state', state]);
  return { code: r.code, out: r.code === 0 ? JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown> : {}, stderr: r.stderr };
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  ca = await createTestCa('edge-ca');
  tls = await ca.issue('partner-a', 'server');
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-edge-'));
  await writeFile(join(dir, 'ca.pem'), ca.caPem);
  await writeFile(join(dir, 'edge.token'), `${TOKENS.edge}\n`);
  await writeFile(join(dir, 'edge.pem'), edgeKey.toPem());
  mongo = new MongoClient(cp.mongoUri);
  db = mongo.db(database);
  await db.collection(INDICATORS).insertMany(LISTED.map((l, i) => {
    const digest = digestOf(l);
    return { _id: digest as unknown as never, digest, type: l.type, value: l.value, state: 'active', logIndex: i, proposerId: 'partner-a', votes: [], meta: { tlp: l.tlp } };
  }));
  await serve();
});

after(async () => {
  await serving?.stop();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await cp?.stop();
  await ca?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('threatmesh edge: TLP-limited set, scan, one signed report stored with the local counts; offline it keeps the last set and the report, and sends it later', async () => {
  const log = join(dir, 'dns.log');
  const hour = Math.floor(Date.now() / 3_600_000) * 3600 - 7200;
  await writeFile(log, dnsLog(hour));
  const state = join(dir, 'state');
  const first = await edge(state, log);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(first.out, { set: { source: 'fresh', indicators: 2 }, lines: 307, indicatorsSeen: 1, sent: 1, pending: 0 }, 'lines counts the 7 header lines too');
  assert.ok(!(await readFile(join(state, 'indicators.ndjson'), 'utf8')).includes('secret.example'), 'an AMBER indicator never reaches a GREEN edge');
  const stored = await db.collection(RECEIVED_SIGHTINGS).find({ sender: 'edge-site-1' }).toArray();
  assert.equal(stored.reduce((a, d) => a + (d['count'] as number), 0), 100, 'every third record queried a subdomain of evil.example');
  assert.ok(stored.every((d) => d['digest'] === digestOf(LISTED[0])));

  await serving?.stop();
  const offline = await edge(state, log);
  assert.equal(offline.code, 0, offline.stderr);
  assert.equal((offline.out['set'] as { source: string }).source, 'cached');
  assert.deepEqual([offline.out['indicatorsSeen'], offline.out['sent'], offline.out['pending']], [1, 0, 1]);
  await serve();
  const back = await edge(state, log);
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual([(back.out['set'] as { source: string }).source, back.out['sent'], back.out['pending']], ['unchanged', 2, 0]);
  assert.equal((await readdir(join(state, 'pending'))).length, 0);
  const again = await db.collection(RECEIVED_SIGHTINGS).find({ sender: 'edge-site-1' }).toArray();
  assert.equal(again.reduce((a, d) => a + (d['count'] as number), 0), 100, 'resent reports replace, never add');
});

test('a hostile peer cannot store forged sightings', async () => {
  const now = new Date();
  const facts = [{ digest: digestOf(LISTED[1]), bucketStart: new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 3_600_000), count: 7, firstSeen: new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 3_000_000), lastSeen: new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000 - 60_000) }];
  const resign = (r: SignedSightingReport['report'], key: SigningKey): SignedSightingReport => ({ version: 1, report: r, signature: key.sign('sighting-report', reportPayload(r)) });
  const good = signSightingReport('peer-b', facts, peerKey, now);
  const leaky = resign({ ...good.report, sightings: good.report.sightings.map((s) => ({ ...s, x_client: '10.1.0.7' })) }, peerKey);
  const unknown = signSightingReport('peer-b', [{ ...facts[0]!, digest: 'ab'.repeat(32) }], peerKey, now);
  const table: Array<[string, string, unknown, number, RegExp]> = [
    ['another party\'s name', TOKENS.peer, signSightingReport('edge-site-1', facts, peerKey, now), 403, /sender-mismatch/],
    ['a key that is not the sender\'s', TOKENS.peer, signSightingReport('peer-b', facts, edgeKey, now), 403, /bad-signature/],
    ['a changed count under a valid signature', TOKENS.peer, { ...good, report: { ...good.report, sightings: [{ ...good.report.sightings[0], count: 9999 }] } }, 403, /bad-signature/],
    ['a field that would leak a client address', TOKENS.peer, leaky, 400, /inconsistent/],
    ['a consumer that is no sighter', TOKENS.reader, good, 403, /sighter/],
    ['not JSON', TOKENS.peer, 'nope', 400, /malformed/],
    ['the real report', TOKENS.peer, good, 200, /"accepted":1,"stored":1,"ignored":0/],
    ['sightings of an indicator the partner does not hold', TOKENS.peer, unknown, 200, /"accepted":0,"stored":0,"ignored":1/],
  ];
  for (const [name, token, body, status, want] of table) {
    const r = await call('POST', '/sightings/v1/reports', token, body);
    assert.equal(r.status, status, `${name}: ${r.body}`);
    assert.match(r.body, want, name);
  }
  const older = signSightingReport('peer-b', [{ ...facts[0]!, count: 1 }], peerKey, new Date(now.getTime() - 60_000));
  assert.match((await call('POST', '/sightings/v1/reports', TOKENS.peer, older)).body, /"stored":0/, 'a replayed older report rolls nothing back');
  const docs = await db.collection(RECEIVED_SIGHTINGS).find({ sender: 'peer-b' }).toArray();
  assert.deepEqual(docs.map((d): unknown[] => [d['digest'], d['count']]), [[digestOf(LISTED[1]), 7]]);
  const agg = await call('GET', `/sightings/v1/aggregate?digest=${digestOf(LISTED[1])},${digestOf(LISTED[0])}`, TOKENS.peer);
  assert.equal(agg.status, 200, agg.body);
  const by = new Map((JSON.parse(agg.body) as { aggregates: Array<{ digest: string; sightedBy: string[]; count: number }> }).aggregates.map((a) => [a.digest, a]));
  assert.deepEqual(by.get(digestOf(LISTED[1]))?.sightedBy, ['peer-b']);
  assert.deepEqual(by.get(digestOf(LISTED[0]))?.sightedBy, ['edge-site-1']);
  assert.equal((await call('GET', `/sightings/v1/aggregate?digest=${digestOf(LISTED[0])}`, TOKENS.reader)).status, 403);
  assert.equal((await call('GET', '/sightings/v1/aggregate?digest=zz', TOKENS.peer)).status, 400);
  const audit = await db.collection('serve_audit').countDocuments({ api: 'sightings' });
  assert.ok(audit >= table.length, `every sightings request is audited (${audit})`);
});

test('a partner pushes the sightings its LogScans found to a peer: only what changed, again after the peer was down, never with a key the peer does not pin; the voter counts the parties', async () => {
  // peer-b's own database: its LogScans' parts rolled up by the real scan store (which stamps updatedAt).
  const peerDb = mongo.db(`${database}_peer_b`);
  const store = await MongoScanStore.open(peerDb);
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
  const part = (l: (typeof LISTED)[number], count: number, at = hour): SightingPart => ({ digest: digestOf(l), type: l.type, value: l.value, bucketStart: new Date(at), count, firstSeen: new Date(at + 60_000), lastSeen: new Date(at + 120_000), sources: { 'zeek-dns': count } });
  const result = { lines: 10, bytes: 100, matchedRecords: 3, indicators: 2, rejected: {}, outsideTimeRange: 0 };
  const scan = async (plan: string, parts: SightingPart[]): Promise<void> => {
    await store.savePlan(plan, [{ index: 0, input: { kind: 'file', path: `/logs/${plan}` }, bytes: 100 }]);
    assert.ok(await store.startShard(plan, 0, 'a1', new Date()));
    await store.finishShard(plan, 0, 'a1', { parts, result }, new Date());
    await store.rollupShard(plan, 0, 'peer-b');
  };
  await scan('scan-1', [part(LISTED[0], 4), part(LISTED[1], 2)]);
  const endpoint = { base: new URL(`https://127.0.0.1:${port}`), ca: ca.caPem, token: TOKENS.peer };
  const positions = new MongoPushPositions(peerDb);
  const pusher = (key: SigningKey, batch?: number): SightingPusher => new SightingPusher({
    partnerId: 'peer-b', key, peers: [{ name: 'partner-a', post: (r) => postReport(endpoint, r) }],
    changedSince: (after, limit) => store.changedSince(after, limit), positions, now: () => new Date(), log: quiet, ...(batch !== undefined ? { batch } : {}),
  });
  const received = async (): Promise<Map<string, number>> => {
    const docs = await db.collection(RECEIVED_SIGHTINGS).find({ sender: 'peer-b', bucketStart: new Date(hour) }).toArray();
    return new Map(docs.map((d) => [d['digest'] as string, d['count'] as number]));
  };

  const forged = await pusher(edgeKey).pushOnce();
  assert.equal(forged[0]?.stopped?.outcome, 'refused', 'a report signed with a key partner-a does not pin for peer-b is refused');
  assert.equal(await positions.get('partner-a'), undefined, 'a refused push does not move the position');

  const first = await pusher(peerKey, 1).pushOnce();
  assert.deepEqual([first[0]?.sent, first[0]?.reports, first[0]?.stopped], [2, 2, undefined], 'one report per batch of 1');
  assert.deepEqual(await received(), new Map([[digestOf(LISTED[0]), 4], [digestOf(LISTED[1]), 2]]));
  assert.deepEqual((await pusher(peerKey).pushOnce())[0]?.sent, 0, 'nothing changed, nothing sent');

  await scan('scan-2', [part(LISTED[0], 5)]);
  await serving?.stop();
  const down = await pusher(peerKey).pushOnce();
  assert.equal(down[0]?.stopped?.outcome, 'unavailable');
  await serve();
  const back = await pusher(peerKey).pushOnce();
  assert.deepEqual([back[0]?.sent, back[0]?.stopped], [1, undefined], 'only the sighting the second scan changed');
  assert.equal((await received()).get(digestOf(LISTED[0])), 9, 'the peer\'s figure is replaced by the new total (4 + 5), never added to');

  // partner-a's voter: its own scans saw LISTED[0] too, so two parties (plus the edge site) saw it.
  await db.collection(SIGHTINGS).insertOne({ _id: `${digestOf(LISTED[0])}:own` as never, digest: digestOf(LISTED[0]), type: 'domain', value: 'evil.example', partnerId: 'partner-a', bucketStart: new Date(hour), count: 1, firstSeen: new Date(hour), lastSeen: new Date(hour + 1000), sources: {} });
  const parties = await MongoReceivedSightings.reader(db).partiesSince(new Date(hour - 3_600_000), 'partner-a');
  assert.equal(parties.get(digestOf(LISTED[0])), 3, 'partner-a, peer-b and edge-site-1');
  assert.equal(parties.get(digestOf(LISTED[1])), 1, 'peer-b only');
  assert.equal((await MongoReceivedSightings.reader(db).partiesSince(new Date(Date.now() + 3_600_000), 'partner-a')).size, 0, 'sightings older than the window do not count');
  await peerDb.dropDatabase();
});

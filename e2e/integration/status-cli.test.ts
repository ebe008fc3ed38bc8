/**
 * `threatmesh status` as a child process against a real kube-apiserver (the CRDs applied, Feeds,
 * ThreatIndicators, PartnerNodes and EnforcementPolicies with the status the operator writes)
 * and a real FerretDB holding a halted replica cursor: the screen names every part (last runs,
 * open rounds oldest first, tree size and halt, peers' lag, what is enforced) and what needs
 * attention, exits 3 while halted, and -o json/yaml carry the same data. Without a database it
 * still shows the cluster's part and says how to add the rest. The API server's OpenAPI v3
 * document (what `kubectl explain` reads) carries a description for every field of every kind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { parse } from 'yaml';
import { ENFORCEMENT_POLICIES, FEEDS, PARTNER_NODES, THREAT_INDICATORS, API_VERSION } from '../../operator/src/api/schemas/index.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { ResourceRef } from '../../operator/src/runtime/types.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { INDICATORS } from '../../operator/src/store/indicators.ts';
import type { PartnerStatusView } from '../../operator/src/cli/statusview.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { runCli, type CliRun } from '../harness/cli.ts';
import { eventually } from '../harness/kube.ts';
import { loadYamlDir } from '../harness/manifests.ts';

const NAMESPACES: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const ns = `status-${randomBytes(3).toString('hex')}`;
const SOURCE = 'sequencer:seq-1';

let cp: ControlPlane;
let admin: KubeHttpClient;
let mongo: MongoClient;
let db: Db;
let dbName: string;

async function put(ref: ResourceRef, kind: string, name: string, spec: unknown, status?: unknown): Promise<void> {
  await admin.create(ref, { apiVersion: API_VERSION, kind, metadata: { name, namespace: ns }, spec });
  if (status !== undefined) await admin.patchStatus(ref, name, ns, { status });
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await admin.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await applyManifests(admin, await loadYamlDir('crds'), 'status-cli-test');

  const feedSpec = { url: 'https://feeds.example/list.csv', format: 'csv', schedule: { interval: '1h' }, defaults: { type: 'ipv4' } };
  await put(FEEDS, 'Feed', 'feodo', feedSpec, { lastRun: { runId: 'r1', outcome: 'Succeeded', completionTime: '2026-12-06T17:00:00Z', counts: { fetched: 40, new: 12, duplicate: 27, rejected: 1 } }, consecutiveFailures: 0, nextRun: '2026-12-06T18:00:00Z' });
  await put(FEEDS, 'Feed', 'broken', feedSpec, { lastRun: { runId: 'r2', outcome: 'Failed', completionTime: '2026-12-06T17:05:00Z', message: 'HTTP 503 from feeds.example' }, consecutiveFailures: 3 });
  await put(FEEDS, 'Feed', 'fresh', feedSpec);
  await put(THREAT_INDICATORS, 'ThreatIndicator', 'ipv4-open', { type: 'ipv4', value: '192.0.2.66' }, { phase: 'Proposed', quorum: { required: 3, approvals: 1, rejections: 0 } });
  await put(THREAT_INDICATORS, 'ThreatIndicator', 'domain-open', { type: 'domain', value: 'evil.example' }, { phase: 'Proposed', quorum: { required: 3, approvals: 2, rejections: 1 } });
  await put(THREAT_INDICATORS, 'ThreatIndicator', 'ipv4-done', { type: 'ipv4', value: '192.0.2.67' }, { phase: 'Approved', logIndex: 4 });
  const peer = (id: string) => ({ partnerId: id, organization: `${id} org`, endpoint: `${id}.example:8443`, publicKey: SigningKey.generate().publicKey.toRawBase64(), roles: ['voter'] });
  await put(PARTNER_NODES, 'PartnerNode', 'bravo', peer('bravo'), { reachable: true, logSize: 12, lagEntries: 0, lagSeconds: 2, lastSeen: '2026-12-06T17:59:00Z' });
  await put(PARTNER_NODES, 'PartnerNode', 'charlie', peer('charlie'), { reachable: false, logSize: 9, lagEntries: 3, lagSeconds: 600 });
  await put(ENFORCEMENT_POLICIES, 'EnforcementPolicy', 'egress', { mode: 'Enforce' }, { mode: 'Enforce', selected: 10, cidrs: 7, domains: 3, leftOut: 2, lastSyncTime: '2026-12-06T17:58:00Z' });

  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  dbName = `tm_status_${uniqueSuffix()}`;
  db = mongo.db(dbName);
  const head = { treeSize: 12, rootHash: 'ab'.repeat(32), timestamp: '2026-12-06T17:59:30.000Z', logId: 'cd'.repeat(32), signature: 'sig' };
  await new MongoCursorStore(db).save(SOURCE, { nextIndex: 12, head, halted: { reason: 'fork', message: 'peer bravo accepted a different root at size 12', index: 12, at: '2026-12-06T17:59:40.000Z' } });
  await db.collection(INDICATORS).insertMany([
    { _id: 'd1' as never, digest: 'd1', type: 'domain', value: 'a.example', state: 'active', logIndex: 0 },
    { _id: 'd2' as never, digest: 'd2', type: 'domain', value: 'b.example', state: 'revoked', logIndex: 1 },
  ]);
});

after(async () => {
  await db?.dropDatabase();
  await mongo?.close();
  if (admin) {
    await admin.delete(NAMESPACES, ns).catch(() => undefined);
    admin.close();
  }
  await cp?.stop();
});

function status(args: readonly string[], withDb = true): Promise<CliRun> {
  const db = withDb ? ['--mongodb-uri', cp.mongoUri, '--database', dbName] : [];
  // MONGODB_URI unset: without --mongodb-uri the command must not find a database by accident.
  const env = { ...process.env, MONGODB_URI: '', KUBECONFIG: '' };
  return runCli(['status', '--kubeconfig', cp.kubeconfigPath, '-n', ns, ...db, ...args], { timeout: 120_000, env });
}

test('one screen: last runs, open rounds, replication with the halt, peers, enforcement, attention; exit 3 while halted', async () => {
  const r = await status([]);
  assert.equal(r.code, 3, r.stderr);
  const s = r.stdout;
  assert.match(s, new RegExp(`namespace ${ns}`));
  assert.match(s, /^feodo\s+Succeeded\s+2026-12-06T17:00:00Z\s+40\s+12\s+1\s+0\s+2026-12-06T18:00:00Z$/m);
  assert.match(s, /^broken\s+Failed\s+2026-12-06T17:05:00Z\s+-\s+-\s+-\s+3/m);
  assert.match(s, /^fresh\s+never run/m);
  assert.match(s, /OPEN ROUNDS: 2 proposal\(s\) waiting for votes/);
  assert.match(s, /ipv4-open\s+ipv4\s+192\.0\.2\.66\s+1\/3 approve, 0 reject/);
  assert.match(s, /domain-open\s+domain\s+evil\.example\s+2\/3 approve, 1 reject/);
  assert.doesNotMatch(s, /ipv4-done/);
  assert.match(s, /REPLICATION: 1 active, 1 revoked indicators, 0 rejections replicated/);
  assert.match(s, /sequencer:seq-1: tree size 12, applied 12, head 2026-12-06T17:59:30.000Z; HALTED \(fork at entry 12\)/);
  assert.match(s, /^charlie\s+charlie\s+NO\s+9\s+3\s+600/m);
  assert.match(s, /^egress\s+Enforce\s+10\s+7\s+3\s+2\s+2026-12-06T17:58:00Z$/m);
  assert.match(s, /replica sequencer:seq-1 HALTED \(fork\): investigate .* threatmesh replica clear-halt --source sequencer:seq-1/);
  assert.match(s, /feed broken failed 3 time\(s\) in a row: HTTP 503 from feeds\.example/);
  assert.match(s, /peer charlie \(charlie\) is unreachable/);
  assert.match(s, /policy egress left out 2 selected entries/);
  assert.equal(s.split('\n').length < 60, true, `one screen: ${s.split('\n').length} lines`);
});

test('-o json and -o yaml carry the same data', async () => {
  const [j, y] = await Promise.all([status(['-o', 'json']), status(['-o', 'yaml'])]);
  assert.equal(j.code, 3, j.stderr);
  const v = JSON.parse(j.stdout) as PartnerStatusView;
  assert.deepEqual(parse(y.stdout), v);
  assert.equal(v.namespace, ns);
  assert.deepEqual(v.feeds.map((f) => [f.name, f.outcome, f.new]), [['broken', 'Failed', null], ['feodo', 'Succeeded', 12], ['fresh', 'never run', null]]);
  assert.equal(v.rounds.open, 2);
  assert.equal(v.replication.replica?.sources[0]?.treeSize, 12);
  assert.equal(v.replication.replica?.sources[0]?.halted?.reason, 'fork');
  assert.deepEqual(v.replication.peers.map((p) => [p.partnerId, p.reachable, p.lagEntries]), [['bravo', true, 0], ['charlie', false, 3]]);
  assert.deepEqual(v.enforcement.map((p) => [p.name, p.mode, p.selected]), [['egress', 'Enforce', 10]]);
  assert.equal(v.attention.length, 4);
});

test('without a database: the cluster part, and how to add tree size and halts (exit 0)', async () => {
  const r = await status(['-o', 'json'], false);
  assert.equal(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as PartnerStatusView;
  assert.equal(v.replication.replica, null);
  assert.equal(v.replication.peers.length, 2);
  const text = await status([], false);
  assert.match(text.stdout, /REPLICATION: no partner database given \(--mongodb-uri or MONGODB_URI\)/);
});

test('an empty namespace says what to create; an unreachable database is a clear error (exit 1)', async () => {
  const empty = await runCli(['status', '--kubeconfig', cp.kubeconfigPath, '-n', `${ns}-none`], { timeout: 120_000, env: { ...process.env, MONGODB_URI: '', KUBECONFIG: '' } });
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stdout, /FEEDS: none \(kubectl apply -f a Feed; docs\/feeds\.md\)/);
  assert.match(empty.stdout, /ENFORCED: nothing/);
  assert.match(empty.stdout, /ATTENTION: nothing/);
  const down = await status(['--mongodb-uri', 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500&connectTimeoutMS=500'], false);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^threatmesh: cannot reach MongoDB at mongodb:\/\/127\.0\.0\.1:1/m);
  assert.doesNotMatch(down.stderr, /\n\s+at /);
});

test('kubectl explain teaches the API: the served OpenAPI v3 schema has a description on every field of every kind', async () => {
  type Node = { description?: string; properties?: Record<string, Node>; items?: Node; additionalProperties?: Node | boolean; allOf?: Node[] };
  const missing = (n: Node, path: string): string[] => [
    ...Object.entries(n.properties ?? {}).flatMap(([k, v]) => [...(path.includes('.') || k !== 'metadata') && !v.description ? [`${path}.${k}`] : [], ...missing(v, `${path}.${k}`)]),
    ...(n.items ? missing(n.items, `${path}[]`) : []),
    ...(typeof n.additionalProperties === 'object' ? missing(n.additionalProperties, `${path}{}`) : []),
  ];
  const kinds = ['Feed', 'ThreatIndicator', 'PartnerNode', 'EnforcementPolicy', 'LogScan', 'ThreatReport'];
  const doc = await eventually(async () => (await cp.kube.call('GET', '/openapi/v3/apis/threatmesh.io/v1alpha1')).body as { components?: { schemas?: Record<string, Node> } },
    (d) => kinds.every((k) => d.components?.schemas?.[`io.threatmesh.v1alpha1.${k}`] !== undefined), 60_000);
  let fields = 0;
  for (const kind of kinds) {
    const schema = doc.components?.schemas?.[`io.threatmesh.v1alpha1.${kind}`] ?? {};
    assert.deepEqual(missing(schema, kind), [], `${kind}: fields without a description in the served schema`);
    fields += JSON.stringify(schema).split('"description"').length - 1;
  }
  assert.ok(fields > 300, `only ${fields} descriptions served`);
});

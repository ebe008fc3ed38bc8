/**
 * Clear failure, with real parts: a partner's exchange (startPartnerService) against its own
 * kube-apiserver and FerretDB (restartable, the database on a small tmpfs) and a sequencer behind
 * real gRPC with mutual TLS. Each fault — the database's disk full, the database down, the API
 * server answering 5xx (a stub in front of the real one, the only stub), the sequencer's
 * certificate expired, a gRPC message over the sequencer's limit — gives a clear error, the
 * Replicating condition with its cause, a Warning Event and a metric, is retried with backoff,
 * crashes nothing, and once fixed every entry admitted meanwhile arrives (nothing lost). Peers
 * that do not answer are counted as peer-unavailable, named, and do not stop replication.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { MongoClient, type Db } from 'mongodb';
import { Registry } from 'prom-client';
import { registryFrom } from '../../operator/src/api/partners.ts';
import { PARTNER_NODES, THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode, ThreatIndicator } from '../../operator/src/api/types.ts';
import { ensureBinaries } from '../../operator/src/dev/controlplane/build.ts';
import { LocalCa, readTlsMaterial } from '../../operator/src/dev/sandbox/pki.ts';
import { indicatorCanonicalJson, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import { signProposal } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote, type Voter } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { startPartnerService } from '../../operator/src/exchange/partner/service.ts';
import type { RunningPartner } from '../../operator/src/exchange/partner/serviceoptions.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer, type ExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import type { TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { createLogger } from '../../operator/src/log.ts';
import { eventsResource } from '../../operator/src/runtime/events.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import { MemoryLogStore, MemoryRoundStore } from '../../operator/src/store/memory.ts';
import { startCluster, type Cluster } from '../chaos/cluster.ts';
import { eventually } from '../harness/kube.ts';
import { startBoundFromEnv } from '../harness/env.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { startStubApi, type StubApi } from '../harness/stubapi.ts';

const run = promisify(execFile);
const NS = 'threatmesh';
const ids = ['alpha', 'bravo', 'charlie'] as const;
const keys = Object.fromEntries(ids.map((id) => [id, SigningKey.generate()])) as Record<(typeof ids)[number], SigningKey>;
const seqKey = SigningKey.generate();
const voters: Voter[] = ids.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter'] }));
const logLines: string[] = [];
const out = new PassThrough();
out.on('data', (c: Buffer) => logLines.push(...c.toString().split('\n').filter((l) => l !== '')));
const log = createLogger(out, 'info');

let dir = '';
let cluster: Cluster;
let stub: StubApi;
let kube: KubeHttpClient;
let mongo: MongoClient;
let partnerMongo: MongoClient | undefined;
let db: Db;
let ca: LocalCa;
let sequencer: Sequencer;
const servers: Record<'normal' | 'small' | 'expired', ExchangeServer | undefined> = { normal: undefined, small: undefined, expired: undefined };
let partner: RunningPartner | undefined;
const metrics = new Registry();
let serial = 0;
const admitted: Indicator[] = [];

/** A certificate of the network CA that expired two days ago (signed under libfaketime). */
async function expiredServerCert(): Promise<TlsMaterial> {
  const base = join(dir, 'expired');
  await writeFile(`${base}.ext`, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=sequencer', '-keyout', `${base}.key`, '-out', `${base}.csr`]);
  await run('faketime', ['-f', '-3d', 'openssl', 'x509', '-req', '-in', `${base}.csr`, '-CA', ca.caPath, '-CAkey', join(dir, 'pki', 'ca.key'), '-set_serial', '4242', '-days', '1', '-extfile', `${base}.ext`, '-out', `${base}.pem`])
    .catch((err: Error) => { throw new Error(`signing an expired certificate needs faketime (bash scripts/install-faketime.sh): ${err.message}`, { cause: err }); });
  return { caPem: await readFile(ca.caPath, 'utf8'), certPem: await readFile(`${base}.pem`, 'utf8'), keyPem: await readFile(`${base}.key`, 'utf8') };
}

function node(name: string, spec: PartnerNode['spec']): PartnerNode {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name, namespace: NS }, spec };
}

/** Points the sequencer PartnerNode at one of the servers (the partner follows within a sync period). */
async function useServer(which: keyof typeof servers): Promise<void> {
  await cluster.client.patch(PARTNER_NODES, 'sequencer', NS, { spec: { endpoint: `127.0.0.1:${servers[which]!.port}` } });
}

/** bravo proposes, bravo and charlie approve, straight at the sequencer: the network admits it whatever the partner under test does. */
async function admit(): Promise<Indicator> {
  const ind: Indicator = { type: 'domain', value: `failing-${++serial}.chaos-test.net` };
  const opened = await sequencer.propose('bravo', { kind: 'add', indicatorJson: indicatorCanonicalJson(ind), proposerId: 'bravo', signature: signProposal(keys.bravo, 'add', ind) });
  for (const by of ['bravo', 'charlie'] as const) await sequencer.vote(by, signVote(keys[by], { partnerId: by, digest: opened.subject, decision: 'approve', signedAt: new Date().toISOString() }));
  admitted.push(ind);
  return ind;
}

async function replicating(): Promise<{ status?: string; reason?: string; message?: string }> {
  const pn = await cluster.client.get<PartnerNode>(PARTNER_NODES, 'sequencer', NS).catch(() => undefined);
  return pn?.status?.conditions?.find((c) => c.type === 'Replicating') ?? {};
}

async function metricValue(name: string, labels: string): Promise<number> {
  const line = (await metrics.metrics()).split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function warningEvents(reason: string): Promise<number> {
  const list = await cluster.client.list<{ reason?: string; type?: string } & KubeObject>(eventsResource, { namespace: NS });
  return list.items.filter((e) => e.reason === reason && e.type === 'Warning').length;
}

/** Waits for the fault to show: condition reason, failing gauge, Warning Event. */
async function assertFailing(reason: string, cause: string): Promise<void> {
  const c = await eventually(replicating, (x) => x.reason === reason, 60_000);
  assert.deepEqual([c.status, c.reason], ['False', reason], `Replicating condition: ${JSON.stringify(c)}`);
  assert.ok((c.message ?? '').length > 40, `a message that says what to do: ${c.message}`);
  assert.equal(await eventually(() => metricValue('threatmesh_exchange_replication_failing', `cause="${cause}"`), (v) => v === 1, 10_000), 1, 'failing gauge');
  assert.ok(await metricValue('threatmesh_exchange_failures_total', `cause="${cause}"`) > 0, 'failures counter');
  assert.ok(await eventually(() => warningEvents(reason), (n) => n > 0, 20_000) > 0, `a Warning Event ${reason}`);
  assert.ok(logLines.some((l) => l.includes('"level":"error"') && l.includes(`"cause":"${cause}"`)), `an error log naming the cause ${cause}`);
}

/** Waits until every admitted indicator is Approved in the cluster and active in the database, and replication reports True again. */
async function assertCaughtUp(): Promise<void> {
  const want = admitted.map((i) => indicatorObjectName(i)).sort();
  // Read through the real apiserver: the stub may be failing on purpose, and a fresh apiserver answers 503 while its storage starts.
  const names = await eventually(async () => {
    const list = await cluster.client.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: NS }).catch(() => ({ items: [] as ThreatIndicator[] }));
    return list.items.filter((t) => t.status?.phase === 'Approved').map((t) => t.metadata.name).sort();
  }, (n) => want.every((w) => n.includes(w)), 90_000);
  assert.deepEqual(want.filter((w) => !names.includes(w)), [], 'every admitted indicator is Approved in the cluster');
  const records = await db.collection<{ value: string; state: string }>('indicators').find({}).toArray();
  assert.deepEqual(admitted.filter((i) => !records.some((r) => r.value === i.value && r.state === 'active')).map((i) => i.value), [], 'every admitted indicator is in the database');
  assert.equal((await eventually(replicating, (c) => c.status === 'True', 30_000)).status, 'True');
  assert.equal(await metricValue('threatmesh_exchange_replication_failing', 'cause="'), 0);
  assert.equal(partner !== undefined, true, 'the partner exchange kept running');
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-failures-'));
  const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: new PassThrough() });
  cluster = await startCluster({ name: 'partner', dir: join(dir, 'cluster'), binaries, diskBytes: 96 << 20, start: startBoundFromEnv(), onExit: (e) => logLines.push(`UNASKED EXIT ${JSON.stringify(e)}`) });
  ca = await LocalCa.open(join(dir, 'pki'), 'threatmesh-failures-ca');
  const tlsOf = async (cn: string, use: 'server' | 'both'): Promise<TlsMaterial> => readTlsMaterial(await ca.issue(cn, use));
  sequencer = await Sequencer.open({ store: new MemoryLogStore(), rounds: new MemoryRoundStore(), key: seqKey, partners: voters, quorum: 2, now: () => new Date(), log });
  const directory = new Map(voters.map((v) => [v.partnerId, v]));
  const seqTls = await tlsOf('sequencer', 'server');
  servers.normal = await startExchangeServer({ sequencer, directory, tls: seqTls, address: '127.0.0.1:0', log });
  servers.small = await startExchangeServer({ sequencer, directory, tls: seqTls, address: '127.0.0.1:0', log, limits: { maxMessageBytes: 5 * 1024 } });
  servers.expired = await startExchangeServer({ sequencer, directory, tls: await expiredServerCert(), address: '127.0.0.1:0', log });
  stub = await startStubApi(cluster.creds, await readTlsMaterial(await ca.issue('stub-apiserver', 'server')), await readFile(ca.caPath, 'utf8'));
  kube = new KubeHttpClient(await loadKubeconfig(await stub.kubeconfig(join(dir, 'stub.kubeconfig'))), { requestTimeoutMs: 15_000 });
  await applyManifests(cluster.client, await loadYamlDir('crds'), 'failures-test');
  const nodes = [
    node('sequencer', { partnerId: 'sequencer', organization: 'sequencer', endpoint: `127.0.0.1:${servers.normal.port}`, publicKey: seqKey.publicKey.toRawBase64(), roles: ['sequencer'] }),
    ...ids.map((id) => node(id, { partnerId: id, organization: id, endpoint: '127.0.0.1:9', publicKey: keys[id].publicKey.toRawBase64(), roles: ['contributor', 'voter'] })),
  ];
  await applyManifests(cluster.client, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }, ...nodes], 'failures-test');
  mongo = new MongoClient(cluster.mongoUri, { serverSelectionTimeoutMS: 3000 });
  db = mongo.db('threatmesh_partner');
  // The partner's own client: the test's reads must not share its connection pool.
  partnerMongo = new MongoClient(cluster.mongoUri, { serverSelectionTimeoutMS: 3000 });
  partner = await startPartnerService({
    client: kube, db: partnerMongo.db('threatmesh_partner'), namespace: NS, partnerId: 'alpha', key: keys.alpha,
    tls: await tlsOf('alpha', 'both'), votingPolicy: { mode: 'manual', warningLists: false }, registry: registryFrom(nodes), admission: { quorum: 2 }, metrics, log,
    gossipBind: { host: '127.0.0.1', port: 0 }, syncIntervalMs: 300, repairIntervalMs: 600_000, waitMs: 1_000,
  });
});

after(async () => {
  if (process.env['FAILURES_TEST_LOG']) await writeFile(process.env['FAILURES_TEST_LOG'], `${logLines.join('\n')}\n`);
  await partner?.stop();
  for (const s of Object.values(servers)) await s?.stop();
  kube?.close();
  await mongo?.close();
  await partnerMongo?.close();
  await stub?.close();
  await cluster?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('a partner exchange facing failures says why, retries, and loses nothing', () => {
  test('baseline: admitted entries arrive and Replicating is True', async () => {
    await admit();
    await assertCaughtUp();
  });

  test('peers that do not answer (bravo and charlie at 127.0.0.1:9): peer-unavailable naming each peer, never the sequencer\'s cause; Replicating stays True', async () => {
    const gossip = (cause: string): Promise<number> => metricValue('threatmesh_exchange_failures_total', `loop="gossip",cause="${cause}"`);
    assert.ok(await eventually(() => gossip('peer-unavailable'), (v) => v >= 2, 30_000) >= 2, 'gossip failures counted as peer-unavailable');
    assert.equal(await gossip('sequencer-unavailable'), 0, 'a silent peer is not blamed on the sequencer');
    for (const peer of ['bravo', 'charlie']) {
      const line = logLines.find((l) => l.includes('"cause":"peer-unavailable"') && l.includes(`"peer":"${peer}"`));
      assert.ok(line, `a log line naming ${peer}`);
      assert.match(line, new RegExp(`peer ${peer} does not answer at the endpoint of its PartnerNode`));
      assert.doesNotMatch(line, /the sequencer does not answer/);
    }
    assert.equal((await replicating()).status, 'True', 'replication goes on without the peers');
    assert.equal(await metricValue('threatmesh_exchange_replication_failing', 'cause="peer-unavailable"'), 0);
  });

  test('its database down (FerretDB killed): DatabaseUnavailable; restarted, it catches up', async () => {
    await cluster.ferretdb.kill();
    await admit();
    await admit();
    await assertFailing('DatabaseUnavailable', 'database-unavailable');
    await cluster.ferretdb.start();
    await assertCaughtUp();
  });

  test('its database\'s disk full: DatabaseFull; freed, it catches up', { skip: process.getuid?.() !== 0 && 'needs root to mount the database on a small tmpfs' }, async () => {
    assert.ok(cluster.disk, 'the database runs on a tmpfs (mount needs root or CAP_SYS_ADMIN)');
    await cluster.disk.fill();
    for (let i = 0; i < 3; i++) await admit();
    await assertFailing('DatabaseFull', 'database-full');
    await cluster.disk.free();
    await assertCaughtUp();
  });

  test('its API server answering 503 to ThreatIndicator writes: ClusterApiError; answering again, it catches up', async () => {
    stub.failWhen((req) => req.method !== 'GET' && (req.url ?? '').includes('/threatindicators'));
    await admit();
    await assertFailing('ClusterApiError', 'cluster-api');
    assert.ok(stub.failed() > 0);
    stub.failWhen(undefined);
    await assertCaughtUp();
  });

  test('the sequencer\'s certificate expired: CertificateExpired; renewed, it catches up', async () => {
    await useServer('expired');
    await admit();
    await assertFailing('CertificateExpired', 'certificate-expired');
    assert.ok(logLines.some((l) => /certificate has expired/.test(l)), 'the log says the certificate expired');
    await useServer('normal');
    await assertCaughtUp();
  });

  test('proposals over the sequencer\'s message limit: a batch is sent in halves, a single proposal over it is reported', async () => {
    await useServer('small');
    const long = (n: number): Indicator => ({ type: 'url', value: `http://chaos-test.net/${n}/${'a'.repeat(1200)}` });
    const huge: Indicator = { type: 'url', value: `http://chaos-test.net/huge/${'b'.repeat(4000)}` };
    const labels = Array.from({ length: 30 }, (_, n) => `label-${n}-${'x'.repeat(50)}`);
    for (const ind of [...Array.from({ length: 6 }, (_, n) => long(n)), huge]) {
      const meta = ind === huge ? { labels } : undefined;
      await cluster.client.create<ThreatIndicator>(THREAT_INDICATORS, {
        apiVersion: 'threatmesh.io/v1alpha1', kind: 'ThreatIndicator', metadata: { name: indicatorObjectName(ind), namespace: NS },
        spec: {
          type: ind.type, value: ind.value, pattern: `[url:value = '${ind.value}']`, ...(meta ?? {}),
          provenance: { partner: 'alpha', proposedAt: new Date().toISOString() }, proposal: { partnerId: 'alpha', signature: signProposal(keys.alpha, 'add', ind, meta) },
        },
      });
    }
    const opened = await eventually(() => Promise.resolve(sequencer.pending().filter((p) => p.proposerId === 'alpha').length), (n) => n === 6, 60_000);
    assert.equal(opened, 6, 'the six proposals that fit were forwarded (in halves)');
    assert.ok(await eventually(() => metricValue('threatmesh_exchange_failures_total', 'cause="message-too-large"'), (v) => v > 0, 20_000) > 0, 'the one over the limit is counted');
    assert.ok(logLines.some((l) => l.includes('larger than the sequencer accepts')), 'and logged with what to do');
    await useServer('normal');
    await assertCaughtUp();
  });
});

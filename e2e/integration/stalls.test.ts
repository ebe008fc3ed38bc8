/**
 * Convergence after a healed fault (issue 18; the long chaos run's stalls), with real parts: a
 * partner's exchange (startPartnerService) against its own kube-apiserver and FerretDB (SQLite,
 * on a small tmpfs, as in the chaos run) and a sequencer behind real gRPC with mutual TLS (the
 * API server is reached through a stub only where a test makes it refuse writes). Once the fault
 * is gone the partner catches up (the defects took minutes): a catch-up replayed over a large
 * database, entries a stopped process had not written to the cluster, a full disk freed. Where a
 * time is asserted it derives from the protocol's own retry parameter; where the work's size sets
 * the time (objects through a loaded API server), the test asserts the property instead (who
 * wrote the objects, how many reads) under a generous overall limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { MongoClient, type Db } from 'mongodb';
import { Registry } from 'prom-client';
import { registryFrom } from '../../operator/src/api/partners.ts';
import { PARTNER_DEFAULTS } from '../../operator/src/exchange/partner/defaults.ts';
import { THREAT_INDICATORS } from '../../operator/src/api/schemas/index.ts';
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
import type { KubeClient } from '../../operator/src/runtime/client.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import { MemoryLogStore, MemoryRoundStore } from '../../operator/src/store/memory.ts';
import { startCluster, type Cluster } from '../chaos/cluster.ts';
import { startBoundFromEnv } from '../harness/env.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { startStubApi, type StubApi } from '../harness/stubapi.ts';

const NS = 'threatmesh';
/**
 * How soon replication must make progress once a fault is gone: the replica retries at most every
 * retryCapMs (5 s), so six retry periods leave five for a loaded machine's slow syncs; the
 * defects it catches took minutes.
 */
const RESUME_MS = 6 * PARTNER_DEFAULTS.retryCapMs;
/** Overall limit of work whose time grows with its size on a loaded machine (writing hundreds of objects); a limit, not the property. */
const WORK_MS = 180_000;
/** The replay test's bound: a few passes over 15,000 records on a loaded machine; one pass per record took minutes. */
const REPLAY_MS = 90_000;
const ids = ['alpha', 'bravo', 'charlie'] as const;
const keys = Object.fromEntries(ids.map((id) => [id, SigningKey.generate()])) as Record<(typeof ids)[number], SigningKey>;
const seqKey = SigningKey.generate();
const voters: Voter[] = ids.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter'] }));
const logLines: string[] = [];
const out = new PassThrough();
const logFile = process.env['STALLS_TEST_LOG'];
out.on('data', (c: Buffer) => {
  logLines.push(...c.toString().split('\n').filter((l) => l !== ''));
  if (logFile !== undefined) appendFileSync(logFile, c);
});
const log = createLogger(out, 'info');

let dir = '';
let cluster: Cluster;
let mongo: MongoClient;
let partnerMongo: MongoClient | undefined;
let db: Db;
let ca: LocalCa;
let sequencer: Sequencer;
let server: ExchangeServer | undefined;
let partner: RunningPartner | undefined;
let nodes: PartnerNode[] = [];
let stub: StubApi | undefined;
let stubClient: KubeHttpClient | undefined;
let serial = 0;
const admitted: Indicator[] = [];

function node(name: string, spec: PartnerNode['spec']): PartnerNode {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name, namespace: NS }, spec };
}

/** bravo proposes `n` indicators, bravo and charlie approve each, straight at the sequencer. */
async function admit(n: number, label: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const ind: Indicator = { type: 'domain', value: `${label}-${++serial}.stalls-test.net` };
    const opened = await sequencer.propose('bravo', { kind: 'add', indicatorJson: indicatorCanonicalJson(ind), proposerId: 'bravo', signature: signProposal(keys.bravo, 'add', ind) });
    for (const by of ['bravo', 'charlie'] as const) await sequencer.vote(by, signVote(keys[by], { partnerId: by, digest: opened.subject, decision: 'approve', signedAt: new Date().toISOString() }));
    admitted.push(ind);
  }
}

/** The partner's replica cursor: next index to apply. */
async function nextIndex(): Promise<number> {
  const c = await db.collection<{ nextIndex: number }>('replica_cursors').findOne({}).catch(() => null);
  return c?.nextIndex ?? -1;
}

/** Waits until `check` holds; returns the milliseconds it took, or throws after `ms` with `what`. */
async function within(ms: number, what: () => Promise<string | undefined>): Promise<number> {
  const from = Date.now();
  let last = 'not checked';
  while (Date.now() - from < ms) {
    const waiting = await what().catch((err: unknown) => `cannot check: ${String(err)}`);
    if (waiting === undefined) return Date.now() - from;
    last = waiting;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not recovered ${ms / 1000} s after the fault healed: ${last}`);
}

/** `p`, or a failure naming `what` after `ms`. */
async function bounded<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(what)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** undefined when the database has every entry, else what is missing. */
async function databaseCaughtUp(): Promise<string | undefined> {
  const at = await nextIndex();
  return at === sequencer.size ? undefined : `cursor at ${at} of ${sequencer.size}`;
}

/** undefined when every admitted indicator is an Approved ThreatIndicator at its log index, else how many are not. */
async function clusterCaughtUp(): Promise<string | undefined> {
  const list = await cluster.client.list<ThreatIndicator>(THREAT_INDICATORS, { namespace: NS });
  const byName = new Map(list.items.map((t) => [t.metadata.name, t]));
  const wrong = new Map<string, number>();
  for (const i of admitted) {
    const t = byName.get(indicatorObjectName(i));
    const how = t === undefined ? 'no object' : `${t.status?.phase ?? 'no phase'}${t.status?.logIndex === undefined ? ' without logIndex' : ''}`;
    if (how !== 'Approved') wrong.set(how, (wrong.get(how) ?? 0) + 1);
  }
  return wrong.size === 0 ? undefined : `of ${admitted.length} indicators: ${[...wrong].map(([k, v]) => `${v} ${k}`).join(', ')}`;
}

/** Reads of the partner's `indicators` collection by its exchange (find commands), counted from the driver's command events. */
let indicatorReads = 0;

/** Knobs a test changes of the partner it starts. */
interface PartnerKnobs { readonly materializeBudget?: number; readonly repairIntervalMs?: number }

async function startPartner(client: KubeClient = cluster.client, knobs: PartnerKnobs = {}): Promise<RunningPartner> {
  partnerMongo = new MongoClient(cluster.mongoUri, { serverSelectionTimeoutMS: 3000, monitorCommands: true });
  partnerMongo.on('commandStarted', (e) => {
    if (e.commandName === 'find' && (e.command as { find?: unknown }).find === 'indicators') indicatorReads += 1;
  });
  return startPartnerService({
    client, db: partnerMongo.db('threatmesh_partner'), namespace: NS, partnerId: 'alpha', key: keys.alpha,
    tls: await readTlsMaterial(await ca.issue('alpha', 'both')), votingPolicy: { mode: 'manual', warningLists: false }, registry: registryFrom(nodes), admission: { quorum: 2 }, metrics: new Registry(), log,
    gossipBind: { host: '127.0.0.1', port: 0 }, syncIntervalMs: 300, repairIntervalMs: 600_000, waitMs: 1_000, ...knobs,
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-stalls-'));
  const binaries = await ensureBinaries({ cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh'), progress: new PassThrough() });
  cluster = await startCluster({ name: 'partner', dir: join(dir, 'cluster'), binaries, diskBytes: 96 << 20, start: startBoundFromEnv(), onExit: (e) => logLines.push(`UNASKED EXIT ${JSON.stringify(e)}`) });
  ca = await LocalCa.open(join(dir, 'pki'), 'threatmesh-stalls-ca');
  sequencer = await Sequencer.open({ store: new MemoryLogStore(), rounds: new MemoryRoundStore(), key: seqKey, partners: voters, quorum: 2, now: () => new Date(), log });
  const seqTls: TlsMaterial = await readTlsMaterial(await ca.issue('sequencer', 'server'));
  server = await startExchangeServer({ sequencer, directory: new Map(voters.map((v) => [v.partnerId, v])), tls: seqTls, address: '127.0.0.1:0', log });
  await applyManifests(cluster.client, await loadYamlDir('crds'), 'stalls-test');
  nodes = [
    node('sequencer', { partnerId: 'sequencer', organization: 'sequencer', endpoint: `127.0.0.1:${server.port}`, publicKey: seqKey.publicKey.toRawBase64(), roles: ['sequencer'] }),
    ...ids.map((id) => node(id, { partnerId: id, organization: id, endpoint: '127.0.0.1:9', publicKey: keys[id].publicKey.toRawBase64(), roles: ['contributor', 'voter'] })),
  ];
  await applyManifests(cluster.client, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }, ...nodes], 'stalls-test');
  mongo = new MongoClient(cluster.mongoUri, { serverSelectionTimeoutMS: 3000 });
  db = mongo.db('threatmesh_partner');
  partner = await startPartner();
});

after(async () => {
  // Bounded: a test that failed because stop() hangs must still free its cluster.
  if (partner !== undefined) await bounded(30_000, partner.stop(), 'partner stop').catch((err: unknown) => log.error('stalls test: partner did not stop', { err }));
  stubClient?.close();
  await stub?.close();
  await server?.stop();
  await mongo?.close();
  await partnerMongo?.close();
  await cluster?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('a partner converges within seconds once a fault heals', () => {
  test('baseline: admitted entries arrive', async () => {
    await admit(50, 'base');
    await within(120_000, databaseCaughtUp);
    await within(120_000, clusterCaughtUp);
  });

  test('its database\'s disk full while entries arrive, the operator restarted meanwhile: freed, replication resumes within seconds', { skip: process.getuid?.() !== 0 && 'needs root to mount the database on a small tmpfs' }, async () => {
    assert.ok(cluster.disk, 'the database runs on a tmpfs');
    await cluster.disk.fill();
    // Entries until the database needs a page the disk has not (free pages inside its file come first).
    await within(120_000, async () => {
      if (logLines.some((l) => l.includes('"cause":"database-full"'))) return undefined;
      await admit(50, 'full');
      return 'no database-full failure yet';
    });
    await partner?.stop();
    await partnerMongo?.close();
    partner = await startPartner();
    await new Promise((r) => setTimeout(r, 5_000));
    const stuckAt = await nextIndex();
    await cluster.disk.free();
    // Resumed: the cursor moves within a few retry periods of the freed disk (it waited minutes before the fix).
    const resumed = await within(RESUME_MS, async () => {
      const at = await nextIndex();
      return at > stuckAt || at === sequencer.size ? undefined : `cursor still at ${at} of ${sequencer.size}`;
    });
    // The rest of the catch-up is writes to the database, as fast as the machine allows.
    const took = await within(WORK_MS, databaseCaughtUp);
    log.info('stalls test: database caught up after the disk was freed', { resumedMs: resumed, ms: took });
    // Writing a few hundred objects is bound by the API server's throughput on a loaded machine, not by a wait.
    const ms = await within(WORK_MS, clusterCaughtUp);
    log.info('stalls test: cluster caught up', { ms });
  });

  test('a catch-up replayed over a large database (its records written, its cursor not saved, as a sync cut off by a full disk leaves it): caught up within seconds', async () => {
    // A database the size of a chaos run's: on FerretDB every lookup reads the whole collection.
    const records = db.collection('indicators');
    for (let k = 0; k < 3; k++) {
      await records.insertMany(Array.from({ length: 5_000 }, (_, i) => {
        const digest = createHash('sha256').update(`padding-${k}-${i}`).digest('hex');
        return { _id: digest, digest, type: 'domain', value: `padding-${k}-${i}.stalls-test.net`, state: 'active', logIndex: -1, proposerId: 'bravo', votes: [] } as never;
      }), { ordered: false });
    }
    await admit(512, 'replayed');
    await within(300_000, databaseCaughtUp);
    await partner?.stop();
    await partnerMongo?.close();
    await db.collection('replica_cursors').updateOne({}, { $set: { nextIndex: sequencer.size - 512 } });
    indicatorReads = 0;
    partner = await startPartner();
    const took = await within(REPLAY_MS, databaseCaughtUp);
    log.info('stalls test: replayed catch-up over a large database', { ms: took, indicatorReads });
    // Each read of the collection is a pass over all of it on FerretDB: a handful (a history read
    // per batch, the working set's resume), never one per replayed record (main read 512 more).
    assert.ok(indicatorReads <= 16, `the replay read the indicators collection ${indicatorReads} times`);
  });

  test('entries applied but not yet written to the cluster when the operator stops: the next process writes them itself, before its first drift repair', async () => {
    // Every earlier entry is in the cluster first: the restarted process has only this test's to write
    // (the replay above once left 512 unwritten for it, and a loaded machine took longer than a bound).
    await within(300_000, clusterCaughtUp);
    log.info('stalls test: step', { step: 'stub' });
    stub = await startStubApi(cluster.creds, await readTlsMaterial(await ca.issue('stub-apiserver', 'server')), await readFile(ca.caPath, 'utf8'));
    stubClient = new KubeHttpClient(await loadKubeconfig(await stub.kubeconfig(join(dir, 'stub.kubeconfig'))), { requestTimeoutMs: 15_000 });
    await partner?.stop();
    await partnerMongo?.close();
    partner = await startPartner(stubClient);
    // ThreatIndicator writes fail: the entries reach the database and wait in the working set's queue.
    stub.failWhen((req) => req.method !== 'GET' && (req.url ?? '').includes('/threatindicators'));
    log.info('stalls test: step', { step: 'admit unwritten' });
    await admit(40, 'unwritten');
    await within(120_000, databaseCaughtUp);
    log.info('stalls test: step', { step: 'database caught up; waiting for a refused write' });
    await within(60_000, () => Promise.resolve(stub!.failed() > 0 ? undefined : 'no ThreatIndicator write tried yet'));
    log.info('stalls test: step', { step: 'stopping the partner' });
    // While the API server refuses writes the exchange's loop still runs, and stops when asked.
    await bounded(60_000, partner.stop(), 'the partner exchange did not stop within 60 s while its API server refused ThreatIndicator writes');
    await partnerMongo?.close();
    stub.failWhen(undefined);
    log.info('stalls test: step', { step: 'restarting the partner' });
    const restartedAt = logLines.length;
    partner = await startPartner(stubClient);
    // Under a limit, not a bound: who wrote them is the property. Written by drift repair instead, they would show as restored below.
    const ms = await within(WORK_MS, clusterCaughtUp);
    log.info('stalls test: entries left unwritten by a stopped process are in the cluster', { ms });
    // Drift repair runs once the new process has caught up and its working set is idle (its first one
    // runs after the first catch-up): a process that left the entries unwritten would have it restore them.
    const repair = await within(120_000, () => Promise.resolve(logLines.slice(restartedAt).some((l) => l.includes('"msg":"drift repair"')) ? undefined : 'no drift repair yet'))
      .then(() => JSON.parse(logLines.slice(restartedAt).find((l) => l.includes('"msg":"drift repair"'))!) as { restored: number; corrected: number });
    assert.equal(repair.restored, 0, `the new process wrote every unwritten entry itself, drift repair restored none: ${JSON.stringify(repair)}`);
  });

  // Last: it evicts objects the tests above wait for.
  test('a restarted process keeps the working set\'s floor: its first drift repair restores none of the objects the earlier process evicted', async () => {
    await within(300_000, clusterCaughtUp);
    const knobs = { materializeBudget: 100, repairIntervalMs: 2_000 };
    assert.ok(sequencer.size > knobs.materializeBudget + 100, `the log (${sequencer.size}) is larger than the budget`);
    await partner?.stop();
    await partnerMongo?.close();
    const evictingFrom = logLines.length;
    partner = await startPartner(cluster.client, knobs);
    // New entries raise the floor (the first repair may run before them), and a repair then evicts below it.
    await admit(5, 'floor');
    await within(WORK_MS, () => Promise.resolve(logLines.slice(evictingFrom).some((l) => l.includes('"msg":"working set: evicted')) ? undefined : 'nothing evicted yet'));
    await within(WORK_MS, databaseCaughtUp);
    await bounded(60_000, partner.stop(), 'the partner exchange did not stop within 60 s');
    await partnerMongo?.close();
    const restartedAt = logLines.length;
    partner = await startPartner(cluster.client, knobs);
    const line = (): string | undefined => logLines.slice(restartedAt).find((l) => l.includes('"msg":"drift repair"'));
    await within(WORK_MS, () => Promise.resolve(line() !== undefined ? undefined : 'no drift repair yet'));
    const repair = JSON.parse(line()!) as { restored: number; unchanged: number; restoredNames?: string[] };
    // Before the fix the new process's floor was 0 until an entry arrived: this repair re-created every evicted object (chaos trial 39: 2,025).
    assert.equal(repair.restored, 0, `the restarted process repaired from the earlier one's floor: ${JSON.stringify(repair)}`);
    assert.ok(repair.unchanged <= knobs.materializeBudget, `it judged only the working set: ${JSON.stringify(repair)}`);
  });

});

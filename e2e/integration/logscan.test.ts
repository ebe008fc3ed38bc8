/**
 * LogScans against a real kube-apiserver, a real FerretDB (the partner database with its
 * replicated `indicators`) and a real S3-compatible object store (versitygw): a scan of an S3
 * prefix is planned into line-boundary shards, run by in-process shard workers and rolled up into
 * `sightings` with exactly the counts a local scan of the same bytes gives; a worker killed in
 * the middle of its shard leaves nothing counted twice; two scans share capacity instead of
 * running one after the other; wrong object-store credentials show on the LogScan; the shard
 * worker CLI (what an Indexed Job pod runs) honours the checkpoint; the Indexed Job the Job
 * executor creates is accepted by the API server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { MongoClient, type Db } from 'mongodb';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv } from '../harness/env.ts';
import { eventually } from '../harness/kube.ts';
import { loadYamlDir } from '../harness/manifests.ts';
import { runCli } from '../harness/cli.ts';
import { startS3, type S3Server } from '../harness/s3.ts';
import type { LogScan } from '../../operator/src/api/types.ts';
import { LOG_SCANS } from '../../operator/src/api/schemas/index.ts';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { IndicatorType } from '../../operator/src/domain/indicator.ts';
import { addLogScanController } from '../../operator/src/controllers/logscansetup.ts';
import { InProcessScanExecutor } from '../../operator/src/controllers/logscaninprocess.ts';
import { JOBS, type Job } from '../../operator/src/controllers/jobexecutor.ts';
import { scanJob } from '../../operator/src/controllers/logscanexec.ts';
import { SECRETS } from '../../operator/src/feeds/feedrun.ts';
import { createLogger } from '../../operator/src/log.ts';
import { SnapshotBuilder } from '../../operator/src/match/snapshot.ts';
import { scanInput } from '../../operator/src/match/scan.ts';
import { Tally } from '../../operator/src/match/tally.ts';
import type { Controller } from '../../operator/src/runtime/controller.ts';
import { KubeEventRecorder } from '../../operator/src/runtime/events.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { Manager } from '../../operator/src/runtime/manager.ts';
import { applyManifests } from '../../operator/src/runtime/manifest.ts';
import { RuntimeMetrics } from '../../operator/src/runtime/metrics.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { INDICATORS } from '../../operator/src/store/indicators.ts';
import { MongoScanStore, SCAN_SHARDS, SIGHTINGS, type SightingDoc } from '../../operator/src/store/sightings.ts';

const quiet = process.env['OPERATOR_TEST_LOG'] ? createLogger(process.stderr, 'debug') : createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = randomBytes(3).toString('hex');
const ns = `scan-${suffix}`;
const database = `partner_${suffix}`;
const opts = controlPlaneOptionsFromEnv();

let cp: ControlPlane;
let kube: KubeHttpClient;
let s3: S3Server;
let mongo: MongoClient;
let db: Db;
let manager: Manager;
let executor: InProcessScanExecutor;
let controller: Controller<LogScan>;
let dir = '';
const logs = new Map<string, Buffer>();

const LISTED: Array<[IndicatorType, string]> = [
  ['domain', 'evil.example'], ['domain', 'malware.test'], ['ipv4', '203.0.113.66'], ['cidr', '198.51.100.0/24'],
  ...Array.from({ length: 200 }, (_, i): [IndicatorType, string] => ['domain', `bad${i}.example.org`]),
];

const DNS_HEADER = '#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\n';

/** A Zeek dns log of `lines` records over three hours; every 50th queries a listed domain, every 70th answers a listed address. */
function dnsLog(lines: number, seed: number): Buffer {
  const out: string[] = [DNS_HEADER];
  for (let i = 0; i < lines; i++) {
    const ts = (1_714_564_800 + Math.floor((i * 10_800) / lines) + seed).toFixed(6);
    const query = i % 50 === 0 ? `host${i}.bad${(i / 50) % 200}.example.org` : `www${i}.benign${seed}.example.net`;
    const answer = i % 70 === 0 ? `198.51.100.${i % 250}` : `192.0.2.${i % 250}`;
    out.push(`${ts}\tC${seed}x${i}\t10.0.${i % 256}.5\t${1024 + (i % 60000)}\t10.0.0.53\t53\tudp\t${i % 65536}\t0.012\t${query}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t${answer}\t60.000000\tF\n`);
  }
  out.push('this line is not zeek\n');
  return Buffer.from(out.join(''));
}

/** What scanning the same bytes locally counts, per `<digest>:<bucket ISO>`. */
async function expected(buffers: readonly Buffer[]): Promise<Map<string, number>> {
  const b = new SnapshotBuilder();
  for (const [type, value] of LISTED) b.add({ type, value, digest: indicatorDigest({ type, value }) });
  const snap = b.build();
  const tally = new Tally();
  const tmp = await mkdtemp(join(tmpdir(), 'scan-expected-'));
  try {
    let n = 0;
    for (const buf of buffers) {
      const path = join(tmp, `${n++}.log`);
      await writeFile(path, buf);
      await scanInput({ kind: 'file', path }, undefined, { format: 'zeek', snapshot: () => snap, tally });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const out = new Map<string, number>();
  for (const e of tally.entries()) for (const [start, bucket] of e.buckets) out.set(`${e.digest}:${new Date(start).toISOString()}`, bucket.count);
  return out;
}

async function sightingCounts(): Promise<Map<string, number>> {
  const docs = await db.collection<SightingDoc>(SIGHTINGS).find({}).toArray();
  return new Map(docs.map((d) => [d._id, d.count]));
}

/**
 * Kills the worker of a shard the store shows running, as soon as one is seen alive. A shard can
 * end between the store saying `running` and the kill (the cause of an earlier flake), so every
 * running shard is tried, again and again, until one kill lands or the scan is over.
 */
async function killOneRunningShard(planId: string, key: string, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const d of await db.collection(SCAN_SHARDS).find({ planId, state: 'running' }).toArray()) {
      if (!await executor.kill(key, d['index'] as number)) continue;
      // A kill that landed after the shard stored its result is no crash mid-shard: look for another.
      if ((await db.collection(SCAN_SHARDS).findOne({ planId, index: d['index'] }))?.['state'] !== 'done') return d['index'] as number;
    }
    const pending = await db.collection(SCAN_SHARDS).countDocuments({ planId, state: { $in: ['pending', 'running'] } });
    if (pending === 0) return undefined;
    await new Promise((r) => setTimeout(r, 25));
  }
  return undefined;
}

function logScan(name: string, spec: LogScan['spec']): LogScan {
  return { apiVersion: 'threatmesh.io/v1alpha1', kind: 'LogScan', metadata: { name, namespace: ns }, spec };
}

async function finished(name: string, timeoutMs = 300_000): Promise<LogScan | undefined> {
  return eventually(() => kube.get<LogScan>(LOG_SCANS, name, ns), (s) => s?.status?.phase === 'Succeeded' || s?.status?.phase === 'Failed', timeoutMs);
}

before(async () => {
  cp = await startControlPlane(opts);
  kube = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath));
  await applyManifests(kube, await loadYamlDir('crds'), 'logscan-test');
  await kube.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  s3 = await startS3(opts.cacheDir);
  await s3.createBucket('logs');
  logs.set('zeek/dns-a.log', dnsLog(12_000, 1));
  logs.set('zeek/dns-b.log.gz', gzipSync(dnsLog(5_000, 2)));
  for (const [key, body] of logs) await s3.put('logs', key, body);
  await kube.create(SECRETS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3', namespace: ns }, stringData: { accessKeyId: s3.config.accessKeyId, secretAccessKey: s3.config.secretAccessKey } } as unknown as KubeObject);
  await kube.create(SECRETS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3-wrong', namespace: ns }, stringData: { accessKeyId: s3.config.accessKeyId, secretAccessKey: 'not-the-secret' } } as unknown as KubeObject);
  dir = await mkdtemp(join(tmpdir(), 'scan-files-'));
  await writeFile(join(dir, 'dns-c.log'), dnsLog(14_000, 3));
  mongo = new MongoClient(cp.mongoUri, { socketTimeoutMS: 60_000 });
  db = mongo.db(database);
  await db.collection(INDICATORS).insertMany(LISTED.map(([type, value], i) => {
    const digest = indicatorDigest({ type, value });
    return { _id: digest as unknown as never, digest, type, value, state: 'active', logIndex: i, proposerId: 'acme', votes: [] };
  }));
  const metrics = new RuntimeMetrics();
  manager = new Manager({ client: kube, log: quiet, metrics });
  executor = new InProcessScanExecutor({ kubeconfig: cp.kubeconfigPath, mongodbUri: cp.mongoUri, database, onExit: (key) => controller.enqueue(key) });
  const recorder = new KubeEventRecorder({ writer: kube, log: quiet, component: 'logscan-test' });
  controller = addLogScanController({
    manager, client: kube, context: { log: quiet, now: () => new Date(), recorder }, store: await MongoScanStore.open(db),
    executor, partnerId: 'acme', metrics, namespace: ns, config: { capacity: 2, pollMs: 500 },
  });
  await manager.start();
});

after(async () => {
  await executor?.close();
  await manager?.stop();
  await mongo?.close();
  kube?.close();
  await s3?.stop();
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('LogScan', () => {
  test('an S3 prefix is sharded at line boundaries and rolled up into sightings with exactly the local counts', async () => {
    await kube.create(LOG_SCANS, logScan('s3-dns', { source: { s3: { endpoint: s3.config.endpoint, bucket: 'logs', prefix: 'zeek/', secretRef: { name: 's3' } } }, format: 'zeek', shardBytes: 1_048_576 }));
    const done = await finished('s3-dns');
    assert.equal(done?.status?.phase, 'Succeeded', JSON.stringify(done?.status));
    const st = done?.status;
    assert.ok((st?.shards?.total ?? 0) >= 3, `a 1.8 MB plain object and a gzip object: ${JSON.stringify(st?.shards)}`);
    assert.equal(st?.shards?.succeeded, st?.shards?.total);
    assert.equal(st?.progress?.percent, 100);
    assert.deepEqual(st?.rejected, { 'missing-fields': 2 });
    const want = await expected([logs.get('zeek/dns-a.log') ?? Buffer.alloc(0), logs.get('zeek/dns-b.log.gz') ?? Buffer.alloc(0)]);
    assert.deepEqual(await sightingCounts(), want);
    const one = await db.collection<SightingDoc>(SIGHTINGS).findOne({});
    assert.deepEqual(Object.keys(one ?? {}).sort(), ['_id', 'bucketStart', 'count', 'digest', 'firstSeen', 'lastSeen', 'partnerId', 'sources', 'type', 'updatedAt', 'value']);
    assert.equal(one?.partnerId, 'acme');
    assert.ok(one?.bucketStart instanceof Date && one.firstSeen instanceof Date);
  });

  test('the shard worker CLI (what an Indexed Job pod runs) sees the checkpoint and counts nothing twice', async () => {
    const before = await sightingCounts();
    const run = await runCli(['scan', '--logscan', `${ns}/s3-dns`, '--shard', '0', '--mongodb-uri', cp.mongoUri, '--database', database, '--kubeconfig', cp.kubeconfigPath], { env: { ...process.env, LOG_LEVEL: 'info' } });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /already-done/);
    assert.deepEqual(await sightingCounts(), before);
    const usage = await runCli(['scan', '--logscan', `${ns}/s3-dns`]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--shard/);
  });

  test('a worker killed in the middle of its shard: the shard runs again and nothing is counted twice', async () => {
    const before = await sightingCounts();
    await kube.create(LOG_SCANS, logScan('files', { source: { file: { path: dir } }, format: 'zeek', shardBytes: 1_048_576 }));
    const key = `${ns}/files`;
    const scan = await eventually(() => kube.get<LogScan>(LOG_SCANS, 'files', ns), (s) => s?.metadata.uid !== undefined && (s.status?.shards?.total ?? 0) > 0);
    const planId = scan?.metadata.uid ?? '';
    const index = await killOneRunningShard(planId, key, 120_000);
    assert.ok(index !== undefined, 'a shard worker was caught alive and killed before the scan ended');
    const done = await finished('files');
    assert.equal(done?.status?.phase, 'Succeeded', JSON.stringify(done?.status));
    const shard = await db.collection(SCAN_SHARDS).findOne({ planId, index });
    assert.ok((shard?.['attempts'] as number) >= 2, `the killed shard ran again: ${JSON.stringify(shard)}`);
    const want = await expected([Buffer.from((await import('node:fs')).readFileSync(join(dir, 'dns-c.log')))]);
    const after = await sightingCounts();
    for (const [k, v] of want) assert.equal(after.get(k), (before.get(k) ?? 0) + v, k);
  });

  test('two scans share the slots: the second starts before the first finishes', async () => {
    await writeFile(join(dir, 'dns-d.log'), dnsLog(8_000, 4));
    await kube.create(LOG_SCANS, logScan('first', { source: { file: { path: dir } }, format: 'zeek', shardBytes: 1_048_576, priority: 10 }));
    await eventually(() => kube.get<LogScan>(LOG_SCANS, 'first', ns), (s) => (s?.status?.shards?.running ?? 0) > 0);
    await kube.create(LOG_SCANS, logScan('second', { source: { file: { path: join(dir, 'dns-d.log') } }, format: 'zeek', shardBytes: 1_048_576, priority: 10 }));
    let overlap = false;
    const both = await eventually(async () => {
      const [a, b] = [await kube.get<LogScan>(LOG_SCANS, 'first', ns), await kube.get<LogScan>(LOG_SCANS, 'second', ns)];
      if ((a?.status?.shards?.running ?? 0) > 0 && (b?.status?.shards?.running ?? 0) > 0) overlap = true;
      return [a, b];
    }, ([a, b]) => a?.status?.phase === 'Succeeded' && b?.status?.phase === 'Succeeded', 300_000);
    assert.equal(both[0]?.status?.phase, 'Succeeded');
    assert.equal(both[1]?.status?.phase, 'Succeeded');
    assert.ok(overlap, 'both scans had shards running at the same time');
  });

  test('wrong object-store credentials show on the LogScan (the store refuses the signature)', async () => {
    await kube.create(LOG_SCANS, logScan('wrong-key', { source: { s3: { endpoint: s3.config.endpoint, bucket: 'logs', prefix: 'zeek/', secretRef: { name: 's3-wrong' } } }, format: 'zeek' }));
    const s = await eventually(() => kube.get<LogScan>(LOG_SCANS, 'wrong-key', ns), (x) => x?.status?.conditions?.some((c) => c.reason === 'SourceUnreadable') === true);
    const ready = s?.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(ready?.message ?? '', /SignatureDoesNotMatch|403/);
  });

  test('the Indexed Job of the Job executor is accepted by the API server', async () => {
    const scan = await kube.get<LogScan>(LOG_SCANS, 's3-dns', ns);
    assert.ok(scan);
    const job = scanJob(scan, 2, 5, { image: 'threatmesh:test', mongodbUriSecret: { name: 'mongo', key: 'uri' } });
    assert.ok(job.spec);
    const created = await kube.create<Job>(JOBS, { ...job, spec: { ...job.spec, suspend: true } });
    assert.equal(created.spec?.['completionMode'], 'Indexed');
    assert.equal(created.spec?.['parallelism'], 2);
  });
});

/**
 * A partner exchange whose start is slow, across a lost Lease, with real parts: `threatmesh
 * operator --exchange --leader-elect` as the CLI runs it (operatorOptions + runTerms) against a
 * real kube-apiserver and FerretDB, and a sequencer behind real gRPC with mutual TLS. The partner
 * database holds records stored before the digest set was kept, so the start's "stored digests
 * backfill" reads every record (the slow read of the chaos run). While it reads, the Lease is
 * taken from the operator: the term ends, a new term campaigns in the same process and joins the
 * step under way instead of redoing it, and readiness names the step and how long it has run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { LEADER_LEASE_NAME } from '../../operator/src/api/manifests.ts';
import { operatorOptions, type OperatorFlags } from '../../operator/src/cli/operator.ts';
import { runTerms } from '../../operator/src/cli/terms.ts';
import { LEASES, type Lease } from '../../operator/src/runtime/kinds.ts';
import { microTime } from '../../operator/src/runtime/leader.ts';
import { tmpdir } from 'node:os';
import { eventually } from '../harness/kube.ts';
import { keptLog, startPartnerBed, type PartnerBed } from '../harness/partnerbed.ts';
import { freePort } from '../../operator/src/dev/controlplane/probe.ts';

const NS = 'threatmesh';
const DATABASE = 'threatmesh_partner';
/** Records stored without the digest set: the backfill reads them all. */
const RECORDS = 150_000;
const kept = keptLog();
const { log, lines: logLines } = kept;

let dir = '';
let bed: PartnerBed | undefined;
let stop: (why: string) => void = () => undefined;
let terms: Promise<string> | undefined;
let metricsPort = 0;


const lines = (msg: string): Array<Record<string, unknown>> => logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === msg);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-startterms-'));
  bed = await startPartnerBed(dir, 'startterms', NS, kept);
  const { cluster, ca, keys } = bed;
  // A database of an earlier version: records, no digest chunks, no completeness marker.
  const mongo = new MongoClient(`mongodb://127.0.0.1:${cluster.mongoPort}/`);
  await mongo.connect();
  const col = mongo.db(DATABASE).collection<{ _id: string }>('indicators');
  for (let i = 0; i < RECORDS; i += 10_000) {
    await col.insertMany(Array.from({ length: 10_000 }, (_, j) => {
      const digest = (i + j).toString(16).padStart(64, '0');
      return { _id: digest, digest, type: 'domain', value: `d${i + j}.example.org`, state: 'active', logIndex: i + j, proposerId: 'alpha', votes: [], name: `domain-${digest.slice(0, 40)}` };
    }));
  }
  await mongo.close();
  const alpha = await ca.issue('alpha', 'both');
  const signingKey = join(dir, 'alpha.signing.pem');
  await writeFile(signingKey, keys.alpha.toPem(), { mode: 0o600 });
  metricsPort = await freePort();
  const flags: OperatorFlags = {
    kubeconfig: await cluster.kubeconfigVia(cluster.apiPort, 'alpha.kubeconfig'), namespace: NS, metricsBind: `127.0.0.1:${metricsPort}`, webhookBind: '127.0.0.1:0', leaderElect: true, identity: 'alpha-operator',
    executor: 'job', jobImage: 'ghcr.io/threatmesh/threatmesh:test', votingWindow: '72h', partnerId: 'alpha', signingKey, tlsCert: alpha.certPath, tlsKey: alpha.keyPath, tlsCa: alpha.caPath,
    exchange: true, exchangeNamespace: NS, mongodbUri: `mongodb://127.0.0.1:${cluster.mongoPort}/`, database: DATABASE, gossipBind: '127.0.0.1:0', syncInterval: '1s',
  };
  const env = { kubeconfig: undefined, mongodbUri: undefined, cacheDir: dir, logLevel: 'info' as const, stdout: process.stdout, stderr: process.stderr };
  const opts = await operatorOptions(flags, env, log);
  // Short terms, so a loss and a new term fit in the backfill's read.
  terms = runTerms({ ...opts, watchJobs: false, leaderElection: { ...opts.leaderElection!, leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000 } }, new Promise<string>((res) => { stop = res; }), log);
});

after(async () => {
  stop('test done');
  await terms;
  if (process.env['STARTTERMS_TEST_LOG']) await writeFile(process.env['STARTTERMS_TEST_LOG'], `${logLines.join('\n')}\n`);
  await bed?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

test('a Lease lost while the exchange\'s start reads: the next term in the process joins the step under way, readiness names it, nothing is read twice', async () => {
  const readiness = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/readyz/runnables`).then((r) => r.text(), () => ''));
  const backfill = /partner exchange starting: waiting on "stored digests backfill \(counting and reading every record once\)" for (\d+) s/;
  const first = await eventually(readiness, (t) => backfill.test(t), 120_000);
  assert.match(first, backfill, `readiness of term 1: ${first}`);
  // Another holder takes the Lease (as a partitioned replica's successor would).
  const cluster = bed!.cluster;
  const lease = (await cluster.client.get<Lease>(LEASES, LEADER_LEASE_NAME, NS))!;
  const now = microTime(Date.now());
  await cluster.client.update<Lease>(LEASES, { ...lease, spec: { holderIdentity: 'thief', leaseDurationSeconds: 3, acquireTime: now, renewTime: now, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } });
  await eventually(() => Promise.resolve(lines('lost leadership; every runnable stopped in time, so this process campaigns again (what the partner exchange prepared is kept)').length), (n) => n >= 1, 30_000);
  const term2 = Date.now();
  // Term 2 leads once the thief's Lease expired, and waits on the same step, begun in term 1.
  const second = await eventually(readiness, (t) => backfill.test(t) && Date.now() - term2 > 1000, 60_000);
  const m = backfill.exec(second);
  assert.ok(m !== null, `readiness of term 2 names the step: ${second}`);
  assert.ok(Number(m[1]) * 1000 > Date.now() - term2, `the step has run longer than term 2 (${m[1]} s): joined, not started again`);
  assert.equal(await eventually(readiness, (t) => t.includes('ok'), 300_000).then((t) => t.includes('ok')), true, 'the exchange runs once the read is done');
  const done = lines('partner exchange start step done').map((l) => String(l['step']));
  for (const step of ['database connection', 'replica indexes', 'stored digests', 'stored digests backfill (counting and reading every record once)']) {
    assert.equal(done.filter((s) => s === step).length, 1, `${step} done once across both terms: ${done.join(', ')}`);
  }
  assert.equal(lines('partner exchange start step failed').length, 0);
  assert.equal(done.filter((s) => s === 'gossip endpoint').length, 1, 'the gossip endpoint is the term\'s own (term 1 never got there)');
  assert.equal(lines('became leader').length, 2, 'two terms in one process');
});

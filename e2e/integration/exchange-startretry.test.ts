/**
 * The partner operator facing its database down, with real parts: `threatmesh operator --exchange`
 * as the CLI composes it (operatorOptions + startOperator) against a real kube-apiserver and a
 * real FerretDB that the test kills and restarts, and a sequencer behind real gRPC with mutual TLS.
 * - Started with FerretDB down, the operator does not exit (the exit path, onExchangeError, is
 *   never taken): it retries with backoff, /readyz/runnables says not ready, the sequencer PartnerNode shows
 *   Replicating=False/DatabaseUnavailable, a Warning Event and the failure metrics count it; once
 *   FerretDB runs it becomes ready within a bound and replicates.
 * - Stopped while its database is unreachable, the operator's stop returns within the shutdown
 *   deadline (a chaos run saw 43 s against a 30 s deadline).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PARTNER_NODES } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode } from '../../operator/src/api/types.ts';
import { operatorOptions, type OperatorFlags } from '../../operator/src/cli/operator.ts';
import { startOperator, type RunningOperator } from '../../operator/src/controllers/setup.ts';
import { eventsResource } from '../../operator/src/runtime/events.ts';
import type { KubeObject } from '../../operator/src/runtime/types.ts';
import type { Cluster } from '../chaos/cluster.ts';
import { startLink, type Link } from '../chaos/link.ts';
import { eventually } from '../harness/kube.ts';
import { keptLog, startPartnerBed, type PartnerBed } from '../harness/partnerbed.ts';

const NS = 'threatmesh';
/** How soon after FerretDB answers again the operator must be ready: the backoff cap (30 s) plus one connection attempt. */
const READY_BOUND_MS = 50_000;
/** The manager's shutdown deadline (its default). */
const SHUTDOWN_DEADLINE_MS = 30_000;
const kept = keptLog();
const { log, lines: logLines } = kept;

let dir = '';
let bed: PartnerBed | undefined;
let cluster: Cluster;
/** The operator's database link, as in the chaos network: a TCP proxy in front of FerretDB that can be blackholed. */
let dbLink: Link | undefined;
let flags: OperatorFlags;
const operators: RunningOperator[] = [];

async function replicating(): Promise<{ status?: string; reason?: string; message?: string }> {
  const pn = await cluster.client.get<PartnerNode>(PARTNER_NODES, 'sequencer', NS).catch(() => undefined);
  return pn?.status?.conditions?.find((c) => c.type === 'Replicating') ?? {};
}

async function http(op: RunningOperator, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${op.manager.healthPort}${path}`);
  return { status: res.status, body: await res.text() };
}

async function metricValue(op: RunningOperator, name: string, labels: string): Promise<number> {
  const line = (await http(op, '/metrics')).body.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function warningEvents(reason: string): Promise<number> {
  const list = await cluster.client.list<{ reason?: string; type?: string } & KubeObject>(eventsResource, { namespace: NS });
  return list.items.filter((e) => e.reason === reason && e.type === 'Warning').length;
}

/** The operator as `threatmesh operator --exchange` builds it; `exits` hears what would end the process. */
async function startFromFlags(exits: string[]): Promise<RunningOperator> {
  const env = { kubeconfig: undefined, mongodbUri: undefined, cacheDir: dir, logLevel: 'info' as const, stdout: process.stdout, stderr: process.stderr };
  const opts = await operatorOptions(flags, env, log, (err) => exits.push(err instanceof Error ? err.message : String(err)));
  const op = await startOperator({ ...opts, watchJobs: false, identity: 'startretry-test', onLostLeadership: () => exits.push('lost leadership') });
  operators.push(op);
  return op;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-startretry-'));
  bed = await startPartnerBed(dir, 'startretry', NS, kept);
  cluster = bed.cluster;
  const { ca, keys } = bed;
  dbLink = await startLink('alpha→ferretdb', () => [cluster.mongoPort]);
  const alpha = await ca.issue('alpha', 'both');
  const signingKey = join(dir, 'alpha.signing.pem');
  await writeFile(signingKey, keys.alpha.toPem(), { mode: 0o600 });
  flags = {
    kubeconfig: await cluster.kubeconfigVia(cluster.apiPort, 'alpha.kubeconfig'), namespace: NS, metricsBind: '127.0.0.1:0', webhookBind: '127.0.0.1:0', leaderElect: false,
    executor: 'job', jobImage: 'ghcr.io/threatmesh/threatmesh:test', votingWindow: '72h', partnerId: 'alpha', signingKey, tlsCert: alpha.certPath, tlsKey: alpha.keyPath, tlsCa: alpha.caPath,
    exchange: true, exchangeNamespace: NS, mongodbUri: `mongodb://127.0.0.1:${dbLink.port}/`, database: 'threatmesh_partner', gossipBind: '127.0.0.1:0', syncInterval: '1s',
  };
});

after(async () => {
  if (process.env['STARTRETRY_TEST_LOG']) await writeFile(process.env['STARTRETRY_TEST_LOG'], `${logLines.join('\n')}\n`);
  for (const op of operators) await op.stop();
  await dbLink?.close();
  await bed?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('a partner operator whose database is down waits for it, says why, and stops on time', () => {
  test('started with FerretDB down: no exit, not ready, Replicating=False/DatabaseUnavailable, an Event and the metrics; ready within the bound once FerretDB runs', async () => {
    await cluster.ferretdb.kill();
    const exits: string[] = [];
    const op = await startFromFlags(exits);
    // The first attempt fails after the driver's 15 s server selection.
    const c = await eventually(replicating, (x) => x.reason === 'DatabaseUnavailable', 60_000);
    assert.deepEqual([c.status, c.reason], ['False', 'DatabaseUnavailable'], `Replicating condition: ${JSON.stringify(c)}`);
    assert.match(c.message ?? '', /partner exchange cannot start: the partner database does not answer: check that MongoDB runs/);
    const ready = await http(op, '/readyz/runnables');
    assert.equal(ready.status, 500, `not ready while the exchange cannot start: ${ready.body}`);
    assert.match(ready.body, /runnables failed: partner exchange not started \(attempt \d+ failed: database-unavailable\); retrying/);
    // The pod stays in its Services: the admission webhook it serves needs no database.
    const whole = await http(op, '/readyz?verbose');
    assert.equal(whole.status, 200, `/readyz leaves the informational check out: ${whole.body}`);
    assert.match(whole.body, /\[-\]runnables failed \(informational\): partner exchange not started/);
    assert.ok(await metricValue(op, 'threatmesh_exchange_failures_total', 'loop="start",cause="database-unavailable"') >= 1, 'failures counted');
    assert.equal(await metricValue(op, 'threatmesh_exchange_replication_failing', 'cause="database-unavailable"'), 1, 'failing gauge');
    assert.ok(await eventually(() => warningEvents('DatabaseUnavailable'), (n) => n > 0, 20_000) > 0, 'a Warning Event DatabaseUnavailable');
    const failed = logLines.filter((l) => l.includes('partner exchange cannot start; retrying with backoff'));
    assert.ok(failed.length >= 1 && failed.every((l) => l.includes('"cause":"database-unavailable"') && l.includes('"retryInMs":')), `one error line per attempt with cause and delay: ${failed[0]}`);
    assert.deepEqual(exits, [], 'nothing asked the operator to exit');
    // A second attempt, after the backoff: each attempt is logged once.
    await eventually(() => Promise.resolve(logLines.filter((l) => l.includes('partner exchange cannot start')).length), (n) => n >= 2, 60_000);
    const attempts = logLines.filter((l) => l.includes('partner exchange cannot start')).map((l) => (JSON.parse(l) as { attempt: number }).attempt);
    assert.deepEqual(attempts.slice(0, 2), [1, 2], 'one line per attempt');
    assert.equal((await http(op, '/readyz/runnables')).status, 500, 'still not ready');
    assert.deepEqual(exits, [], 'still running');

    await cluster.ferretdb.start();
    const up = Date.now();
    const answer = await eventually(() => http(op, '/readyz/runnables'), (r) => r.status === 200, READY_BOUND_MS);
    assert.equal(answer.status, 200, `ready within ${READY_BOUND_MS} ms of FerretDB starting: ${answer.body}`);
    log.info('test: ready after FerretDB started', { ms: Date.now() - up });
    assert.equal((await eventually(replicating, (x) => x.status === 'True', 30_000)).status, 'True', 'replicating from the sequencer');
    assert.equal(await metricValue(op, 'threatmesh_exchange_replication_failing', 'cause="database-unavailable"'), 0, 'the failing gauge is back at 0');
    assert.deepEqual(exits, []);
    await op.stop();
    operators.splice(operators.indexOf(op), 1);
  });

  const faults: ReadonlyArray<{ readonly name: string; readonly cut: () => Promise<void>; readonly heal: () => Promise<void> }> = [
    { name: 'FerretDB killed', cut: () => cluster.ferretdb.kill(), heal: () => cluster.ferretdb.start() },
    { name: 'its database link blackholed', cut: () => Promise.resolve(dbLink!.set('blackhole')), heal: () => Promise.resolve(dbLink!.set('up')) },
  ];
  for (const fault of faults) {
    test(`stopped while its database is unreachable (${fault.name}), the operator stops within the shutdown deadline`, async () => {
      if (!cluster.ferretdb.running()) await cluster.ferretdb.start();
      await cluster.ferretdb.waitReady({ capMs: 60_000 });
      const exits: string[] = [];
      const from = logLines.length;
      const op = await startFromFlags(exits);
      // This operator's exchange runs (not just the manager, and not a condition left by an earlier test).
      const started = (): Promise<boolean> => Promise.resolve(logLines.slice(from).some((l) => l.includes('"msg":"replicating from the sequencer"')));
      assert.ok(await eventually(started, (ok) => ok, 60_000), 'the partner exchange started and replicates');
      assert.equal((await eventually(() => http(op, '/readyz'), (r) => r.status === 200, 60_000)).status, 200);
      await fault.cut();
      // Let the loops get stuck in database calls.
      await new Promise((r) => setTimeout(r, 3000));
      const before = logLines.length;
      const t0 = Date.now();
      await op.stop();
      const ms = Date.now() - t0;
      operators.splice(operators.indexOf(op), 1);
      await fault.heal();
      log.info('test: stop with the database unreachable', { fault: fault.name, ms });
      const overran = logLines.slice(before).filter((l) => l.includes('did not stop by the shutdown deadline'));
      assert.deepEqual(overran, [], 'no runnable overran the deadline');
      assert.ok(ms < SHUTDOWN_DEADLINE_MS, `stopped in ${ms} ms, within the ${SHUTDOWN_DEADLINE_MS} ms deadline`);
      assert.ok(logLines.slice(before).some((l) => l.includes('partner exchange stopped')), 'the exchange stopped, not left behind');
      assert.deepEqual(exits, []);
    });
  }
});

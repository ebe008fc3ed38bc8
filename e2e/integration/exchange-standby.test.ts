/**
 * Failover of a partner operator to its standby, with real parts: two `threatmesh operator
 * --exchange --leader-elect` processes of partner alpha (as the chart's 2 replicas run), one
 * kube-apiserver and FerretDB, the sequencer behind real gRPC with mutual TLS. The partner database
 * holds the digest set of a replica of STORED_DIGESTS records (append-only chunks, marked
 * complete), as a replica written by this version has.
 *
 * The standby prepares at process start what needs no leadership (connection, indexes, stored
 * digests) while the leader replicates; the leader then admits X (after the standby read the
 * digests) and is killed (SIGKILL); the sequencer logs the REVOKE of X. The standby wins the Lease,
 * reuses its preparation (each step done once, before it led), catches its digest set up with what
 * the dead leader wrote (without it, the REVOKE of X is refused as "never admitted" and replication
 * halts), and replicates the REVOKE. The time from the kill to the REVOKE applied is printed
 * (`failover` line; STANDBY_TEST_LOG=FILE keeps both operators' logs).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Binary, MongoClient } from 'mongodb';
import { indicatorCanonicalJson, indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { prefixBytes } from '../../operator/src/domain/digestset.ts';
import { signProposal } from '../../operator/src/domain/entry.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { eventually } from '../harness/kube.ts';
import { keptLog, startPartnerBed, type PartnerBed } from '../harness/partnerbed.ts';
import { freePort } from '../../operator/src/dev/controlplane/probe.ts';

const NS = 'threatmesh';
const DATABASE = 'threatmesh_partner';
/** Digests in the stored set, in chunks of CHUNK (one per applied batch, as a replica writes them). */
const STORED_DIGESTS = 150_000;
const CHUNK = 10;
const SOURCE = 'sequencer:sequencer';
const MAIN = fileURLToPath(new URL('../../operator/src/main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const kept = keptLog();

interface Operator {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  readonly metricsPort: number;
}

let dir = '';
let bed: PartnerBed | undefined;
let mongo: MongoClient | undefined;
const operators: Operator[] = [];
let args: (name: string, metricsPort: number) => string[] = () => [];


async function startOperator(name: string): Promise<Operator> {
  const metricsPort = await freePort();
  const child = spawn(process.execPath, [MAIN, ...args(name, metricsPort)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  const lines: Array<Record<string, unknown>> = [];
  let rest = '';
  child.stderr.on('data', (c: Buffer) => {
    const text = rest + c.toString();
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    for (const l of parts) {
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        lines.push({ msg: 'UNPARSED', text: l });
      }
    }
  });
  const op = { name, child, lines, metricsPort };
  operators.push(op);
  return op;
}

const said = (op: Operator, msg: string): Array<Record<string, unknown>> => op.lines.filter((l) => l['msg'] === msg);
const at = (l: Record<string, unknown> | undefined): number => (l === undefined ? Number.NaN : Date.parse(String(l['ts'])));

async function cursorIndex(): Promise<number> {
  const c = await mongo!.db(DATABASE).collection<{ _id: string; nextIndex: number; halted?: unknown }>('replica_cursors').findOne({ _id: SOURCE });
  if (c?.halted !== undefined) throw new Error(`replication halted: ${JSON.stringify(c.halted)}`);
  return c?.nextIndex ?? 0;
}

/** Logs `kind` of `value` at the sequencer with alpha's proposal and both partners' approvals; returns the log size after. */
async function admit(kind: 'add' | 'revoke', value: string): Promise<number> {
  const seq = bed!.sequencer;
  const { keys } = bed!;
  const indicator = { type: 'domain' as const, value };
  const { subject } = await seq.propose('alpha', { kind, indicatorJson: indicatorCanonicalJson(indicator), proposerId: 'alpha', signature: signProposal(keys.alpha, kind, indicator) });
  const size = seq.size;
  for (const id of ['bravo', 'alpha'] as const) {
    // alpha's leader may have voted already (automatic policy): its second vote changes nothing.
    await seq.vote(id, signVote(keys[id], { partnerId: id, digest: subject, decision: 'approve', signedAt: new Date().toISOString() })).catch(() => undefined);
  }
  await eventually(() => Promise.resolve(seq.size), (n) => n > size, 30_000);
  return seq.size;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-standby-'));
  bed = await startPartnerBed(dir, 'standby', NS, kept);
  const { cluster, ca, keys } = bed;
  mongo = new MongoClient(`mongodb://127.0.0.1:${cluster.mongoPort}/`);
  await mongo.connect();
  // A replica written by this version: its digest chunks, marked complete, and every record named.
  const db = mongo.db(DATABASE);
  const chunks = db.collection<{ _id: string; i: number; d: Binary }>('replica_digests');
  for (let i = 0; i < STORED_DIGESTS; i += 1000 * CHUNK) {
    await chunks.insertMany(Array.from({ length: 1000 }, (_, j) => {
      const first = i + j * CHUNK;
      const digests = Array.from({ length: CHUNK }, (_, k) => `ff${(first + k).toString(16).padStart(62, '0')}`);
      return { _id: `pre-${first}`, i: -1, d: new Binary(prefixBytes(digests)) };
    }));
  }
  await chunks.insertOne({ _id: 'complete', i: -2, d: new Binary(Buffer.alloc(0)) });
  await db.collection<{ _id: string; at: Date }>('replica_markers').insertOne({ _id: 'every-record-named', at: new Date() });
  const alpha = await ca.issue('alpha', 'both');
  const signingKey = join(dir, 'alpha.signing.pem');
  await writeFile(signingKey, keys.alpha.toPem(), { mode: 0o600 });
  const kubeconfig = await cluster.kubeconfigVia(cluster.apiPort, 'alpha.kubeconfig');
  args = (name, metricsPort) => [
    'operator', '--kubeconfig', kubeconfig, '--namespace', NS, '--metrics-bind', `127.0.0.1:${metricsPort}`, '--webhook-bind', '127.0.0.1:0', '--leader-elect', '--identity', name,
    '--executor', 'job', '--job-image', 'ghcr.io/threatmesh/threatmesh:test', '--voting-window', '72h', '--partner-id', 'alpha', '--signing-key', signingKey,
    '--tls-cert', alpha.certPath, '--tls-key', alpha.keyPath, '--tls-ca', alpha.caPath, '--exchange', '--exchange-namespace', NS,
    '--mongodb-uri', `mongodb://127.0.0.1:${cluster.mongoPort}/`, '--database', DATABASE, '--gossip-bind', '127.0.0.1:0', '--sync-interval', '1s',
  ];
});

after(async () => {
  for (const op of operators) if (op.child.exitCode === null && op.child.signalCode === null) op.child.kill('SIGKILL');
  if (process.env['STANDBY_TEST_LOG']) await writeFile(process.env['STANDBY_TEST_LOG'], operators.map((o) => o.lines.map((l) => JSON.stringify({ operator: o.name, ...l })).join('\n')).join('\n') + '\n');
  await mongo?.close();
  await bed?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

test('the standby prepares while the leader replicates; after the leader is killed it reuses the preparation, catches up what the leader wrote, and replicates', async (t) => {
  const leader = await startOperator('alpha-0');
  await eventually(() => Promise.resolve(said(leader, 'became leader').length), (n) => n === 1, 120_000);
  const first = await admit('add', 'before-standby.standby.example');
  assert.ok(await eventually(cursorIndex, (n) => n >= first, 180_000) >= first, 'the leader replicates');

  const standby = await startOperator('alpha-1');
  // The standby's own readiness check says how far it got; /readyz stays the Manager's (not leading is no failure).
  await eventually(() => Promise.resolve(said(standby, 'partner exchange prepared while standing by').length + said(standby, 'became leader').length), (n) => n >= 1, 300_000);
  const x = 'admitted-by-the-leader.standby.example';
  const withX = await admit('add', x);
  assert.ok(await eventually(cursorIndex, (n) => n >= withX, 120_000) >= withX, 'the leader replicates X');
  assert.equal(said(standby, 'became leader').length, 0, 'the standby does not lead while the leader runs');

  const killed = Date.now();
  leader.child.kill('SIGKILL');
  const withRevoke = await admit('revoke', x);
  const reached = await eventually(cursorIndex, (n) => n >= withRevoke, 300_000);
  const replicating = Date.now();
  assert.ok(reached >= withRevoke, `the standby replicates the REVOKE (cursor ${reached} of ${withRevoke})`);
  const led = at(said(standby, 'became leader')[0]);
  const prepared = said(standby, 'partner exchange prepared while standing by')[0];
  t.diagnostic(`failover ${JSON.stringify({ killToReplicatingMs: replicating - killed, killToLeaderMs: led - killed, leaderToReplicatingMs: replicating - led, standbyPreparedMs: prepared?.['ms'], storedDigests: STORED_DIGESTS, chunks: STORED_DIGESTS / CHUNK })}`);

  const done = said(standby, 'partner exchange start step done');
  for (const step of ['database connection', 'replica indexes', 'stored digests']) {
    const lines = done.filter((l) => l['step'] === step);
    assert.equal(lines.length, 1, `${step} done once in the standby: ${done.map((l) => String(l['step'])).join(', ')}`);
    assert.ok(at(lines[0]) <= led, `${step} done before the standby led`);
  }
  const caughtUp = done.filter((l) => l['step'] === 'stored digests written by others');
  assert.equal(caughtUp.length, 1, 'its term caught the digest set up once');
  assert.ok(at(caughtUp[0]) >= led, 'the catch-up is the term\'s');
  assert.ok(prepared !== undefined && at(prepared) < killed, 'prepared while the leader ran');
  const record = await mongo!.db(DATABASE).collection<{ _id: string; state: string }>('indicators').findOne({ _id: indicatorDigest({ type: 'domain', value: x }) });
  assert.equal(record?.state, 'revoked', 'the REVOKE of what the dead leader admitted is applied');
  const readiness = await fetch(`http://127.0.0.1:${standby.metricsPort}/readyz/standby-preparation`).then((r) => r.status);
  assert.equal(readiness, 200);
});

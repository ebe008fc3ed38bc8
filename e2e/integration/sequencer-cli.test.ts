/**
 * `threatmesh sequencer` as child processes against a real kube-apiserver and FerretDB: the
 * partner directory comes from PartnerNodes (a PartnerNode applied while running can call at
 * once), partners propose and vote over real mutual TLS and the tree head is signed by the
 * sequencer PartnerNode's key; a --signing-key that does not match that PartnerNode refuses to
 * start; with --leader-elect only the Lease holder serves, SIGTERM hands over to the other
 * replica (same tree), and a replica whose Lease is taken exits 1; a replica that wins the Lease
 * while its database does not answer waits for it and serves, without exiting.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startLink } from '../chaos/link.ts';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { PARTNER_NODES } from '../../operator/src/api/schemas/index.ts';
import type { PartnerNode, Role } from '../../operator/src/api/types.ts';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { verifyTreeHead } from '../../operator/src/domain/treehead.ts';
import { ExchangeCallError, ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { signProposal } from '../../operator/src/domain/entry.ts';
import { SEQUENCER_LEASE_NAME } from '../../operator/src/exchange/sequencer/service.ts';
import type { VoteResult } from '../../operator/src/exchange/protocol/messages.ts';
import type { TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { KubeHttpClient } from '../../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../../operator/src/runtime/kubeconfig.ts';
import { leaseResource, type Lease } from '../../operator/src/runtime/leader.ts';
import { applyManifests, parseManifests } from '../../operator/src/runtime/manifest.ts';
import type { KubeObject, ResourceRef } from '../../operator/src/runtime/types.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { eventually } from '../harness/kube.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';
import { disposeTestBed } from '../harness/teardown.ts';
import { collectJsonLines } from '../harness/jsonlines.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'operator', 'src', 'main.ts');
const namespaces: ResourceRef = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const suffix = uniqueSuffix();
const ns = `seqcli-${suffix}`;
const database = `tm_seqcli_${suffix}`;

type Id = 'hub' | 'alpha' | 'bravo' | 'charlie' | 'delta';
const ROLES: Readonly<Record<Id, Role[]>> = { hub: ['sequencer'], alpha: ['contributor', 'voter'], bravo: ['voter'], charlie: ['voter'], delta: ['contributor', 'consumer'] };

let cp: ControlPlane;
let admin: KubeHttpClient;
let ca: TestCa;
let dir = '';
const keys = {} as Record<Id, SigningKey>;
const tls = {} as Record<Id, TlsMaterial>;
const children: Sequencer[] = [];
const clients: ExchangeClient[] = [];

/** One `threatmesh sequencer` child process and its JSON log lines. */
interface Sequencer {
  readonly proc: ChildProcess;
  readonly lines: Array<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

function start(name: string, extra: readonly string[] = [], signingKey = join(dir, 'hub.signing.pem'), mongoUri = cp.mongoUri): Sequencer {
  const args = [
    MAIN, 'sequencer', '--kubeconfig', cp.kubeconfigPath, '--namespace', ns, '--listen', '127.0.0.1:0', '--partner-id', 'hub',
    '--signing-key', signingKey, '--tls-cert', join(dir, 'hub.crt'), '--tls-key', join(dir, 'hub.key'), '--tls-ca', join(dir, 'ca.pem'),
    '--mongodb-uri', mongoUri, '--database', database, '--quorum', '2', '--metrics-bind', '127.0.0.1:0', ...extra,
  ];
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  const { lines, text } = collectJsonLines(proc.stderr, { child: name });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const s: Sequencer = { proc, lines, exited, stderr: text };
  children.push(s);
  return s;
}

async function logged(s: Sequencer, msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const line = await eventually(() => Promise.resolve(s.lines.find((l) => l['msg'] === msg)), (l) => l !== undefined || s.proc.exitCode !== null, timeoutMs);
  assert.ok(line !== undefined, `no ${JSON.stringify(msg)} line (exit code ${String(s.proc.exitCode)}); stderr:\n${s.stderr()}`);
  return line;
}

function client(id: Id, port: number): ExchangeClient {
  const c = new ExchangeClient({ address: `127.0.0.1:${port}`, tls: tls[id], serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 50, capMs: 200 } });
  clients.push(c);
  return c;
}

function partnerNode(id: Id, endpoint = `${id}.partners.example:8444`): PartnerNode {
  return {
    apiVersion: 'threatmesh.io/v1alpha1', kind: 'PartnerNode', metadata: { name: id, namespace: ns },
    spec: { partnerId: id, organization: `${id} org`, endpoint, publicKey: keys[id].publicKey.toRawBase64(), roles: ROLES[id] },
  };
}

async function admit(port: number, indicator: Indicator): Promise<VoteResult> {
  const ack = await client('alpha', port).propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(indicator), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', indicator) });
  assert.equal(ack.status, 'opened');
  const vote = (id: 'alpha' | 'bravo'): ReturnType<typeof signVote> => signVote(keys[id], { partnerId: id, digest: ack.subject, decision: 'approve', signedAt: new Date().toISOString() });
  assert.equal((await client('alpha', port).vote(vote('alpha'))).status, 'counted');
  return client('bravo', port).vote(vote('bravo'));
}

async function metrics(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

async function stop(s: Sequencer, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  s.proc.kill(signal);
  return s.exited;
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv());
  admin = new KubeHttpClient(await loadKubeconfig(cp.kubeconfigPath), { requestTimeoutMs: 15_000 });
  await admin.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const crds: KubeObject[] = [];
  for (const f of (await readdir(join(ROOT, 'crds'))).filter((n) => n.endsWith('.yaml'))) crds.push(...parseManifests(await readFile(join(ROOT, 'crds', f), 'utf8'), f));
  await applyManifests(admin, crds, 'sequencer-cli-test');
  dir = await mkdtemp(join(tmpdir(), 'tm-seqcli-'));
  ca = await createTestCa('threatmesh-seqcli-network');
  await writeFile(join(dir, 'ca.pem'), ca.caPem);
  for (const id of Object.keys(ROLES) as Id[]) {
    keys[id] = SigningKey.generate();
    tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
  }
  await writeFile(join(dir, 'hub.crt'), tls.hub.certPem);
  await writeFile(join(dir, 'hub.key'), tls.hub.keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'hub.signing.pem'), keys.hub.toPem(), { mode: 0o600 });
  await writeFile(join(dir, 'impostor.signing.pem'), SigningKey.generate().toPem(), { mode: 0o600 });
  for (const id of ['hub', 'alpha', 'bravo', 'charlie'] as const) await admin.create(PARTNER_NODES, partnerNode(id, id === 'hub' ? '127.0.0.1:8443' : undefined));
});

after(async () => {
  for (const c of clients) c.close();
  for (const s of children) if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
  await Promise.all(children.map((s) => s.exited));
  await disposeTestBed({ cp, admin, namespace: ns, ca, dir, databases: [database] });
});

describe('threatmesh sequencer', () => {
  let single: Sequencer;
  let port = 0;
  let treeRoot = '';

  test('a --signing-key that is not the sequencer PartnerNode\'s key refuses to start, saying so', async () => {
    const wrong = start('impostor', [], join(dir, 'impostor.signing.pem'));
    assert.equal(await wrong.exited, 1);
    assert.match(wrong.stderr(), /threatmesh: the sequencer PartnerNode for hub in namespace seqcli-\w+ publishes public key \S+, but --signing-key has public key \S+; partners would refuse every tree head/);
  });

  test('serves over mutual TLS: a proposal approved by two voters is in a tree head signed by the sequencer key', async () => {
    single = start('single');
    const serving = await logged(single, 'sequencer serving');
    assert.deepEqual([serving['address'], serving['treeSize']], ['127.0.0.1', 0]);
    port = Number(serving['port']);
    const done = await admit(port, { type: 'domain', value: 'c2.seqcli.example' });
    assert.deepEqual([done.status, done.logIndex], ['approved', 0]);
    const head = await client('charlie', port).treeHead();
    assert.equal(head.treeSize, 1);
    assert.ok(verifyTreeHead(keys.hub.publicKey, head), 'the tree head verifies with the key the sequencer PartnerNode publishes');
    treeRoot = head.rootHash;
    const streamed: number[] = [];
    for await (const e of client('charlie', port).entries(0, 1)) if (e.ok) streamed.push(e.entry.index);
    assert.deepEqual(streamed, [0]);
    const metricsPort = Number((await logged(single, 'serving metrics and health'))['port']);
    const text = await metrics(metricsPort);
    // The stream encoded the entry once (a miss); nothing was behind the entry cache; one append woke the waiters once.
    assert.match(text, /^threatmesh_sequencer_fanout_messages_total\{result="miss"\} 1$/m);
    assert.match(text, /^threatmesh_sequencer_fanout_messages_total\{result="hit"\} 0$/m);
    assert.match(text, /^threatmesh_sequencer_store_pages_total\{result="read"\} 0$/m);
    assert.match(text, /^threatmesh_sequencer_head_wakes_total 1$/m);
    assert.match(text, /^threatmesh_sequencer_head_wakes_coalesced_total 0$/m);
    assert.match(text, /^threatmesh_sequencer_slow_stream_drops_total 0$/m);
    assert.match(text, /^threatmesh_sequencer_tree_size 1$/m);
    assert.match(text, /^threatmesh_sequencer_proposals_total\{status="opened"\} 1$/m);
    assert.match(text, /^threatmesh_sequencer_votes_total\{status="approved"\} 1$/m);
    assert.match(text, /^threatmesh_sequencer_rounds_closed_total\{kind="add",outcome="admitted"\} 1$/m);
    assert.match(text, /^threatmesh_sequencer_rounds_closed_total\{kind="add",outcome="rejected"\} 0$/m);
    assert.match(text, /^threatmesh_sequencer_serving 1$/m);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status, 200);
  });

  test('a PartnerNode applied while running can call at once; a partner id claimed with another key is skipped with a warning until fixed', async () => {
    const delta = client('delta', port);
    const err = await delta.treeHead().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ExchangeCallError && err.code === grpc.status.PERMISSION_DENIED && err.reason === 'unknown-partner', String(err));
    await admin.create(PARTNER_NODES, partnerNode('delta'));
    const head = await eventually(() => delta.treeHead().catch(() => undefined), (h) => h !== undefined);
    assert.equal(head?.rootHash, treeRoot);
    const i: Indicator = { type: 'domain', value: 'delta.seqcli.example' };
    const ack = await delta.propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(i), proposerId: 'delta', signature: signProposal(keys.delta, 'add', i) });
    assert.equal(ack.status, 'opened');
    assert.ok(single.lines.some((l) => l['msg'] === 'partner directory changed' && (l['added'] as string[] | undefined)?.includes('delta')));
    assert.match(await metrics(Number((await logged(single, 'serving metrics and health'))['port'])), /^threatmesh_sequencer_pending_rounds 1$/m);

    const alpha = client('alpha', port);
    await admin.create(PARTNER_NODES, { ...partnerNode('alpha'), metadata: { name: 'alpha-clash', namespace: ns }, spec: { ...partnerNode('alpha').spec, publicKey: SigningKey.generate().publicKey.toRawBase64() } });
    const refused = await eventually(() => alpha.treeHead().then(() => undefined, (e: unknown) => e), (e) => e instanceof ExchangeCallError);
    assert.ok(refused instanceof ExchangeCallError && refused.reason === 'unknown-partner', String(refused));
    const warning = single.lines.find((l) => l['msg'] === 'PartnerNode skipped' && l['name'] === 'alpha');
    assert.match(String(warning?.['reason']), /claimed by 2 PartnerNodes with different public keys/);
    await admin.delete(PARTNER_NODES, 'alpha-clash', ns);
    assert.equal((await eventually(() => alpha.treeHead().catch(() => undefined), (h) => h !== undefined))?.rootHash, treeRoot);
  });

  test('with --leader-elect only the Lease holder serves; SIGTERM hands the same tree to the other replica; a replica whose Lease is taken exits 1', async () => {
    assert.equal(await stop(single), 0);
    const a = start('a', ['--leader-elect', '--identity', 'replica-a']);
    const servingA = await logged(a, 'sequencer serving');
    const b = start('b', ['--leader-elect', '--identity', 'replica-b']);
    await logged(b, 'waiting for the Lease');
    const readyB = Number((await logged(b, 'serving metrics and health'))['port']);
    assert.equal((await fetch(`http://127.0.0.1:${readyB}/readyz`)).status, 500, 'the replica without the Lease is not ready');
    assert.equal(b.lines.some((l) => l['msg'] === 'sequencer serving'), false);
    const headA = await client('charlie', Number(servingA['port'])).treeHead();
    assert.equal(headA.rootHash, treeRoot);

    assert.equal(await stop(a), 0, a.stderr());
    const order = a.lines.map((l) => l['msg']).filter((m) => m === 'sequencer stopped serving' || m === 'released the lease');
    assert.deepEqual(order, ['sequencer stopped serving', 'released the lease'], 'the leader stops serving before it hands the Lease back');
    const servingB = await logged(b, 'sequencer serving');
    assert.equal(servingB['treeSize'], 1);
    const portB = Number(servingB['port']);
    const headB = await client('charlie', portB).treeHead();
    assert.deepEqual([headB.treeSize, headB.rootHash], [headA.treeSize, headA.rootHash]);
    assert.equal((await admit(portB, { type: 'domain', value: 'after-handover.seqcli.example' })).logIndex, 1, 'the new leader extends the same log');

    const lease = await admin.get<Lease>(leaseResource, SEQUENCER_LEASE_NAME, ns);
    assert.equal(lease?.spec?.holderIdentity, 'replica-b');
    await admin.update<Lease>(leaseResource, { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', leaseDurationSeconds: 3600 } });
    assert.equal(await b.exited, 1);
    assert.match(b.stderr(), /threatmesh: lost the Lease: another replica serves now/);
  });

  // Chaos run 2026-12-07 (seed 7122026, trial 3): the standby won while the sequencer's database
  // link was cut and exited 1, which the supervisor counts as a crash.
  test('a replica that wins the Lease while its database does not answer waits for it with backoff and serves once it answers, without exiting', async () => {
    const mongo = new URL(cp.mongoUri);
    // The test before leaves the Lease to an intruder for an hour.
    await admin.delete(leaseResource, SEQUENCER_LEASE_NAME, ns);
    const link = await startLink('replica-d→mongodb', () => [Number(mongo.port)]);
    try {
      const c = start('c', ['--leader-elect', '--identity', 'replica-c']);
      await logged(c, 'sequencer serving');
      const viaLink = new URL(cp.mongoUri);
      viaLink.port = String(link.port);
      const d = start('d', ['--leader-elect', '--identity', 'replica-d'], undefined, viaLink.toString());
      await logged(d, 'waiting for the Lease');
      link.set('blackhole');
      assert.equal(await stop(c), 0, c.stderr());
      const handedOver = c.lines.find((l) => l['msg'] === 'sequencer stopped serving');
      const failed = await logged(d, 'cannot serve after winning the Lease: the database does not answer; retrying with backoff', 120_000);
      assert.equal(failed['cause'], 'database-unavailable');
      assert.equal(d.proc.exitCode, null, `the replica exited while its database did not answer: ${d.stderr()}`);
      link.set('up');
      const serving = await logged(d, 'sequencer serving', 120_000);
      assert.equal(serving['treeSize'], handedOver?.['treeSize'], 'it serves the tree the other replica handed over');
      assert.equal(d.proc.exitCode, null);
    } finally {
      await link.close();
    }
  });
});

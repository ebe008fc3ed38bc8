/**
 * `threatmesh revoke` end to end: a sequencer over mutual TLS with its log on a real MongoDB-wire
 * server, and the CLI run as child processes (`node operator/src/main.ts revoke …`) by partners
 * holding their own certificates and signing keys. An admitted indicator named by object name
 * gets a REVOKE round with the proposer's approve vote carrying the reason; asking again is
 * already-pending; a second voter completes it and the REVOKE entry keeps the reason. Revoking
 * again (not-active), a value never admitted (not-admitted), an unknown name, a consumer-only
 * partner, and a contributor without the voter role each get a clear answer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import { indicatorCanonicalJson, indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { signProposal, voteSubject } from '../../operator/src/domain/entry.ts';
import { LOG_ENTRIES } from '../../operator/src/store/log.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { startTestSequencer, type TestPartner, type TestSequencer } from '../harness/sequencer.ts';
import { runCli, type CliRun } from '../harness/cli.ts';

const REASON = 'sinkholed by the registrar since May';

let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let net: TestSequencer;
const clients: ExchangeClient[] = [];

function cli(args: readonly string[]): Promise<CliRun> {
  return runCli(args, { timeout: 60_000 });
}

function partner(id: string): TestPartner {
  const p = net.partners.get(id);
  assert.ok(p !== undefined, `no partner ${id}`);
  return p;
}

function client(id: string): ExchangeClient {
  const c = new ExchangeClient({ address: net.address, tls: partner(id).tls, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
  clients.push(c);
  return c;
}

function revokeArgs(id: string, query: string, extra: readonly string[] = []): string[] {
  const f = partner(id).files;
  return ['revoke', query, '--reason', REASON, '--partner-id', id, '--signing-key', f.signingKey, '--sequencer', net.address, '--server-name', 'localhost',
    '--tls-cert', f.tlsCert, '--tls-key', f.tlsKey, '--tls-ca', f.tlsCa, '--timeout', '15000', ...extra];
}

/** Proposes `ind` as alpha and admits it with alpha's and bravo's approvals; returns its log index. */
async function admit(ind: Indicator): Promise<number> {
  const ack = await client('alpha').propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(ind), proposerId: 'alpha', signature: signProposal(partner('alpha').key, 'add', ind) });
  assert.equal(ack.status, 'opened');
  let logIndex: number | undefined;
  for (const id of ['alpha', 'bravo']) {
    const r = await client(id).vote(signVote(partner(id).key, { partnerId: id, digest: ack.subject, decision: 'approve', signedAt: new Date().toISOString() }));
    logIndex = r.logIndex;
  }
  assert.ok(logIndex !== undefined, 'admitted');
  return logIndex;
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  db = mongo.db(`tm_revoke_${uniqueSuffix()}`);
  net = await startTestSequencer(db, { alpha: ['contributor', 'voter'], bravo: ['voter'], charlie: ['voter'], delta: ['consumer'], echo: ['contributor'] }, 2);
});

after(async () => {
  for (const c of clients) c.close();
  await net?.stop();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await cp?.stop();
});

describe('threatmesh revoke over mutual TLS', () => {
  const evil: Indicator = { type: 'domain', value: 'c2.revoke-cli.example' };
  const ip: Indicator = { type: 'ipv4', value: '203.0.113.91' };
  const subject = voteSubject('revoke', indicatorDigest(evil));

  test('revoking an admitted indicator by object name opens a round with the proposer\'s approve vote', async () => {
    await admit(evil);
    const run = await cli(revokeArgs('alpha', indicatorObjectName(evil)));
    assert.equal(run.code, 0, run.stderr);
    const [head, vote] = run.stdout.trimEnd().split('\n');
    assert.equal(head!.replace(/closes at \S+$/, 'closes at T'), `revocation of ${indicatorObjectName(evil)} (domain ${evil.value}) opened: round ${subject}, voting closes at T`);
    assert.match(vote!, /^approve vote with the reason counted \(1 approve, 0 reject, 2 required\)/);
    const pending = (await client('charlie').listPending()).filter((r) => r.digest === indicatorDigest(evil));
    assert.deepEqual(pending.map((r) => [r.kind, r.subject, r.proposerId, r.tally?.approvals]), [['revoke', subject, 'alpha', 1]]);
  });

  test('asking again by value says already pending and counts nothing twice', async () => {
    const run = await cli(revokeArgs('alpha', evil.value));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^revocation of domain-[0-9a-f]+ \(domain c2\.revoke-cli\.example\) was already pending: round [0-9a-f]{64}/);
    assert.match(run.stdout, /\nthis partner had already voted on this round \(1 approve, 0 reject, 2 required\); nothing changed\n$/);
  });

  test('a second voter completes the revocation; the REVOKE entry keeps the reason in the proposer\'s vote', async () => {
    const vote = await cli(['vote', 'approve', subject, '--partner-id', 'bravo', '--signing-key', partner('bravo').files.signingKey, '--sequencer', net.address, '--server-name', 'localhost',
      '--tls-cert', partner('bravo').files.tlsCert, '--tls-key', partner('bravo').files.tlsKey, '--tls-ca', partner('bravo').files.tlsCa]);
    assert.equal(vote.code, 0, vote.stderr);
    assert.match(vote.stdout, /quorum reached \(2 approve, 0 reject, 2 required\): approved, log index 1/);
    const entry = await db.collection(LOG_ENTRIES).findOne({ digest: indicatorDigest(evil), kind: 'revoke' });
    assert.ok(entry !== null, 'the REVOKE entry is in the log');
    assert.equal(entry['index'], 1);
    const votes = entry['votes'] as Array<Record<string, string>>;
    assert.deepEqual(votes.map((v) => [v['partnerId'], v['digest'], v['reason']]).sort(), [['alpha', subject, REASON], ['bravo', subject, undefined]]);
  });

  test('revoking it again is refused by the sequencer: not active', async () => {
    const run = await cli(revokeArgs('alpha', indicatorDigest(evil)));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^threatmesh: the sequencer at 127\.0\.0\.1:\d+ refused the revocation \(not-active\): cannot revoke domain "c2\.revoke-cli\.example": it is not active, it was already revoked at log index 1; propose an ADD to admit it again/);
    assert.equal(run.stdout, '');
  });

  test('a value that was never admitted: not-admitted with --type, not found without', async () => {
    const typed = await cli(revokeArgs('alpha', 'Never.Admitted.example', ['--type', 'domain']));
    assert.equal(typed.code, 1);
    assert.match(typed.stderr, /refused the revocation \(not-admitted\): cannot revoke domain "never\.admitted\.example": it is not in the log\. Only admitted \(Approved\) indicators can be revoked/);
    const named = await cli(revokeArgs('alpha', 'domain-0000000000000000000000000000000000000000'));
    assert.equal(named.code, 1);
    assert.match(named.stderr, /no indicator named "domain-0{40}" in the sequencer's log at 127\.0\.0\.1:\d+ \(2 entries\): only admitted indicators can be revoked/);
  });

  test('a consumer-only partner may not propose: missing-role, with the role to grant', async () => {
    await admit(ip);
    const run = await cli(revokeArgs('delta', ip.value));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /refused the revocation \(missing-role\).*contributor role/);
  });

  test('a contributor without the voter role opens the round; its approve vote is refused and reported (--json)', async () => {
    const run = await cli(revokeArgs('echo', indicatorObjectName(ip), ['--json']));
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual({ name: out['name'], value: out['value'], status: out['status'], subject: out['subject'] }, { name: indicatorObjectName(ip), value: ip.value, status: 'opened', subject: voteSubject('revoke', indicatorDigest(ip)) });
    assert.deepEqual((out['vote'] as Record<string, unknown>)['status'], 'refused');
    assert.equal((out['vote'] as Record<string, unknown>)['reason'], 'missing-role');
    const round = (await client('alpha').listPending()).find((r) => r.digest === indicatorDigest(ip));
    assert.deepEqual([round?.kind, round?.proposerId, round?.tally?.approvals], ['revoke', 'echo', 0]);
  });
});

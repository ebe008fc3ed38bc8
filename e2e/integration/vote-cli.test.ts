/**
 * `threatmesh vote` end to end: a sequencer over mutual TLS with its log on a real MongoDB-wire
 * server, and the CLI run as child processes (`node operator/src/main.ts vote …`) by partners
 * holding their own certificates and signing keys. Two voters' approvals admit a proposal into
 * the log; a consumer-only partner is refused; unknown names and an unreachable sequencer
 * give clear messages and exit code 1. The automatic voter follows a policy parsed from YAML, and
 * a manual policy leaves rounds to the analyst.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { MongoClient, type Db } from 'mongodb';
import { indicatorCanonicalJson, indicatorDigest, indicatorObjectName } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { signProposal } from '../../operator/src/domain/entry.ts';
import { parseVotingPolicy, roundJudge } from '../../operator/src/exchange/partner/policy.ts';
import { AutoVoter } from '../../operator/src/exchange/partner/voter.ts';
import { loadWarningLists } from '../../operator/src/feeds/warninglists.ts';
import { createLogger } from '../../operator/src/log.ts';
import { PassThrough } from 'node:stream';
import { LOG_ENTRIES } from '../../operator/src/store/log.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { startTestSequencer, type TestPartner, type TestSequencer } from '../harness/sequencer.ts';
import { runCli, type CliRun } from '../harness/cli.ts';


let cp: ControlPlane;
let mongo: MongoClient;
let db: Db;
let net: TestSequencer;
const clients: ExchangeClient[] = [];

function cli(args: readonly string[]): Promise<CliRun> {
  return runCli(args, { timeout: 60_000 });
}

function client(id: string): ExchangeClient {
  const c = new ExchangeClient({ address: net.address, tls: partner(id).tls, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
  clients.push(c);
  return c;
}

function partner(id: string): TestPartner {
  const p = net.partners.get(id);
  assert.ok(p !== undefined, `no partner ${id}`);
  return p;
}

function connection(id: string, address = net.address): string[] {
  const f = partner(id).files;
  return ['--sequencer', address, '--server-name', 'localhost', '--tls-cert', f.tlsCert, '--tls-key', f.tlsKey, '--tls-ca', f.tlsCa, '--timeout', '15000'];
}

function voteArgs(id: string, decision: 'approve' | 'reject', query: string, extra: readonly string[] = []): string[] {
  return ['vote', decision, query, '--partner-id', id, '--signing-key', partner(id).files.signingKey, ...connection(id), ...extra];
}

async function propose(ind: Indicator): Promise<string> {
  const alpha = partner('alpha');
  const ack = await client('alpha').propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(ind), proposerId: 'alpha', signature: signProposal(alpha.key, 'add', ind) });
  assert.equal(ack.status, 'opened');
  return ack.subject;
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const address = srv.address();
  assert.ok(address !== null && typeof address === 'object');
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return address.port;
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  db = mongo.db(`tm_vote_${uniqueSuffix()}`);
  net = await startTestSequencer(db, { alpha: ['contributor', 'voter'], bravo: ['voter'], charlie: ['voter'], delta: ['consumer'] }, 2);
});

after(async () => {
  for (const c of clients) c.close();
  await net?.stop();
  await db?.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await cp?.stop();
});

describe('threatmesh vote over mutual TLS', () => {
  const evil: Indicator = { type: 'domain', value: 'c2.vote-cli.example' };

  test('vote list shows the pending proposal by object name', async () => {
    await propose(evil);
    const text = await cli(['vote', 'list', ...connection('alpha')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^NAME\s+KIND\s+VALUE\s+PROPOSER\s+SIGNED METADATA\s+VOTES\s+CLOSES\n/);
    assert.match(text.stdout, / alpha\s+-\s+0\/2 approve, 0 reject /);
    assert.ok(text.stdout.includes(indicatorObjectName(evil)) && text.stdout.includes(evil.value), text.stdout);
    const json = await cli(['vote', 'list', ...connection('bravo'), '--json']);
    assert.equal(json.code, 0, json.stderr);
    const views = JSON.parse(json.stdout) as Array<{ name: string; digest: string; proposer: string; approvals: number; required: number }>;
    assert.deepEqual(views.map((v) => [v.name, v.digest, v.proposer, v.approvals, v.required]), [[indicatorObjectName(evil), indicatorDigest(evil), 'alpha', 0, 2]]);
  });

  test('a consumer-only partner is refused with PERMISSION_DENIED, clearly', async () => {
    const run = await cli(voteArgs('delta', 'approve', indicatorObjectName(evil)));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^threatmesh: the sequencer at 127\.0\.0\.1:\d+ refused: PERMISSION_DENIED \(missing-role\)/);
    assert.match(run.stderr, /voter role/);
    assert.equal(run.stdout, '');
  });

  test('an unknown name exits 1 and lists the closest pending proposals', async () => {
    const run = await cli(voteArgs('bravo', 'approve', 'domain-0000000000000000000000000000000000000000'));
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no pending proposal named "domain-0{40}" on the sequencer at 127\.0\.0\.1:\d+; the closest pending ones are:/);
    assert.ok(run.stderr.includes(indicatorObjectName(evil)), run.stderr);
    assert.match(run.stderr, /threatmesh vote list/);
  });

  test('an unreachable sequencer names the address and points at --tls-ca', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const run = await cli(['vote', 'list', ...connection('alpha', address)]);
    assert.equal(run.code, 1);
    assert.ok(run.stderr.includes(`cannot reach the sequencer at ${address}`), run.stderr);
    assert.match(run.stderr, /--tls-ca/);
  });

  test('two voters approve by name and by digest: quorum reached, the entry is in the log with both votes', async () => {
    const first = await cli(voteArgs('alpha', 'approve', indicatorObjectName(evil)));
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^approve vote on domain-[0-9a-f]{40} \(c2\.vote-cli\.example\) accepted; quorum not reached yet \(1 approve, 0 reject, 2 required\)\n$/);
    const counted = await cli(['vote', 'list', ...connection('bravo')]);
    assert.match(counted.stdout, / alpha\s+-\s+1\/2 approve, 0 reject /);
    const second = await cli(voteArgs('bravo', 'approve', indicatorDigest(evil), ['--reason', 'seen in our proxy logs', '--json']));
    assert.equal(second.code, 0, second.stderr);
    const outcome = JSON.parse(second.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { status: outcome['status'], quorumReached: outcome['quorumReached'], approvals: outcome['approvals'], required: outcome['required'], logIndex: outcome['logIndex'] },
      { status: 'approved', quorumReached: true, approvals: 2, required: 2, logIndex: 0 },
    );
    const entry = await db.collection(LOG_ENTRIES).findOne({ digest: indicatorDigest(evil) });
    assert.ok(entry !== null, 'the approved indicator is in the log');
    assert.deepEqual(entry['indicator'], evil);
    const votes = entry['votes'] as Array<Record<string, string>>;
    assert.deepEqual(votes.map((v) => v['partnerId']).sort(), ['alpha', 'bravo']);
    assert.equal(votes.find((v) => v['partnerId'] === 'bravo')?.['reason'], 'seen in our proxy logs');
    const left = await cli(['vote', 'list', ...connection('alpha')]);
    assert.equal(left.stdout, 'no proposals are pending\n');
  });

  test('a reject vote is counted and reported', async () => {
    const other: Indicator = { type: 'ipv4', value: '203.0.113.77' };
    await propose(other);
    const run = await cli(voteArgs('charlie', 'reject', other.value, ['--reason', 'benign scanner']));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^reject vote on ipv4-[0-9a-f]{40} \(203\.0\.113\.77\) accepted; quorum not reached yet \(0 approve, 1 reject, 2 required\)\n$/);
  });

  test('the automatic voter follows the partner policy from YAML; a manual policy sends nothing', async () => {
    // Not under .example: special-use names are on a warning list and would be rejected.
    const kept: Indicator = { type: 'domain', value: 'auto-vote-cli-c2.net' };
    const popular: Indicator = { type: 'domain', value: 'www.google.com' };
    await propose(kept);
    await propose(popular);
    const directory = ['alpha', 'bravo', 'charlie', 'delta'].map((id) => ({ partnerId: id, publicKey: partner(id).key.publicKey, roles: [] }));
    const warningList = await loadWarningLists();
    const voter = (id: string, yaml: string): AutoVoter => new AutoVoter({
      partnerId: id, key: partner(id).key, client: client(id), partners: directory, now: () => new Date(), log: createLogger(new PassThrough(), 'error'),
      policy: roundJudge(parseVotingPolicy(yaml), { warningList, corroborated: () => false }),
    });
    assert.equal(await voter('charlie', 'mode: manual\n').voteOnce(), 0, 'manual mode leaves every round to an analyst');
    assert.ok(await voter('bravo', 'mode: automatic\nwarningLists: true\nallowTypes: [domain, ipv4]\n').voteOnce() >= 2);
    const list = await cli(['vote', 'list', ...connection('alpha'), '--json']);
    const tally = new Map((JSON.parse(list.stdout) as Array<{ value: string; approvals: number; rejections: number }>).map((v) => [v.value, [v.approvals, v.rejections]]));
    assert.deepEqual(tally.get(kept.value), [1, 0], list.stdout);
    assert.deepEqual(tally.get(popular.value), [0, 1], 'www.google.com is on the top-domain warning list');
    const entry = await db.collection(LOG_ENTRIES).findOne({ digest: indicatorDigest(kept) });
    assert.equal(entry, null, 'one approval is not a quorum');
  });
});

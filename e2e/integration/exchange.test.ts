/**
 * The partner exchange end to end in one process: a sequencer behind real gRPC with mutual
 * TLS on 127.0.0.1 (certificates from a CA made at run time), three partners that propose,
 * vote and replicate into their own databases on a real MongoDB-wire server, and every
 * refusal the protocol promises: unknown CA, wrong role, forged and replayed votes, tampered
 * proposals, entries edited after signing, forked tree heads, restarts from the cursor.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:net';
import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { MongoClient, type Db } from 'mongodb';
import { indicatorCanonicalJson, indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote, type Vote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger, type Logger } from '../../operator/src/log.ts';
import { ExchangeClient, ExchangeCallError } from '../../operator/src/exchange/protocol/client.ts';
import { metaJson, signProposal, type EntryKind, type IndexedEntry, type IndicatorMeta } from '../../operator/src/domain/entry.ts';
import { ExchangeRefusal as ExchangeRefusalError } from '../../operator/src/exchange/protocol/errors.ts';
import { PartnerReplica, ReplicationHalted } from '../../operator/src/exchange/partner/replica.ts';
import { roundJudge } from '../../operator/src/exchange/partner/policy.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { SequencerStateError } from '../../operator/src/exchange/sequencer/log.ts';
import { type ProposalInput } from '../../operator/src/exchange/protocol/messages.ts';
import { AutoVoter } from '../../operator/src/exchange/partner/voter.ts';
import { startExchangeServer, type ExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import type { PartnerEntry, TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink, type IndicatorRecord } from '../../operator/src/store/indicators.ts';
import { LOG_ENTRIES, MongoLogStore, StoredEntryError } from '../../operator/src/store/log.ts';
import { MongoRoundStore, PENDING_ROUNDS, PENDING_VOTES } from '../../operator/src/store/rounds.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { controlPlaneOptionsFromEnv, uniqueSuffix } from '../harness/env.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';

type PartnerId = 'alpha' | 'bravo' | 'charlie' | 'delta';
const IDS: readonly PartnerId[] = ['alpha', 'bravo', 'charlie', 'delta'];
const ROLES: Readonly<Record<PartnerId, PartnerEntry['roles']>> = {
  alpha: ['contributor', 'voter'], bravo: ['contributor', 'voter'], charlie: ['voter'], delta: ['consumer'],
};
const QUORUM = 2;

let cp: ControlPlane;
let mongo: MongoClient;
let ca: TestCa;
let rogueCa: TestCa;
const dbs: Db[] = [];
const suffix = uniqueSuffix();
const keys = Object.fromEntries(IDS.map((id) => [id, SigningKey.generate()])) as Record<PartnerId, SigningKey>;
const directoryEntries: PartnerEntry[] = IDS.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ROLES[id] }));
const tls = {} as Record<PartnerId | 'sequencer', TlsMaterial>;
const logLines: string[] = [];
const closers: Array<() => Promise<void> | void> = [];

function logger(): Logger {
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter((l) => l !== '')));
  return createLogger(out, 'debug');
}

function db(name: string): Db {
  const d = mongo.db(`tm_x_${suffix}_${name}`);
  dbs.push(d);
  return d;
}

/** A sequencer with its own database and gRPC endpoint. */
interface Network {
  readonly sequencer: Sequencer;
  readonly server: ExchangeServer;
  readonly key: SigningKey;
  readonly db: Db;
  client(id: PartnerId, material?: TlsMaterial): ExchangeClient;
}

async function startNetwork(name: string, key = SigningKey.generate(), partners: readonly PartnerEntry[] = directoryEntries, entryCacheSize?: number): Promise<Network> {
  const d = db(`seq_${name}`);
  const sequencer = await Sequencer.open({ store: await MongoLogStore.open(d), key, partners, quorum: QUORUM, now: () => new Date(), log: logger(), ...(entryCacheSize !== undefined ? { entryCacheSize } : {}) });
  const server = await startExchangeServer({ sequencer, directory: new Map(partners.map((p) => [p.partnerId, p])), tls: tls.sequencer, address: '127.0.0.1:0', log: logger() });
  closers.push(() => server.stop());
  return {
    sequencer, server, key, db: d,
    client: (id, material = tls[id]) => {
      const c = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: material, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
      closers.push(() => c.close());
      return c;
    },
  };
}

async function replica(net: Network, id: PartnerId, dbName: string, sequencerKey = net.key): Promise<{ replica: PartnerReplica; sink: MongoIndicatorSink; cursors: MongoCursorStore }> {
  const d = mongo.db(`tm_x_${suffix}_${dbName}`);
  if (!dbs.includes(d)) dbs.push(d);
  const sink = await MongoIndicatorSink.open(d);
  const cursors = new MongoCursorStore(d);
  const r = new PartnerReplica({
    sourceId: 'sequencer', source: net.client(id), sink, cursors,
    anchors: { sequencerKey: sequencerKey.publicKey, partners: directoryEntries, quorum: QUORUM }, now: () => new Date(), log: logger(),
  });
  return { replica: r, sink, cursors };
}

function ind(value: string): Indicator {
  return { type: 'domain', value };
}

function vote(id: PartnerId, subject: string, key: SigningKey = keys[id]): Vote {
  return signVote(key, { partnerId: id, digest: subject, decision: 'approve', signedAt: new Date().toISOString() });
}

/** alpha proposes, alpha and bravo approve: returns the log index. */
async function admit(net: Network, indicator: Indicator, kind: EntryKind = 'add'): Promise<number> {
  const alpha = net.client('alpha');
  const ack = await alpha.propose({ kind, indicatorJson: indicatorCanonicalJson(indicator), proposerId: 'alpha', signature: signProposal(keys.alpha, kind, indicator) });
  assert.equal(ack.status, 'opened');
  assert.equal((await alpha.vote(vote('alpha', ack.subject))).status, 'counted');
  const done = await net.client('bravo').vote(vote('bravo', ack.subject));
  assert.equal(done.status, 'approved');
  return done.logIndex ?? -1;
}

async function refusal(p: Promise<unknown>): Promise<ExchangeCallError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ExchangeCallError, `expected an ExchangeCallError, got ${String(err)}`);
  return err;
}

async function halt(p: Promise<unknown>): Promise<ReplicationHalted> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ReplicationHalted, `expected ReplicationHalted, got ${String(err)}`);
  return err;
}

function shape(records: readonly IndicatorRecord[]): string[] {
  return records.map((r) => `${r.logIndex} ${r.digest} ${r.type} ${r.value} ${r.state}`);
}

before(async () => {
  cp = await startControlPlane(controlPlaneOptionsFromEnv({ kube: false }));
  mongo = new MongoClient(cp.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  await mongo.connect();
  ca = await createTestCa('threatmesh-test-network');
  rogueCa = await createTestCa('threatmesh-rogue');
  for (const id of [...IDS, 'sequencer'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
});

after(async () => {
  for (const close of closers.reverse()) await close();
  for (const d of dbs) await d.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await ca?.dispose();
  await rogueCa?.dispose();
  await cp?.stop();
});

describe('partner exchange over mutual TLS', () => {
  let net: Network;
  const partners = {} as Record<'alpha' | 'bravo' | 'charlie', Awaited<ReturnType<typeof replica>>>;

  before(async () => {
    net = await startNetwork('main');
    for (const id of ['alpha', 'bravo', 'charlie'] as const) partners[id] = await replica(net, id, `partner_${id}`);
  });

  test('approved proposals reach every partner: identical indicator sets, equal tree size and root', async () => {
    const values = ['one.evil.example', 'two.evil.example', 'three.evil.example', 'four.evil.example'];
    const indexes = [];
    for (const v of values) indexes.push(await admit(net, ind(v)));
    assert.deepEqual(indexes, [0, 1, 2, 3]);
    const results = await Promise.all(Object.values(partners).map((p) => p.replica.sync()));
    for (const r of results) assert.deepEqual({ applied: r.applied, treeSize: r.treeSize, caughtUp: r.caughtUp }, { applied: 4, treeSize: 4, caughtUp: true });
    assert.equal(new Set(results.map((r) => r.rootHash)).size, 1);
    const sets = await Promise.all(Object.values(partners).map(async (p) => shape(await p.sink.all())));
    assert.equal(sets[0]!.length, 4);
    assert.deepEqual(sets[1], sets[0]);
    assert.deepEqual(sets[2], sets[0]);
    assert.equal((await partners.alpha.sink.all())[0]!.votes.length, 2);
  });

  test('re-proposing an admitted indicator is acknowledged without a new round', async () => {
    const i = ind('one.evil.example');
    const ack = await net.client('bravo').propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(i), proposerId: 'bravo', signature: signProposal(keys.bravo, 'add', i) });
    assert.equal(ack.status, 'already-admitted');
    assert.equal(ack.logIndex, 0);
    assert.equal(net.sequencer.pending().length, 0);
  });

  test('a client certificate from an unknown CA is refused at the TLS handshake', async () => {
    const rogue: TlsMaterial = { caPem: ca.caPem, ...(await rogueCa.issue('alpha')) };
    const i = ind('rogue.evil.example');
    const err = await refusal(net.client('alpha', rogue).propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(i), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', i) }));
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.equal(net.sequencer.pending().length, 0);
  });

  test('roles are enforced: a consumer may read but not vote or propose', async () => {
    const delta = net.client('delta');
    assert.equal((await delta.treeHead()).treeSize, net.sequencer.size);
    const voteErr = await refusal(delta.vote(vote('delta', 'a'.repeat(64))));
    assert.deepEqual([voteErr.code, voteErr.reason], [grpc.status.PERMISSION_DENIED, 'missing-role']);
    assert.match(voteErr.message, /needs the voter role/);
    const i = ind('consumer.evil.example');
    const propErr = await refusal(delta.propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(i), proposerId: 'delta', signature: signProposal(keys.delta, 'add', i) }));
    assert.deepEqual([propErr.code, propErr.reason], [grpc.status.PERMISSION_DENIED, 'missing-role']);
  });

  test('a partner cannot submit a proposal or vote in another partner\'s name', async () => {
    const i = ind('impostor.evil.example');
    const err = await refusal(net.client('alpha').propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(i), proposerId: 'bravo', signature: signProposal(keys.bravo, 'add', i) }));
    assert.deepEqual([err.code, err.reason], [grpc.status.PERMISSION_DENIED, 'identity-mismatch']);
  });

  test('a proposal whose value was changed after signing is refused', async () => {
    const signed = ind('signed.evil.example');
    const sent = ind('changed.evil.example');
    const err = await refusal(net.client('alpha').propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(sent), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', signed) }));
    assert.deepEqual([err.code, err.reason], [grpc.status.INVALID_ARGUMENT, 'bad-proposal-signature']);
    const unnormalized = await refusal(net.client('alpha').propose({ kind: 'add', indicatorJson: '{"type":"domain","value":"EVIL.example"}', proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', ind('evil.example')) }));
    assert.equal(unnormalized.reason, 'not-normalized');
    assert.equal(net.sequencer.pending().length, 0);
  });

  test('forged and replayed votes are refused, reported and not counted', async () => {
    const target = ind('contested.evil.example');
    const ack = await net.client('alpha').propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(target), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', target) });
    const bravo = net.client('bravo');
    const forged = await refusal(bravo.vote(vote('bravo', ack.subject, keys.charlie)));
    assert.deepEqual([forged.code, forged.reason], [grpc.status.INVALID_ARGUMENT, 'bad-vote-signature']);
    // bravo's genuine approval of another indicator, relabelled for this one.
    const other = vote('bravo', (await net.client('alpha').propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(ind('other.evil.example')), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', ind('other.evil.example')) })).subject);
    const replayed = await refusal(bravo.vote({ ...other, digest: ack.subject }));
    assert.equal(replayed.reason, 'bad-vote-signature');
    const unknown = await refusal(bravo.vote(vote('bravo', 'b'.repeat(64))));
    assert.deepEqual([unknown.code, unknown.reason], [grpc.status.NOT_FOUND, 'unknown-proposal']);
    const counted = await net.client('alpha').vote(vote('alpha', ack.subject));
    assert.deepEqual([counted.status, counted.approvals], ['counted', 1]);
    assert.ok(logLines.some((l) => l.includes('"reason":"bad-vote-signature"') && l.includes('"partner":"bravo"')), 'the sequencer logs the refused vote');
    const done = await bravo.vote(vote('bravo', ack.subject));
    assert.equal(done.status, 'approved');
  });

  test('batches answer each item on its own and admit through the same checks', async () => {
    const alpha = net.client('alpha');
    const fresh = [ind('batch-1.evil.example'), ind('batch-2.evil.example')];
    const sign = (i: Indicator): string => signProposal(keys.alpha, 'add', i);
    const acks = await alpha.proposeBatch([
      ...fresh.map((i) => ({ kind: 'add' as const, indicatorJson: indicatorCanonicalJson(i), proposerId: 'alpha', signature: sign(i) })),
      { kind: 'add', indicatorJson: indicatorCanonicalJson(ind('two.evil.example')), proposerId: 'alpha', signature: sign(ind('two.evil.example')) },
      { kind: 'add', indicatorJson: indicatorCanonicalJson(ind('batch-3.evil.example')), proposerId: 'alpha', signature: sign(ind('other.example')) },
    ]);
    assert.deepEqual(acks.map((a) => a.status), ['opened', 'opened', 'already-admitted', 'refused']);
    assert.equal('reason' in acks[3]! ? acks[3].reason : '', 'bad-proposal-signature');
    const subjects = acks.slice(0, 2).map((a) => ('subject' in a ? a.subject : ''));
    assert.deepEqual((await alpha.voteBatch(subjects.map((s) => vote('alpha', s)))).map((r) => r.status), ['counted', 'counted']);
    const results = await net.client('bravo').voteBatch([vote('bravo', subjects[0]!), vote('bravo', subjects[1]!, keys.charlie)]);
    assert.deepEqual(results.map((r) => r.status), ['approved', 'refused']);
    assert.equal('reason' in results[1]! ? results[1].reason : '', 'bad-vote-signature');
    const denied = await refusal(net.client('delta').voteBatch([vote('delta', subjects[1]!)]));
    assert.deepEqual([denied.code, denied.reason], [grpc.status.PERMISSION_DENIED, 'missing-role']);
    assert.equal((await net.client('bravo').voteBatch([vote('bravo', subjects[1]!)]))[0]!.status, 'approved');
  });

  test('a partner stopped during approvals resumes from its cursor with nothing lost or duplicated', async () => {
    await partners.alpha.replica.sync();
    await partners.bravo.replica.sync();
    const before = (await partners.charlie.cursors.load('sequencer'))?.nextIndex ?? 0;
    for (const v of ['late-1.evil.example', 'late-2.evil.example', 'late-3.evil.example']) await admit(net, ind(v));
    // A new process for charlie: new client, new replica object, same database.
    const restarted = await replica(net, 'charlie', 'partner_charlie');
    const r = await restarted.replica.sync();
    assert.equal(r.applied, net.sequencer.size - before);
    await partners.alpha.replica.sync();
    const all = await restarted.sink.all();
    assert.equal(all.length, net.sequencer.size);
    assert.deepEqual(shape(all), shape(await partners.alpha.sink.all()));
    assert.equal((await restarted.replica.sync()).applied, 0);
  });

  test('a revocation approved by quorum marks the indicator revoked at every partner', async () => {
    const idx = await admit(net, ind('one.evil.example'), 'revoke');
    assert.equal(idx, net.sequencer.size - 1);
    for (const p of Object.values(partners)) await p.replica.sync();
    for (const p of Object.values(partners)) {
      const rec = (await p.sink.all()).find((r) => r.value === 'one.evil.example');
      assert.equal(rec?.state, 'revoked');
      assert.equal(rec?.revokedAtIndex, idx);
    }
  });
});

describe('a partner detects a dishonest or damaged sequencer', () => {
  test('an entry modified in the sequencer database after signing halts the partner; the sequencer refuses to restart on it', async () => {
    // No entry cache: the endpoint serves what the database holds, as after a restart or for old entries.
    const net = await startNetwork('tamper', SigningKey.generate(), directoryEntries, 0);
    await admit(net, ind('first.evil.example'));
    const p = await replica(net, 'alpha', 'tamper_alpha');
    await p.replica.sync();
    await admit(net, ind('second.evil.example'));
    await net.sequencer.treeHead();
    await net.db.collection(LOG_ENTRIES).updateOne({ index: 1 }, { $set: { 'indicator.value': 'benign.example' } });
    const h = await halt(p.replica.sync());
    assert.deepEqual([h.reason, h.index], ['tampered-entry', 1]);
    assert.equal((await halt(p.replica.sync())).reason, 'tampered-entry', 'the halt persists');
    assert.equal((await p.sink.all()).length, 1, 'nothing from the tampered entry was applied');
    await assert.rejects(
      Sequencer.open({ store: await MongoLogStore.open(net.db), key: net.key, partners: directoryEntries, quorum: QUORUM, now: () => new Date(), log: logger() }),
      (err: unknown) => err instanceof SequencerStateError && /log_entries was modified/.test(err.message),
    );
  });

  test('a forked history (same sequencer key, different entries) is detected by consistency', async () => {
    const key = SigningKey.generate();
    const honest = await startNetwork('fork_a', key);
    const forked = await startNetwork('fork_b', key);
    await admit(honest, ind('a.evil.example'));
    await admit(honest, ind('b.evil.example'));
    await admit(forked, ind('x.evil.example'));
    await admit(forked, ind('y.evil.example'));
    await admit(forked, ind('z.evil.example'));
    const p = await replica(honest, 'bravo', 'fork_bravo');
    assert.equal((await p.replica.sync()).treeSize, 2);
    const switched = await replica(forked, 'bravo', 'fork_bravo');
    const h = await halt(switched.replica.sync());
    assert.equal(h.reason, 'fork');
    assert.equal((await p.sink.all()).length, 2);
  });

  test('partners comparing tree heads catch a sequencer that shows them different histories', async () => {
    const key = SigningKey.generate();
    const viewA = await startNetwork('split_a', key);
    const viewB = await startNetwork('split_b', key);
    await admit(viewA, ind('shown-to-a.evil.example'));
    await admit(viewB, ind('shown-to-b.evil.example'));
    await admit(viewB, ind('also-to-b.evil.example'));
    const a = await replica(viewA, 'alpha', 'split_alpha');
    const b = await replica(viewB, 'charlie', 'split_charlie');
    await a.replica.sync();
    await b.replica.sync();
    const headA = (await a.replica.cursor()).head!;
    // Each view is internally consistent; only the comparison reveals the split.
    assert.equal((await halt(b.replica.compareWithPeer(headA))).reason, 'fork');
    assert.equal((await b.replica.cursor()).halted?.reason, 'fork');
    await admit(viewA, ind('more-to-a.evil.example'));
    const honestPeer = await replica(viewA, 'bravo', 'split_bravo');
    await honestPeer.replica.sync();
    await a.replica.compareWithPeer((await honestPeer.replica.cursor()).head!);
    assert.equal((await a.replica.cursor()).halted, undefined, 'a consistent peer head passes');
  });

  test('a certificate with a vote the voter never signed is detected as forged', async () => {
    const mallory = SigningKey.generate();
    const lying = directoryEntries.map((e) => (e.partnerId === 'bravo' ? { ...e, publicKey: mallory.publicKey } : e));
    const net = await startNetwork('forged', SigningKey.generate(), lying);
    const i = ind('framed.evil.example');
    const ack = await net.sequencer.propose('alpha', { kind: 'add', indicatorJson: indicatorCanonicalJson(i), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', i) });
    await net.sequencer.vote('alpha', vote('alpha', ack.subject));
    assert.equal((await net.sequencer.vote('bravo', vote('bravo', ack.subject, mallory))).status, 'approved');
    const p = await replica(net, 'charlie', 'forged_charlie');
    const h = await halt(p.replica.sync());
    assert.deepEqual([h.reason, h.index], ['forged-vote', 0]);
    assert.equal((await p.sink.all()).length, 0);
  });

  test('tree heads not signed by the known sequencer key are refused', async () => {
    const net = await startNetwork('impostor');
    await admit(net, ind('impostor.evil.example'));
    const p = await replica(net, 'alpha', 'impostor_alpha', SigningKey.generate());
    assert.equal((await halt(p.replica.sync())).reason, 'bad-tree-head');
  });
});

describe('sequencer restarts and transport', () => {
  test('a restarted sequencer restores the same log and extends it consistently for partners', async () => {
    const key = SigningKey.generate();
    const first = await startNetwork('restart', key);
    await admit(first, ind('before-1.evil.example'));
    await admit(first, ind('before-2.evil.example'));
    const p = await replica(first, 'alpha', 'restart_alpha');
    const head = await p.replica.sync();
    await first.server.stop();
    const reopened = await Sequencer.open({ store: await MongoLogStore.open(first.db), key, partners: directoryEntries, quorum: QUORUM, now: () => new Date(), log: logger() });
    assert.equal(reopened.size, 2);
    assert.equal((await reopened.treeHead()).rootHash, head.rootHash);
    const server = await startExchangeServer({ sequencer: reopened, directory: new Map(directoryEntries.map((e) => [e.partnerId, e])), tls: tls.sequencer, address: '127.0.0.1:0', log: logger() });
    closers.push(() => server.stop());
    const second: Network = { ...first, sequencer: reopened, server, client: (id) => {
      const c = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: tls[id], serverName: 'localhost' });
      closers.push(() => c.close());
      return c;
    } };
    assert.equal(await admit(second, ind('after.evil.example')), 2);
    const resumed = new PartnerReplica({
      sourceId: 'sequencer', source: second.client('alpha'), sink: p.sink, cursors: p.cursors,
      anchors: { sequencerKey: key.publicKey, partners: directoryEntries, quorum: QUORUM }, now: () => new Date(), log: logger(),
    });
    assert.deepEqual(await resumed.sync().then((r) => [r.applied, r.treeSize]), [1, 3]);
  });

  test('the sequencer refuses to start on a log with a missing entry or a head signed by another key', async () => {
    const key = SigningKey.generate();
    const net = await startNetwork('broken', key);
    await admit(net, ind('keep-1.evil.example'));
    await admit(net, ind('keep-2.evil.example'));
    await net.sequencer.treeHead();
    const reopen = (k: SigningKey): Promise<Sequencer> => MongoLogStore.open(net.db).then((store) => Sequencer.open({ store, key: k, partners: directoryEntries, quorum: QUORUM, now: () => new Date(), log: logger() }));
    await assert.rejects(reopen(SigningKey.generate()), /not validly signed by this sequencer's key/);
    await net.db.collection(LOG_ENTRIES).deleteOne({ index: 0 });
    await assert.rejects(reopen(key), (err: unknown) => err instanceof SequencerStateError && /not contiguous: expected index 0, found 1/.test(err.message));
  });

  test('a pinned certificate must be the one presented', async () => {
    const alphaPin = new X509Certificate(tls.alpha.certPem).fingerprint256;
    const pinned = directoryEntries.map((e) => (e.partnerId === 'alpha' ? { ...e, certFingerprint256: alphaPin } : e.partnerId === 'bravo' ? { ...e, certFingerprint256: alphaPin } : e));
    const net = await startNetwork('pinned', SigningKey.generate(), pinned);
    assert.equal((await net.client('alpha').treeHead()).treeSize, 0);
    const err = await refusal(net.client('bravo').treeHead());
    assert.deepEqual([err.code, err.reason], [grpc.status.PERMISSION_DENIED, 'pinned-certificate-mismatch']);
  });

  test('UNAVAILABLE is retried with capped exponential backoff, then reported', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 0));
      });
    });
    const sleeps: number[] = [];
    const c = new ExchangeClient({
      address: `127.0.0.1:${port}`, tls: tls.alpha, serverName: 'localhost', deadlineMs: 5_000,
      retry: { attempts: 4, baseMs: 100, capMs: 150 }, random: () => 0.999, sleep: (ms) => { sleeps.push(ms); return Promise.resolve(); },
    });
    closers.push(() => c.close());
    const err = await refusal(c.treeHead());
    assert.equal(err.code, grpc.status.UNAVAILABLE);
    assert.deepEqual(sleeps, [100, 150, 150]);
  });
});

describe('automatic voting and continuous replication', () => {
  test('voters judge pending rounds by policy and running replicas converge on the same log', async () => {
    const net = await startNetwork('auto');
    const voters = (['alpha', 'bravo', 'charlie'] as const).map((id) => new AutoVoter({
      partnerId: id, key: keys[id], client: net.client(id), partners: directoryEntries, now: () => new Date(), log: logger(),
      policy: { judge: (r) => (r.indicator.value.endsWith('.example.org') ? { decision: 'reject', reason: 'warning list' } : { decision: 'approve' }) },
    }));
    const replicas = await Promise.all((['alpha', 'bravo', 'charlie'] as const).map((id) => replica(net, id, `auto_${id}`)));
    const stop = new AbortController();
    const running = replicas.map((r) => r.replica.run({ signal: stop.signal, waitMs: 200 }));
    const alpha = net.client('alpha');
    const values = [...Array.from({ length: 12 }, (_, i) => `auto-${i}.evil.example`), 'benign.example.org'];
    for (const v of values) await alpha.propose({ kind: 'add', indicatorJson: indicatorCanonicalJson(ind(v)), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', ind(v)) });
    for (const v of voters) await v.voteOnce();
    assert.equal(net.sequencer.pending().length, 0, 'every round is decided');
    assert.equal(net.sequencer.size, 13, 'twelve admissions and the REJECT of the warning-listed indicator');
    for (let i = 0; i < 200; i++) {
      const cursors = await Promise.all(replicas.map((r) => r.replica.cursor()));
      if (cursors.every((c) => c.nextIndex === 13)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stop.abort();
    await Promise.all(running);
    const sets = await Promise.all(replicas.map(async (r) => shape(await r.sink.all())));
    assert.equal(sets[0]!.length, 12);
    assert.deepEqual(sets[1], sets[0]);
    assert.deepEqual(sets[2], sets[0]);
    const rejected = await Promise.all(replicas.map(async (r) => (await r.sink.rejections()).map((x) => [x.logIndex, x.value, x.votes.length])));
    assert.deepEqual(rejected[0]?.map((x) => x[1]), ['benign.example.org'], 'every partner replicates the signed rejection, apart from the indicators');
    assert.deepEqual(rejected[1], rejected[0]);
    assert.deepEqual(rejected[2], rejected[0]);
    const heads = await Promise.all(replicas.map(async (r) => (await r.replica.cursor()).head?.rootHash));
    assert.equal(new Set(heads).size, 1);
  });
});

describe('pending rounds for voters', () => {
  test('voters page through more pending rounds than one response holds', async () => {
    const net = await startNetwork('paging');
    const alpha = net.client('alpha');
    const inds = Array.from({ length: 1001 }, (_, i) => ind(`page-${i}.evil.example`));
    const proposal = (i: Indicator): { kind: 'add'; indicatorJson: string; proposerId: string; signature: string } => ({ kind: 'add', indicatorJson: indicatorCanonicalJson(i), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', i) });
    const acks = await alpha.proposeBatch(inds.slice(0, 1000).map(proposal));
    assert.ok(acks.every((a) => a.status === 'opened'));
    await alpha.propose(proposal(inds[1000]!));
    const seen = await net.client('charlie').listPending();
    assert.equal(seen.length, 1001);
    assert.equal(new Set(seen.map((r) => r.subject)).size, 1001);
    assert.equal(seen[1000]!.indicator.value, 'page-1000.evil.example');
  });
});

describe('sequencer rounds', () => {
  async function sequencerAt(name: string, clock: { now: Date }): Promise<Sequencer> {
    return Sequencer.open({ store: await MongoLogStore.open(db(`rounds_${name}`)), key: SigningKey.generate(), partners: directoryEntries, quorum: QUORUM, windowMs: 60_000, now: () => clock.now, log: logger() });
  }
  const propose = (seq: Sequencer, i: Indicator): ReturnType<Sequencer['propose']> =>
    seq.propose('alpha', { kind: 'add', indicatorJson: indicatorCanonicalJson(i), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', i) });
  const voteAt = (id: PartnerId, subject: string, at: Date, decision: 'approve' | 'reject' = 'approve'): Vote =>
    signVote(keys[id], { partnerId: id, digest: subject, decision, signedAt: at.toISOString() });

  test('a round whose window closes without quorum is rejected; the indicator can be proposed again', async () => {
    const clock = { now: new Date('2026-06-01T10:00:00Z') };
    const seq = await sequencerAt('expiry', clock);
    const ack = await propose(seq, ind('slow.evil.example'));
    await seq.vote('alpha', voteAt('alpha', ack.subject, clock.now));
    clock.now = new Date('2026-06-01T10:01:01Z');
    assert.equal(seq.pending().length, 0);
    await assert.rejects(seq.vote('bravo', voteAt('bravo', ack.subject, clock.now)), (err: unknown) => err instanceof ExchangeRefusalError && err.reason === 'unknown-proposal');
    assert.equal((await propose(seq, ind('slow.evil.example'))).status, 'opened');
    assert.equal(seq.size, 0);
  });

  test('rejections that make quorum unreachable end the round; duplicates and late votes are answered', async () => {
    const clock = { now: new Date('2026-06-01T10:00:00Z') };
    const seq = await sequencerAt('reject', clock);
    const ack = await propose(seq, ind('disputed.evil.example'));
    assert.equal((await seq.vote('alpha', voteAt('alpha', ack.subject, clock.now))).status, 'counted');
    assert.equal((await seq.vote('alpha', voteAt('alpha', ack.subject, clock.now, 'reject'))).status, 'duplicate');
    assert.equal((await seq.vote('bravo', voteAt('bravo', ack.subject, clock.now, 'reject'))).status, 'counted');
    const last = await seq.vote('charlie', voteAt('charlie', ack.subject, clock.now, 'reject'));
    assert.deepEqual([last.status, last.approvals, last.rejections], ['rejected', 1, 2]);
    assert.equal(seq.size, 1, 'the rejection is logged as a REJECT entry');
    const admitted = await propose(seq, ind('agreed.evil.example'));
    await seq.vote('alpha', voteAt('alpha', admitted.subject, clock.now));
    assert.equal((await seq.vote('bravo', voteAt('bravo', admitted.subject, clock.now))).status, 'approved');
    const late = await seq.vote('charlie', voteAt('charlie', admitted.subject, clock.now));
    assert.deepEqual([late.status, late.logIndex], ['approved', 1]);
    const forgedLate = { ...voteAt('charlie', admitted.subject, clock.now), signature: voteAt('bravo', admitted.subject, clock.now).signature };
    await assert.rejects(seq.vote('charlie', forgedLate), (err: unknown) => err instanceof ExchangeRefusalError && err.reason === 'bad-vote-signature');
  });

  test('with a round store, a restarted sequencer continues open rounds and re-verifies what it loads', async () => {
    const clock = { now: new Date('2026-06-01T10:00:00Z') };
    const d = db('rounds_persist');
    const key = SigningKey.generate();
    const open = async (): Promise<Sequencer> => Sequencer.open({ store: await MongoLogStore.open(d), rounds: new MongoRoundStore(d), key, partners: directoryEntries, quorum: QUORUM, windowMs: 60_000, now: () => clock.now, log: logger() });
    const first = await open();
    const kept = await propose(first, ind('kept.evil.example'));
    const forged = await propose(first, ind('doctored.evil.example'));
    await first.vote('alpha', voteAt('alpha', kept.subject, clock.now));
    await first.vote('alpha', voteAt('alpha', forged.subject, clock.now));
    // Someone with database access swaps alpha's signature on the second round.
    await d.collection<{ subject: string }>(PENDING_VOTES).updateOne({ subject: forged.subject }, { $set: { 'vote.signature': voteAt('bravo', forged.subject, clock.now).signature } });
    const second = await open();
    assert.deepEqual(second.pending().map((r) => r.indicator.value), ['kept.evil.example', 'doctored.evil.example']);
    assert.equal((await second.vote('bravo', voteAt('bravo', kept.subject, clock.now))).status, 'approved', "alpha's stored vote still counts");
    assert.equal((await second.vote('bravo', voteAt('bravo', forged.subject, clock.now))).status, 'counted', 'the doctored vote was dropped');
    for (let i = 0; i < 100 && (await d.collection(PENDING_ROUNDS).countDocuments({})) !== 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const third = await open();
    assert.deepEqual(third.pending().map((r) => r.indicator.value), ['doctored.evil.example']);
    assert.equal(third.size, 1);
  });

  test('re-proposing an indicator while its approval is being appended opens no second round', async () => {
    const clock = { now: new Date('2026-06-01T10:00:00Z') };
    const seq = await sequencerAt('inflight', clock);
    const i = ind('inflight.evil.example');
    const ack = await propose(seq, i);
    await seq.vote('alpha', voteAt('alpha', ack.subject, clock.now));
    const approving = seq.vote('bravo', voteAt('bravo', ack.subject, clock.now));
    const again = await propose(seq, i);
    assert.equal(again.status, 'already-pending');
    const late = seq.vote('charlie', voteAt('charlie', ack.subject, clock.now));
    assert.deepEqual([(await approving).status, (await late).status], ['approved', 'approved']);
    assert.equal((await propose(seq, i)).status, 'already-admitted');
    assert.equal(seq.size, 1);
  });

  const proposeKind = (seq: Sequencer, kind: EntryKind, i: Indicator): ReturnType<Sequencer['propose']> =>
    seq.propose('alpha', { kind, indicatorJson: indicatorCanonicalJson(i), proposerId: 'alpha', signature: signProposal(keys.alpha, kind, i) });
  const refusedWith = (reason: string) => (err: unknown): boolean => err instanceof ExchangeRefusalError && err.reason === reason;

  test('a revoked indicator proposed again opens a new round that old votes cannot enter; approval appends a second ADD', async () => {
    const clock = { now: new Date('2026-06-01T10:00:00Z') };
    const d = db('rounds_readmit');
    const key = SigningKey.generate();
    const open = async (): Promise<Sequencer> => Sequencer.open({ store: await MongoLogStore.open(d), rounds: new MongoRoundStore(d), key, partners: directoryEntries, quorum: QUORUM, windowMs: 60_000, now: () => clock.now, log: logger() });
    const seq = await open();
    const i = ind('comeback.evil.example');
    const first = await proposeKind(seq, 'add', i);
    const oldVotes = { alpha: voteAt('alpha', first.subject, clock.now), bravo: voteAt('bravo', first.subject, clock.now) };
    await seq.vote('alpha', oldVotes.alpha);
    assert.equal((await seq.vote('bravo', oldVotes.bravo)).logIndex, 0);
    clock.now = new Date('2026-06-01T10:00:20Z');
    const revoke = await proposeKind(seq, 'revoke', i);
    await seq.vote('alpha', voteAt('alpha', revoke.subject, clock.now));
    assert.equal((await seq.vote('bravo', voteAt('bravo', revoke.subject, clock.now))).logIndex, 1);
    await assert.rejects(proposeKind(seq, 'revoke', i), (err: unknown) => refusedWith('not-active')(err) && /already revoked at log index 1; propose an ADD/.test((err as Error).message));
    // Within the default 60 s skew of the first admission: only the revocation bounds the new window.
    clock.now = new Date('2026-06-01T10:00:30Z');
    const again = await proposeKind(seq, 'add', i);
    assert.equal(again.status, 'opened');
    assert.ok(again.window !== undefined && Date.parse(again.window.opensAt) > Date.parse('2026-06-01T10:00:20Z'), JSON.stringify(again.window));
    for (const id of ['alpha', 'bravo'] as const) await assert.rejects(seq.vote(id, oldVotes[id]), refusedWith('outside-window'), `${id}'s vote of the first admission is not counted again`);
    assert.deepEqual(seq.pending().map((r) => r.tally?.approvals), [0]);
    await seq.vote('alpha', voteAt('alpha', again.subject, clock.now));
    const readmitted = await seq.vote('charlie', voteAt('charlie', again.subject, clock.now));
    assert.deepEqual([readmitted.status, readmitted.logIndex], ['approved', 2]);
    assert.deepEqual([(await proposeKind(seq, 'add', i)).status, (await proposeKind(seq, 'add', i)).logIndex], ['already-admitted', 2]);
    const kinds: string[] = [];
    for await (const e of (await MongoLogStore.open(d)).entries(0)) kinds.push(`${e.index}:${e.kind}:${e.indicator.value}`);
    assert.deepEqual(kinds, ['0:add:comeback.evil.example', '1:revoke:comeback.evil.example', '2:add:comeback.evil.example']);
    const restarted = await open();
    assert.equal(restarted.size, 3);
    assert.equal((await proposeKind(restarted, 'add', i)).logIndex, 2);
    assert.equal((await proposeKind(restarted, 'revoke', i)).status, 'opened', 'the re-admitted indicator is active again');
  });

  test('revoking an indicator that was never admitted is refused', async () => {
    const seq = await sequencerAt('revoke_unknown', { now: new Date('2026-06-01T10:00:00Z') });
    await assert.rejects(proposeKind(seq, 'revoke', ind('never.evil.example')), (err: unknown) => refusedWith('not-admitted')(err) && /it is not in the log/.test((err as Error).message));
  });

  test('the partner directory changes while running: new partners vote, removed ones are refused, a quorum beyond the voters is reported', async () => {
    const clock = { now: new Date('2026-06-01T10:00:00Z') };
    const two = directoryEntries.filter((e) => e.partnerId === 'alpha' || e.partnerId === 'bravo');
    const seq = await Sequencer.open({ store: await MongoLogStore.open(db('rounds_directory')), key: SigningKey.generate(), partners: two, quorum: QUORUM, now: () => clock.now, log: logger() });
    const ack = await propose(seq, ind('directory.evil.example'));
    await assert.rejects(seq.vote('charlie', voteAt('charlie', ack.subject, clock.now)), refusedWith('unknown-partner'));
    seq.setPartners(directoryEntries.filter((e) => e.partnerId !== 'bravo'));
    await assert.rejects(seq.vote('bravo', voteAt('bravo', ack.subject, clock.now)), refusedWith('unknown-partner'));
    assert.equal((await seq.vote('charlie', voteAt('charlie', ack.subject, clock.now))).status, 'counted');
    seq.setPartners(directoryEntries.filter((e) => e.partnerId === 'alpha'));
    await assert.rejects(seq.vote('alpha', voteAt('alpha', ack.subject, clock.now)), (err: unknown) => refusedWith('quorum-unreachable')(err) && /lower --quorum/.test((err as Error).message));
    seq.setPartners(directoryEntries);
    assert.equal((await seq.vote('alpha', voteAt('alpha', ack.subject, clock.now))).status, 'approved');
  });

  test('a vote signed outside the window is refused', async () => {
    const clock = { now: new Date('2026-06-01T10:00:00Z') };
    const seq = await sequencerAt('window', clock);
    const ack = await propose(seq, ind('early.evil.example'));
    await assert.rejects(seq.vote('alpha', voteAt('alpha', ack.subject, new Date('2026-06-01T09:00:00Z'))), (err: unknown) => err instanceof ExchangeRefusalError && err.reason === 'outside-window');
  });
});

describe('signed indicator metadata', () => {
  const META: IndicatorMeta = { tlp: 'amber', confidence: 85, labels: ['c2', 'emotet'], validFrom: '2026-11-25T00:00:00Z', validUntil: '2036-11-25T00:00:00Z', source: 'threatmesh/abuse-ch' };

  /** alpha's ADD proposal of `indicator` sending `sent` metadata, signed over `signed` (by default the same; undefined also means the same). */
  function withMeta(indicator: Indicator, sent: IndicatorMeta | undefined, signed: IndicatorMeta | undefined = sent): ProposalInput {
    return { kind: 'add', indicatorJson: indicatorCanonicalJson(indicator), ...(sent !== undefined ? { metaJson: metaJson(sent) } : {}), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', indicator, signed) };
  }

  async function admitWithMeta(net: Network, indicator: Indicator, meta: IndicatorMeta): Promise<number> {
    const ack = await net.client('alpha').propose(withMeta(indicator, meta));
    assert.equal(ack.status, 'opened');
    await net.client('alpha').vote(vote('alpha', ack.subject));
    const done = await net.client('bravo').vote(vote('bravo', ack.subject));
    assert.equal(done.status, 'approved');
    return done.logIndex ?? -1;
  }

  test('a proposal with metadata reaches voters and every partner intact; an entry without it replicates as before; a restart rebuilds the same root', async () => {
    const net = await startNetwork('meta');
    const ack = await net.client('alpha').propose(withMeta(ind('meta.evil.example'), META));
    assert.deepEqual((await net.client('charlie').listPending()).map((r) => [r.indicator.value, r.meta]), [['meta.evil.example', META]]);
    await net.client('alpha').vote(vote('alpha', ack.subject));
    assert.equal((await net.client('bravo').vote(vote('bravo', ack.subject))).logIndex, 0);
    assert.equal(await admit(net, ind('plain.evil.example')), 1);
    const replicas = await Promise.all((['alpha', 'bravo', 'charlie'] as const).map((id) => replica(net, id, `meta_${id}`)));
    const synced = await Promise.all(replicas.map((r) => r.replica.sync()));
    assert.equal(new Set(synced.map((r) => r.rootHash)).size, 1);
    for (const r of replicas) {
      const records = await r.sink.all();
      assert.deepEqual(records.find((x) => x.value === 'meta.evil.example')?.meta, META);
      assert.equal(records.find((x) => x.value === 'plain.evil.example')?.meta, undefined);
    }
    const stored = await net.db.collection(LOG_ENTRIES).findOne({ index: 0 });
    assert.deepEqual(stored?.['meta'], META, 'log_entries keeps the metadata');
    const reopened = await Sequencer.open({ store: await MongoLogStore.open(net.db), key: net.key, partners: directoryEntries, quorum: QUORUM, now: () => new Date(), log: logger() });
    assert.equal(reopened.size, 2);
    assert.equal((await reopened.treeHead()).rootHash, synced[0]!.rootHash);
  });

  test('the sequencer refuses metadata the proposer did not sign, invalid metadata and metadata on a revocation', async () => {
    const net = await startNetwork('meta_refusals');
    const alpha = net.client('alpha');
    const i = ind('refused-meta.evil.example');
    const cases: Array<[string, ProposalInput, string, RegExp]> = [
      ['confidence raised after signing', withMeta(i, { ...META, confidence: 100 }, META), 'bad-proposal-signature', /sign exactly the canonical \{"indicator","meta"\}/],
      ['signed metadata stripped', withMeta(i, undefined, META), 'bad-proposal-signature', /sign exactly the canonical indicator/],
      ['metadata added to an indicator-only signature', { ...withMeta(i, undefined), metaJson: metaJson(META) }, 'bad-proposal-signature', /does not verify/],
      ['unknown member', { ...withMeta(i, undefined), metaJson: '{"severity":"high"}' }, 'invalid-meta', /unknown member\(s\) "severity"/],
      ['not canonical', { ...withMeta(i, undefined), metaJson: '{"tlp":"red","confidence":5}' }, 'invalid-meta', /canonical/],
      ['confidence out of range', { ...withMeta(i, undefined), metaJson: '{"confidence":101}' }, 'invalid-meta', /integer from 0 to 100/],
      ['metadata on a revocation', { ...withMeta(i, undefined), kind: 'revoke', metaJson: metaJson(META), signature: signProposal(keys.alpha, 'revoke', i) }, 'invalid-meta', /REVOKE proposal carries no metadata/],
    ];
    for (const [name, p, reason, message] of cases) {
      const err = await refusal(alpha.propose(p));
      assert.equal(err.reason, reason, name);
      assert.match(err.message, message, name);
    }
    assert.equal(net.sequencer.pending().length, 0, 'nothing was opened');
  });

  test('metadata edited in the sequencer database after signing halts the partner; the sequencer refuses to restart on it', async () => {
    const net = await startNetwork('meta_tamper', SigningKey.generate(), directoryEntries, 0);
    await admitWithMeta(net, ind('first-meta.evil.example'), META);
    const p = await replica(net, 'charlie', 'meta_tamper_charlie');
    await p.replica.sync();
    await admitWithMeta(net, ind('second-meta.evil.example'), META);
    await net.sequencer.treeHead();
    await net.db.collection(LOG_ENTRIES).updateOne({ index: 1 }, { $set: { 'meta.confidence': 100, 'meta.tlp': 'clear' } });
    const h = await halt(p.replica.sync());
    assert.deepEqual([h.reason, h.index], ['tampered-entry', 1]);
    assert.deepEqual((await p.sink.all()).map((r) => [r.value, r.meta?.confidence]), [['first-meta.evil.example', 85]], 'nothing from the edited entry was applied');
    const reopen = async (): Promise<Sequencer> => Sequencer.open({ store: await MongoLogStore.open(net.db), key: net.key, partners: directoryEntries, quorum: QUORUM, now: () => new Date(), log: logger() });
    await assert.rejects(reopen(), (err: unknown) => err instanceof SequencerStateError && /log_entries was modified/.test(err.message));
    await net.db.collection(LOG_ENTRIES).updateOne({ index: 1 }, { $set: { 'meta.severity': 'high' } });
    await assert.rejects(reopen(), (err: unknown) => err instanceof StoredEntryError && /log entry 1: meta has unknown member\(s\) "severity"/.test(err.message));
  });

  test('a sequencer that logs metadata the proposer did not sign is caught by partners (bad-proposal-signature)', async () => {
    // The dishonest sequencer's own database: a quorum-certified entry whose metadata differs
    // from what alpha signed, then served and signed into a tree head as if honest.
    const i = ind('swapped-meta.evil.example');
    const now = Date.now();
    const entry: IndexedEntry = {
      index: 0, kind: 'add', indicator: i, meta: { ...META, tlp: 'clear', confidence: 100 }, proposerId: 'alpha', proposalSignature: signProposal(keys.alpha, 'add', i, META),
      window: { opensAt: new Date(now - 60_000).toISOString(), closesAt: new Date(now + 3_600_000).toISOString() }, votes: [vote('alpha', indicatorDigest(i)), vote('bravo', indicatorDigest(i))],
    };
    await (await MongoLogStore.open(db('seq_meta_swap'))).insertEntries([{ entry, digest: indicatorDigest(i) }]);
    const net = await startNetwork('meta_swap');
    assert.equal(net.sequencer.size, 1);
    const p = await replica(net, 'charlie', 'meta_swap_charlie');
    const h = await halt(p.replica.sync());
    assert.deepEqual([h.reason, h.index], ['bad-proposal-signature', 0]);
    assert.match(h.message, /alpha's signature does not cover this add of domain "swapped-meta.evil.example" with this metadata/);
    assert.equal((await p.sink.all()).length, 0);
  });

  test('pending rounds with large metadata are paged within the server\'s message size', async () => {
    const d = db('seq_meta_paging');
    const sequencer = await Sequencer.open({ store: await MongoLogStore.open(d), key: SigningKey.generate(), partners: directoryEntries, quorum: QUORUM, now: () => new Date(), log: logger() });
    const server = await startExchangeServer({ sequencer, directory: new Map(directoryEntries.map((p) => [p.partnerId, p])), tls: tls.sequencer, address: '127.0.0.1:0', log: logger(), limits: { maxMessageBytes: 64 * 1024 } });
    closers.push(() => server.stop());
    const big: IndicatorMeta = { ...META, labels: Array.from({ length: 32 }, (_, j) => `${'x'.repeat(60)}${String(j).padStart(4, '0')}`) };
    for (let n = 0; n < 100; n++) await sequencer.propose('alpha', withMeta(ind(`big-meta-${n}.evil.example`), big));
    const client = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: tls.charlie, serverName: 'localhost', retry: { attempts: 1 } });
    closers.push(() => client.close());
    const seen = await client.listPending();
    assert.equal(seen.length, 100, 'about 320 KB of rounds through a 64 KiB limit');
    assert.ok(seen.every((r) => r.meta?.labels?.length === 32));
  });

  test('an automatic voter with minConfidence 80 rejects a confidence-50 proposal by its signed metadata, approves confidence 90, leaves unknown confidence to an analyst', async () => {
    const net = await startNetwork('meta_minconf');
    const policy = roundJudge({ mode: 'automatic', warningLists: false, minConfidence: 80 }, { corroborated: () => false });
    const voter = (id: 'alpha' | 'bravo' | 'charlie'): AutoVoter => new AutoVoter({ partnerId: id, key: keys[id], client: net.client(id), partners: directoryEntries, policy, now: () => new Date(), log: logger() });
    const alpha = net.client('alpha');
    for (const [value, meta] of [['low.evil.example', { confidence: 50 }], ['high.evil.example', { confidence: 90 }], ['unknown.evil.example', undefined]] as const) {
      assert.equal((await alpha.propose(withMeta(ind(value), meta))).status, 'opened');
    }
    assert.equal(await voter('charlie').voteOnce(), 2, 'the round without a confidence gets no automatic vote');
    const tallies = Object.fromEntries((await alpha.listPending()).map((r) => [r.indicator.value, [r.tally?.approvals, r.tally?.rejections]]));
    assert.deepEqual(tallies, { 'low.evil.example': [0, 1], 'high.evil.example': [1, 0], 'unknown.evil.example': [0, 0] });
    assert.equal(await voter('bravo').voteOnce(), 2);
    assert.deepEqual(net.sequencer.pending().map((r) => r.indicator.value), ['unknown.evil.example'], 'low is rejected (quorum unreachable), high admitted');
    const logged = [];
    for await (const { entry } of net.sequencer.entries(0, net.sequencer.size)) logged.push(entry);
    assert.deepEqual(logged.map((e) => [e.kind, e.indicator.value, e.meta, e.votes.map((v) => v.decision)]), [['reject', 'low.evil.example', { confidence: 50 }, ['reject', 'reject']], ['add', 'high.evil.example', { confidence: 90 }, ['approve', 'approve']]]);
    assert.ok(logLines.some((l) => l.includes('round rejected') && l.includes(indicatorDigest(ind('low.evil.example')))), 'the sequencer logged the rejection of low');
  });
});

/**
 * Trust model, attack 2: a malicious sequencer holds the log key and replays genuine votes. It
 * re-activates a revoked indicator with the votes of its first admission, replays an old
 * revocation after a re-admission, stitches votes signed further apart than one round into one
 * certificate, or appends a certificate whose window closed before the log could have appended
 * it. Every signature in these logs is genuine (made by the real sequencer and the partners'
 * keys); only the log is the attacker's. Real parts: the hostile log behind the real exchange
 * endpoint over gRPC with mutual TLS, the partner's real replica and MongoDB sink (FerretDB).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { indicatorCanonicalJson, indicatorDigest } from '../../operator/src/domain/canonical.ts';
import { ROUND_SKEW_MS, roundSubject, signProposal, type EntryBody, type EntryKind } from '../../operator/src/domain/entry.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import { signVote, type Vote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { PartnerReplica, ReplicationHalted } from '../../operator/src/exchange/partner/replica.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { MemoryLogStore } from '../../operator/src/store/memory.ts';
import { attackBedHooks } from '../harness/attackbed.ts';
import { HostileLog } from '../harness/hostile.ts';
import { uniqueSuffix } from '../harness/env.ts';
import { votingParties } from '../harness/voters.ts';

type Id = 'alpha' | 'bravo' | 'charlie';
const IDS: readonly Id[] = ['alpha', 'bravo', 'charlie'];
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const suffix = uniqueSuffix();
const { keys, directory: partners } = votingParties(IDS);
const HOUR = 3_600_000;
const WINDOW = 72 * HOUR;
const ind = (value: string): Indicator => ({ type: 'domain', value });

const closers: Array<() => Promise<void> | void> = [];
const bed = attackBedHooks('threatmesh-attack-log', [...IDS, 'sequencer'] as const, closers);
let n = 0;

/** Serves `log` over the real endpoint; the partner alpha replicates it into a fresh database. */
async function partnerOf(log: HostileLog): Promise<{ replica: PartnerReplica; sink: MongoIndicatorSink }> {
  const server = await startExchangeServer({ sequencer: log, directory: new Map(partners.map((p) => [p.partnerId, p])), tls: bed.tls.sequencer, address: '127.0.0.1:0', log: quiet });
  closers.push(() => server.stop());
  const client = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: bed.tls.alpha, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
  closers.push(() => client.close());
  const db = bed.mongo.db(`tm_attack_log_${suffix}_${n++}`);
  closers.push(() => db.dropDatabase().then(() => undefined));
  const sink = await MongoIndicatorSink.open(db);
  const replica = new PartnerReplica({ sourceId: 'sequencer', source: client, sink, history: sink, cursors: new MongoCursorStore(db), anchors: { sequencerKey: log.key.publicKey, partners, quorum: 2, votingWindowMs: WINDOW }, now: () => new Date(), log: quiet });
  return { replica, sink };
}

/** Genuine history of one indicator made by the real sequencer: admitted, revoked, admitted again. */
async function genuineHistory(indicator: Indicator): Promise<EntryBody[]> {
  let clock = Date.parse('2026-12-01T00:00:00.000Z');
  const seq = await Sequencer.open({ store: new MemoryLogStore(), key: SigningKey.generate(), partners, quorum: 2, now: () => new Date(clock), log: quiet });
  const round = async (kind: EntryKind, by: Id): Promise<void> => {
    const p = { kind, indicatorJson: indicatorCanonicalJson(indicator), proposerId: by, signature: signProposal(keys[by], kind, indicator) };
    const { subject } = await seq.propose(by, p);
    for (const v of ['alpha', 'bravo'] as const) await seq.vote(v, signVote(keys[v], { partnerId: v, digest: subject, decision: 'approve', signedAt: new Date(clock).toISOString() }));
    clock += HOUR;
  };
  await round('add', 'alpha');
  await round('revoke', 'bravo');
  await round('add', 'alpha');
  const bodies: EntryBody[] = [];
  for await (const { entry } of seq.entries(0, seq.size)) bodies.push(entry);
  return bodies;
}

async function haltOf(replica: PartnerReplica): Promise<ReplicationHalted> {
  const err = await replica.sync().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ReplicationHalted, `expected a halt, got ${String(err)}`);
  return err;
}

function votesAt(indicator: Indicator, kind: EntryKind, at: ReadonlyArray<[Id, number]>): Vote[] {
  return at.map(([id, t]) => signVote(keys[id], { partnerId: id, digest: roundSubject(kind, indicator), decision: 'approve', signedAt: new Date(t).toISOString() }));
}

function addEntry(indicator: Indicator, opensAt: number, closesAt: number, votes: Vote[]): EntryBody {
  return { kind: 'add', indicator, proposerId: 'alpha', proposalSignature: signProposal(keys.alpha, 'add', indicator), window: { opensAt: new Date(opensAt).toISOString(), closesAt: new Date(closesAt).toISOString() }, votes };
}


describe('attack 2: a sequencer replays or stitches genuine votes', () => {
  test('the first admission\'s votes replayed after the revocation do not re-activate the indicator: halt replayed-entry', async () => {
    const z = ind(`replayed-admission-${suffix}.attack.example`);
    const [add1, revoke] = await genuineHistory(z);
    const log = new HostileLog();
    log.append(add1!, revoke!, add1!);
    const { replica, sink } = await partnerOf(log);
    const halt = await haltOf(replica);
    assert.deepEqual([halt.reason, halt.index], ['replayed-entry', 2]);
    const [record] = await sink.all();
    assert.equal(record?.state, 'revoked', 'the indicator stays revoked');
  });

  test('an old revocation replayed after a re-admission does not revoke it again: halt replayed-entry', async () => {
    const z = ind(`replayed-revocation-${suffix}.attack.example`);
    const [add1, revoke, add2] = await genuineHistory(z);
    const log = new HostileLog();
    log.append(add1!, revoke!, add2!, revoke!);
    const { replica, sink } = await partnerOf(log);
    const halt = await haltOf(replica);
    assert.deepEqual([halt.reason, halt.index], ['replayed-entry', 3]);
    assert.equal((await sink.all())[0]?.state, 'active', 'the re-admitted indicator stays active');
  });

  test('votes signed further apart than one round lasts cannot make one certificate: halt bad-window', async () => {
    const y = ind(`stitched-${suffix}.attack.example`);
    const t = Date.now() - 10 * 24 * HOUR;
    const log = new HostileLog();
    log.append(addEntry(y, t, t + WINDOW + 2 * HOUR, votesAt(y, 'add', [['alpha', t + 1000], ['bravo', t + WINDOW + HOUR]])));
    const { replica, sink } = await partnerOf(log);
    assert.equal((await haltOf(replica)).reason, 'bad-window');
    assert.deepEqual(await sink.all(), []);
  });

  test('a certificate whose window closed before the log could have appended it is refused: halt bad-window', async () => {
    const honest = ind(`honest-${suffix}.attack.example`);
    const backdated = ind(`backdated-${suffix}.attack.example`);
    const log = new HostileLog();
    const now = Date.now();
    log.append(addEntry(honest, now - ROUND_SKEW_MS, now + WINDOW, votesAt(honest, 'add', [['alpha', now - 1000], ['bravo', now - 500]])));
    const { replica } = await partnerOf(log);
    assert.equal((await replica.sync()).applied, 1, 'the honest entry and its head are accepted');
    const t = now - 20 * 24 * HOUR;
    log.append(addEntry(backdated, t, t + WINDOW, votesAt(backdated, 'add', [['alpha', t + 1000], ['bravo', t + 2000]])));
    log.now = new Date(now + ROUND_SKEW_MS);
    const halt = await haltOf(replica);
    assert.deepEqual([halt.reason, halt.index], ['bad-window', 1]);
    assert.match(halt.message, /appended after the head of size 1/);
  });

  test('the genuine history itself replicates: admitted, revoked, admitted again', async () => {
    const z = ind(`genuine-${suffix}.attack.example`);
    const log = new HostileLog();
    log.append(...await genuineHistory(z));
    const { replica, sink } = await partnerOf(log);
    assert.equal((await replica.sync()).applied, 3);
    const [record] = await sink.all();
    assert.deepEqual([record?.state, record?.logIndex, record?.digest], ['active', 2, indicatorDigest(z)]);
  });
});

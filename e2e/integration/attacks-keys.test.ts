/**
 * Trust model, key rotation and compromise. A voter rotates its key: entries certified with the
 * old key before it was retired keep verifying (history), while a certificate counting a vote the
 * retired key signed after its validUntil (a stolen key) is refused. The sequencer rotates its
 * tree-head key: heads by the old key dated before its validUntil and by the new key are both
 * accepted, without a halt; a head by a retired key dated after it is refused. Real parts: the
 * hostile log behind the real exchange endpoint over gRPC with mutual TLS, the partner's real
 * replica and MongoDB sink (FerretDB).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { roundSubject, signProposal, type EntryBody } from '../../operator/src/domain/entry.ts';
import type { RetiredKey } from '../../operator/src/domain/keys.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import type { PartnerEntry } from '../../operator/src/exchange/protocol/tls.ts';
import { PartnerReplica, ReplicationHalted } from '../../operator/src/exchange/partner/replica.ts';
import { startExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { attackBedHooks } from '../harness/attackbed.ts';
import { HostileLog } from '../harness/hostile.ts';
import { uniqueSuffix } from '../harness/env.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const suffix = uniqueSuffix();
const MINUTE = 60_000;
const NOW = Date.now();
// bravo switched keys an hour ago.
const SWITCH = NOW - 60 * MINUTE;
const alpha = SigningKey.generate();
const oldBravo = SigningKey.generate();
const newBravo = SigningKey.generate();
const partners: PartnerEntry[] = [
  { partnerId: 'alpha', publicKey: alpha.publicKey, roles: ['contributor', 'voter'] },
  { partnerId: 'bravo', publicKey: newBravo.publicKey, retiredKeys: [{ publicKey: oldBravo.publicKey, validUntil: new Date(SWITCH).toISOString() }], roles: ['contributor', 'voter'] },
];

const closers: Array<() => Promise<void> | void> = [];
const bed = attackBedHooks('threatmesh-attack-keys', ['alpha', 'sequencer'] as const, closers);
let n = 0;

/** An ADD of `value` proposed by alpha, approved by alpha and by `bravoKey` at `votedAt` (ms). */
function admitted(value: string, bravoKey: SigningKey, votedAt: number): EntryBody {
  const indicator = { type: 'domain' as const, value };
  const subject = roundSubject('add', indicator);
  const signedAt = new Date(votedAt).toISOString();
  const votes = [signVote(alpha, { partnerId: 'alpha', digest: subject, decision: 'approve', signedAt }), signVote(bravoKey, { partnerId: 'bravo', digest: subject, decision: 'approve', signedAt })];
  return { kind: 'add', indicator, proposerId: 'alpha', proposalSignature: signProposal(alpha, 'add', indicator), window: { opensAt: new Date(votedAt - MINUTE).toISOString(), closesAt: new Date(NOW + 60 * MINUTE).toISOString() }, votes };
}

/** alpha replicating `log` with the given sequencer anchors, into a fresh database. */
async function replicaOf(log: HostileLog, sequencerKey: SigningKey, sequencerRetiredKeys: readonly RetiredKey[] = []): Promise<PartnerReplica> {
  const server = await startExchangeServer({ sequencer: log, directory: new Map(partners.map((p) => [p.partnerId, p])), tls: bed.tls.sequencer, address: '127.0.0.1:0', log: quiet });
  closers.push(() => server.stop());
  const client = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: bed.tls.alpha, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 } });
  closers.push(() => client.close());
  const db = bed.mongo.db(`tm_attack_keys_${suffix}_${n++}`);
  closers.push(() => db.dropDatabase().then(() => undefined));
  const sink = await MongoIndicatorSink.open(db);
  return new PartnerReplica({ sourceId: 'sequencer', source: client, sink, history: sink, cursors: new MongoCursorStore(db), anchors: { sequencerKey: sequencerKey.publicKey, sequencerRetiredKeys, partners, quorum: 2 }, now: () => new Date(), log: quiet });
}


describe('a voter rotated its key', () => {
  test('a certificate made with the old key before it was retired still verifies; a new one with the new key too', async () => {
    const log = new HostileLog();
    log.append(admitted(`before-${suffix}.example`, oldBravo, SWITCH - 10 * MINUTE), admitted(`after-${suffix}.example`, newBravo, SWITCH + 10 * MINUTE));
    const replica = await replicaOf(log, log.key);
    assert.equal((await replica.sync()).applied, 2);
  });

  test('a vote the retired key signed after its validUntil (a stolen key) does not count: the certificate is refused (forged-vote)', async () => {
    const log = new HostileLog();
    log.append(admitted(`stolen-${suffix}.example`, oldBravo, SWITCH + 10 * MINUTE));
    const replica = await replicaOf(log, log.key);
    await assert.rejects(replica.sync(), (err: unknown) => err instanceof ReplicationHalted && err.reason === 'forged-vote');
  });
});

describe('the sequencer rotated its tree-head key', () => {
  test('heads by the old key (before its validUntil) and then by the new key: replication goes on, no halt', async () => {
    const oldSeq = SigningKey.generate();
    const newSeq = SigningKey.generate();
    const log = new HostileLog(oldSeq);
    log.append(admitted(`r1-${suffix}.example`, newBravo, NOW - MINUTE));
    const replica = await replicaOf(log, newSeq, [{ publicKey: oldSeq.publicKey, validUntil: new Date(NOW + 60 * MINUTE).toISOString() }]);
    assert.equal((await replica.sync()).treeSize, 1);
    log.rotate(newSeq);
    log.append(admitted(`r2-${suffix}.example`, newBravo, NOW - MINUTE));
    const after = await replica.sync();
    assert.deepEqual([after.treeSize, (await replica.cursor()).halted], [2, undefined]);
  });

  test('a head by the retired key dated after its validUntil (a stolen sequencer key) is refused', async () => {
    const oldSeq = SigningKey.generate();
    const log = new HostileLog(oldSeq);
    log.append(admitted(`r3-${suffix}.example`, newBravo, NOW - MINUTE));
    const replica = await replicaOf(log, SigningKey.generate(), [{ publicKey: oldSeq.publicKey, validUntil: new Date(NOW - MINUTE).toISOString() }]);
    await assert.rejects(replica.sync(), (err: unknown) => err instanceof ReplicationHalted && err.reason === 'bad-tree-head');
  });
});

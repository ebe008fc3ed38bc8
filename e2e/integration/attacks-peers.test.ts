/**
 * Trust model, attacks 3 and 4, on the comparison of tree heads between partners (gossip), and
 * the gossip endpoint's authorization of every call on a connection whose identity it reuses.
 * 3: a peer gossips a tree head the sequencer never signed, to make an honest partner halt.
 * 4: the sequencer shows two partners different histories and refuses every consistency proof,
 *    so the comparison cannot use its proof.
 * Real parts: each log behind the real exchange endpoint, each partner's real replica with its
 * cursor, history and leaf hashes in a real MongoDB-wire server, gossip over real gRPC with
 * mutual TLS (the peer's endpoint serves its accepted head and proofs from its verified leaves).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { roundSubject, signProposal } from '../../operator/src/domain/entry.ts';
import { MerkleLog } from '../../operator/src/domain/merkle.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { signLogHead } from '../../operator/src/domain/treehead.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { REASON_TRAILER } from '../../operator/src/exchange/protocol/grpcserver.ts';
import type { PartnerEntry } from '../../operator/src/exchange/protocol/tls.ts';
import { GossipClient, startGossipServer } from '../../operator/src/exchange/partner/gossip.ts';
import { BadPeerHead } from '../../operator/src/exchange/partner/peers.ts';
import { PartnerReplica, ReplicationHalted } from '../../operator/src/exchange/partner/replica.ts';
import { startExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { MongoCursorStore } from '../../operator/src/store/cursor.ts';
import { MongoIndicatorSink } from '../../operator/src/store/indicators.ts';
import { MongoLeafStore } from '../../operator/src/store/leaves.ts';
import { attackBedHooks } from '../harness/attackbed.ts';
import { HostileLog } from '../harness/hostile.ts';
import { uniqueSuffix } from '../harness/env.ts';
import { votingParties } from '../harness/voters.ts';

type Id = 'alpha' | 'bravo' | 'charlie';
const IDS: readonly Id[] = ['alpha', 'bravo', 'charlie'];
const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const suffix = uniqueSuffix();
const { keys, directory: partners } = votingParties(IDS);
const sequencerKey = SigningKey.generate();
const directory = (): Map<string, PartnerEntry> => new Map(partners.map((p) => [p.partnerId, p]));

const closers: Array<() => Promise<void> | void> = [];
const bed = attackBedHooks('threatmesh-attack-peers', [...IDS, 'sequencer'] as const, closers);
let n = 0;

/** A log of genuinely approved entries under the sequencer key; `now` fixes windows and signing times, so logs built with the same values and time have the same leaves. */
function logOf(values: readonly string[], now = Date.now()): HostileLog {
  const log = new HostileLog(sequencerKey);
  for (const value of values) {
    const indicator = { type: 'domain' as const, value };
    const votes = (['alpha', 'bravo'] as const).map((id) => signVote(keys[id], { partnerId: id, digest: roundSubject('add', indicator), decision: 'approve', signedAt: new Date(now - 1000).toISOString() }));
    log.append({ kind: 'add', indicator, proposerId: 'alpha', proposalSignature: signProposal(keys.alpha, 'add', indicator), window: { opensAt: new Date(now - 30_000).toISOString(), closesAt: new Date(now + 3_600_000).toISOString() }, votes });
  }
  return log;
}

/** Partner `id` replicating `log` through the real endpoint, with its stores in a fresh database and its gossip endpoint. */
async function partner(id: Id, log: HostileLog): Promise<{ replica: PartnerReplica; gossip: GossipClient }> {
  const server = await startExchangeServer({ sequencer: log, directory: directory(), tls: bed.tls.sequencer, address: '127.0.0.1:0', log: quiet });
  closers.push(() => server.stop());
  const client = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: bed.tls[id], serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 1 } });
  closers.push(() => client.close());
  const db = bed.mongo.db(`tm_attack_peers_${suffix}_${n++}`);
  closers.push(() => db.dropDatabase().then(() => undefined));
  const sink = await MongoIndicatorSink.open(db);
  const replica = new PartnerReplica({ sourceId: 'sequencer', source: client, sink, history: sink, leaves: new MongoLeafStore(db), cursors: new MongoCursorStore(db), anchors: { sequencerKey: sequencerKey.publicKey, partners, quorum: 2 }, now: () => new Date(), log: quiet });
  const gossipServer = await startGossipServer({ partnerId: id, directory, tls: bed.tls[id], address: '127.0.0.1:0', log: quiet, acceptedHead: async () => (await replica.cursor()).head, consistencyProof: (a, b) => replica.consistencyProofFromLeaves(a, b) });
  closers.push(() => gossipServer.stop());
  // What the other partners use to reach this one's gossip endpoint (as charlie).
  const gossip = new GossipClient({ address: `127.0.0.1:${gossipServer.port}`, tls: bed.tls.charlie, serverName: 'localhost' });
  closers.push(() => gossip.close());
  return { replica, gossip };
}


describe('attack 3: a peer gossips a head the sequencer did not sign', () => {
  test('the partner reports the peer (BadPeerHead), does not halt, and keeps replicating', async () => {
    const log = logOf([`a-${suffix}.example`, `b-${suffix}.example`]);
    const alpha = await partner('alpha', log);
    await alpha.replica.sync();
    const forged = signLogHead(SigningKey.generate(), new MerkleLog(), new Date());
    await assert.rejects(alpha.replica.compareWithPeer(forged), BadPeerHead);
    assert.equal((await alpha.replica.cursor()).halted, undefined, 'no halt');
    const sized = { ...forged, treeSize: 2 };
    await assert.rejects(alpha.replica.compareWithPeer(sized), BadPeerHead);
    assert.equal((await alpha.replica.sync()).treeSize, 2, 'replication goes on');
  });
});

describe('attack 4: a split view while the sequencer refuses consistency proofs', () => {
  test('the partner with the longer head proves the fork from its own leaves and halts; the other suspects it; an honest pair settles by the peer\'s proof', async () => {
    const shared = [`s1-${suffix}.example`, `s2-${suffix}.example`];
    const t = Date.now();
    const seenByAlpha = logOf([...shared, `only-alpha-${suffix}.example`], t);
    const seenByBravo = logOf([...shared, `only-bravo-${suffix}.example`, `more-bravo-${suffix}.example`], t);
    const alpha = await partner('alpha', seenByAlpha);
    const bravo = await partner('bravo', seenByBravo);
    await alpha.replica.sync();
    await bravo.replica.sync();
    seenByAlpha.refuseProofs = true;
    seenByBravo.refuseProofs = true;
    const alphaHead = (await alpha.gossip.acceptedHead()).head!;
    const bravoHead = (await bravo.gossip.acceptedHead()).head!;

    // alpha (size 3) sees bravo's larger head: the peer's proof from its leaves does not verify against alpha's head: suspected.
    const seen = await alpha.replica.compareWithPeer(bravoHead, (a, b) => bravo.gossip.consistencyProof(a, b));
    assert.equal(seen.status, 'suspected');
    // bravo (size 4) sees alpha's smaller head: its own verified leaves hash to another root at size 3: a fork, proven.
    const halt = await bravo.replica.compareWithPeer(alphaHead, (a, b) => alpha.gossip.consistencyProof(a, b)).then(() => undefined, (e: unknown) => e);
    assert.ok(halt instanceof ReplicationHalted);
    assert.equal(halt.reason, 'fork');

    // Two partners that saw the same history settle it without the sequencer, in both directions.
    const honest = logOf([...shared, `only-alpha-${suffix}.example`, `next-${suffix}.example`], t);
    const charlie = await partner('charlie', honest);
    await charlie.replica.sync();
    honest.refuseProofs = true;
    const charlieHead = (await charlie.gossip.acceptedHead()).head!;
    assert.deepEqual(await alpha.replica.compareWithPeer(charlieHead, (a, b) => charlie.gossip.consistencyProof(a, b)), { status: 'consistent', settledBy: 'peer-proof' });
    assert.deepEqual(await charlie.replica.compareWithPeer(alphaHead, (a, b) => alpha.gossip.consistencyProof(a, b)), { status: 'consistent', settledBy: 'own-leaves' });
  });

  test('a partner upgraded from before the leaf store records the leaves of entries it applied before, each checked against the head', async () => {
    const log = logOf([`u1-${suffix}.example`, `u2-${suffix}.example`, `u3-${suffix}.example`]);
    const server = await startExchangeServer({ sequencer: log, directory: directory(), tls: bed.tls.sequencer, address: '127.0.0.1:0', log: quiet });
    closers.push(() => server.stop());
    const client = new ExchangeClient({ address: `127.0.0.1:${server.port}`, tls: bed.tls.alpha, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 1 } });
    closers.push(() => client.close());
    const db = bed.mongo.db(`tm_attack_peers_${suffix}_upgrade`);
    closers.push(() => db.dropDatabase().then(() => undefined));
    const sink = await MongoIndicatorSink.open(db);
    const base = { sourceId: 'sequencer', source: client, sink, history: sink, cursors: new MongoCursorStore(db), anchors: { sequencerKey: sequencerKey.publicKey, partners, quorum: 2 }, now: () => new Date(), log: quiet };
    assert.equal((await new PartnerReplica(base).sync()).applied, 3, 'applied by a version without leaves');
    const leaves = new MongoLeafStore(db);
    assert.equal(await leaves.size(), 0);
    const upgraded = new PartnerReplica({ ...base, leaves });
    assert.equal((await upgraded.sync()).applied, 0);
    assert.equal(await leaves.size(), 3, 'the leaves of the three entries applied before are recorded');
    assert.deepEqual(await upgraded.consistencyProofFromLeaves(1, 3), log.consistencyProof(1, 3));
  });
});

// Each row changes charlie's directory entry, then charlie calls again on the same connection.
const DIRECTORY_CHANGES: ReadonlyArray<{ readonly name: string; readonly charlie: (p: PartnerEntry) => PartnerEntry | undefined; readonly refused?: string }> = [
  { name: 'in the directory', charlie: (p) => p },
  { name: 'removed from the directory', charlie: () => undefined, refused: 'unknown-partner' },
  { name: 'added back (a refusal is not remembered)', charlie: (p) => p },
  { name: 'pinned to another certificate', charlie: (p) => ({ ...p, certFingerprint256: 'AA:'.repeat(31) + 'AA' }), refused: 'pinned-certificate-mismatch' },
  { name: 'pin removed again', charlie: (p) => p },
];

describe('gossip reads a caller\'s certificate once per connection, and authorizes every call against the directory of that call', () => {
  test('a peer removed from the directory (or pinned to another certificate) is refused on the connection it already has', async () => {
    const current = directory();
    const gossipServer = await startGossipServer({ partnerId: 'alpha', directory: () => current, tls: bed.tls.alpha, address: '127.0.0.1:0', log: quiet, acceptedHead: () => Promise.resolve(undefined) });
    closers.push(() => gossipServer.stop());
    // One client, one channel: every call below travels on the same HTTP/2 connection.
    const charlie = new GossipClient({ address: `127.0.0.1:${gossipServer.port}`, tls: bed.tls.charlie, serverName: 'localhost' });
    closers.push(() => charlie.close());
    const genuine = directory().get('charlie')!;
    for (const row of DIRECTORY_CHANGES) {
      const entry = row.charlie(genuine);
      if (entry === undefined) current.delete('charlie');
      else current.set('charlie', entry);
      const got = await charlie.acceptedHead().then((h) => h, (e: unknown) => e as grpc.ServiceError);
      if (row.refused === undefined) {
        assert.deepEqual(got, { partnerId: 'alpha', head: undefined }, row.name);
        continue;
      }
      assert.ok(got instanceof Error, `${row.name}: refused`);
      assert.deepEqual([got.code, got.metadata.get(REASON_TRAILER)[0]], [grpc.status.PERMISSION_DENIED, row.refused], row.name);
    }
    // The certificate was read once and reused by every later call: the refusals above came from the directory, not a fresh read.
    assert.deepEqual(gossipServer.peerIdentities(), { read: 1, reused: DIRECTORY_CHANGES.length - 1 });
  });
});

/**
 * The live tail (protocol revision 4, FollowLog): a partner's replica following one stream gets
 * the same entries as one making the calls per head, and makes no call per head once the stream
 * is open; against a sequencer before revision 4 (UNIMPLEMENTED) it falls back to the calls; and
 * a hostile sequencer's heads and entries pushed on the stream are checked as the calls' answers
 * are: a tampered entry, a head signed by another key or a false consistency proof halts it.
 * Real parts: the real Sequencer or a hostile log behind the real exchange endpoint over gRPC with
 * mutual TLS, the real client, replica and MongoDB sink (FerretDB).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import { signProposal, type EntryBody } from '../../operator/src/domain/entry.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import type { ProvenEntry } from '../../operator/src/exchange/protocol/messages.ts';
import { LiveTail } from '../../operator/src/exchange/partner/livetail.ts';
import { PartnerReplica, ReplicationHalted, type LogSource } from '../../operator/src/exchange/partner/replica.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer, type SequencerCore, type ServerLimits } from '../../operator/src/exchange/sequencer/server.ts';
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
const WINDOW = 72 * 3_600_000;
const directory = new Map(partners.map((p) => [p.partnerId, p]));

const closers: Array<() => Promise<void> | void> = [];
const bed = attackBedHooks('threatmesh-livetail', [...IDS, 'sequencer'] as const, closers);
let n = 0;

async function admit(seq: Sequencer, tag: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const indicator = { type: 'domain' as const, value: `${tag}-${i}-${suffix}.tail.example` };
    const { subject } = await seq.propose('alpha', { kind: 'add', indicatorJson: indicatorCanonicalJson(indicator), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', indicator) });
    for (const v of ['alpha', 'bravo'] as const) await seq.vote(v, signVote(keys[v], { partnerId: v, digest: subject, decision: 'approve', signedAt: new Date().toISOString() }));
  }
}

async function genuine(tag: string, count: number): Promise<EntryBody[]> {
  const seq = await Sequencer.open({ store: new MemoryLogStore(), key: SigningKey.generate(), partners, quorum: 2, now: () => new Date(), log: quiet });
  await admit(seq, tag, count);
  const bodies: EntryBody[] = [];
  for await (const { entry } of seq.entries(0, seq.size)) bodies.push(entry);
  return bodies;
}

async function serve(core: SequencerCore, limits: ServerLimits = {}): Promise<Awaited<ReturnType<typeof startExchangeServer>>> {
  const server = await startExchangeServer({ sequencer: core, directory, tls: bed.tls.sequencer, address: '127.0.0.1:0', log: quiet, limits: { batch: { maxEntries: 4 }, ...limits } });
  closers.push(() => server.stop());
  return server;
}

/** The partner alpha replicating from `port` into a fresh database; `tail` puts a LiveTail over the client. */
async function partnerAt(port: number, sequencerKey: SigningKey, tail: boolean): Promise<{ replica: PartnerReplica; sink: MongoIndicatorSink; live: LiveTail | undefined }> {
  const client = new ExchangeClient({ address: `127.0.0.1:${port}`, tls: bed.tls.alpha, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 }, streamBatch: { maxEntries: 4 } });
  const live = tail ? new LiveTail(client) : undefined;
  closers.push(() => {
    live?.close();
    client.close();
  });
  const db = bed.mongo.db(`tm_livetail_${suffix}_${n++}`);
  closers.push(() => db.dropDatabase().then(() => undefined));
  const sink = await MongoIndicatorSink.open(db);
  const source: LogSource = live ?? client;
  const replica = new PartnerReplica({ sourceId: 'sequencer', source, sink, history: sink, cursors: new MongoCursorStore(db), anchors: { sequencerKey: sequencerKey.publicKey, partners, quorum: 2, votingWindowMs: WINDOW }, now: () => new Date(), log: quiet, checkpointEvery: 3 });
  return { replica, sink, live };
}

// What each replica applied, without the time it applied it.
async function records(sink: MongoIndicatorSink): Promise<Array<{ logIndex: number; value: string }>> {
  return (await sink.all()).map(({ addedAt: _at, ...r }) => ({ logIndex: r.logIndex, value: JSON.stringify(r) })).sort((a, b) => a.logIndex - b.logIndex);
}

async function haltOf(replica: PartnerReplica, waitMs = 0): Promise<ReplicationHalted> {
  const err = await replica.sync(waitMs).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ReplicationHalted, `expected a halt, got ${String(err)}`);
  return err;
}

function callsOf(server: { peerIdentities(): { read: number; reused: number } }): number {
  const p = server.peerIdentities();
  return p.read + p.reused;
}

describe('the live tail delivers what the calls deliver', () => {
  test('two replicas, one following the tail and one making the calls, apply the same entries; a head on the open tail costs no call', async () => {
    const key = SigningKey.generate();
    const seq = await Sequencer.open({ store: new MemoryLogStore(), key, partners, quorum: 2, now: () => new Date(), log: quiet });
    await admit(seq, 'first', 10);
    const server = await serve(seq);
    const tailing = await partnerAt(server.port, key, true);
    const calling = await partnerAt(server.port, key, false);
    assert.equal((await tailing.replica.sync()).applied, 10);
    assert.equal((await calling.replica.sync()).applied, 10);
    const before = callsOf(server);
    // The next sync long-polls: the tail is already open, so the new head and its entries come on it.
    const next = tailing.replica.sync(10_000);
    await admit(seq, 'second', 9);
    assert.ok((await next).treeSize > 10);
    // Entries the first push did not hold yet (the log grew while it was sent) come with the next head.
    while ((await tailing.replica.cursor()).nextIndex < seq.size) await tailing.replica.sync(5_000);
    assert.equal(callsOf(server), before, 'no call was made for the new heads: they came on the open stream');
    await calling.replica.sync();
    assert.deepEqual(await records(tailing.sink), await records(calling.sink));
    assert.equal((await records(tailing.sink)).length, 19);
    const stats = tailing.live!.stats();
    assert.equal(stats.opened, 1);
    assert.ok(stats.heads >= 2 && stats.proofs >= 1 && stats.entries === 19, JSON.stringify(stats));
    assert.ok(server.tails().heads >= 2);
    assert.equal(server.framedSends().unpatched, 0);
  });

  test('against a sequencer before revision 4 (UNIMPLEMENTED) the replica falls back to the calls and applies everything', async () => {
    const key = SigningKey.generate();
    const seq = await Sequencer.open({ store: new MemoryLogStore(), key, partners, quorum: 2, now: () => new Date(), log: quiet });
    await admit(seq, 'older', 7);
    const server = await serve(seq, { tail: false });
    const { replica, sink, live } = await partnerAt(server.port, key, true);
    assert.equal((await replica.sync()).applied, 7);
    await admit(seq, 'older-more', 3);
    assert.equal((await replica.sync()).applied, 3);
    assert.equal((await records(sink)).length, 10);
    const stats = live!.stats();
    assert.equal(stats.opened, 1, 'tried once, then the calls until the reprobe time');
    assert.equal(stats.heads + stats.entries, 0);
    assert.equal(server.tails().heads, 0);
  });
});

/** A hostile core over a genuine log, its streams rewritten by `tamper`, its proofs by `proofs`. */
function hostile(log: HostileLog, tamper: (l: ProvenEntry[]) => ProvenEntry[] = (l) => l, proofs: (p: string[]) => string[] = (p) => p): SequencerCore {
  return {
    treeHead: () => log.treeHead(), waitForSize: () => log.waitForSize(), inclusionProof: (i, s) => log.inclusionProof(i, s), consistencyProof: (a, b) => proofs(log.consistencyProof(a, b)),
    pending: () => log.pending(), propose: () => log.propose(), vote: () => log.vote(),
    async *entries(from: number, size: number) {
      const all: ProvenEntry[] = [];
      for await (const e of log.entries(from, size)) all.push(e);
      yield* tamper(all);
    },
  };
}

describe('a hostile sequencer pushes heads and entries that do not verify on the live tail', () => {
  test('an entry skipped on the stream: halt out-of-order, the entries before it applied', async () => {
    const log = new HostileLog();
    log.append(...await genuine('skip', 8));
    const server = await serve(hostile(log, (l) => l.filter((e) => e.entry.index !== 5)));
    const { replica, sink, live } = await partnerAt(server.port, log.key, true);
    const halt = await haltOf(replica);
    assert.deepEqual([halt.reason, halt.index], ['out-of-order', 6], halt.message);
    assert.deepEqual((await records(sink)).map((r) => r.logIndex), [0, 1, 2, 3, 4]);
    assert.ok(live!.stats().entries > 0, 'the entries came on the tail');
  });

  test('a later head signed by another key: halt bad-tree-head', async () => {
    const log = new HostileLog();
    log.append(...await genuine('key', 6));
    const server = await serve(hostile(log));
    const { replica, live } = await partnerAt(server.port, log.key, true);
    assert.equal((await replica.sync()).applied, 6);
    log.rotate(SigningKey.generate());
    log.append(...await genuine('key-more', 2));
    const halt = await haltOf(replica, 5_000);
    assert.equal(halt.reason, 'bad-tree-head', halt.message);
    assert.ok(live!.stats().heads >= 1);
  });

  test('a later head with a false consistency proof on the stream: halt fork', async () => {
    const log = new HostileLog();
    log.append(...await genuine('proof', 6));
    const server = await serve(hostile(log, undefined, (p) => p.map(() => '00'.repeat(32))));
    const { replica, live } = await partnerAt(server.port, log.key, true);
    assert.equal((await replica.sync()).applied, 6);
    log.append(...await genuine('proof-more', 3));
    const halt = await haltOf(replica, 5_000);
    assert.equal(halt.reason, 'fork', halt.message);
    assert.ok(live!.stats().proofs >= 1, 'the proof came on the tail');
  });
});

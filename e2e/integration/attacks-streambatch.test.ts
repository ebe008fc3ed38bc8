/**
 * Trust model, "Sequencer skipping an entry in the stream", over entry batches (protocol
 * revision 3, docs/trust-model.md): a malicious sequencer uses
 * StreamEntryBatches to skip, reorder, duplicate or splice entries, inside one batch or across
 * the boundary of two, or sends batches that break their bounds (empty, more entries than the
 * partner asked). The partner checks every entry of a batch as it checks single entries, so each
 * attack halts the replica at the entry it touches, after applying the genuine entries before it.
 * Real parts: a genuine log made by the real Sequencer, served by the real exchange endpoint
 * (batches of 4) over gRPC with mutual TLS, and the partner's real replica and MongoDB sink
 * (FerretDB). The batch-shape attacks need batches the real endpoint never builds: a gRPC server
 * in this file (same mutual TLS) serves them, with heads and proofs of the same genuine log.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import { signProposal, type EntryBody } from '../../operator/src/domain/entry.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { ExchangeClient } from '../../operator/src/exchange/protocol/client.ts';
import { bindServer, stopServer } from '../../operator/src/exchange/protocol/grpcserver.ts';
import type { ProvenEntry } from '../../operator/src/exchange/protocol/messages.ts';
import { loadExchangePackage } from '../../operator/src/exchange/protocol/proto.ts';
import { entryToWire, headToWire } from '../../operator/src/exchange/protocol/wire.ts';
import { PartnerReplica, ReplicationHalted } from '../../operator/src/exchange/partner/replica.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer, type SequencerCore } from '../../operator/src/exchange/sequencer/server.ts';
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
const ENTRIES = 12;
const BATCH = 4;

const closers: Array<() => Promise<void> | void> = [];
const bed = attackBedHooks('threatmesh-attack-streambatch', [...IDS, 'sequencer'] as const, closers);
let n = 0;

/** A genuine log of `count` admissions made by the real sequencer (names tagged by `tag`). */
async function genuine(tag: string, count = ENTRIES): Promise<EntryBody[]> {
  const seq = await Sequencer.open({ store: new MemoryLogStore(), key: SigningKey.generate(), partners, quorum: 2, now: () => new Date(), log: quiet });
  for (let i = 0; i < count; i++) {
    const indicator = { type: 'domain' as const, value: `${tag}-${i}-${suffix}.batch.example` };
    const { subject } = await seq.propose('alpha', { kind: 'add', indicatorJson: indicatorCanonicalJson(indicator), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', indicator) });
    for (const v of ['alpha', 'bravo'] as const) await seq.vote(v, signVote(keys[v], { partnerId: v, digest: subject, decision: 'approve', signedAt: new Date().toISOString() }));
  }
  const bodies: EntryBody[] = [];
  for await (const { entry } of seq.entries(0, seq.size)) bodies.push(entry);
  return bodies;
}

/** A hostile core: the genuine log's heads and proofs, its streams rewritten by `tamper`. */
function tampered(log: HostileLog, tamper: (entries: ProvenEntry[]) => ProvenEntry[]): SequencerCore {
  return {
    treeHead: () => log.treeHead(), waitForSize: () => log.waitForSize(), inclusionProof: (i, s) => log.inclusionProof(i, s), consistencyProof: (a, b) => log.consistencyProof(a, b),
    pending: () => log.pending(), propose: () => log.propose(), vote: () => log.vote(),
    async *entries(from: number, size: number) {
      const all: ProvenEntry[] = [];
      for await (const e of log.entries(from, size)) all.push(e);
      yield* tamper(all);
    },
  };
}

/** The partner alpha replicating from the endpoint on `port`, into a fresh database. */
async function partnerAt(port: number, log: HostileLog): Promise<{ replica: PartnerReplica; sink: MongoIndicatorSink }> {
  const client = new ExchangeClient({ address: `127.0.0.1:${port}`, tls: bed.tls.alpha, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 2, baseMs: 10, capMs: 50 }, streamBatch: { maxEntries: BATCH } });
  closers.push(() => client.close());
  const db = bed.mongo.db(`tm_attack_sbatch_${suffix}_${n++}`);
  closers.push(() => db.dropDatabase().then(() => undefined));
  const sink = await MongoIndicatorSink.open(db);
  const replica = new PartnerReplica({ sourceId: 'sequencer', source: client, sink, history: sink, cursors: new MongoCursorStore(db), anchors: { sequencerKey: log.key.publicKey, partners, quorum: 2, votingWindowMs: WINDOW }, now: () => new Date(), log: quiet, checkpointEvery: 3 });
  return { replica, sink };
}

async function haltOf(replica: PartnerReplica): Promise<ReplicationHalted> {
  const err = await replica.sync().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ReplicationHalted, `expected a halt, got ${String(err)}`);
  return err;
}

async function appliedIndexes(sink: MongoIndicatorSink): Promise<number[]> {
  return (await sink.all()).map((r) => r.logIndex).sort((a, b) => a - b);
}

const at = (list: ProvenEntry[], i: number): ProvenEntry => list[i]!;
const swap = (list: ProvenEntry[], i: number): ProvenEntry[] => [...list.slice(0, i), at(list, i + 1), at(list, i), ...list.slice(i + 2)];

/**
 * [name, how the stream is rewritten (given a genuine foreign log), halt reason, the index the
 * offending message carried, genuine entries applied before it (0 .. applied-1)].
 */
const STREAM_ATTACKS: ReadonlyArray<[string, (l: ProvenEntry[], foreign: ProvenEntry[]) => ProvenEntry[], string, number, number]> = [
  ['skips entry 5 inside a batch', (l) => l.filter((e) => e.entry.index !== 5), 'out-of-order', 6, 5],
  ['skips entry 4, the first of the second batch', (l) => l.filter((e) => e.entry.index !== 4), 'out-of-order', 5, 4],
  ['reorders entries 5 and 6 inside a batch', (l) => swap(l, 5), 'out-of-order', 6, 5],
  ['reorders entries 3 and 4 across two batches', (l) => swap(l, 3), 'out-of-order', 4, 3],
  ['duplicates entry 5', (l) => [...l.slice(0, 6), at(l, 5), ...l.slice(6)], 'out-of-order', 5, 6],
  ['duplicates entry 3 at the start of the next batch', (l) => [...l.slice(0, 4), at(l, 3), ...l.slice(4)], 'out-of-order', 3, 4],
  ['splices entry 5 of another genuine log (its own proof) in place of entry 5', (l, f) => [...l.slice(0, 5), at(f, 5), ...l.slice(6)], 'tampered-entry', 5, 5],
  ['splices entry 6 under index 5 (skips 5, renumbers the rest)', (l) => [...l.slice(0, 5), ...l.slice(6).map((e) => ({ entry: { ...e.entry, index: e.entry.index - 1 }, proof: e.proof }))], 'tampered-entry', 5, 5],
];

describe('a hostile sequencer tampers with the entries it packs in batches', () => {
  for (const [name, tamper, reason, index, applied] of STREAM_ATTACKS) {
    test(`a sequencer that ${name}: halt ${reason} at ${index}, the ${applied} entries before it applied`, async () => {
      const log = new HostileLog();
      log.append(...await genuine('own'));
      const foreign = new HostileLog();
      foreign.append(...await genuine('foreign'));
      const foreignEntries: ProvenEntry[] = [];
      for await (const e of foreign.entries(0, ENTRIES)) foreignEntries.push(e);
      const server = await startExchangeServer({ sequencer: tampered(log, (l) => tamper(l, foreignEntries)), directory: new Map(partners.map((p) => [p.partnerId, p])), tls: bed.tls.sequencer, address: '127.0.0.1:0', log: quiet, limits: { batch: { maxEntries: BATCH } } });
      closers.push(() => server.stop());
      const { replica, sink } = await partnerAt(server.port, log);
      const halt = await haltOf(replica);
      assert.deepEqual([halt.reason, halt.index], [reason, index], halt.message);
      assert.deepEqual(await appliedIndexes(sink), Array.from({ length: applied }, (_, i) => i));
      assert.ok(server.batchesSent().batches >= 2, 'the entries came in batches');
    });
  }

  test('the untampered log replicates whole over batches (the same endpoint, no rewrite)', async () => {
    const log = new HostileLog();
    log.append(...await genuine('whole'));
    const server = await startExchangeServer({ sequencer: tampered(log, (l) => l), directory: new Map(partners.map((p) => [p.partnerId, p])), tls: bed.tls.sequencer, address: '127.0.0.1:0', log: quiet, limits: { batch: { maxEntries: BATCH } } });
    closers.push(() => server.stop());
    const { replica, sink } = await partnerAt(server.port, log);
    assert.equal((await replica.sync()).applied, ENTRIES);
    assert.deepEqual(await appliedIndexes(sink), Array.from({ length: ENTRIES }, (_, i) => i));
    assert.deepEqual(server.batchesSent(), { batches: ENTRIES / BATCH, entries: ENTRIES });
  });
});

/** Batch sizes a hostile endpoint sends, in order, over the genuine entries. */
async function shapedServer(log: HostileLog, sizes: readonly number[]): Promise<number> {
  const service = loadExchangePackage().Exchange.service;
  const server = new grpc.Server();
  const sendShaped = async (call: grpc.ServerWritableStream<{ fromIndex: number; treeSize: number }, unknown>): Promise<void> => {
    const all: ProvenEntry[] = [];
    for await (const e of log.entries(call.request.fromIndex, call.request.treeSize)) all.push(e);
    let next = 0;
    for (const size of sizes) {
      call.write({ entries: all.slice(next, next + size).map((e) => entryToWire(e.entry, e.proof)) });
      next += size;
    }
    call.end();
  };
  server.addService({ GetTreeHead: service.GetTreeHead, GetConsistencyProof: service.GetConsistencyProof, StreamEntryBatches: service.StreamEntryBatches }, {
    GetTreeHead: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => void log.treeHead().then((h) => cb(null, headToWire(h))),
    GetConsistencyProof: (call: grpc.ServerUnaryCall<{ oldSize: number; newSize: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { hashes: log.consistencyProof(call.request.oldSize, call.request.newSize) }),
    StreamEntryBatches: (call: grpc.ServerWritableStream<{ fromIndex: number; treeSize: number }, unknown>) => void sendShaped(call),
  });
  const port = await bindServer(server, '127.0.0.1:0', bed.tls.sequencer);
  closers.push(() => stopServer(server));
  return port;
}

/** [name, batch sizes sent, halt index]. */
const SHAPE_ATTACKS: ReadonlyArray<[string, number[], number]> = [
  ['an empty batch after the first one', [BATCH, 0, BATCH], BATCH],
  ['a batch of more entries than the partner asked for', [BATCH, BATCH + 2], BATCH],
  ['an empty batch first', [0, ENTRIES], 0],
];

describe('a hostile sequencer sends batches that break their bounds', () => {
  for (const [name, sizes, index] of SHAPE_ATTACKS) {
    test(`${name}: halt malformed-entry at ${index}, the genuine entries before it applied`, async () => {
      const log = new HostileLog();
      log.append(...await genuine(`shape${n}`));
      const { replica, sink } = await partnerAt(await shapedServer(log, sizes), log);
      const halt = await haltOf(replica);
      assert.deepEqual([halt.reason, halt.index], ['malformed-entry', index], halt.message);
      assert.match(halt.message, /a batch holds 1 to 4 \(the bound this partner asked\)/);
      assert.deepEqual(await appliedIndexes(sink), Array.from({ length: index }, (_, i) => i));
    });
  }
});

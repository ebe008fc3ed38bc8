/**
 * Entry batches on the stream (protocol revision 3, StreamEntryBatches): every entry of a batch
 * is byte for byte what StreamEntries sends; an older partner (StreamEntries) still gets single
 * entries from a new sequencer; a new partner falls back to single entries on a sequencer
 * without batches, and asks for batches again once it reconnects (a failover to a newer replica)
 * or the reprobe time is up; and a batch's bounds (entries, bytes) are enforced with an error that says
 * what to change. Real parts: the real Sequencer (memory log store) and a log under test
 * control, each behind the real exchange endpoint over gRPC with mutual TLS, and the real client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import { signProposal } from '../../operator/src/domain/entry.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { MemoryLogStore, MemoryRoundStore } from '../../operator/src/store/memory.ts';
import { ExchangeCallError, ExchangeClient, type ExchangeClientOptions } from '../../operator/src/exchange/protocol/client.ts';
import { loadExchangePackage } from '../../operator/src/exchange/protocol/proto.ts';
import { REASON_TRAILER } from '../../operator/src/exchange/protocol/grpcserver.ts';
import { channelCredentials, type PartnerEntry, type TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import type { WireEntryResult } from '../../operator/src/exchange/protocol/wire.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer, type ExchangeServer, type ServerLimits } from '../../operator/src/exchange/sequencer/server.ts';
import { HostileLog } from '../harness/hostile.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const ids = ['alpha', 'bravo', 'charlie'] as const;
const keys = Object.fromEntries(ids.map((id) => [id, SigningKey.generate()])) as Record<(typeof ids)[number], SigningKey>;
const partners: PartnerEntry[] = ids.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter', 'consumer'] }));
const directory = new Map(partners.map((p) => [p.partnerId, p]));
const ENTRIES = 30;
const service = loadExchangePackage().Exchange.service;

let ca: TestCa;
let seq: Sequencer;
const tls = {} as Record<(typeof ids)[number] | 'sequencer', TlsMaterial>;
const closers: Array<() => Promise<void> | void> = [];

async function serve(core: Parameters<typeof startExchangeServer>[0]['sequencer'], limits?: ServerLimits, port = 0): Promise<ExchangeServer> {
  const server = await startExchangeServer({ sequencer: core, directory, tls: tls.sequencer, address: `127.0.0.1:${port}`, log: quiet, ...(limits !== undefined ? { limits } : {}) });
  closers.push(() => server.stop());
  return server;
}

function clientOf(port: number, opts: Partial<ExchangeClientOptions> = {}): ExchangeClient {
  const c = new ExchangeClient({ address: `127.0.0.1:${port}`, tls: tls.alpha, serverName: 'localhost', deadlineMs: 15_000, retry: { attempts: 1 }, ...opts });
  closers.push(() => c.close());
  return c;
}

async function all(it: AsyncIterable<WireEntryResult>): Promise<WireEntryResult[]> {
  const out: WireEntryResult[] = [];
  for await (const r of it) out.push(r);
  return out;
}

/** Raw messages of one server-streaming method, as bytes. */
function raw(port: number, method: 'StreamEntries' | 'StreamEntryBatches', req: object): Promise<Buffer[]> {
  const c = new grpc.Client(`127.0.0.1:${port}`, channelCredentials(tls.bravo), { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' });
  closers.push(() => c.close());
  const def = service[method] as unknown as grpc.MethodDefinition<object, unknown>;
  const s = c.makeServerStreamRequest(def.path, (r: object) => def.requestSerialize(r), (b: Buffer) => b, req);
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    s.on('data', (b: Buffer) => got.push(b));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

before(async () => {
  ca = await createTestCa('threatmesh-streambatch');
  for (const id of [...ids, 'sequencer'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
  seq = await Sequencer.open({ store: new MemoryLogStore(), rounds: new MemoryRoundStore(), key: SigningKey.generate(), partners, quorum: 2, now: () => new Date(), log: quiet });
  for (let i = 0; i < ENTRIES; i++) {
    const indicator = { type: 'domain' as const, value: `batch-${i}.example` };
    const { subject } = await seq.propose('alpha', { kind: 'add', indicatorJson: indicatorCanonicalJson(indicator), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', indicator) });
    for (const v of ['alpha', 'bravo'] as const) await seq.vote(v, signVote(keys[v], { partnerId: v, digest: subject, decision: 'approve', signedAt: new Date().toISOString() }));
  }
});

after(async () => {
  for (const close of closers.reverse()) await close();
  await ca?.dispose();
});

describe('entry batches are the entries StreamEntries sends, packed', () => {
  test('each batch holds at most the entries asked; the entries are byte for byte the single messages', async () => {
    const server = await serve(seq);
    const singles = await raw(server.port, 'StreamEntries', { fromIndex: 0, treeSize: ENTRIES });
    const batches = await raw(server.port, 'StreamEntryBatches', { fromIndex: 0, treeSize: ENTRIES, maxEntries: 7, maxBytes: 0 });
    const decode = (b: Buffer): { entries: unknown[] } => service.StreamEntryBatches.responseDeserialize(b);
    assert.deepEqual(batches.map((b) => decode(b).entries.length), [7, 7, 7, 7, 2]);
    const entries = batches.flatMap((b) => decode(b).entries);
    assert.deepEqual(entries, singles.map((b) => service.StreamEntries.responseDeserialize(b)));
    assert.deepEqual(server.batchesSent(), { batches: 5, entries: ENTRIES });
  });

  test('the byte bound splits batches; an entry larger than the bound travels alone', async () => {
    const server = await serve(seq);
    const one = (await raw(server.port, 'StreamEntries', { fromIndex: 0, treeSize: 1 }))[0]!.length;
    const batches = await raw(server.port, 'StreamEntryBatches', { fromIndex: 0, treeSize: 10, maxEntries: 0, maxBytes: 3 * (one + 8) });
    const counts = batches.map((b) => (service.StreamEntryBatches.responseDeserialize(b) as { entries: unknown[] }).entries.length);
    assert.equal(counts.reduce((a, b) => a + b, 0), 10);
    assert.ok(counts.every((n) => n >= 2 && n <= 3), `batches of 2 or 3 entries, got ${counts.join(',')}`);
    const alone = await raw(server.port, 'StreamEntryBatches', { fromIndex: 0, treeSize: 4, maxEntries: 0, maxBytes: 1 });
    assert.equal(alone.length, 4);
  });
});

describe('backward compatibility', () => {
  test('an older partner (StreamEntries) gets single entries from a sequencer serving batches', async () => {
    const server = await serve(seq);
    const singles = await raw(server.port, 'StreamEntries', { fromIndex: 3, treeSize: ENTRIES });
    assert.equal(singles.length, ENTRIES - 3);
    assert.deepEqual(singles.map((b) => (service.StreamEntries.responseDeserialize(b) as { index: number }).index), Array.from({ length: ENTRIES - 3 }, (_, i) => i + 3));
    assert.deepEqual(server.batchesSent(), { batches: 0, entries: 0 });
  });

  test('a new partner asks an older sequencer (no batches: UNIMPLEMENTED) and falls back to single entries', async () => {
    const older = await serve(seq, { batch: false });
    const newer = await serve(seq);
    const fromOlder = await all(clientOf(older.port).entries(0, ENTRIES));
    const fromNewer = await all(clientOf(newer.port).entries(0, ENTRIES));
    assert.equal(fromOlder.length, ENTRIES);
    assert.deepEqual(fromOlder, fromNewer);
    assert.ok(fromOlder.every((r, i) => r.ok && r.entry.index === i));
    assert.equal(newer.batchesSent().entries, ENTRIES);
    const refused = await raw(older.port, 'StreamEntryBatches', { fromIndex: 0, treeSize: 1, maxEntries: 0, maxBytes: 0 }).then(() => undefined, (e: grpc.ServiceError) => e);
    assert.equal(refused?.code, grpc.status.UNIMPLEMENTED);
  });

  // After a failover the same client (one channel to one address) reaches another replica.
  test('after a failover from an older sequencer to a newer one at the same address, a partner asks for batches again on the new connection', async () => {
    const older = await serve(seq, { batch: false });
    const client = clientOf(older.port);
    assert.equal((await all(client.entries(0, ENTRIES))).length, ENTRIES);
    await older.stop();
    const newer = await serve(seq, undefined, older.port);
    const again = await all(client.entries(0, ENTRIES));
    assert.ok(again.every((r, i) => r.ok && r.entry.index === i), 'every entry, in order');
    assert.equal(newer.batchesSent().entries, ENTRIES, 'the entries came in batches from the newer sequencer');
  });

  test('a partner that fell back keeps single entries from the older sequencer on the same connection, every entry each time', async () => {
    const older = await serve(seq, { batch: false });
    const client = clientOf(older.port);
    for (let k = 0; k < 3; k++) assert.equal((await all(client.entries(k, ENTRIES))).filter((r) => r.ok).length, ENTRIES - k);
  });

  test('a partner asking single entries (streamBatch: false) never calls StreamEntryBatches', async () => {
    const server = await serve(seq);
    assert.equal((await all(clientOf(server.port, { streamBatch: false }).entries(0, ENTRIES))).length, ENTRIES);
    assert.deepEqual(server.batchesSent(), { batches: 0, entries: 0 });
  });
});

describe('batch bounds, with errors that say what to change', () => {
  test('asking more than 1,000 entries per batch is refused: INVALID_ARGUMENT batch-too-large', async () => {
    const server = await serve(seq);
    const err = await raw(server.port, 'StreamEntryBatches', { fromIndex: 0, treeSize: 1, maxEntries: 1001, maxBytes: 0 }).then(() => undefined, (e: grpc.ServiceError) => e);
    assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err?.metadata.get(REASON_TRAILER)[0], 'batch-too-large');
    assert.match(err?.details ?? '', /at most 1000 entries/);
    assert.equal(server.openStreams(), 0, 'the refused stream holds no slot');
  });

  const badEndpoint: ReadonlyArray<[string, ServerLimits, RegExp]> = [
    ['bytes beyond the message limit', { maxMessageBytes: 65_536, batch: { maxBytes: 65_536 } }, /maxBytes is 65536; it must be from 1 to 65530/],
    ['entries beyond the protocol bound', { batch: { maxEntries: 5_000 } }, /maxEntries is 5000; it must be a whole number from 1 to 1000/],
    ['no entries', { batch: { maxEntries: 0 } }, /maxEntries is 0/],
  ];
  for (const [name, limits, want] of badEndpoint) {
    test(`an endpoint configured with ${name} does not start`, async () => {
      await assert.rejects(serve(seq, limits), want);
    });
  }

  const badClient: ReadonlyArray<[string, Partial<ExchangeClientOptions>, RegExp]> = [
    ['bytes beyond its own receive limit', { maxMessageBytes: 128 * 1024, streamBatch: { maxBytes: 100 * 1024 } }, /streamBatch.maxBytes is 102400; it must be from 1 to 65536/],
    ['more than 1,000 entries', { streamBatch: { maxEntries: 1001 } }, /streamBatch.maxEntries is 1001/],
  ];
  for (const [name, opts, want] of badClient) {
    test(`a client asking ${name} is refused at construction`, () => {
      assert.throws(() => new ExchangeClient({ address: '127.0.0.1:1', tls: tls.alpha, ...opts }), want);
    });
  }

  test('an entry larger than the partner\'s receive limit fails the stream with batch-too-large and what to do', async () => {
    const log = new HostileLog();
    const now = new Date().toISOString();
    log.append({ kind: 'add', indicator: { type: 'domain', value: 'huge.example' }, proposerId: 'alpha', proposalSignature: 'x'.repeat(200_000), window: { opensAt: now, closesAt: now }, votes: [] });
    const server = await serve(log);
    const err = await all(clientOf(server.port, { maxMessageBytes: 128 * 1024 }).entries(0, 1)).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ExchangeCallError, `expected a call error, got ${String(err)}`);
    assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(err.reason, 'batch-too-large');
    assert.match(err.message, /exceeded this partner's message limit.*raise it/);
  });
});

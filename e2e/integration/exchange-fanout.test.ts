/**
 * The sequencer's entry streams under many followers (issue 18, load and soak): every stream of
 * the same entries gets the very same bytes, encoded once by the endpoint; and a follower that
 * stops reading is cut after the drain timeout (RESOURCE_EXHAUSTED slow-stream) while the
 * others go on; followers at the same cursor get the same batch buffers, packed and framed once (grpc-js copies none of them per stream); the
 * caller's certificate is read once per connection while every call is still authorized. Real parts: the real Sequencer (memory log store) and a log under test control,
 * each behind the real exchange endpoint over gRPC with mutual TLS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type IncomingHttpHeaders } from 'node:http2';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
// grpc-js's own framing of each message a server call sends (1.14): counted to show batches are not copied by it.
import { BaseServerInterceptingCall } from '@grpc/grpc-js/build/src/server-interceptors.js';
import { indicatorCanonicalJson } from '../../operator/src/domain/canonical.ts';
import { entryLeafHash, signProposal } from '../../operator/src/domain/entry.ts';
import { verifyInclusion } from '../../operator/src/domain/merkle.ts';
import { signVote } from '../../operator/src/domain/quorum.ts';
import { SigningKey } from '../../operator/src/domain/signature.ts';
import { createLogger } from '../../operator/src/log.ts';
import { MemoryLogStore, MemoryRoundStore } from '../../operator/src/store/memory.ts';
import { loadExchangePackage } from '../../operator/src/exchange/protocol/proto.ts';
import { REASON_TRAILER } from '../../operator/src/exchange/protocol/grpcserver.ts';
import { channelCredentials, type PartnerEntry, type TlsMaterial } from '../../operator/src/exchange/protocol/tls.ts';
import { entryFromWire } from '../../operator/src/exchange/protocol/wire.ts';
import { Sequencer } from '../../operator/src/exchange/sequencer/sequencer.ts';
import { startExchangeServer, type ExchangeServer } from '../../operator/src/exchange/sequencer/server.ts';
import { HostileLog } from '../harness/hostile.ts';
import { createTestCa, type TestCa } from '../harness/pki.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const ids = ['alpha', 'bravo', 'charlie'] as const;
const keys = Object.fromEntries(ids.map((id) => [id, SigningKey.generate()])) as Record<(typeof ids)[number], SigningKey>;
const partners: PartnerEntry[] = ids.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles: ['contributor', 'voter', 'consumer'] }));
const directory = new Map(partners.map((p) => [p.partnerId, p]));
const ENTRIES = 40;
const RECENT = 25;
// Store pages of the entries behind the cache, shared by the streams that read them.
const PAGE = 8;
const streamDef = loadExchangePackage().Exchange.service.StreamEntries;
const batchDef = loadExchangePackage().Exchange.service.StreamEntryBatches;

let ca: TestCa;
const tls = {} as Record<(typeof ids)[number] | 'sequencer', TlsMaterial>;
const clients: grpc.Client[] = [];

function rawClient(id: (typeof ids)[number], port: number): grpc.Client {
  const c = new grpc.Client(`127.0.0.1:${port}`, channelCredentials(tls[id]), { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' });
  clients.push(c);
  return c;
}

/** StreamEntries as raw message bytes, exactly as they came over the wire. */
function rawStream(client: grpc.Client, fromIndex: number, treeSize: number): grpc.ClientReadableStream<Buffer> {
  return client.makeServerStreamRequest(streamDef.path, (r: { fromIndex: number; treeSize: number }) => streamDef.requestSerialize(r), (b: Buffer) => b, { fromIndex, treeSize });
}

/** StreamEntryBatches as raw message bytes. */
function rawBatches(client: grpc.Client, fromIndex: number, treeSize: number, maxEntries = 0): grpc.ClientReadableStream<Buffer> {
  return client.makeServerStreamRequest(batchDef.path, (r: { fromIndex: number; treeSize: number; maxEntries: number; maxBytes: number }) => batchDef.requestSerialize(r), (b: Buffer) => b, { fromIndex, treeSize, maxEntries, maxBytes: 0 });
}

function readAll(s: grpc.ClientReadableStream<Buffer>): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    s.on('data', (b: Buffer) => got.push(b));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A StreamEntries call from a plain HTTP/2 client that reads nothing until told: unlike the gRPC
 * client (which drains the connection into its own buffers), flow control then stops the server.
 */
function stalledStream(id: (typeof ids)[number], port: number, treeSize: number): { readRest(): Promise<{ bytes: number; trailers: IncomingHttpHeaders }>; close(): void } {
  const session = connect(`https://127.0.0.1:${port}`, { ca: tls[id].caPem, cert: tls[id].certPem, key: tls[id].keyPem, servername: 'localhost' });
  session.on('error', () => undefined);
  const req = session.request({ ':method': 'POST', ':path': streamDef.path, 'content-type': 'application/grpc', te: 'trailers' });
  const msg = streamDef.requestSerialize({ fromIndex: 0, treeSize });
  const frame = Buffer.alloc(5 + msg.length);
  frame.writeUInt32BE(msg.length, 1);
  msg.copy(frame, 5);
  req.end(frame);
  req.pause();
  return {
    readRest: () => new Promise((resolve, reject) => {
      let bytes = 0;
      req.on('data', (b: Buffer) => { bytes += b.length; });
      req.on('trailers', (trailers: IncomingHttpHeaders) => resolve({ bytes, trailers }));
      req.on('error', reject);
      req.resume();
    }),
    close: () => session.destroy(),
  };
}

before(async () => {
  ca = await createTestCa('threatmesh-fanout');
  for (const id of [...ids, 'sequencer'] as const) tls[id] = { caPem: ca.caPem, ...(await ca.issue(id)) };
});

after(async () => {
  for (const c of clients) c.close();
  await ca?.dispose();
});

describe('entry streams share one encoding (real Sequencer behind the real endpoint)', () => {
  let server: ExchangeServer;
  let seq: Sequencer;

  before(async () => {
    const now = new Date();
    // A small entry cache: the first entries come from the store, the rest from memory.
    seq = await Sequencer.open({ store: new MemoryLogStore(), rounds: new MemoryRoundStore(), key: SigningKey.generate(), partners, quorum: 2, now: () => now, log: quiet, entryCacheSize: 10, storePages: { pageEntries: PAGE } });
    for (let i = 0; i < ENTRIES; i++) {
      const indicator = { type: 'domain' as const, value: `fanout-${i}.example` };
      const opened = await seq.propose('alpha', { kind: 'add', indicatorJson: indicatorCanonicalJson(indicator), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', indicator) });
      for (const id of ['alpha', 'bravo'] as const) await seq.vote(id, signVote(keys[id], { partnerId: id, digest: opened.subject, decision: 'approve', signedAt: now.toISOString() }));
    }
    assert.equal(seq.size, ENTRIES);
    server = await startExchangeServer({ sequencer: seq, directory, tls: tls.sequencer, address: '127.0.0.1:0', log: quiet, limits: { fanout: { recentEntries: RECENT } } });
  });

  after(async () => {
    await server?.stop();
  });

  test('six followers (three partners, two streams each) receive identical bytes; each recent entry is encoded once', async () => {
    const head = await seq.treeHead();
    const streams = await Promise.all(ids.flatMap((id) => [0, 1].map(() => readAll(rawStream(rawClient(id, server.port), 0, head.treeSize)))));
    for (const s of streams) {
      assert.equal(s.length, ENTRIES);
      assert.deepEqual(s.map((b) => b.toString('base64')), streams[0]!.map((b) => b.toString('base64')));
    }
    for (const [i, bytes] of streams[0]!.entries()) {
      const w = entryFromWire(streamDef.responseDeserialize(bytes));
      assert.ok(w.ok, `entry ${i} decodes`);
      assert.equal(w.entry.index, i);
      assert.ok(verifyInclusion(entryLeafHash(w.entry), i, head.treeSize, w.proof, head.rootHash), `entry ${i} is included in the signed head`);
    }
    // The recent entries still in memory: encoded once, then shared by the five other streams.
    const shareable = Array.from({ length: RECENT }, (_, k) => ENTRIES - 1 - k).filter((i) => seq.cachedEntry(i) !== undefined).length;
    assert.ok(shareable > 0 && seq.cachedEntry(0) === undefined, 'the range spans the store and memory');
    assert.deepEqual(server.sharedEntries(), { encoded: shareable, shared: 5 * shareable });
    // The entries behind the cache came from the store: one read per page for the six streams.
    const { reads, shared } = seq.storePages();
    assert.ok(reads > 0 && reads <= Math.ceil(ENTRIES / PAGE), `${reads} store page reads`);
    assert.equal(shared, 5 * reads, 'the five other streams awaited the same reads');
  });

  test('six followers at the same cursor get the same batch bytes, packed and framed once; another cursor or bound is packed apart', async () => {
    const head = await seq.treeHead();
    const from = ENTRIES - 5;
    const before = server.sharedBatches();
    const framedBefore = server.framedSends();
    const streams = await Promise.all(ids.flatMap((id) => [0, 1].map(() => readAll(rawBatches(rawClient(id, server.port), from, head.treeSize, 2)))));
    for (const s of streams) assert.deepEqual(s.map((b) => b.toString('base64')), streams[0]!.map((b) => b.toString('base64')));
    const decoded = streams[0]!.map((b) => batchDef.responseDeserialize(b) as { entries: unknown[] });
    assert.deepEqual(decoded.map((b) => b.entries.length), [2, 2, 1], 'the bound asked (2 entries) holds');
    const entries = decoded.flatMap((b) => b.entries).map((m) => entryFromWire(m as never));
    for (const [k, w] of entries.entries()) {
      assert.ok(w.ok && w.entry.index === from + k, `entry ${from + k} decodes`);
      assert.ok(verifyInclusion(entryLeafHash(w.entry), from + k, head.treeSize, w.proof, head.rootHash), `entry ${from + k} is included in the signed head`);
    }
    const after1 = server.sharedBatches();
    assert.deepEqual({ built: after1.built - before.built, reused: after1.reused - before.reused }, { built: 1, reused: 5 });
    // Framed once when packed: each of the six streams sent the three batches' bytes as built, grpc-js copied none.
    const framed = server.framedSends();
    assert.deepEqual({ calls: framed.calls - framedBefore.calls, unpatched: framed.unpatched - framedBefore.unpatched, messages: framed.messages - framedBefore.messages }, { calls: 6, unpatched: 0, messages: 18 });
    // Another bound, or another cursor: packed on its own (never another range's batches).
    const [other] = await Promise.all([readAll(rawBatches(rawClient('alpha', server.port), from, head.treeSize, 3)), readAll(rawBatches(rawClient('bravo', server.port), from + 1, head.treeSize, 2))]);
    assert.deepEqual(other.map((b) => (batchDef.responseDeserialize(b) as { entries: unknown[] }).entries.length), [3, 2]);
    assert.equal(server.sharedBatches().built - after1.built, 2);
  });

  test('grpc-js frames (copies) none of the batches six streams send; the batch messages are still the ones StreamEntries entries make', async () => {
    const head = await seq.treeHead();
    // Counts grpc-js framing a StreamEntryBatches message itself: its copy of the message per stream.
    const proto = BaseServerInterceptingCall.prototype as unknown as { serializeMessage: (this: { readonly handler: { readonly path: string } }, value: unknown) => Buffer };
    const own = proto.serializeMessage;
    let copies = 0;
    proto.serializeMessage = function (value) {
      if (this.handler.path === batchDef.path) copies += 1;
      return own.call(this, value);
    };
    try {
      const streams = await Promise.all(ids.flatMap((id) => [0, 1].map(() => readAll(rawBatches(rawClient(id, server.port), ENTRIES - 5, head.treeSize, 2)))));
      assert.deepEqual(streams.map((s) => s.length), [3, 3, 3, 3, 3, 3]);
      const singles = await readAll(rawStream(rawClient('alpha', server.port), ENTRIES - 5, head.treeSize));
      const batched = streams[0]!.flatMap((b) => (batchDef.responseDeserialize(b) as { entries: unknown[] }).entries);
      assert.deepEqual(batched.map((m) => streamDef.responseSerialize(m as never).toString('base64')), singles.map((b) => streamDef.responseSerialize(streamDef.responseDeserialize(b)).toString('base64')));
    } finally {
      proto.serializeMessage = own;
    }
    assert.equal(copies, 0, 'main: 18, one copy per batch per stream');
  });

  test('a range reaching behind the recent entries is packed per stream (from the store), never shared', async () => {
    const head = await seq.treeHead();
    const before = server.sharedBatches();
    const got = await readAll(rawBatches(rawClient('alpha', server.port), 0, head.treeSize));
    assert.equal(got.flatMap((b) => (batchDef.responseDeserialize(b) as { entries: unknown[] }).entries).length, ENTRIES);
    assert.equal(server.sharedBatches().built, before.built);
  });

  test('a range beyond the log is refused (out-of-range), as before the sharing', async () => {
    const err = await readAll(rawStream(rawClient('alpha', server.port), 0, ENTRIES + 5)).then(() => undefined, (e: grpc.ServiceError) => e);
    assert.equal(err?.code, grpc.status.OUT_OF_RANGE);
  });
});

describe('a follower that stops reading is cut after the drain timeout; the others go on', () => {
  let server: ExchangeServer;
  const BIG = 3000;

  before(async () => {
    const log = new HostileLog();
    const at = new Date().toISOString();
    // Entries large enough that flow control stops the server while a client does not read.
    for (let i = 0; i < BIG; i++) log.append({ kind: 'add', indicator: { type: 'domain', value: `slow-${i}.example` }, proposerId: 'alpha', proposalSignature: 'x'.repeat(4000), window: { opensAt: at, closesAt: at }, votes: [] });
    server = await startExchangeServer({ sequencer: log, directory, tls: tls.sequencer, address: '127.0.0.1:0', log: quiet, limits: { drainTimeoutMs: 1_500 } });
  });

  after(async () => {
    await server?.stop();
  });

  test('the stalled stream stops being served and frees its slot; it reads RESOURCE_EXHAUSTED slow-stream after what was sent; another partner reads everything meanwhile', async () => {
    const stalled = stalledStream('bravo', server.port, BIG);
    try {
      await until('the stalled stream to be served', () => server.openStreams() === 1);
      const reader = readAll(rawStream(rawClient('charlie', server.port), 0, BIG));
      assert.equal((await reader).length, BIG);
      // The server stopped producing for the stalled stream: its slot is free while the client still reads nothing.
      await until('the stalled stream to be dropped', () => server.openStreams() === 0);
      const { bytes, trailers } = await stalled.readRest();
      assert.ok(bytes > 0 && bytes < BIG * 4000, `the stalled stream got the ${bytes} bytes sent before the cut, not the whole log`);
      assert.equal(trailers['grpc-status'], String(grpc.status.RESOURCE_EXHAUSTED));
      assert.equal(trailers[REASON_TRAILER], 'slow-stream');
      assert.match(decodeURIComponent(String(trailers['grpc-message'])), /read nothing of this entry stream for 1\.5 s.*resume from your cursor/);
    } finally {
      stalled.close();
    }
    // A core without cachedEntry (this log) is never shared: each stream was encoded on its own.
    assert.deepEqual(server.sharedEntries(), { encoded: 0, shared: 0 });
    assert.equal(server.slowStreamDrops(), 1, 'the cut is counted for /metrics');
  });
});

describe('the caller is read from its certificate once per connection, and every call is still authorized', () => {
  let server: ExchangeServer;
  let seq: Sequencer;
  // Its own directory: bravo may not vote (ListPending needs the voter role); alpha's role is taken away midway.
  const mine = new Map(partners.map((p) => [p.partnerId, { ...p, roles: p.partnerId === 'bravo' ? ['contributor' as const] : p.roles }]));

  before(async () => {
    seq = await Sequencer.open({ store: new MemoryLogStore(), key: SigningKey.generate(), partners, quorum: 2, now: () => new Date(), log: quiet });
    server = await startExchangeServer({ sequencer: seq, directory: mine, tls: tls.sequencer, address: '127.0.0.1:0', log: quiet });
  });

  after(async () => {
    await server?.stop();
  });

  const head = (c: grpc.Client): Promise<grpc.ServiceError | undefined> => new Promise((resolve) => {
    const def = loadExchangePackage().Exchange.service.ListPending;
    c.makeUnaryRequest(def.path, (r: { offset: number; limit: number }) => def.requestSerialize(r), (b: Buffer) => b, { offset: 0, limit: 0 }, (err) => resolve(err ?? undefined));
  });

  test('each connection keeps its own identity (alpha may list rounds, bravo is refused every time); a role taken away is refused on the next call of the same connection', async () => {
    const [alpha, bravo] = [rawClient('alpha', server.port), rawClient('bravo', server.port)];
    for (let i = 0; i < 3; i++) {
      assert.equal(await head(alpha), undefined, `alpha's call ${i} is served`);
      const refused = await head(bravo);
      assert.equal(refused?.code, grpc.status.PERMISSION_DENIED, `bravo's call ${i} is refused`);
      assert.match(refused?.details ?? '', /partner bravo has roles \[contributor\]/);
    }
    assert.deepEqual(server.peerIdentities(), { read: 2, reused: 4 }, 'one certificate read per connection');
    mine.set('alpha', { ...mine.get('alpha')!, roles: ['contributor'] });
    const refused = await head(alpha);
    assert.equal(refused?.code, grpc.status.PERMISSION_DENIED, 'the directory is checked on every call');
    assert.match(refused?.details ?? '', /partner alpha has roles \[contributor\]/);
  });

  test('a new connection of another partner is read from its own certificate', async () => {
    const before = server.peerIdentities().read;
    assert.equal(await head(rawClient('charlie', server.port)), undefined);
    assert.equal(server.peerIdentities().read, before + 1);
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { MerkleLog, verifyConsistency } from '../../domain/merkle.ts';
import { SigningKey } from '../../domain/signature.ts';
import { signLogHead, verifyTreeHead, type SignedTreeHead } from '../../domain/treehead.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import { frameBuffer, FRAME_PREFIX_BYTES, FramedMessage } from '../protocol/framing.ts';
import type { FollowRequest__Output } from '../protocol/gen/threatmesh/exchange/v1/FollowRequest.ts';
import type { LogTail__Output } from '../protocol/gen/threatmesh/exchange/v1/LogTail.ts';
import { loadExchangePackage } from '../protocol/proto.ts';
import { EncodedBatch, type BatchBounds } from './batches.ts';
import { StreamSlots } from './streams.ts';
import { followLog, MAX_SHARED_MESSAGES, SharedHead, type TailCore, type TailCounts, type TailServing } from './tail.ts';

const def = loadExchangePackage().Exchange.service.FollowLog;
const encode = (m: Parameters<typeof def.responseSerialize>[0]): Buffer => def.responseSerialize(m);
const decode = (m: FramedMessage): LogTail__Output => def.responseDeserialize(m.bytes);

// A log in memory: signs a head of its current size when asked, wakes waiters when it grows.
class FakeLog implements TailCore {
  readonly tree = new MerkleLog();
  readonly key = SigningKey.generate();
  signed = 0;
  proofs = 0;
  fail = false;
  readonly #waiters = new Set<() => void>();
  #second = 0;

  grow(n: number): void {
    for (let i = 0; i < n; i++) this.tree.append(`entry ${this.tree.size}`);
    for (const w of [...this.#waiters]) w();
  }

  treeHead(): Promise<SignedTreeHead> {
    this.signed += 1;
    if (this.fail) return Promise.reject(new Error('database down'));
    // A new timestamp per signing, as the log's heartbeat re-signs.
    return Promise.resolve(signLogHead(this.key, this.tree, new Date(Date.UTC(2026, 11, 7, 0, 0, this.#second++))));
  }

  consistencyProof(oldSize: number, newSize: number): string[] {
    this.proofs += 1;
    return this.tree.consistencyProof(oldSize, newSize);
  }

  waitForSize(minSize: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (this.tree.size >= minSize || signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = (): void => {
        if (this.tree.size >= minSize) done();
      };
      const timer = setTimeout(done, waitMs);
      this.#waiters.add(check);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

// A server stream that takes every write (no back-pressure) and records it.
class FakeCall extends EventEmitter {
  readonly request: FollowRequest__Output;
  readonly written: unknown[] = [];
  cancelled = false;
  ended = false;
  constructor(fromIndex: number, treeSize: number) {
    super();
    this.request = { fromIndex, treeSize, maxEntries: 2, maxBytes: 0 };
  }

  write(m: unknown): boolean {
    this.written.push(m);
    return true;
  }

  end(): void {
    this.ended = true;
  }

  cancel(): void {
    this.cancelled = true;
    this.emit('cancelled');
  }

  asStream(): grpc.ServerWritableStream<FollowRequest__Output, unknown> {
    return this as unknown as grpc.ServerWritableStream<FollowRequest__Output, unknown>;
  }

  // What was written, readably: `head N from M (proof ok)` or the entry range of a batch.
  transcript(key: SigningKey, log: MerkleLog): string[] {
    return this.written.map((m) => {
      if (m instanceof EncodedBatch) return m.bytes.toString('utf8');
      const { head } = decode(m as FramedMessage);
      const h = head!.head!;
      const signed = verifyTreeHead(key.publicKey, { treeSize: h.treeSize, rootHash: h.rootHash, timestamp: h.timestamp, logId: h.logId, signature: h.signature });
      const proof = head!.oldSize === 0 ? 'no proof' : verifyConsistency(head!.oldSize, h.treeSize, head!.consistencyProof, log.rootHash(head!.oldSize), h.rootHash) ? 'proof ok' : 'proof BAD';
      return `head ${h.treeSize} from ${head!.oldSize} (${proof}${signed ? '' : ', signature BAD'})`;
    });
  }
}

// Batches of at most `maxEntries` that name their range (what StreamEntryBatches would send).
async function* rangeBatches(from: number, to: number, _size: number, bounds: Required<BatchBounds>): AsyncGenerator<EncodedBatch> {
  for (let at = from; at < to; at += bounds.maxEntries) {
    const end = Math.min(to, at + bounds.maxEntries);
    const text = Buffer.from(`entries ${at}..${end}`);
    const framed = frameBuffer(text.length);
    text.copy(framed, FRAME_PREFIX_BYTES);
    yield await Promise.resolve(new EncodedBatch(framed, end - at));
  }
}

function serving(log: FakeLog, heads: SharedHead, maxEntriesPerStream = 1_000): TailServing & { readonly counts: TailCounts } {
  return {
    serving: { slots: new StreamSlots(4), drops: { slow: 0 }, stopping: new AbortController().signal, maxEntriesPerStream, drainTimeoutMs: 1_000 },
    core: log, batch: { maxEntries: 256, maxBytes: 1 << 20 }, batches: rangeBatches, heads, counts: { open: 0, heads: 0, cut: 0 },
  };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('followLog', () => {
  test('pushes the latest head at once and its entries, then each larger head with the consistency proof from the one before and its new entries', async () => {
    const log = new FakeLog();
    log.grow(5);
    const ctx = serving(log, new SharedHead(log, 0, encode));
    const call = new FakeCall(0, 0);
    const running = followLog(ctx, call.asStream(), () => 'alpha');
    await until('the first head and its entries', () => call.written.length === 4);
    assert.equal(ctx.counts.open, 1);
    assert.equal(ctx.serving.slots.total(), 1, 'a tail holds one of its partner\'s stream slots');
    log.grow(3);
    await until('the second head and its entries', () => call.written.length === 7);
    assert.deepEqual(call.transcript(log.key, log.tree), ['head 5 from 0 (no proof)', 'entries 0..2', 'entries 2..4', 'entries 4..5', 'head 8 from 5 (proof ok)', 'entries 5..7', 'entries 7..8']);
    call.cancel();
    await running;
    assert.deepEqual(ctx.counts, { open: 0, heads: 2, cut: 0 });
    assert.equal(ctx.serving.slots.total(), 0, 'a cancelled tail gives its slot back');
    assert.equal(call.ended, false, 'a cancelled call is not ended by the server');
  });

  test('the first head carries the proof from the head the follower accepted; a follower at the head gets no entries until the log grows', async () => {
    const log = new FakeLog();
    log.grow(6);
    const ctx = serving(log, new SharedHead(log, 0, encode));
    const call = new FakeCall(6, 3);
    const running = followLog(ctx, call.asStream(), () => 'alpha');
    await until('the first head', () => call.written.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(call.transcript(log.key, log.tree), ['head 6 from 3 (proof ok)']);
    call.cancel();
    await running;
  });

  test('a head\'s range past the per-stream bound is sent up to the bound, then the stream ends OK (the follower takes the rest by call)', async () => {
    const log = new FakeLog();
    log.grow(9);
    const ctx = serving(log, new SharedHead(log, 0, encode), 3);
    const call = new FakeCall(0, 0);
    await followLog(ctx, call.asStream(), () => 'alpha');
    assert.deepEqual(call.transcript(log.key, log.tree), ['head 9 from 0 (no proof)', 'entries 0..2', 'entries 2..3']);
    assert.equal(call.ended, true);
    assert.deepEqual(ctx.counts, { open: 0, heads: 1, cut: 1 });
  });

  test('refuses a negative cursor before taking a slot', async () => {
    const log = new FakeLog();
    const ctx = serving(log, new SharedHead(log, 0, encode));
    await assert.rejects(followLog(ctx, new FakeCall(-1, 0).asStream(), () => 'alpha'), (err: unknown) => err instanceof ExchangeRefusal && /at least 0/.test(err.message));
    assert.equal(ctx.serving.slots.total(), 0);
  });

  test('followers at the same place share one head, one signing and one head message (its proof computed once)', async () => {
    const log = new FakeLog();
    log.grow(4);
    const heads = new SharedHead(log, 60_000, encode);
    const ctx = serving(log, heads);
    const calls = [new FakeCall(4, 2), new FakeCall(4, 2), new FakeCall(4, 2)];
    const running = calls.map((c) => followLog(ctx, c.asStream(), () => 'alpha'));
    await until('every first head', () => calls.every((c) => c.written.length === 1));
    assert.equal(calls[0]!.written[0], calls[2]!.written[0], 'the very same message object');
    assert.deepEqual([log.signed, log.proofs, heads.built()], [1, 1, 1]);
    for (const c of calls) c.cancel();
    await Promise.all(running);
  });
});

describe('SharedHead', () => {
  test('asks the log at most once per interval; a failed ask is not kept', async () => {
    const log = new FakeLog();
    log.grow(2);
    let now = 1_000;
    const heads = new SharedHead(log, 100, encode, () => now);
    const a = await heads.latest();
    now += 99;
    assert.equal(await heads.latest(), a, 'within the interval: the same head');
    assert.equal(log.signed, 1);
    now += 1;
    log.grow(1);
    assert.equal((await heads.latest()).treeSize, 3, 'after it: asked again');
    assert.equal(log.signed, 2);
    now += 100;
    log.fail = true;
    await assert.rejects(heads.latest(), /database down/);
    log.fail = false;
    assert.equal((await heads.latest()).treeSize, 3, 'the failure was not kept: asked again at once');
    assert.equal(log.signed, 4);
  });

  test('settle: at once when the kept head is large enough or none is kept; else until the interval ends, or the tail ends', async () => {
    const log = new FakeLog();
    log.grow(2);
    const heads = new SharedHead(log, 200, encode);
    const never = new AbortController().signal;
    let t = performance.now();
    await heads.settle(5, never);
    assert.ok(performance.now() - t < 50, 'nothing kept yet');
    await heads.latest();
    t = performance.now();
    await heads.settle(2, never);
    assert.ok(performance.now() - t < 50, 'the kept head has 2');
    await heads.settle(3, never);
    assert.ok(performance.now() - t >= 150, `the kept head is too small: waits out the interval (${performance.now() - t} ms)`);
    await heads.latest();
    const ended = new AbortController();
    t = performance.now();
    const waiting = heads.settle(3, ended.signal);
    ended.abort();
    await waiting;
    assert.ok(performance.now() - t < 150, 'an ended tail stops waiting');
  });

  test('message: one per head and previous size, with the proof from that size when smaller; none kept for an older head; bounded', () => {
    const log = new FakeLog();
    log.grow(70);
    const heads = new SharedHead(log, 0, encode);
    const head = signLogHead(log.key, log.tree, new Date('2026-12-07T00:00:00Z'));
    const from40 = heads.message(head, 40);
    assert.equal(heads.message(head, 40), from40);
    const got = decode(from40).head!;
    assert.equal(got.oldSize, 40);
    assert.ok(verifyConsistency(40, 70, got.consistencyProof, log.tree.rootHash(40), head.rootHash));
    for (const before of [0, 70]) assert.deepEqual([decode(heads.message(head, before)).head!.oldSize, decode(heads.message(head, before)).head!.consistencyProof], [0, []], `from ${before}: no proof`);
    assert.equal(heads.built(), 3);
    const next = { ...head, timestamp: '2026-12-07T00:00:01.000Z' };
    assert.notEqual(heads.message(next, 40), from40, 'a head signed again gets its own messages');
    for (let before = 1; before <= MAX_SHARED_MESSAGES + 5; before++) heads.message(next, before);
    const built = heads.built();
    heads.message(next, MAX_SHARED_MESSAGES + 5);
    assert.equal(heads.built(), built + 1, 'past the bound a message is built for its tail alone');
    heads.message(next, 1);
    assert.equal(heads.built(), built + 1, 'those kept are still shared');
  });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { IndexedEntry } from '../../domain/entry.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import { ExchangeCallError, type TailMessage, type TailStream } from '../protocol/client.ts';
import type { WireEntryResult } from '../protocol/wire.ts';
import { LiveTail, type TailSource } from './livetail.ts';

// LiveTail only relays: heads and entries are opaque to it, so small stand-ins do.
const head = (treeSize: number): SignedTreeHead => ({ treeSize, rootHash: `root${treeSize}`, timestamp: '2026-12-07T00:00:00.000Z', logId: 'seq', signature: 'sig' });
const entry = (index: number, from = 'tail'): WireEntryResult => ({ ok: true, entry: { index, from } as unknown as IndexedEntry, proof: [] });
const headMsg = (size: number, oldSize = 0, proof: string[] = []): TailMessage => ({ kind: 'head', head: head(size), oldSize, proof });
const entriesMsg = (from: number, to: number): TailMessage => ({ kind: 'entries', entries: Array.from({ length: to - from }, (_, i) => entry(from + i)) });

// A FollowLog stream the test feeds: messages, then an end or a failure.
class FakeStream implements TailStream {
  readonly queue: Array<TailMessage | Error | 'end'> = [];
  cancelled = false;
  readonly messages: AsyncIterator<TailMessage> = { next: () => this.#next() };
  #wake: (() => void) | undefined;

  push(...items: Array<TailMessage | Error | 'end'>): void {
    this.queue.push(...items);
    this.#wake?.();
  }

  cancel(): void {
    this.cancelled = true;
    this.#wake?.();
  }

  async #next(): Promise<IteratorResult<TailMessage>> {
    while (this.queue.length === 0) {
      if (this.cancelled) throw new ExchangeCallError(grpc.status.CANCELLED, 'cancelled', undefined);
      await new Promise<void>((r) => { this.#wake = r; });
    }
    const m = this.queue.shift()!;
    if (m === 'end') return { done: true, value: undefined };
    if (m instanceof Error) throw m;
    return { done: false, value: m };
  }
}

// The sequencer's calls and its streams, recorded.
class FakeSource implements TailSource {
  readonly streams: FakeStream[] = [];
  readonly follows: Array<[number, number]> = [];
  readonly calls: string[] = [];
  size = 0;
  refuse: Error | undefined;

  follow(from: number, treeSize: number): TailStream {
    if (this.refuse !== undefined) throw this.refuse;
    this.follows.push([from, treeSize]);
    const s = new FakeStream();
    this.streams.push(s);
    return s;
  }

  get stream(): FakeStream {
    return this.streams.at(-1)!;
  }

  treeHead(minTreeSize: number): Promise<SignedTreeHead> {
    this.calls.push(`treeHead ${minTreeSize}`);
    return Promise.resolve(head(this.size));
  }

  consistencyProof(oldSize: number, newSize: number): Promise<string[]> {
    this.calls.push(`proof ${oldSize}..${newSize}`);
    return Promise.resolve(['by call']);
  }

  async *entries(from: number, treeSize: number): AsyncGenerator<WireEntryResult> {
    this.calls.push(`entries ${from}..${treeSize}`);
    for (let i = from; i < treeSize; i++) yield await Promise.resolve(entry(i, 'call'));
  }
}

async function collect(it: AsyncIterable<WireEntryResult>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of it) out.push(r.ok ? `${r.entry.index} ${(r.entry as unknown as { from: string }).from}` : `${r.index} not ok: ${r.message}`);
  return out;
}

const unimplemented = (): ExchangeCallError => new ExchangeCallError(grpc.status.UNIMPLEMENTED, 'FollowLog: unimplemented', undefined);

describe('LiveTail', () => {
  test('answers heads, proofs and entries from one stream, with no call, as the replica syncs head after head', async () => {
    const src = new FakeSource();
    const tail = new LiveTail(src);
    const first = tail.treeHead(1, 1_000);
    src.stream.push(headMsg(3), entriesMsg(0, 2), entriesMsg(2, 3));
    assert.equal((await first).treeSize, 3);
    assert.deepEqual(await collect(tail.entries(0, 3)), ['0 tail', '1 tail', '2 tail']);
    src.stream.push(headMsg(5, 3, ['p1', 'p2']), entriesMsg(3, 5));
    assert.equal((await tail.treeHead(4, 1_000)).treeSize, 5);
    assert.deepEqual(await tail.consistencyProof(3, 5), ['p1', 'p2']);
    assert.deepEqual(await collect(tail.entries(3, 5)), ['3 tail', '4 tail']);
    assert.deepEqual(src.calls, []);
    assert.deepEqual(src.follows, [[0, 0]], 'one stream, from the replica\'s cursor');
    assert.deepEqual(tail.stats(), { opened: 1, heads: 2, proofs: 1, entries: 5, calls: 0, following: true });
    tail.close();
    assert.equal(src.stream.cancelled, true);
    assert.equal(tail.stats().following, false);
  });

  test('a head smaller than asked is read past; when no larger one comes in time the latest one is the answer (a long poll that ended)', async () => {
    const src = new FakeSource();
    const tail = new LiveTail(src);
    src.size = 9;
    const asked = tail.treeHead(4, 30);
    src.stream.push(headMsg(3));
    assert.equal((await asked).treeSize, 3);
    assert.deepEqual(src.calls, []);
    assert.equal(tail.stats().heads, 0, 'not a head the replica asked for');
  });

  test('an older sequencer (UNIMPLEMENTED before any message) gets the calls, and the tail is tried again after reprobeMs', async () => {
    const src = new FakeSource();
    let now = 0;
    const tail = new LiveTail(src, { reprobeMs: 60_000, now: () => now });
    src.size = 2;
    const asked = tail.treeHead(1, 1_000);
    src.stream.push(unimplemented());
    assert.equal((await asked).treeSize, 2);
    assert.deepEqual(await collect(tail.entries(0, 2)), ['0 call', '1 call']);
    now = 59_999;
    await tail.treeHead(3, 0);
    assert.equal(src.streams.length, 1, 'no new stream before reprobeMs');
    assert.deepEqual(src.calls, ['treeHead 1', 'entries 0..2', 'treeHead 3']);
    now = 60_000;
    const again = tail.treeHead(3, 1_000);
    assert.equal(src.streams.length, 2, 'the tail is tried again');
    assert.deepEqual(src.follows.at(-1), [2, 2], 'from the cursor, with the proof from the last head handed out');
    src.stream.push(headMsg(4, 2, ['p']));
    assert.equal((await again).treeSize, 4);
    assert.deepEqual(tail.stats(), { opened: 2, heads: 1, proofs: 0, entries: 0, calls: 3, following: true });
  });

  test('a stream that fails after messages is no older sequencer: the next question opens a new stream', async () => {
    const src = new FakeSource();
    const tail = new LiveTail(src);
    src.size = 3;
    const asked = tail.treeHead(1, 1_000);
    src.stream.push(headMsg(3), entriesMsg(0, 3), unimplemented());
    await asked;
    assert.equal((await collect(tail.entries(0, 3))).length, 3);
    src.size = 4;
    assert.equal((await tail.treeHead(4, 1_000)).treeSize, 4, 'the failed stream: the call answers');
    assert.ok(src.calls.includes('treeHead 4'));
    const reopened = tail.treeHead(5, 1_000);
    assert.equal(src.streams.length, 2, 'a new stream at once');
    src.stream.push(headMsg(6));
    assert.equal((await reopened).treeSize, 6);
  });

  test('a stream that stops short of the head\'s entries: the rest by call, and the stream is dropped', async () => {
    const src = new FakeSource();
    const tail = new LiveTail(src);
    const asked = tail.treeHead(1, 1_000);
    src.stream.push(headMsg(5), entriesMsg(0, 2), 'end');
    await asked;
    assert.deepEqual(await collect(tail.entries(0, 5)), ['0 tail', '1 tail', '2 call', '3 call', '4 call']);
    assert.deepEqual(src.calls, ['entries 2..5']);
    assert.equal(tail.stats().following, false);
  });

  test('a head sent before the previous head\'s entries are all sent ends the stream\'s use; the entries come by call', async () => {
    const src = new FakeSource();
    const tail = new LiveTail(src);
    const asked = tail.treeHead(1, 1_000);
    src.stream.push(headMsg(4), entriesMsg(0, 1), headMsg(6));
    await asked;
    assert.deepEqual(await collect(tail.entries(0, 4)), ['0 tail', '1 call', '2 call', '3 call']);
    assert.equal(src.stream.cancelled, true);
  });

  test('a malformed message is an entry that is not ok at the next index (the replica halts there)', async () => {
    const src = new FakeSource();
    const tail = new LiveTail(src);
    const asked = tail.treeHead(1, 1_000);
    src.stream.push(headMsg(4), entriesMsg(0, 2), { kind: 'malformed', message: 'a live-tail message with a head and 2 entries' });
    await asked;
    assert.deepEqual(await collect(tail.entries(0, 4)), ['0 tail', '1 tail', '2 not ok: a live-tail message with a head and 2 entries']);
    assert.deepEqual(src.calls, []);
    assert.equal(tail.stats().following, false);
  });

  test('questions the stream does not line up with go to the calls: another range, another proof', async () => {
    const src = new FakeSource();
    const tail = new LiveTail(src);
    const asked = tail.treeHead(1, 1_000);
    src.stream.push(headMsg(4, 2, ['p']));
    await asked;
    assert.deepEqual(await tail.consistencyProof(1, 4), ['by call']);
    assert.deepEqual(await collect(tail.entries(1, 4)), ['1 call', '2 call', '3 call']);
    assert.deepEqual(src.calls, ['proof 1..4', 'entries 1..4']);
  });

  test('a client that cannot follow (built without batches) keeps the calls for good', async () => {
    const src = new FakeSource();
    src.refuse = new Error('the live tail sends entries in batches; this client was built with streamBatch: false');
    const tail = new LiveTail(src);
    src.size = 1;
    await tail.treeHead(1, 0);
    await tail.treeHead(1, 0);
    assert.deepEqual(src.calls, ['treeHead 1', 'treeHead 1']);
    assert.equal(tail.stats().opened, 0);
  });

  test('the replica\'s stop cancels the stream, and no new one opens', async () => {
    const src = new FakeSource();
    const stop = new AbortController();
    const tail = new LiveTail(src, { signal: stop.signal });
    const asked = tail.treeHead(1, 1_000);
    src.stream.push(headMsg(2));
    await asked;
    stop.abort();
    assert.equal(src.stream.cancelled, true);
    src.size = 3;
    await tail.treeHead(3, 0);
    assert.equal(src.streams.length, 1);
  });
});

import { describe, test } from 'node:test';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import { indicatorDigest } from '../../domain/canonical.ts';
import { entryLeafHash, voteSubject, type EntryBody, type IndexedEntry } from '../../domain/entry.ts';
import { verifyInclusion } from '../../domain/merkle.ts';
import { SigningKey } from '../../domain/signature.ts';
import { createLogger } from '../../log.ts';
import { MemoryLogStore } from '../../store/memory.ts';
import { SequencerLog, SequencerStateError } from './log.ts';
import { SequencerMetrics, type StreamCounters } from './metrics.ts';
import type { Sequencer } from './sequencer.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const key = SigningKey.generate();
const T0 = '2026-12-01T00:00:00.000Z';

function body(i: number): EntryBody {
  return {
    kind: 'add', indicator: { type: 'domain', value: `page-${i}.example` }, proposerId: 'alpha', proposalSignature: `sig-${i}`, window: { opensAt: T0, closesAt: T0 },
    votes: [{ partnerId: 'alpha', digest: 'd', decision: 'approve', signedAt: T0, signature: `v-${i}` }],
  };
}

/** A memory store that counts its range reads (each is one database query) and can fail the next one. */
class CountingStore extends MemoryLogStore {
  reads: Array<[number, number | undefined]> = [];
  failNext = false;

  override async *entries(from: number, to?: number): AsyncGenerator<IndexedEntry> {
    this.reads.push([from, to]);
    if (this.failNext) {
      this.failNext = false;
      throw new Error('store unavailable');
    }
    yield* super.entries(from, to);
  }
}

async function logOf(n: number, store: CountingStore, cache: number, pages: { pageEntries: number; keptPages?: number }): Promise<SequencerLog> {
  const log = await SequencerLog.open({ store, key, now: () => new Date(T0), log: quiet, entryCacheSize: cache, storePages: pages });
  for (let i = 0; i < n; i++) {
    const b = body(i);
    const digest = indicatorDigest(b.indicator);
    await log.append(b, { digest, kind: 'add', subject: voteSubject('add', digest) });
  }
  store.reads = [];
  return log;
}

async function drain(log: SequencerLog, from: number, size: number): Promise<number[]> {
  const root = (await log.treeHead()).rootHash;
  const out: number[] = [];
  for await (const { entry, proof } of log.entries(from, size)) {
    if (size === log.size) assert.ok(verifyInclusion(entryLeafHash(entry), entry.index, size, proof, root), `entry ${entry.index} proves into the head`);
    out.push(entry.index);
  }
  return out;
}

// The first index held in memory (the cache is trimmed in halves, so it moves in steps).
function cacheStart(log: SequencerLog): number {
  let i = 0;
  while (log.cachedEntry(i) === undefined) i += 1;
  return i;
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

describe('SequencerLog: streams behind the entry cache share store pages', () => {
  // 100 entries of which the last 10 to 20 are in memory.
  const cases: Array<[string, { streams: number[]; pageEntries: number; reads: number }]> = [
    ['eight streams from 0: one read per page, not eight', { streams: [0, 0, 0, 0, 0, 0, 0, 0], pageEntries: 16, reads: 0 }],
    ['streams at nearby positions share the aligned pages', { streams: [0, 3, 5, 17, 33], pageEntries: 16, reads: 0 }],
    ['a page larger than the gap behind the cache: direct reads, one per stream', { streams: [0, 0, 0], pageEntries: 1000, reads: 3 }],
  ];
  for (const [name, c] of cases) {
    test(name, async () => {
      const store = new CountingStore();
      const log = await logOf(100, store, 10, { pageEntries: c.pageEntries, keptPages: 8 });
      const start = cacheStart(log);
      const got = await Promise.all(c.streams.map((from) => drain(log, from, 100)));
      got.forEach((indexes, i) => assert.deepEqual(indexes, range(c.streams[i]!, 100)));
      const pages = c.reads > 0 ? c.reads : Math.ceil(start / c.pageEntries);
      assert.equal(store.reads.length, pages, `store reads: ${JSON.stringify(store.reads)}`);
      if (c.reads === 0) {
        assert.ok(store.reads.every(([from, to]) => from % c.pageEntries === 0 && to === from + c.pageEntries), 'page-aligned reads of one page each');
        assert.deepEqual(log.storePages(), { reads: pages, shared: c.streams.reduce((n, from) => n + Math.ceil(start / c.pageEntries) - Math.floor(from / c.pageEntries), 0) - pages });
      }
    });
  }

  test('kept pages are bounded: the oldest is read again once more than keptPages were read', async () => {
    const store = new CountingStore();
    const log = await logOf(100, store, 10, { pageEntries: 16, keptPages: 2 });
    await drain(log, 0, 100);
    const first = store.reads.length;
    await drain(log, 64, 100);
    assert.equal(store.reads.length, first, 'the last two pages are kept');
    await drain(log, 0, 16);
    assert.deepEqual(store.reads.at(-1), [0, 16], 'the first page was dropped and is read again');
  });

  test('a failed read fails every stream waiting on it, is not kept, and the next stream reads again', async () => {
    const store = new CountingStore();
    const log = await logOf(100, store, 10, { pageEntries: 16 });
    store.failNext = true;
    const waiting = await Promise.allSettled([drain(log, 0, 100), drain(log, 1, 100)]);
    assert.deepEqual(waiting.map((w) => w.status), ['rejected', 'rejected']);
    assert.equal(store.reads.length, 1, 'both awaited the one read');
    assert.deepEqual(await drain(log, 0, 100), range(0, 100));
  });

  test('an entry missing from the store stops the stream with what to do', async () => {
    const store = new CountingStore();
    const log = await logOf(100, store, 10, { pageEntries: 16 });
    store.tamper(20, (e) => ({ ...e, index: 21 }));
    await assert.rejects(drain(log, 0, 100), (err: unknown) => err instanceof SequencerStateError && /missing index 20; restore it/.test(err.message));
  });
});

describe('SequencerMetrics: the fan-out counters are scraped', () => {
  test('shared bytes, store pages, wake-ups, slow-stream drops, entry batches, shared batch ranges, peer identities, batch framing and live tails appear with their values, and 0 while not serving', async () => {
    const store = new CountingStore();
    const log = await logOf(100, store, 10, { pageEntries: 16 });
    await Promise.all([drain(log, 0, 100), drain(log, 0, 100)]);
    const serving = { log, server: { openStreams: () => 2, sharedEntries: () => ({ encoded: 7, shared: 21 }), slowStreamDrops: () => 3, batchesSent: () => ({ batches: 4, entries: 90 }), sharedBatches: () => ({ built: 5, reused: 45 }), peerIdentities: () => ({ read: 6, reused: 600 }), framedSends: () => ({ calls: 8, unpatched: 1, messages: 80 }), tails: () => ({ open: 9, heads: 900, headMessages: 12, cut: 2 }) } satisfies StreamCounters };
    let now: typeof serving | undefined = serving;
    // The metrics read only these two counters of the sequencer.
    const metrics = new SequencerMetrics(() => (now === undefined ? undefined : ({ size: 100, pendingCount: 0, storePages: () => now!.log.storePages(), wakeups: () => now!.log.wakeups() }) as unknown as Sequencer), () => now?.server);
    const wakes = log.wakeups();
    assert.ok(wakes.wakes >= 1, 'appends woke the waiters');
    const pages = log.storePages();
    const cases: Array<[RegExp, RegExp]> = [
      [/^threatmesh_sequencer_open_streams 2$/m, /^threatmesh_sequencer_open_streams 0$/m],
      [/^threatmesh_sequencer_fanout_messages_total\{result="hit"\} 21$/m, /^threatmesh_sequencer_fanout_messages_total\{result="hit"\} 0$/m],
      [/^threatmesh_sequencer_fanout_messages_total\{result="miss"\} 7$/m, /^threatmesh_sequencer_fanout_messages_total\{result="miss"\} 0$/m],
      [new RegExp(`^threatmesh_sequencer_store_pages_total\\{result="read"\\} ${pages.reads}$`, 'm'), /^threatmesh_sequencer_store_pages_total\{result="read"\} 0$/m],
      [new RegExp(`^threatmesh_sequencer_store_pages_total\\{result="shared"\\} ${pages.shared}$`, 'm'), /^threatmesh_sequencer_store_pages_total\{result="shared"\} 0$/m],
      [new RegExp(`^threatmesh_sequencer_head_wakes_total ${wakes.wakes}$`, 'm'), /^threatmesh_sequencer_head_wakes_total 0$/m],
      [new RegExp(`^threatmesh_sequencer_head_wakes_coalesced_total ${wakes.coalesced}$`, 'm'), /^threatmesh_sequencer_head_wakes_coalesced_total 0$/m],
      [/^threatmesh_sequencer_slow_stream_drops_total 3$/m, /^threatmesh_sequencer_slow_stream_drops_total 0$/m],
      [/^threatmesh_sequencer_entry_batches_total 4$/m, /^threatmesh_sequencer_entry_batches_total 0$/m],
      [/^threatmesh_sequencer_batched_entries_total 90$/m, /^threatmesh_sequencer_batched_entries_total 0$/m],
      [/^threatmesh_sequencer_shared_batch_ranges_total\{result="hit"\} 45$/m, /^threatmesh_sequencer_shared_batch_ranges_total\{result="hit"\} 0$/m],
      [/^threatmesh_sequencer_shared_batch_ranges_total\{result="miss"\} 5$/m, /^threatmesh_sequencer_shared_batch_ranges_total\{result="miss"\} 0$/m],
      [/^threatmesh_sequencer_peer_identities_total\{result="read"\} 6$/m, /^threatmesh_sequencer_peer_identities_total\{result="read"\} 0$/m],
      [/^threatmesh_sequencer_peer_identities_total\{result="reused"\} 600$/m, /^threatmesh_sequencer_peer_identities_total\{result="reused"\} 0$/m],
      [/^threatmesh_sequencer_batch_stream_framing_total\{result="framed"\} 8$/m, /^threatmesh_sequencer_batch_stream_framing_total\{result="framed"\} 0$/m],
      [/^threatmesh_sequencer_batch_stream_framing_total\{result="copied"\} 1$/m, /^threatmesh_sequencer_batch_stream_framing_total\{result="copied"\} 0$/m],
      [/^threatmesh_sequencer_tail_streams 9$/m, /^threatmesh_sequencer_tail_streams 0$/m],
      [/^threatmesh_sequencer_tail_heads_total 900$/m, /^threatmesh_sequencer_tail_heads_total 0$/m],
      [/^threatmesh_sequencer_tail_head_messages_total 12$/m, /^threatmesh_sequencer_tail_head_messages_total 0$/m],
      [/^threatmesh_sequencer_tail_cuts_total 2$/m, /^threatmesh_sequencer_tail_cuts_total 0$/m],
    ];
    const behind = Math.ceil(cacheStart(log) / 16);
    assert.deepEqual([pages.reads, pages.shared], [behind, behind], 'two streams over the pages behind the cache: one read and one share each');
    const text = await metrics.runtime.registry.metrics();
    for (const [serving] of cases) assert.match(text, serving);
    now = undefined;
    const stopped = await metrics.runtime.registry.metrics();
    for (const [, idle] of cases) assert.match(stopped, idle);
  });
});

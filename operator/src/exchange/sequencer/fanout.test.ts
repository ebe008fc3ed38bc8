import { describe, test } from 'node:test';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import { indicatorDigest } from '../../domain/canonical.ts';
import { voteSubject, type EntryBody } from '../../domain/entry.ts';
import { verifyInclusion } from '../../domain/merkle.ts';
import { entryLeafHash } from '../../domain/entry.ts';
import { SigningKey } from '../../domain/signature.ts';
import { createLogger } from '../../log.ts';
import { MemoryLogStore } from '../../store/memory.ts';
import type { LogEntry } from '../protocol/gen/threatmesh/exchange/v1/LogEntry.ts';
import { loadExchangePackage } from '../protocol/proto.ts';
import { entryFromWire, entryToWire } from '../protocol/wire.ts';
import { EncodedEntry, EntryFanout, type FanoutSource } from './fanout.ts';
import { SequencerLog, type SequencerLogOptions } from './log.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const streamDef = loadExchangePackage().Exchange.service.StreamEntries;
const serialize = (m: LogEntry): Buffer => streamDef.responseSerialize(m);
const key = SigningKey.generate();
const T0 = '2026-12-01T00:00:00.000Z';

function body(i: number): EntryBody {
  return {
    kind: 'add', indicator: { type: 'domain', value: `fanout-${i}.example` }, ...(i % 2 === 0 ? { meta: { tlp: 'green' as const, labels: [`l${i}`] } } : {}),
    proposerId: 'alpha', proposalSignature: `sig-${i}`, window: { opensAt: T0, closesAt: T0 },
    votes: [{ partnerId: 'alpha', digest: 'd', decision: 'approve', signedAt: T0, signature: `v-${i}` }, { partnerId: 'bravo', digest: 'd', decision: 'reject', reason: 'because', signedAt: T0, signature: `w-${i}` }],
  };
}

async function logOf(n: number, opts: Partial<SequencerLogOptions> = {}): Promise<SequencerLog> {
  const log = await SequencerLog.open({ store: new MemoryLogStore(), key, now: () => new Date(T0), log: quiet, ...opts });
  for (let i = 0; i < n; i++) await appendOne(log, i);
  return log;
}

function appendOne(log: SequencerLog, i: number): Promise<number> {
  const b = body(i);
  const digest = indicatorDigest(b.indicator);
  return log.append(b, { digest, kind: 'add', subject: voteSubject('add', digest) });
}

async function collect(fanout: EntryFanout, source: FanoutSource, from: number, to: number, size: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const m of fanout.stream(source, from, to, size)) out.push(m instanceof EncodedEntry ? m.bytes : serialize(m));
  return out;
}

// What a stream sent before the fan-out: each entry encoded on its own with its proof.
async function perStream(log: SequencerLog, from: number, size: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const { entry, proof } of log.entries(from, size)) out.push(serialize(entryToWire(entry, proof)));
  return out;
}

const decode = (b: Buffer): unknown => streamDef.responseDeserialize(b);

describe('EntryFanout: streams share the bytes of recent entries', () => {
  const cases: Array<[string, { cache: number; recent: number; from: number }]> = [
    ['every entry in memory and recent: all shared', { cache: 1000, recent: 1000, from: 0 }],
    ['old entries from the store, then memory, then the recent window', { cache: 20, recent: 10, from: 0 }],
    ['a range that starts inside the recent window', { cache: 20, recent: 10, from: 55 }],
  ];
  for (const [name, c] of cases) {
    test(name, async () => {
      const log = await logOf(60, { entryCacheSize: c.cache });
      const size = log.size;
      const fanout = new EntryFanout(serialize, { recentEntries: c.recent });
      const streams = await Promise.all(Array.from({ length: 5 }, () => collect(fanout, log, c.from, size, size)));
      const reference = await perStream(log, c.from, size);
      const head = await log.treeHead();
      for (const s of streams) {
        assert.equal(s.length, size - c.from);
        // Shared entries are the very same bytes in every stream.
        assert.deepEqual(s.map((b) => b.toString('base64')), streams[0]!.map((b) => b.toString('base64')));
        // And decode to what a per-stream encoding gives, entry and proof valid.
        assert.deepEqual(s.map(decode), reference.map(decode));
        for (const b of s) {
          const w = entryFromWire(decode(b) as Parameters<typeof entryFromWire>[0]);
          assert.ok(w.ok, 'decodes as an entry');
          assert.ok(verifyInclusion(entryLeafHash(w.entry), w.entry.index, size, w.proof, head.rootHash), `entry ${w.entry.index} proves inclusion`);
        }
      }
      const shareable = Math.min(c.recent, size - c.from);
      assert.deepEqual({ encoded: fanout.stats().encoded, shared: fanout.stats().shared }, { encoded: shareable, shared: 4 * shareable });
    });
  }

  test('proofs are per tree size: the same entry in two sizes gets each its own proof; old sizes are dropped past the limit', async () => {
    const log = await logOf(40);
    const fanout = new EntryFanout(serialize, { treeSizes: 2 });
    for (const size of [30, 35, 40]) {
      const got = await collect(fanout, log, 25, size, size);
      assert.deepEqual(got.map(decode), (await perStream(log, 25, size)).map(decode));
    }
    assert.equal(fanout.stats().treeSizes, 2);
    // The bodies of entries 25..39 were encoded once, whatever the sizes.
    assert.equal(fanout.stats().bodies, 15);
  });

  test('a source that does not vouch for its entries (no cachedEntry) is encoded per stream, never shared', async () => {
    const log = await logOf(10);
    const source: FanoutSource = { entries: (from, size) => log.entries(from, size), inclusionProof: (i, s) => log.inclusionProof(i, s) };
    const fanout = new EntryFanout(serialize);
    const got = await collect(fanout, source, 0, 10, 10);
    assert.deepEqual(got.map(decode), (await perStream(log, 0, 10)).map(decode));
    assert.deepEqual(fanout.stats(), { encoded: 0, shared: 0, bodies: 0, treeSizes: 0 });
  });

  test('the range is cut at `to`, the proofs stay in the tree of `size`', async () => {
    const log = await logOf(30, { entryCacheSize: 10 });
    const got = await collect(new EntryFanout(serialize, { recentEntries: 5 }), log, 3, 28, 30);
    assert.deepEqual(got.map(decode), (await perStream(log, 3, 30)).slice(0, 25).map(decode));
  });
});

describe('EntryFanout.sharedRange: a whole range of shared messages, or nothing', () => {
  // [name, entry cache, recent window, from, to, size, shared]
  const cases: ReadonlyArray<[string, number, number, number, number, number, boolean]> = [
    ['at the head, in memory and recent', 100, 20, 45, 50, 50, true],
    ['ends before the tree it proves against', 100, 20, 40, 45, 50, true],
    ['reaches behind the recent window', 100, 20, 20, 50, 50, false],
    ['reaches behind the entry cache', 10, 50, 5, 50, 50, false],
    ['empty', 100, 20, 50, 50, 50, false],
    ['past the tree', 100, 20, 45, 51, 50, false],
  ];
  for (const [name, cache, recent, from, to, size, shared] of cases) {
    test(name, async () => {
      const log = await logOf(50, { entryCacheSize: cache });
      const fanout = new EntryFanout(serialize, { recentEntries: recent });
      const got = fanout.sharedRange(log, from, to, size);
      if (!shared) return assert.equal(got, undefined);
      // The very objects the streams of the same range share, decoding as a per-stream encoding.
      const streamed: unknown[] = [];
      for await (const m of fanout.stream(log, from, to, size)) streamed.push(m);
      assert.ok(got !== undefined && got.every((m, k) => m === streamed[k]));
      assert.deepEqual(got.map((m) => decode(m.bytes)), (await perStream(log, from, size)).slice(0, to - from).map(decode));
    });
  }

  test('a source that does not vouch for its entries (no cachedEntry) never gets a shared range', async () => {
    const log = await logOf(10);
    const source: FanoutSource = { entries: (from, size) => log.entries(from, size), inclusionProof: (i, s) => log.inclusionProof(i, s) };
    assert.equal(new EntryFanout(serialize).sharedRange(source, 5, 10, 10), undefined);
  });
});

describe('SequencerLog: waiters for a larger log are woken together', () => {
  test('the first growth wakes at once; appends within the coalescing interval are told together, not before it ends', async () => {
    const log = await logOf(1, { headCoalesceMs: 300 });
    const first = log.waitForSize(2, 10_000);
    await appendOne(log, 1);
    await first;
    const woken = performance.now();
    const sizes: number[] = [];
    const waiters = Array.from({ length: 10 }, () => log.waitForSize(3, 10_000).then(() => sizes.push(log.size)));
    await appendOne(log, 2);
    await appendOne(log, 3);
    await Promise.all(waiters);
    // Lower bound only: a loaded machine may wake later, never sooner.
    assert.ok(performance.now() - woken >= 290, `woken after ${performance.now() - woken} ms, want at least the interval`);
    assert.deepEqual(sizes, Array.from({ length: 10 }, () => 4));
  });

  test('a caller asking for a size the log already has is answered at once, whatever the interval', async () => {
    const log = await logOf(3, { headCoalesceMs: 60_000 });
    const t = performance.now();
    await log.waitForSize(3, 10_000);
    assert.ok(performance.now() - t < 1_000);
  });
});

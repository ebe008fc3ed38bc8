import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IndexedEntry } from '../../domain/entry.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import type { LogEntry } from '../protocol/gen/threatmesh/exchange/v1/LogEntry.ts';
import { loadExchangePackage } from '../protocol/proto.ts';
import { entryToWire } from '../protocol/wire.ts';
import { batched, endpointBatchBounds, requestBatchBounds, SharedBatches } from './batches.ts';
import { EncodedEntry } from './fanout.ts';

const service = loadExchangePackage().Exchange.service;
const serialize = (m: LogEntry): Buffer => service.StreamEntries.responseSerialize(m);
const MIB = 1024 * 1024;

function entry(index: number, signatureLength = 10): IndexedEntry {
  const t = '2026-12-07T00:00:00.000Z';
  return { index, kind: 'add', indicator: { type: 'domain', value: `e${index}.example` }, proposerId: 'alpha', proposalSignature: 's'.repeat(signatureLength), window: { opensAt: t, closesAt: t }, votes: [] };
}

async function* source(items: ReadonlyArray<EncodedEntry | LogEntry>): AsyncGenerator<EncodedEntry | LogEntry> {
  for (const i of items) yield await Promise.resolve(i);
}

async function collect(it: AsyncIterable<{ bytes: Buffer; entries: number }>): Promise<Array<{ bytes: Buffer; entries: number }>> {
  const out: Array<{ bytes: Buffer; entries: number }> = [];
  for await (const b of it) out.push(b);
  return out;
}

const decode = (b: Buffer): { entries: unknown[] } => service.StreamEntryBatches.responseDeserialize(b);

describe('batched', () => {
  test('shared (already encoded) and per-stream entries decode to the single messages, in order', async () => {
    const wire = [0, 1, 2, 3, 4].map((i) => entryToWire(entry(i), [`${i}`.repeat(64)]));
    const mixed = wire.map((m, i) => (i % 2 === 0 ? new EncodedEntry(serialize(m)) : m));
    const batches = await collect(batched(source(mixed), serialize, { maxEntries: 2, maxBytes: MIB }));
    assert.deepEqual(batches.map((b) => b.entries), [2, 2, 1]);
    const got = batches.flatMap((b) => decode(b.bytes).entries);
    assert.deepEqual(got, wire.map((m) => service.StreamEntries.responseDeserialize(serialize(m))));
  });

  // [name, signature lengths of the entries, bounds, entries per batch]
  const splits: ReadonlyArray<[string, number[], { maxEntries: number; maxBytes: number }, number[]]> = [
    ['by count', [10, 10, 10, 10, 10], { maxEntries: 3, maxBytes: MIB }, [3, 2]],
    ['by bytes', [100, 100, 100, 100], { maxEntries: 100, maxBytes: 450 }, [2, 2]],
    ['an entry over the byte bound travels alone', [10, 1000, 10], { maxEntries: 100, maxBytes: 200 }, [1, 1, 1]],
    ['a varint length of two bytes and more (entries over 127 bytes)', [200, 20_000], { maxEntries: 10, maxBytes: MIB }, [2]],
    ['nothing to send: no batch', [], { maxEntries: 10, maxBytes: MIB }, []],
  ];
  for (const [name, lengths, bounds, want] of splits) {
    test(`splits ${name}`, async () => {
      const wire = lengths.map((n, i) => entryToWire(entry(i, n), []));
      const batches = await collect(batched(source(wire), serialize, bounds));
      assert.deepEqual(batches.map((b) => b.entries), want);
      assert.deepEqual(batches.map((b) => decode(b.bytes).entries.length), want);
      for (const b of batches) if (b.entries > 1) assert.ok(b.bytes.length <= bounds.maxBytes, `${b.bytes.length} bytes over ${bounds.maxBytes}`);
    });
  }
});

describe('bounds', () => {
  // [name, endpoint bounds, message limit, result or error]
  const endpoint: ReadonlyArray<[string, Parameters<typeof endpointBatchBounds>[0], number, { maxEntries: number; maxBytes: number } | RegExp]> = [
    ['defaults', undefined, 4 * MIB, { maxEntries: 256, maxBytes: MIB }],
    ['defaults under a small message limit', undefined, 64 * 1024, { maxEntries: 256, maxBytes: 64 * 1024 - 6 }],
    ['bytes at the message limit', { maxBytes: 4 * MIB }, 4 * MIB, /maxBytes is 4194304; it must be from 1 to 4194298.*raise limits.maxMessageBytes/],
    ['a fraction of an entry', { maxEntries: 1.5 }, 4 * MIB, /maxEntries is 1.5/],
    ['more than the protocol allows', { maxEntries: 1001 }, 4 * MIB, /from 1 to 1000/],
  ];
  for (const [name, bounds, max, want] of endpoint) {
    test(`endpoint: ${name}`, () => {
      if (want instanceof RegExp) assert.throws(() => endpointBatchBounds(bounds, max), want);
      else assert.deepEqual(endpointBatchBounds(bounds, max), want);
    });
  }

  const server = { maxEntries: 256, maxBytes: MIB };
  // [request, result or refusal]
  const requests: ReadonlyArray<[{ maxEntries: number; maxBytes: number }, { maxEntries: number; maxBytes: number } | 'refused']> = [
    [{ maxEntries: 0, maxBytes: 0 }, server],
    [{ maxEntries: 10, maxBytes: 5000 }, { maxEntries: 10, maxBytes: 5000 }],
    [{ maxEntries: 1000, maxBytes: 64 * MIB }, server],
    [{ maxEntries: 1001, maxBytes: 0 }, 'refused'],
  ];
  for (const [req, want] of requests) {
    test(`request ${JSON.stringify(req)}`, () => {
      if (want !== 'refused') return assert.deepEqual(requestBatchBounds(req, server), want);
      assert.throws(() => requestBatchBounds(req, server), (e: unknown) => e instanceof ExchangeRefusal && e.reason === 'batch-too-large' && /at most 1000 entries/.test(e.message));
    });
  }
});

describe('SharedBatches', () => {
  const encoded = (n: number, from = 0, signatureLength = 10): EncodedEntry[] => Array.from({ length: n }, (_, k) => new EncodedEntry(serialize(entryToWire(entry(from + k, signatureLength), ['ab'.repeat(32)]))));
  const range = { from: 0, to: 5, size: 5 };
  const bounds = { maxEntries: 2, maxBytes: MIB };

  test('every stream asking the same range, tree and bounds gets the same buffers, packed once, identical to a stream packing its own', async () => {
    const shared = new SharedBatches();
    const entries = encoded(5);
    let asked = 0;
    const messages = (): EncodedEntry[] => {
      asked += 1;
      return entries;
    };
    const first = shared.get(range, bounds, messages)!;
    const again = shared.get(range, bounds, messages)!;
    assert.equal(asked, 1, 'the entries are gathered once');
    assert.ok(first.every((b, i) => b.bytes === again[i]!.bytes), 'the very same buffers');
    const own = await collect(batched(source(entries), serialize, bounds));
    assert.deepEqual(first.map((b) => b.bytes.toString('base64')), own.map((b) => b.bytes.toString('base64')));
    // Kept bytes own their memory: not a slice of Node's 8 KiB pool that would keep a whole slab.
    for (const b of first) assert.equal(b.framed.buffer.byteLength, b.framed.length);
    assert.deepEqual(shared.stats(), { built: 1, reused: 1, ranges: 1, bytes: first.reduce((n, b) => n + b.framed.length, 0) });
  });

  // [name, first call, second call]: never another range's batches.
  const apart: ReadonlyArray<[string, typeof range, typeof bounds]> = [
    ['another cursor', { from: 1, to: 5, size: 5 }, bounds],
    ['another end', { from: 0, to: 4, size: 5 }, bounds],
    ['another tree (proofs differ)', { from: 0, to: 5, size: 6 }, bounds],
    ['another entry bound', range, { maxEntries: 3, maxBytes: MIB }],
    ['another byte bound', range, { maxEntries: 2, maxBytes: MIB - 1 }],
  ];
  for (const [name, r, b] of apart) {
    test(`${name}: packed apart`, () => {
      const shared = new SharedBatches();
      shared.get(range, bounds, () => encoded(5));
      shared.get(r, b, () => encoded(r.to - r.from, r.from));
      assert.deepEqual([shared.stats().built, shared.stats().reused], [2, 0]);
    });
  }

  test('a range the fan-out cannot share (no messages) is left to the stream and not kept', () => {
    const shared = new SharedBatches();
    assert.equal(shared.get(range, bounds, () => undefined), undefined);
    assert.deepEqual(shared.stats(), { built: 0, reused: 0, ranges: 0, bytes: 0 });
  });

  // One range's bytes (5 entries with 200-byte signatures), for the byte budgets below.
  const probe = new SharedBatches();
  probe.get(range, bounds, () => encoded(5, 0, 200));
  const RANGE_BYTES = probe.stats().bytes;
  // [name, limits, ranges packed (5 entries each), ranges kept at the end]
  const limits: ReadonlyArray<[string, ConstructorParameters<typeof SharedBatches>[0], number, number]> = [
    ['by ranges: the oldest goes first', { ranges: 3 }, 5, 3],
    ['by bytes: the oldest goes first', { bytes: Math.floor(2.5 * RANGE_BYTES) }, 5, 2],
    ['a range larger than the byte budget is used once, never kept', { bytes: 100 }, 3, 0],
  ];
  for (const [name, lim, n, kept] of limits) {
    test(`bounded ${name}`, () => {
      const shared = new SharedBatches(lim);
      for (let i = 0; i < n; i++) assert.ok(shared.get({ from: i, to: i + 5, size: 100 }, bounds, () => encoded(5, i, 200)) !== undefined);
      const stats = shared.stats();
      assert.equal(stats.ranges, kept);
      if (lim?.bytes !== undefined) assert.ok(stats.bytes <= lim.bytes, `${stats.bytes} bytes kept over ${lim.bytes}`);
      // The newest range is the one kept when any is.
      if (kept > 0) {
        shared.get({ from: n - 1, to: n + 4, size: 100 }, bounds, () => encoded(5, n - 1, 200));
        assert.equal(shared.stats().reused, 1);
      }
    });
  }
});

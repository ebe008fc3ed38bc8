import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IndexedEntry } from '../../domain/entry.ts';
import { ExchangeRefusal } from '../protocol/errors.ts';
import type { LogEntry } from '../protocol/gen/threatmesh/exchange/v1/LogEntry.ts';
import { loadExchangePackage } from '../protocol/proto.ts';
import { entryToWire } from '../protocol/wire.ts';
import { batched, endpointBatchBounds, requestBatchBounds } from './batches.ts';
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

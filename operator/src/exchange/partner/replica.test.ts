import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { indicatorCanonicalJson } from '../../domain/canonical.ts';
import { entryLeafHash, signProposal, type IndexedEntry } from '../../domain/entry.ts';
import type { Indicator } from '../../domain/indicator.ts';
import { signVote, type PartnerRole, type Voter } from '../../domain/quorum.ts';
import { SigningKey } from '../../domain/signature.ts';
import type { SignedTreeHead } from '../../domain/treehead.ts';
import type { EntrySink, VerifiedEntry } from '../../domain/stores.ts';
import { createLogger } from '../../log.ts';
import { MemoryCursorStore, MemoryIndicatorStore, MemoryLeafStore, MemoryLogStore } from '../../store/memory.ts';
import type { WireEntryResult } from '../protocol/wire.ts';
import { Sequencer } from '../sequencer/sequencer.ts';
import { PartnerReplica, ReplicationHalted, type LogSource } from './replica.ts';

const quiet = createLogger(new Writable({ write: (_c, _e, cb) => cb() }), 'error');
const ids = ['alpha', 'bravo', 'charlie'] as const;
type Id = (typeof ids)[number];
const keys: Record<Id, SigningKey> = { alpha: SigningKey.generate(), bravo: SigningKey.generate(), charlie: SigningKey.generate() };
const roles: PartnerRole[] = ['contributor', 'voter'];
const partners: Voter[] = ids.map((id) => ({ partnerId: id, publicKey: keys[id].publicKey, roles }));
const now = (): Date => new Date('2026-12-01T00:00:00.000Z');
const ind = (value: string): Indicator => ({ type: 'domain', value });

/** A sequencer holding `n` admitted indicators. */
async function sequencerWith(n: number, key = SigningKey.generate()): Promise<{ seq: Sequencer; key: SigningKey; store: MemoryLogStore }> {
  const store = new MemoryLogStore();
  const seq = await Sequencer.open({ store, key, partners, quorum: 2, now, log: quiet });
  for (let i = 0; i < n; i++) await admit(seq, `e${i}.example`);
  return { seq, key, store };
}

async function admit(seq: Sequencer, value: string): Promise<void> {
  const p = { kind: 'add' as const, indicatorJson: indicatorCanonicalJson(ind(value)), proposerId: 'alpha', signature: signProposal(keys.alpha, 'add', ind(value)) };
  const { subject } = await seq.propose('alpha', p);
  for (const by of ['alpha', 'bravo'] as const) await seq.vote(by, signVote(keys[by], { partnerId: by, digest: subject, decision: 'approve', signedAt: now().toISOString() }));
}

/** The sequencer as a log source, each answer passed through `tamper` (a hostile sequencer or network). */
function sourceOf(seq: Sequencer, tamper: { head?: (h: SignedTreeHead) => SignedTreeHead; entry?: (e: IndexedEntry) => IndexedEntry } = {}): LogSource {
  return {
    treeHead: async () => (tamper.head ?? ((h) => h))(await seq.treeHead()),
    consistencyProof: (a, b) => Promise.resolve(seq.consistencyProof(a, b)),
    entries: async function* (from, size): AsyncGenerator<WireEntryResult> {
      for await (const { entry, proof } of seq.entries(from, size)) yield { ok: true, entry: (tamper.entry ?? ((e) => e))(entry), proof };
    },
  };
}

class RecordingSink implements EntrySink {
  readonly applied: VerifiedEntry[] = [];
  apply(e: VerifiedEntry): Promise<void> {
    this.applied.push(e);
    return Promise.resolve();
  }
}

function replicaOf(source: LogSource, seqKey: SigningKey, cursors = new MemoryCursorStore(), sink = new RecordingSink()) {
  const replica = new PartnerReplica({ sourceId: 'sequencer:seq', source, sink, cursors, anchors: { sequencerKey: seqKey.publicKey, partners, quorum: 2 }, now, log: quiet, checkpointEvery: 2 });
  return { replica, sink, cursors };
}

describe('PartnerReplica (memory stores)', () => {
  test('applies every verified entry in log order, checkpoints, and a second sync applies nothing again', async () => {
    const { seq, key } = await sequencerWith(5);
    const { replica, sink } = replicaOf(sourceOf(seq), key);
    const first = await replica.sync();
    assert.deepEqual([first.applied, first.treeSize, first.caughtUp], [5, 5, true]);
    assert.deepEqual(sink.applied.map((e) => e.index), [0, 1, 2, 3, 4]);
    await admit(seq, 'late.example');
    assert.equal((await replica.sync()).applied, 1);
    assert.deepEqual((await replica.cursor()).nextIndex, 6);
  });

  test('a partner that stopped after writing its records but before saving its cursor verifies those entries again without calling them replays', async () => {
    const { seq, key } = await sequencerWith(4);
    const records = new MemoryIndicatorStore();
    const make = (cursors: MemoryCursorStore) => new PartnerReplica({ sourceId: 'sequencer:seq', source: sourceOf(seq), sink: records, history: records, cursors, anchors: { sequencerKey: key.publicKey, partners, quorum: 2 }, now, log: quiet, checkpointEvery: 2 });
    assert.equal((await make(new MemoryCursorStore()).sync()).applied, 4);
    // The cursor was lost (crash before the checkpoint): the records already hold every entry.
    const again = await make(new MemoryCursorStore()).sync();
    assert.deepEqual([again.applied, again.treeSize], [4, 4]);
  });

  const attacks: ReadonlyArray<[string, (seq: Sequencer, key: SigningKey) => { source: LogSource; anchor: SigningKey }, string]> = [
    ['a tree head signed by another key', (seq) => ({ source: sourceOf(seq), anchor: SigningKey.generate() }), 'bad-tree-head'],
    ['an entry changed after its head was signed', (seq, key) => ({ source: sourceOf(seq, { entry: (e) => (e.index === 2 ? { ...e, indicator: ind('swapped.example') } : e) }), anchor: key }), 'tampered-entry'],
    ['an entry whose certificate lost a vote', (seq, key) => ({ source: sourceOf(seq, { entry: (e) => ({ ...e, votes: e.votes.slice(0, 1) }) }), anchor: key }), 'tampered-entry'],
  ];
  for (const [what, mount, reason] of attacks) {
    test(`halts on ${what} (${reason}), persists the halt and refuses every later sync`, async () => {
      const { seq, key } = await sequencerWith(4);
      const { source, anchor } = mount(seq, key);
      const { replica, sink, cursors } = replicaOf(source, anchor);
      await assert.rejects(replica.sync(), (err: unknown) => err instanceof ReplicationHalted && err.reason === reason);
      assert.ok(sink.applied.every((e) => e.index < 2), 'nothing at or after the bad entry is applied');
      assert.equal((await cursors.load('sequencer:seq'))?.halted?.reason, reason);
      await assert.rejects(replicaOf(sourceOf(seq), key, cursors).replica.sync(), ReplicationHalted);
    });
  }

  // Found by `npm run chaos`: a write failed after the database had applied an entry (the cluster's
  // webhook timed out), the cursor stayed before it, and the retry halted as replayed-entry.
  test('an entry whose write failed half-way is verified and applied again on the next sync, not taken for a replay', async () => {
    const { seq, key } = await sequencerWith(4);
    const history = new MemoryIndicatorStore();
    let failOnce = true;
    const sink: EntrySink = {
      async apply(e) {
        await history.apply(e);
        if (e.index === 2 && failOnce) {
          failOnce = false;
          throw new Error('the cluster refused the write (webhook timeout)');
        }
      },
    };
    const cursors = new MemoryCursorStore();
    const replica = new PartnerReplica({ sourceId: 'sequencer:seq', source: sourceOf(seq), sink, history, cursors, anchors: { sequencerKey: key.publicKey, partners, quorum: 2 }, now, log: quiet, checkpointEvery: 2 });
    await assert.rejects(replica.sync(), /webhook timeout/);
    assert.equal((await cursors.load('sequencer:seq'))?.nextIndex, 2);
    const again = await replica.sync();
    assert.deepEqual([again.applied, again.caughtUp], [2, true]);
    assert.equal((await cursors.load('sequencer:seq'))?.halted, undefined);
  });

  test('a history rewritten under the same key is a fork once the partner accepted a head', async () => {
    const key = SigningKey.generate();
    const honest = await sequencerWith(3, key);
    const { replica, cursors } = replicaOf(sourceOf(honest.seq), key);
    await replica.sync();
    const forked = await sequencerWith(0, key);
    for (const v of ['x.example', 'y.example', 'z.example', 'w.example']) await admit(forked.seq, v);
    await assert.rejects(replicaOf(sourceOf(forked.seq), key, cursors).replica.sync(), (err: unknown) => err instanceof ReplicationHalted && err.reason === 'fork');
  });
});

describe('PartnerReplica batches and their writes', () => {
  /** A sink recording the size of each applied batch, failing once at `failAt` (after storing the batch) when given. */
  function batchSink(failAt?: number): EntrySink & { sizes: number[]; store: MemoryIndicatorStore } {
    const store = new MemoryIndicatorStore();
    const sizes: number[] = [];
    let fail = failAt;
    return {
      sizes, store,
      apply: (e) => store.apply(e),
      async applyMany(es) {
        sizes.push(es.length);
        for (const e of es) await store.apply(e);
        if (fail !== undefined && es.some((e) => e.index === fail)) {
          fail = undefined;
          throw new Error('the database went away mid-batch');
        }
      },
    };
  }

  const rows: Array<{ name: string; first: number; more: number; every: number; catchUp: number; want: number[][] }> = [
    { name: 'far behind: catch-up batches, then checkpoints for what arrives later', first: 9, more: 3, every: 2, catchUp: 4, want: [[4, 4, 1], [2, 1]] },
    { name: 'exactly catchUpEvery behind is not far behind', first: 4, more: 0, every: 2, catchUp: 4, want: [[2, 2], []] },
    { name: 'a catch-up size below the checkpoint never shrinks batches', first: 6, more: 0, every: 4, catchUp: 2, want: [[4, 2], []] },
  ];
  for (const row of rows) {
    test(row.name, async () => {
      const { seq, key } = await sequencerWith(row.first);
      const sink = batchSink();
      const replica = new PartnerReplica({ sourceId: 'sequencer:seq', source: sourceOf(seq), sink, history: sink.store, cursors: new MemoryCursorStore(), anchors: { sequencerKey: key.publicKey, partners, quorum: 2 }, now, log: quiet, checkpointEvery: row.every, catchUpEvery: row.catchUp });
      await replica.sync();
      const firstSizes = [...sink.sizes];
      for (let i = 0; i < row.more; i++) await admit(seq, `later${i}.example`);
      await replica.sync();
      assert.deepEqual([firstSizes, sink.sizes.slice(firstSizes.length)], row.want);
      assert.equal((await replica.cursor()).nextIndex, row.first + row.more);
    });
  }

  test('leaf hashes stored beside a batch whose write failed are stored again on the retry; the leaves equal a clean run\'s', async () => {
    const { seq, key } = await sequencerWith(7);
    const run = async (failAt?: number): Promise<{ leaves: MemoryLeafStore; sink: ReturnType<typeof batchSink>; cursors: MemoryCursorStore }> => {
      const sink = batchSink(failAt);
      const leaves = new MemoryLeafStore();
      const cursors = new MemoryCursorStore();
      const replica = new PartnerReplica({ sourceId: 'sequencer:seq', source: sourceOf(seq), sink, history: sink.store, leaves, cursors, anchors: { sequencerKey: key.publicKey, partners, quorum: 2 }, now, log: quiet, checkpointEvery: 2, catchUpEvery: 2 });
      if (failAt !== undefined) {
        await assert.rejects(replica.sync(), /went away/);
        assert.equal((await cursors.load('sequencer:seq'))?.nextIndex, 2, 'the cursor moved past a batch whose write failed');
      }
      const again = await replica.sync();
      assert.equal(again.caughtUp, true);
      return { leaves, sink, cursors };
    };
    const clean = await run();
    const crashed = await run(3);
    const expected: string[] = [];
    for await (const { entry } of seq.entries(0, 7)) expected.push(entryLeafHash(entry));
    assert.deepEqual(await crashed.leaves.range(0, 7), expected);
    assert.deepEqual(await crashed.leaves.range(0, 7), await clean.leaves.range(0, 7));
    // Every entry reached the database; the failed batch twice (a replay), nothing else.
    assert.deepEqual([...new Set(crashed.sink.store.applied.map((e) => e.index))], clean.sink.store.applied.map((e) => e.index));
  });

  test('a sync step that waits longer than slowSyncMs is logged with its name (a write that hangs), and no warning while steps move', async () => {
    const { seq, key } = await sequencerWith(3);
    const lines: string[] = [];
    const log = createLogger(new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb(); } }), 'warn');
    let release: () => void = () => undefined;
    const hung = new Promise<void>((r) => { release = r; });
    const sink: EntrySink = { apply: () => hung };
    const replica = new PartnerReplica({ sourceId: 'sequencer:seq', source: sourceOf(seq), sink, cursors: new MemoryCursorStore(), anchors: { sequencerKey: key.publicKey, partners, quorum: 2 }, now, log, checkpointEvery: 2 });
    const abort = new AbortController();
    const running = replica.run({ signal: abort.signal, waitMs: 0, slowSyncMs: 40 });
    while (!lines.some((l) => l.includes('replica sync slow'))) await new Promise((r) => setTimeout(r, 10));
    const warning = JSON.parse(lines.find((l) => l.includes('replica sync slow'))!) as { phase: string; nextIndex: number; waitedMs: number };
    assert.deepEqual([warning.phase, warning.nextIndex], ['batch write', 0]);
    assert.ok(warning.waitedMs >= 40);
    release();
    abort.abort();
    await running;
  });
});

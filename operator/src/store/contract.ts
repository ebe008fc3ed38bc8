/**
 * Test kit: the contract every implementation of the exchange's persistence ports
 * (domain/stores.ts) must keep, as node:test suites. store/memory.test.ts runs them against
 * the memory stores; e2e/integration/stores.test.ts against the MongoDB ones on a real
 * MongoDB-wire server, so the two implementations cannot drift apart (as medallion runs one
 * backend suite against its memory and MongoDB backends).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IndexedEntry } from '../domain/entry.ts';
import type { Vote } from '../domain/quorum.ts';
import type { CursorStore, LeafStore, ReplicaCursor, SequencerLogStore, SequencerRoundStore, StoredRound } from '../domain/stores.ts';
import type { SignedTreeHead } from '../domain/treehead.ts';

/** Makes a fresh, empty store for one test. */
export type StoreFactory<S> = () => Promise<S>;

const WINDOW = { opensAt: '2026-12-01T00:00:00.000Z', closesAt: '2026-12-04T00:00:00.000Z' } as const;

function vote(partnerId: string, digest: string, signedAt = '2026-12-01T01:00:00.000Z', reason?: string): Vote {
  return { partnerId, digest, decision: 'approve', signedAt, signature: `sig-${partnerId}-${signedAt}`, ...(reason !== undefined ? { reason } : {}) };
}

/** An ADD entry of `n.example` at index `index`. */
export function sampleEntry(index: number, n = index, opensAt: string = WINDOW.opensAt): IndexedEntry {
  return {
    index, kind: 'add', indicator: { type: 'domain', value: `e${n}.example` }, proposerId: 'alpha', proposalSignature: `prop-${n}`,
    window: { opensAt, closesAt: WINDOW.closesAt }, votes: [vote('alpha', `d${n}`), vote('bravo', `d${n}`, '2026-12-01T02:00:00.000Z', 'seen in our DNS')],
    ...(n % 2 === 0 ? { meta: { tlp: 'amber', confidence: 80, labels: ['c2'], source: 'threatmesh/feodo' } } : {}),
    // Protocol v2: a batch proposal's proof.
    ...(n % 3 === 0 ? { proposalBatch: `0 2 ${'a'.repeat(64)} ${'b'.repeat(64)}` } : {}),
  };
}

function head(treeSize: number, rootHash = `root-${treeSize}`): SignedTreeHead {
  return { treeSize, rootHash, timestamp: '2026-12-01T03:00:00.000Z', logId: 'log-1', signature: `sth-${treeSize}-${rootHash}` };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** The contract of {@link SequencerLogStore}. */
export function logStoreContract(name: string, make: StoreFactory<SequencerLogStore>): void {
  describe(`SequencerLogStore contract: ${name}`, () => {
    test('entries come back in index order, exactly as inserted (metadata, vote reasons and batch proposal proofs included), within [from, to)', async () => {
      const s = await make();
      const all = [0, 1, 2, 3, 4].map((i) => sampleEntry(i));
      await s.insertEntries(all.slice(0, 2).map((entry) => ({ entry, digest: `d${entry.index}` })));
      await s.insertEntries(all.slice(2).map((entry) => ({ entry, digest: `d${entry.index}` })));
      assert.deepEqual(await collect(s.entries(0)), all);
      assert.deepEqual(await collect(s.entries(1, 3)), all.slice(1, 3));
      assert.deepEqual(await collect(s.entries(5)), []);
    });
    test('a second entry at a stored index is refused; the entries before it in the batch stay stored', async () => {
      const s = await make();
      await s.insertEntries([{ entry: sampleEntry(0), digest: 'd0' }]);
      await assert.rejects(s.insertEntries([{ entry: sampleEntry(1), digest: 'd1' }, { entry: sampleEntry(0, 7), digest: 'd7' }]));
      assert.deepEqual((await collect(s.entries(0))).map((e) => e.index), [0, 1]);
    });
    test('a second entry of one round (digest, kind, window start) is refused, another round of the same indicator is not', async () => {
      const s = await make();
      await s.insertEntries([{ entry: sampleEntry(0, 5), digest: 'd5' }]);
      await assert.rejects(s.insertEntries([{ entry: sampleEntry(1, 5), digest: 'd5' }]));
      await s.insertEntries([{ entry: sampleEntry(1, 5, '2026-12-02T00:00:00.000Z'), digest: 'd5' }]);
      assert.equal((await collect(s.entries(0))).length, 2);
    });
    test('the latest tree head is the largest; the first head stored for a size is kept', async () => {
      const s = await make();
      assert.equal(await s.latestTreeHead(), undefined);
      await s.insertTreeHead(head(2));
      await s.insertTreeHead(head(5));
      await s.insertTreeHead(head(3));
      await s.insertTreeHead(head(5, 'other-root'));
      assert.deepEqual(await s.latestTreeHead(), head(5));
    });
  });
}

function round(subject: string, opensAt: string, votes: readonly Vote[] = []): StoredRound {
  return { subject, kind: 'add', indicatorJson: `{"type":"domain","value":"${subject}.example"}`, metaJson: '{"tlp":"green"}', proposerId: 'alpha', signature: `prop-${subject}`, window: { opensAt, closesAt: WINDOW.closesAt }, votes };
}

/** The contract of {@link SequencerRoundStore}. */
export function roundStoreContract(name: string, make: StoreFactory<SequencerRoundStore>): void {
  describe(`SequencerRoundStore contract: ${name}`, () => {
    test('rounds come back oldest window first, each with every vote saved for it (and a batch proposal with its proof)', async () => {
      const s = await make();
      const batch = `1 2 ${'a'.repeat(64)} ${'b'.repeat(64)}`;
      await s.saveRound({ ...round('s2', '2026-12-02T00:00:00.000Z'), batch });
      await s.saveRound(round('s1', '2026-12-01T00:00:00.000Z', [vote('alpha', 's1')]));
      await s.saveVote('s1', vote('bravo', 's1', '2026-12-01T05:00:00.000Z', 'why'));
      await s.saveVote('s2', vote('charlie', 's2'));
      const loaded = await s.loadRounds();
      assert.deepEqual(loaded.map((r) => r.subject), ['s1', 's2']);
      assert.deepEqual(loaded[0], round('s1', '2026-12-01T00:00:00.000Z', [vote('alpha', 's1'), vote('bravo', 's1', '2026-12-01T05:00:00.000Z', 'why')]));
      assert.deepEqual(loaded[1]?.votes, [vote('charlie', 's2')]);
      assert.equal(loaded[1]?.batch, batch);
    });
    test('saving a round again keeps the first; saving a vote again stores it once', async () => {
      const s = await make();
      await s.saveRound(round('s1', '2026-12-01T00:00:00.000Z'));
      await s.saveRound({ ...round('s1', '2026-12-01T00:00:00.000Z'), proposerId: 'mallory' });
      await s.saveVote('s1', vote('bravo', 's1'));
      await s.saveVote('s1', vote('bravo', 's1'));
      const [only] = await s.loadRounds();
      assert.equal(only?.proposerId, 'alpha');
      assert.equal(only?.votes.length, 1);
    });
    test('a deleted round is gone with its votes, and a new round under its subject starts without them', async () => {
      const s = await make();
      await s.saveRound(round('s1', '2026-12-01T00:00:00.000Z'));
      await s.saveVote('s1', vote('bravo', 's1'));
      await s.deleteRound('s1');
      assert.deepEqual(await s.loadRounds(), []);
      await s.saveRound(round('s1', '2026-12-03T00:00:00.000Z'));
      assert.deepEqual((await s.loadRounds())[0]?.votes, []);
    });
  });
}

/** The contract of {@link CursorStore}. */
export function cursorStoreContract(name: string, make: StoreFactory<CursorStore>): void {
  describe(`CursorStore contract: ${name}`, () => {
    test('an unknown source has no cursor; a saved cursor comes back as saved, per source, and is replaced by the next save', async () => {
      const s = await make();
      assert.equal(await s.load('sequencer:seq'), undefined);
      const first: ReplicaCursor = { nextIndex: 3, head: head(3) };
      const halted: ReplicaCursor = { nextIndex: 5, head: head(6), halted: { reason: 'tampered-entry', message: 'entry 5 is not the leaf', index: 5, at: '2026-12-01T04:00:00.000Z' } };
      await s.save('sequencer:seq', first);
      await s.save('sequencer:other', { nextIndex: 0 });
      assert.deepEqual(await s.load('sequencer:seq'), first);
      await s.save('sequencer:seq', halted);
      assert.deepEqual(await s.load('sequencer:seq'), halted);
      assert.deepEqual(await s.load('sequencer:other'), { nextIndex: 0 });
    });
    test('a cursor saved without a halt after a halted one has no halt', async () => {
      const s = await make();
      await s.save('src', { nextIndex: 1, halted: { reason: 'fork', message: 'x', at: '2026-12-01T04:00:00.000Z' } });
      await s.save('src', { nextIndex: 2, head: head(2) });
      assert.deepEqual(await s.load('src'), { nextIndex: 2, head: head(2) });
    });
  });
}

/** The contract of {@link LeafStore}. */
export function leafStoreContract(name: string, make: StoreFactory<LeafStore>): void {
  const hashes = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => (from + i).toString(16).padStart(64, '0'));
  describe(`LeafStore contract: ${name}`, () => {
    test('appended leaves come back by range across chunk boundaries, and size counts them', async () => {
      const s = await make();
      assert.equal(await s.size(), 0);
      await s.append(0, hashes(0, 1000));
      await s.append(1000, hashes(1000, 1500));
      assert.equal(await s.size(), 2500);
      assert.deepEqual(await s.range(1020, 1030), hashes(1020, 10));
      assert.deepEqual(await s.range(0, 2500), hashes(0, 2500));
      assert.deepEqual(await s.range(7, 7), []);
    });
    test('appending again from an earlier index overwrites (a replayed batch); a gap is refused; a range beyond the store is refused', async () => {
      const s = await make();
      await s.append(0, hashes(0, 10));
      await s.append(5, hashes(5, 10));
      assert.equal(await s.size(), 15);
      assert.deepEqual(await s.range(0, 15), hashes(0, 15));
      await assert.rejects(s.append(2000, hashes(2000, 1)));
      await assert.rejects(s.range(0, 16));
    });
    test('clear forgets every leaf', async () => {
      const s = await make();
      await s.append(0, hashes(0, 3));
      await s.clear();
      assert.equal(await s.size(), 0);
    });
  });
}

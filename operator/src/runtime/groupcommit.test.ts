import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from './groupcommit.ts';

interface Item { readonly n: number; readonly done: () => void }

function recorder(opts: { maxBatch?: number; gather?: boolean }): { gc: GroupCommit<Item>; batches: number[][]; overlap: () => boolean; add: (n: number) => Promise<void> } {
  const batches: number[][] = [];
  let inFlight = 0;
  let overlapped = false;
  const gc = new GroupCommit<Item>(async (batch) => {
    inFlight += 1;
    overlapped ||= inFlight > 1;
    batches.push(batch.map((i) => i.n));
    await new Promise((r) => setTimeout(r, 5));
    for (const i of batch) i.done();
    inFlight -= 1;
  }, opts);
  return { gc, batches, overlap: () => overlapped, add: (n) => new Promise<void>((done) => gc.add({ n, done })) };
}

test('items added while a write is in flight go together in the next write, one write at a time', async () => {
  const r = recorder({});
  await Promise.all([1, 2, 3, 4].map(r.add));
  assert.deepEqual(r.batches, [[1], [2, 3, 4]]);
  assert.equal(r.overlap(), false);
});

test('gather: one burst of calls makes one write', async () => {
  const r = recorder({ gather: true });
  await Promise.all([1, 2, 3, 4].map(r.add));
  assert.deepEqual(r.batches, [[1, 2, 3, 4]]);
});

test('maxBatch bounds every write, in order', async () => {
  const r = recorder({ gather: true, maxBatch: 3 });
  await Promise.all([1, 2, 3, 4, 5, 6, 7].map(r.add));
  assert.deepEqual(r.batches, [[1, 2, 3], [4, 5, 6], [7]]);
  assert.equal(r.overlap(), false);
});

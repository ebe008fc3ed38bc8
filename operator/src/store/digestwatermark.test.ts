import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHUNK_BUCKET, MAX_BUCKET_READS, chunkBucket, chunksSince, type CursorMark } from './digestwatermark.ts';

const scan = (floor: number): unknown => ({ filter: { $or: [{ i: { $gte: floor } }, { i: { $lt: 0 } }] } });
const buckets = (...b: number[]): unknown => ({ buckets: b });
type Marks = Array<[string, number, string?]>;
const marks = (rows: Marks): Map<string, CursorMark> => new Map(rows.map(([source, next, writer]) => [source, { next, writer }]));

test('chunks a set loaded at one watermark lacks: from the lowest cursor then, or every chunk when the cursors do not tell', () => {
  const rows: Array<[string, Marks, Marks, unknown]> = [
    ['one source moved on: the chunks from where it was', [['sequencer:s', 120]], [['sequencer:s', 180]], scan(120)],
    ['nothing moved: the chunks from there (the batch under way at the load)', [['sequencer:s', 120]], [['sequencer:s', 120]], scan(120)],
    ['two sources: from the lower', [['sequencer:a', 50], ['sequencer:b', 900]], [['sequencer:a', 60], ['sequencer:b', 950]], scan(50)],
    ['no source then or now: every chunk', [], [], scan(0)],
    ['a source appeared (its log starts at 0): every chunk', [['sequencer:a', 50]], [['sequencer:a', 50], ['sequencer:b', 3]], undefined],
    ['the first source appeared: every chunk', [], [['sequencer:a', 3]], undefined],
    ['a cursor removed (replica rebuild): every chunk', [['sequencer:a', 50]], [], undefined],
    ['a source replaced by another: every chunk', [['sequencer:a', 50]], [['sequencer:b', 70]], undefined],
    ['a cursor moved back: every chunk', [['sequencer:a', 50]], [['sequencer:a', 10]], undefined],
    ['a cursor moved back within one term: every chunk', [['sequencer:a', 50, 't1']], [['sequencer:a', 10, 't1']], undefined],
  ];
  for (const [name, then, now, want] of rows) assert.deepEqual(chunksSince(marks(then), marks(now)), want, name);
});

test('the buckets, one equality each, only when one term saved every cursor then and now (its chunks all carry b)', () => {
  const B = CHUNK_BUCKET;
  const rows: Array<[string, Marks, Marks, unknown]> = [
    ['one term moved the cursor within a bucket', [['sequencer:s', 120, 't1']], [['sequencer:s', 180, 't1']], buckets(0)],
    ['nothing moved: the bucket of the cursor (a write-ahead chunk at the cursor)', [['sequencer:s', 3 * B + 5, 't1']], [['sequencer:s', 3 * B + 5, 't1']], buckets(3)],
    ['across buckets: from the lowest cursor then to the bucket of the highest now', [['sequencer:s', B - 1, 't1']], [['sequencer:s', 2 * B, 't1']], buckets(0, 1, 2)],
    ['two sources, one term', [['sequencer:a', 5, 't1'], ['sequencer:b', B + 1, 't1']], [['sequencer:a', 6, 't1'], ['sequencer:b', B + 2, 't1']], buckets(0, 1)],
    ['another term saved since (it may be an older version: chunks without b): scan', [['sequencer:s', 120, 't1']], [['sequencer:s', 180, 't2']], scan(120)],
    ['an older version saved since (no term named): scan', [['sequencer:s', 120, 't1']], [['sequencer:s', 180]], scan(120)],
    ['loaded when an older version had saved: scan', [['sequencer:s', 120]], [['sequencer:s', 180, 't1']], scan(120)],
    ['one source by another term: scan', [['sequencer:a', 5, 't1'], ['sequencer:b', 7, 't1']], [['sequencer:a', 6, 't1'], ['sequencer:b', 8, 't2']], scan(5)],
    [`more than ${MAX_BUCKET_READS} buckets: scan`, [['sequencer:s', 0, 't1']], [['sequencer:s', MAX_BUCKET_READS * B, 't1']], scan(0)],
  ];
  for (const [name, then, now, want] of rows) assert.deepEqual(chunksSince(marks(then), marks(now)), want, name);
  const widest = chunksSince(marks([['sequencer:s', 0, 't1']]), marks([['sequencer:s', MAX_BUCKET_READS * B - 1, 't1']]));
  assert.equal(widest !== undefined && 'buckets' in widest ? widest.buckets.length : 0, MAX_BUCKET_READS, 'at most MAX_BUCKET_READS buckets');
});

test('chunkBucket: CHUNK_BUCKET log indexes per bucket, -1 for the chunks without a position', () => {
  assert.deepEqual([-2, -1, 0, CHUNK_BUCKET - 1, CHUNK_BUCKET, 5 * CHUNK_BUCKET + 7].map(chunkBucket), [-1, -1, 0, 0, 1, 5]);
});

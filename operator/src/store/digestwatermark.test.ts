import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunksSince } from './digestwatermark.ts';

const since = (floor: number): unknown => ({ $or: [{ i: { $gte: floor } }, { i: { $lt: 0 } }] });

test('chunks a set loaded at one watermark lacks: from the lowest cursor then, or every chunk when the cursors do not tell', () => {
  const rows: Array<[string, Array<[string, number]>, Array<[string, number]>, unknown]> = [
    ['one source moved on: the chunks from where it was', [['sequencer:s', 120]], [['sequencer:s', 180]], since(120)],
    ['nothing moved: the chunks from there (the batch under way at the load)', [['sequencer:s', 120]], [['sequencer:s', 120]], since(120)],
    ['two sources: from the lower', [['sequencer:a', 50], ['sequencer:b', 900]], [['sequencer:a', 60], ['sequencer:b', 950]], since(50)],
    ['no source then or now: every chunk', [], [], since(0)],
    ['a source appeared (its log starts at 0): every chunk', [['sequencer:a', 50]], [['sequencer:a', 50], ['sequencer:b', 3]], undefined],
    ['the first source appeared: every chunk', [], [['sequencer:a', 3]], undefined],
    ['a cursor removed (replica rebuild): every chunk', [['sequencer:a', 50]], [], undefined],
    ['a source replaced by another: every chunk', [['sequencer:a', 50]], [['sequencer:b', 70]], undefined],
    ['a cursor moved back: every chunk', [['sequencer:a', 50]], [['sequencer:a', 10]], undefined],
  ];
  for (const [name, then, now, want] of rows) assert.deepEqual(chunksSince(new Map(then), new Map(now)), want, name);
});

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { splitArgs } from './run.ts';

it('splitArgs: names up to the first flag, everything from it on is passed to the benchmarks', () => {
  const cases: Array<[string[], string[], string[]]> = [
    [[], [], []],
    [['soak'], ['soak'], []],
    [['domain', 'feeds'], ['domain', 'feeds'], []],
    [['soak', '--minutes', '10'], ['soak'], ['--minutes', '10']],
    [['soak', '--minutes', '2', '--rate', '500', '--keep'], ['soak'], ['--minutes', '2', '--rate', '500', '--keep']],
    [['soak', '--help'], ['soak'], ['--help']],
    [['--minutes', '2'], [], ['--minutes', '2']],
  ];
  for (const [argv, names, passed] of cases) assert.deepEqual(splitArgs(argv), { names, passed }, argv.join(' '));
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCpuSeconds, parseStat, parseStatusKb, parseVmRss, processCpuMs } from './procfs.ts';

describe('parseStat', () => {
  const cases: Array<{ name: string; text: string; want: ReturnType<typeof parseStat> }> = [
    {
      name: 'a process',
      text: '1234 (node) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 11 0 100 1000 200',
      want: { ppid: 1, comm: 'node', utime: 250, stime: 50, cutime: 7, cstime: 3 },
    },
    {
      name: 'a command name with spaces and parentheses',
      text: '77 (a (b) c) R 9 77 77 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 10 2',
      want: { ppid: 9, comm: 'a (b) c', utime: 7, stime: 3, cutime: 0, cstime: 0 },
    },
    { name: 'cut before the children\'s times', text: '77 (x) R 1 2 3 4 5 6 7 8 9 10 11 12', want: undefined },
    { name: 'a field that is not a number', text: '77 (x) R 1 2 3 4 5 6 7 8 9 10 x 12 13 14', want: undefined },
    { name: 'not a stat line', text: 'garbage', want: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseStat(c.text), c.want));
});

describe('parseVmRss', () => {
  const cases: Array<{ name: string; text: string; bytes: number | undefined }> = [
    { name: 'a process', text: 'Name:\tnode\nVmPeak:\t 1000 kB\nVmRSS:\t   81920 kB\nThreads:\t11\n', bytes: 81920 * 1024 },
    { name: 'a kernel thread has none', text: 'Name:\tkthreadd\nThreads:\t1\n', bytes: undefined },
    { name: 'not a status file', text: '', bytes: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(parseVmRss(c.text), c.bytes));
  it('reads RssAnon and RssFile apart', () => {
    const text = 'VmRSS:\t    1736 kB\nRssAnon:\t     112 kB\nRssFile:\t    1624 kB\n';
    assert.deepEqual([parseStatusKb(text, 'RssAnon'), parseStatusKb(text, 'RssFile'), parseStatusKb(text, 'RssShmem')], [112 * 1024, 1624 * 1024, undefined]);
  });
});

describe('parseCpuSeconds', () => {
  const cases: Array<{ name: string; text: string; seconds: number | undefined }> = [
    { name: 'a process', text: '1234 (node) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 1000 200', seconds: 3 },
    { name: 'a command name with spaces and parentheses', text: '77 (a (b) c) R 1 77 77 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 5 10 2', seconds: 0.1 },
    { name: 'cut short', text: '77 (x) R 1 2', seconds: undefined },
    { name: 'not a stat line', text: 'garbage', seconds: undefined },
  ];
  for (const c of cases) it(c.name, () => assert.equal(parseCpuSeconds(c.text), c.seconds));
});

describe('processCpuMs', () => {
  it('reads this process and grows with work', () => {
    // Busy until the clock ticks over, bounded: on a loaded machine 60 ms of wall time may hold no tick.
    const before = processCpuMs(process.pid);
    const until = Date.now() + 10_000;
    while (processCpuMs(process.pid) === before && Date.now() < until);
    assert.ok(processCpuMs(process.pid) > before, 'busy work adds CPU time');
  });
  it('is 0 for a process that does not exist', () => assert.equal(processCpuMs(2 ** 22 + 1), 0));
});

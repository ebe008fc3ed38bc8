import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { growthOf, type Sample } from './growth.ts';
import { bytesPerEntry, processResults, seriesRows, SERIES_COLUMNS, withEntries } from './report.ts';

const MIB = 2 ** 20;

function sample(t: number, rssMiB: number, heap?: { live?: number; external: number }): Sample {
  return {
    t, rssBytes: rssMiB * MIB, anonBytes: (rssMiB - 60) * MIB, fds: 40,
    ...(heap !== undefined ? { heap: { heapUsed: 90 * MIB, heapTotal: 200 * MIB, external: heap.external * MIB, arrayBuffers: heap.external * MIB, majorGcs: 3, ...(heap.live !== undefined ? { liveAfterGc: heap.live * MIB } : {}) } } : {}),
  };
}

describe('seriesRows', () => {
  const cases: Array<{ name: string; s: Sample; row: Array<number | null> }> = [
    { name: 'a probed Node process', s: sample(10, 300, { live: 70, external: 120 }), row: [10, 300, 240, 40, 90, 200, 120, 70] },
    { name: 'before its first major collection', s: sample(10, 300, { external: 120 }), row: [10, 300, 240, 40, 90, 200, 120, null] },
    { name: 'a process without the probe', s: sample(10, 300), row: [10, 300, 240, 40, null, null, null, null] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [row] = seriesRows([c.s]);
      assert.deepEqual(row, c.row);
      assert.equal(row.length, SERIES_COLUMNS.length);
    });
  }
});

describe('processResults', () => {
  const run = (heap: boolean): Sample[] => Array.from({ length: 61 }, (_, i) => sample(i * 10, 300 + (i % 3), heap ? { live: 70 + i / 6, external: 100 } : undefined));
  const cases: Array<{ name: string; samples: Sample[]; judged: string[] }> = [
    { name: 'a probed process: RSS, fds, live data and external memory judged', samples: run(true), judged: ['anonymous RSS growth', 'fd growth', 'live JavaScript data growth', 'external memory growth'] },
    { name: 'a process without the probe: RSS and fds judged', samples: run(false), judged: ['anonymous RSS growth', 'fd growth'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const g = growthOf(c.samples);
      const lines = processResults('p', g, g, 'warm-up');
      assert.deepEqual(lines.filter((l) => l.metric.endsWith('(judged)')).map((l) => l.metric.replace(/^p: /, '').replace(/ after warm-up \(judged\)$/, '')), c.judged);
    });
  }
  it('says when RSS growth is V8 sizing', () => {
    // RSS (anonymous: rss − 60) and the reserved heap both grow 10 MiB/min, the live data stays flat.
    const samples = Array.from({ length: 61 }, (_, i) => {
      const s = sample(i * 10, 300 + i / 0.6, { live: 70, external: 100 });
      return { ...s, rssBytes: s.anonBytes!, heap: { ...s.heap!, heapTotal: (100 + i / 0.6) * MIB } };
    });
    const g = growthOf(samples);
    const lines = processResults('p', g, g, 'warm-up');
    assert.equal(g.leak, false, g.notes.join('; '));
    assert.match(lines.find((l) => l.metric === 'p: anonymous RSS growth judged V8 sizing, not a leak')?.unit ?? '(none)', /V8 sizing its heap/);
    assert.ok(Math.abs(lines.find((l) => l.metric.startsWith('p: anonymous RSS outside the reserved'))!.value) < 0.01);
    assert.equal(lines.find((l) => l.metric === 'p: V8 heap reserved start → end')?.value, 100);
  });
  it('says the live data growth per minute', () => {
    const g = growthOf(run(true));
    const live = processResults('p', g, g, 'warm-up').find((l) => l.metric.startsWith('p: live JavaScript data growth'));
    assert.ok(Math.abs(live!.value - 1) < 0.01, `live growth ${live!.value}`);
    assert.equal(g.leak, false, g.notes.join('; '));
  });
});

describe('the sequencer judged per log entry', () => {
  // 1,000 entries/s for 10 minutes, 171 bytes of live data each (9.8 MiB/min): by design, not a leak.
  const tree: Array<[number, number]> = Array.from({ length: 61 }, (_, i) => [i * 10, 20_000 + i * 10_000]);
  const samples = tree.map(([t, size]) => sample(t, 300, { live: 60 + (size * 171) / MIB, external: 100 }));

  it('withEntries gives each sample the log\'s size at its time, and none where the log has no size', () => {
    const got = withEntries([...samples.slice(0, 2), sample(5, 300)], tree);
    assert.deepEqual(got.map((s) => s.entries), [20_000, 30_000, undefined]);
  });

  it('the live data beyond the allowance is judged; its growth per minute is reported, not judged', () => {
    const g = growthOf(withEntries(samples, tree));
    assert.equal(g.leak, false, g.notes.join('; '));
    const lines = processResults('seq', g, g, 'warm-up');
    assert.deepEqual(lines.filter((l) => l.metric.includes('live JavaScript data')).map((l) => [l.metric, Math.round(l.value * 10) / 10]), [
      ['seq: live JavaScript data after major collections, first → last', 97.9],
      ['seq: live JavaScript data growth after warm-up (not judged: it grows with the log)', 9.8],
      ['seq: live JavaScript data beyond 192 bytes per log entry, growth after warm-up (judged)', -1.2],
    ]);
    assert.equal(growthOf(samples).leak, true, 'the same samples without the log\'s size: judged per minute, a leak');
  });
});

describe('bytesPerEntry', () => {
  const tree: Array<[number, number]> = Array.from({ length: 11 }, (_, i) => [i * 10, i * 1000]);
  const samples = tree.map(([t], i) => sample(t, 300, { live: 70 + (i * 1000 * 200) / MIB, external: 100 }));
  const cases: Array<{ name: string; from: number; minSize?: number; slope?: number }> = [
    { name: 'live bytes per entry over the whole run', from: 0, slope: 200 },
    { name: 'after a warm-up', from: 50, slope: 200 },
    { name: 'only once the log is large enough', from: 0, minSize: 9000, slope: 200 },
    { name: 'too few samples', from: 95 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const f = bytesPerEntry(samples, tree, (s) => s.heap?.liveAfterGc, { from: c.from, ...(c.minSize !== undefined ? { minSize: c.minSize } : {}) });
      if (c.slope === undefined) assert.equal(f, undefined);
      else assert.ok(f !== undefined && Math.abs(f.slope - c.slope) < 1, `slope ${f?.slope}`);
    });
  }
});

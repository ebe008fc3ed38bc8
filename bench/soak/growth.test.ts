import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitLine, growthOf, type LeakThresholds, type Sample } from './growth.ts';

const MIB = 1024 * 1024;

/** Samples every 10 s for `minutes`: RSS (MiB) and fds as functions of the minute. */
function series(minutes: number, rssMiB: (m: number) => number, fds: (m: number) => number): Sample[] {
  const out: Sample[] = [];
  for (let t = 0; t <= minutes * 60; t += 10) out.push({ t, rssBytes: Math.round(rssMiB(t / 60) * MIB), fds: Math.round(fds(t / 60)) });
  return out;
}

/** A Node process's samples: RSS, live data after major collections (undefined: none yet) and external memory (MiB) by minute. */
function probed(minutes: number, rssMiB: (m: number) => number, liveMiB: (m: number) => number | undefined, externalMiB: (m: number) => number): Sample[] {
  return series(minutes, rssMiB, () => 40).map((s) => {
    const live = liveMiB(s.t / 60);
    const external = Math.round(externalMiB(s.t / 60) * MIB);
    return { ...s, heap: { heapUsed: 0, heapTotal: 0, external, arrayBuffers: external, majorGcs: 1, ...(live !== undefined ? { liveAfterGc: Math.round(live * MIB) } : {}) } };
  });
}

// Resident memory of a Node process as a high-water mark (measured shape, bench/results/soak.json
// of 2026-12-07 09:30): a steep fill, then rises ever more rarely and smaller, with noise.
const highWater = (m: number): number => 200 + 170 * (1 - Math.exp(-m / 1.2)) + 55 * Math.log1p(m) + saw(8)(m);

// A deterministic saw-tooth (GC) of ±amp around a base.
const saw = (amp: number) => (m: number): number => ((Math.round(m * 6) % 4) - 1.5) * (amp / 1.5);

describe('growthOf', () => {
  const cases: Array<{ name: string; samples: Sample[]; th?: LeakThresholds; leak: boolean; note?: RegExp }> = [
    { name: 'flat memory and fds', samples: series(10, () => 120, () => 40), leak: false },
    { name: 'GC saw-tooth around a flat level', samples: series(10, (m) => 150 + saw(20)(m), () => 40), leak: false },
    { name: 'steady RSS growth of 10 MiB/min', samples: series(10, (m) => 100 + 10 * m, () => 40), leak: true, note: /RSS grows steadily by 10\.00 MiB\/min/ },
    { name: 'slow RSS growth under the threshold', samples: series(10, (m) => 100 + 2 * m, () => 40), leak: false },
    { name: 'steady fd growth of 5 per minute', samples: series(10, () => 100, (m) => 30 + 5 * m), leak: true, note: /open fds grow steadily by (4\.9\d|5\.0\d) fds\/min/ },
    { name: 'a warm-up jump then flat', samples: series(10, (m) => (m < 1.5 ? 60 + 60 * m : 150), (m) => (m < 1 ? 10 + 30 * m : 40)), leak: false },
    { name: 'growth fast but noisy (not steady)', samples: series(10, (m) => 100 + 5 * m + saw(200)(m), () => 40), leak: false },
    { name: 'a lower threshold flags slow growth', samples: series(10, (m) => 100 + 2 * m, () => 40), th: { rssMiBPerMin: 1 }, leak: true },
    { name: 'memory falling is no leak', samples: series(10, (m) => 300 - 10 * m, () => 40), leak: false },
    { name: 'too few samples: no verdict', samples: series(0.5, (m) => 100 + 100 * m, () => 40), th: { warmupSeconds: 0 }, leak: false, note: /no verdict/ },
    { name: 'a run within the warm-up minute: no verdict', samples: series(1, (m) => 100 + 100 * m, () => 40), leak: false, note: /no verdict: 1 samples after the warm-up/ },
    { name: 'growth during the warm-up minute only', samples: series(3, (m) => (m < 1 ? 100 + 80 * m : 180), () => 40), th: { warmupFraction: 0 }, leak: false },
    { name: 'growth that goes on after the warm-up minute', samples: series(3, (m) => 100 + 80 * m, () => 40), th: { warmupFraction: 0 }, leak: true },
    { name: 'a leak growing the whole run is flagged after the half warm-up as after a short one', samples: series(10, (m) => 150 + 5 * m + saw(4)(m), () => 40), leak: true, note: /RSS grows steadily by (4\.9\d|5\.0\d) MiB\/min/ },
    { name: 'a high-water mark filling (no leak after the first half)', samples: probed(10, highWater, () => 70 + saw(2)(0), (m) => 100 + saw(60)(m)), leak: false },
    { name: 'the same high-water mark judged from the first fifth (the old warm-up) looks like a leak', samples: series(10, highWater, () => 40), th: { warmupFraction: 0.2 }, leak: true, note: /RSS grows steadily/ },
    { name: 'live data growing under noisy RSS is a leak', samples: probed(10, (m) => 400 + saw(60)(m), (m) => 70 + 2 * m, () => 100), leak: true, note: /live JavaScript data after major collections grows steadily by 2\.00 MiB\/min/ },
    { name: 'live data growing under its threshold is no leak', samples: probed(10, () => 400, (m) => 70 + 0.5 * m, () => 100), leak: false },
    { name: 'Buffers kept alive (external growing) are a leak', samples: probed(10, (m) => 300 + 6 * m, () => 70, (m) => 50 + 6 * m), leak: true, note: /external\) grows steadily by 6\.00 MiB\/min/ },
    { name: 'no major collection yet: no verdict on live data, no leak', samples: probed(10, () => 300, () => undefined, () => 100), leak: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const g = growthOf(c.samples, c.th);
      assert.equal(g.leak, c.leak, g.notes.join('; '));
      if (c.note) assert.match(g.notes.join('; '), c.note);
      if (!c.leak && c.note === undefined) assert.deepEqual(g.notes, []);
    });
  }

  it('reports start, end and maximum', () => {
    const g = growthOf(series(2, (m) => (m === 1 ? 300 : 100 + m), (m) => 10 + m));
    assert.equal(g.rssStartMiB, 100);
    assert.equal(g.rssEndMiB, 102);
    assert.equal(g.rssMaxMiB, 300);
    assert.equal(g.fdsStart, 10);
    assert.equal(g.fdsEnd, 12);
  });

  it('reports the probe\'s live data and external memory', () => {
    const g = growthOf(probed(10, () => 300, (m) => (m < 1 ? undefined : 60 + m), (m) => (m === 5 ? 180 : 90)));
    assert.equal(g.heap?.liveStartMiB, 61);
    assert.equal(g.heap?.liveEndMiB, 70);
    assert.ok(Math.abs((g.heap?.liveMiBPerMin ?? 0) - 1) < 0.01, `live slope ${g.heap?.liveMiBPerMin}`);
    assert.equal(g.heap?.externalMaxMiB, 180);
    assert.equal(g.heap?.externalEndMiB, 90);
  });

  it('a process without the probe has no heap figures', () => {
    assert.equal(growthOf(series(10, () => 100, () => 40)).heap, undefined);
  });

  it('refuses an empty series', () => {
    assert.throws(() => growthOf([]), /no samples/);
  });
});

describe('fitLine', () => {
  const cases: Array<{ name: string; points: Array<[number, number]>; slope: number; r2: number }> = [
    { name: 'exact line', points: [[0, 1], [1, 3], [2, 5]], slope: 2, r2: 1 },
    { name: 'constant', points: [[0, 4], [1, 4], [2, 4]], slope: 0, r2: 1 },
    { name: 'no trend', points: [[0, 0], [1, 1], [2, 0], [3, 1], [4, 0], [5, 1], [6, 0]], slope: 0, r2: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const f = fitLine(c.points);
      assert.ok(Math.abs(f.slope - c.slope) < 0.05, `slope ${f.slope}`);
      assert.ok(Math.abs(f.r2 - c.r2) < 0.05, `r2 ${f.r2}`);
    });
  }
  it('needs two distinct times', () => {
    assert.throws(() => fitLine([[1, 1]]), /at least 2 points/);
    assert.throws(() => fitLine([[1, 1], [1, 2]]), /two different times/);
  });
});

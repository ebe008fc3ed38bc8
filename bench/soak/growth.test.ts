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

/** A Node process whose V8 heap reserves `reservedMiB` (heapTotal), with RSS, live data and external memory (MiB) by minute. */
function reserving(minutes: number, rssMiB: (m: number) => number, reservedMiB: (m: number) => number, liveMiB: (m: number) => number, externalMiB: (m: number) => number): Sample[] {
  return probed(minutes, rssMiB, liveMiB, externalMiB).map((s) => ({ ...s, heap: { ...s.heap!, heapTotal: Math.round(reservedMiB(s.t / 60) * MIB) } }));
}

/**
 * The sequencer's samples: a log growing at `perSecond` entries/s (from 20,000), its live data
 * keeping `bytesPerEntry` per entry plus `extraMiB(m)` by minute, with GC noise; RSS and external flat.
 */
function sequencer(minutes: number, perSecond: number, bytesPerEntry: number, extraMiB: (m: number) => number = () => 0, noise = 0): Sample[] {
  return probed(minutes, () => 400, (m) => 60 + ((20_000 + perSecond * 60 * m) * bytesPerEntry) / MIB + extraMiB(m) + saw(noise)(m), () => 100)
    .map((s) => ({ ...s, entries: 20_000 + perSecond * s.t }));
}

// A reserved heap that V8 grows in steps (the young generation doubling, old-space limits raised):
// 16 MiB more every 1.5 minutes, about 10.7 MiB/min.
const steps = (m: number): number => 80 + 16 * Math.floor(m / 1.5);

// The proposer of the committed run of 2026-12-07 13:42 (bench/results/soak.json): t s, RssAnon,
// V8 heap reserved, external and live data after the last major collection (MiB).
const PROPOSER_1342: ReadonlyArray<readonly [number, number, number, number, number | undefined]> = [
  [0, 37.4, 9.895, 10.96, undefined], [10, 68.86, 37.05, 14.05, 15.66], [21, 89.92, 55.3, 17.82, 15.66], [32, 96.89, 59.8, 21.36, 15.66], [42, 104.6, 89.8, 15.67, 18.12], [52, 108.4, 84.05, 15.34, 18.2],
  [63, 104.9, 80.45, 19.18, 13.47], [73, 105, 80.45, 15.87, 13.26], [83, 109.3, 80.95, 14.95, 14.02], [93, 109.9, 81.2, 17.28, 13.88], [103, 110, 81.45, 14.85, 14.58], [113, 110, 81.45, 12.5, 13.94],
  [124, 110.3, 81.2, 11.3, 14.03], [134, 111.7, 81.7, 12.94, 14.43], [144, 111.7, 81.45, 16.77, 14], [154, 111.7, 81.2, 12.37, 14.02], [164, 112.8, 81.2, 17.94, 14.03], [175, 112.9, 81.2, 14.37, 14.06],
  [185, 112.9, 81.45, 10.59, 14.06], [195, 114.7, 81.2, 16.64, 14.07], [205, 117.3, 81.2, 15.4, 14.08], [215, 117.4, 81.2, 15.54, 14], [225, 117.4, 81.2, 17.28, 14.02], [236, 117.4, 81.2, 12.19, 14.02],
  [246, 117.4, 81.2, 10.91, 14.07], [257, 117.5, 81.2, 11.24, 14.07], [267, 117.5, 81.7, 12.23, 14.78], [277, 128.1, 81.7, 16.2, 14.1], [287, 128.9, 145.9, 12.29, 14.53], [297, 129, 145.4, 18.85, 14.14],
  [307, 129, 145.7, 15.45, 14.15], [317, 129.7, 145.4, 19.2, 14.1], [327, 131.7, 145.4, 15.51, 14.12], [337, 131.7, 145.4, 12.35, 14.12], [347, 131.7, 145.7, 19.19, 14.17], [358, 132.4, 145.4, 17.21, 14.19],
  [368, 163.5, 145.7, 38.29, 14.56], [378, 154.6, 145.9, 11.4, 14.22], [388, 155.2, 145.7, 11.91, 15.17], [398, 155.2, 145.7, 13.39, 14.2], [408, 155.2, 145.7, 11.85, 14.22], [418, 155.2, 145.7, 18.31, 14.21],
  [428, 155.2, 25.95, 13.38, 14.24], [438, 155.3, 34.7, 15.93, 14.2], [448, 155.3, 53.95, 17.49, 14.2], [459, 162.5, 57.7, 19.74, 14.2], [469, 163.6, 60.95, 23.78, 14.2], [479, 172.8, 85.95, 17.89, 14.07],
  [489, 182.9, 85.95, 26.14, 14.07], [500, 183.8, 89.95, 22.71, 14.07], [510, 186, 92.7, 25.79, 14.07], [520, 192.3, 95.2, 33.94, 14.07], [533, 192.4, 85.2, 19.55, 14.14], [543, 181.1, 145.4, 23.21, 14.15],
  [553, 181.1, 145.4, 11.12, 14.16], [564, 181.1, 145.7, 14.63, 14.16], [574, 181.1, 145.4, 11.6, 14.18], [584, 181.1, 145.7, 15.3, 15.16], [594, 181.1, 145.9, 15.05, 14.6],
];
const proposer1342: Sample[] = PROPOSER_1342.map(([t, anon, reserved, external, live]) => ({
  t, rssBytes: anon * MIB, fds: 26,
  heap: { heapUsed: 0, heapTotal: reserved * MIB, external: external * MIB, arrayBuffers: external * MIB, majorGcs: 1, ...(live !== undefined ? { liveAfterGc: live * MIB } : {}) },
}));

// Resident memory of a Node process as a high-water mark (measured shape, bench/results/soak.json
// of 2026-12-07 09:30): a steep fill, then rises ever more rarely and smaller, with noise.
const highWater = (m: number): number => 200 + 170 * (1 - Math.exp(-m / 1.2)) + 55 * Math.log1p(m) + saw(8)(m);

// A deterministic saw-tooth (GC) of ±amp around a base.
const saw = (amp: number) => (m: number): number => ((Math.round(m * 6) % 4) - 1.5) * (amp / 1.5);

describe('growthOf', () => {
  const cases: Array<{ name: string; samples: Sample[]; th?: LeakThresholds; leak: boolean; note?: RegExp; sizing?: RegExp }> = [
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
    // V8 sizing against real leaks: RSS growth the reserved heap explains, with the live data flat, is sizing.
    { name: 'RSS growing with the reserved heap, live data flat: V8 sizing, not a leak', samples: reserving(10, (m) => 120 + steps(m) + saw(2)(m), steps, () => 30, (m) => 20 + saw(4)(m)), leak: false, sizing: /outside the reserved V8 heap's high-water mark -?0\.\d\d MiB\/min .*: V8 sizing its heap, not a leak/ },
    { name: 'the reserved heap shrinking while RSS stays is judged against its high-water mark: sizing', samples: reserving(10, (m) => 120 + steps(Math.min(m, 8)), (m) => (m > 8 ? 30 : steps(m)), () => 30, () => 20), leak: false, sizing: /V8 sizing/ },
    { name: 'RSS growing with the reserved heap while the live data grows: a leak', samples: reserving(10, (m) => 120 + steps(m), steps, (m) => 30 + 2 * m, () => 20), leak: true, note: /RSS grows steadily.*live JavaScript data after major collections grows steadily by 2\.00/ },
    { name: 'live data growing over its threshold but too noisy to be judged keeps RSS growth a leak', samples: reserving(10, (m) => 120 + steps(m), steps, (m) => 30 + 2 * m + saw(15)(m), () => 20), leak: true, note: /^RSS grows steadily/ },
    { name: 'Buffers kept alive while the reserved heap grows: a leak', samples: reserving(10, (m) => 120 + steps(m) + 6 * m, steps, () => 30, (m) => 20 + 6 * m), leak: true, note: /RSS grows steadily.*external\) grows steadily by 6\.00 MiB\/min/ },
    { name: 'RSS growing faster than the reserved heap (native memory outside it): a leak', samples: reserving(10, (m) => 120 + steps(m) + 6 * m, steps, () => 30, () => 20), leak: true, note: /^RSS grows steadily by 1[67]\.\d\d MiB\/min/ },
    { name: 'a linear RSS leak with the reserved heap flat: a leak', samples: reserving(10, (m) => 200 + 6 * m + saw(2)(m), () => 80, () => 30, () => 20), leak: true, note: /^RSS grows steadily by (5\.9\d|6\.0\d) MiB\/min/ },
    // Live data judged per log entry (the sequencer's samples carry its tree size): growth with the log is by design; growth beyond it, or with time, is a leak.
    { name: 'the sequencer at 1,000/s keeping 171 bytes per entry (the measured high; 9.8 MiB/min): growth with the log, not a leak', samples: sequencer(10, 1000, 171), leak: false },
    { name: 'the same at 123 bytes per entry under GC noise (±10 MiB)', samples: sequencer(10, 1000, 123, () => 0, 10), leak: false },
    { name: 'a leak per entry on top (171 + 300 bytes per entry at 1,000/s): a leak, judged beyond the allowance', samples: sequencer(10, 1000, 471), leak: true, note: /^live JavaScript data after major collections, beyond 192 bytes per log entry, grows steadily by 15\.9\d MiB\/min/ },
    { name: 'live data growing 2 MiB/min while the log stands still: a leak', samples: sequencer(10, 0, 171, (m) => 2 * m), leak: true, note: /beyond 192 bytes per log entry, grows steadily by 2\.00 MiB\/min/ },
    { name: 'a slow log (10/s) leaves a 2 MiB/min leak a leak (its allowance is 0.11 MiB/min)', samples: sequencer(10, 10, 171, (m) => 2 * m), leak: true, note: /beyond 192 bytes per log entry, grows steadily by 1\.9\d MiB\/min/ },
    { name: 'a time leak over the per-entry slack at 1,000/s (171 bytes per entry plus 3 MiB/min): a leak', samples: sequencer(10, 1000, 171, (m) => 3 * m), leak: true, note: /beyond 192 bytes per log entry, grows steadily by 1\.80 MiB\/min/ },
    { name: 'a lower allowance flags the design\'s own growth', samples: sequencer(10, 1000, 171), th: { liveBytesPerEntry: 100 }, leak: true, note: /beyond 100 bytes per log entry, grows steadily by 4\.0\d MiB\/min/ },
    { name: 'entries missing on a sample: judged per minute, as a process without a log', samples: sequencer(10, 1000, 171).map((x, i): Sample => {
      if (i !== 50) return x;
      const { entries: _missing, ...rest } = x;
      return rest;
    }), leak: true, note: /^live JavaScript data after major collections grows steadily by 9\.7\d MiB\/min/ },
    // Its growth after minute 5 came after the reserved heap's high-water mark (146 MiB at 287 s): the verdict does not call it sizing.
    { name: 'the 13:42 proposer: RSS growth over the second half not explained by the reserved heap stays a leak', samples: proposer1342, leak: true, note: /^RSS grows steadily by 12\.\d\d MiB\/min \(r² 0\.8\d/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const g = growthOf(c.samples, c.th);
      assert.equal(g.leak, c.leak, g.notes.join('; '));
      if (c.note) assert.match(g.notes.join('; '), c.note);
      if (!c.leak && c.note === undefined) assert.deepEqual(g.notes, []);
      if (c.sizing) assert.match(g.sizing ?? '(none)', c.sizing);
      else assert.equal(g.sizing, undefined, g.sizing);
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

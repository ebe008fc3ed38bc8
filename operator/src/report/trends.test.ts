import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordOf } from './fixtures.ts';
import { assembleTrends, percentile, timeToQuorumMs, type StoreFigures } from './trends.ts';

const w = { since: new Date('2026-11-16T00:00:00Z'), until: new Date('2026-11-30T00:00:00Z') };

test('time to quorum: last approval minus the opening plus the skew allowance, never negative', () => {
  const opensAt = new Date('2026-11-20T00:00:00Z');
  const cases: Array<[string, Parameters<typeof timeToQuorumMs>[0], number | undefined]> = [
    ['two approvals', recordOf({ value: 'a.example', opensAt, approvalsAfterMs: [1000, 4000] }), 4000],
    ['one approval before the skew ends', recordOf({ value: 'b.example', opensAt, approvalsAfterMs: [-30_000] }), 0],
    ['rejections do not count', { window: { opensAt: opensAt.toISOString() }, votes: [{ decision: 'reject', signedAt: '2026-11-20T01:00:00.000Z' }, { decision: 'approve', signedAt: '2026-11-20T00:01:05.000Z' }] }, 5000],
    ['no window', { votes: [{ decision: 'approve', signedAt: '2026-11-20T00:00:00.000Z' }] }, undefined],
    ['no approval', { window: { opensAt: opensAt.toISOString() }, votes: [] }, undefined],
  ];
  for (const [name, rec, want] of cases) assert.equal(timeToQuorumMs(rec), want, name);
});

test('percentile by nearest rank', () => {
  const cases: Array<[number[], number, number | null]> = [[[], 50, null], [[5], 95, 5], [[1, 2, 3, 4], 50, 2], [[4, 1, 3, 2], 95, 4], [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10], [[3, 1, 2], 100, 3]];
  for (const [values, p, want] of cases) assert.equal(percentile(values, p), want, `${p} of ${values.join(',')}`);
});

function figures(over: Partial<StoreFigures> = {}): StoreFigures {
  return {
    byType: { domain: 3, ipv4: 1 }, byFeed: { 'ns/feodo': 3, '(none)': 1 }, byPartner: { 'partner-a': 4 },
    weeks: [{ week: '2026-W47', start: w.since, end: new Date('2026-11-23T00:00:00Z'), admitted: 1, revoked: 0, sightings: 5 }, { week: '2026-W48', start: new Date('2026-11-23T00:00:00Z'), end: w.until, admitted: 3, revoked: 1, sightings: 7 }],
    timeToQuorumMs: [1000, 2000, 3000, 60_000], labels: { 'botnet-c2': 3, 'malware:Emotet': 2, 'family:emotet': 1, 'malware:qakbot': 1 },
    heatmap: [{ partner: 'partner-b', week: '2026-W48', count: 7 }, { partner: 'partner-a', week: '2026-W47', count: 5 }],
    feeds: [{ feed: 'ns/feodo', proposed: 3, revoked: 1, neverSighted: 2 }], undated: 2, ...over,
  };
}

test('assembleTrends: weeks, totals, rates, labels, families, heatmap, feed and proposer quality', () => {
  const rejected = [{ at: new Date('2026-11-24T00:00:00Z'), type: 'domain', feed: 'ns/feodo', proposerId: 'partner-a' }, { at: new Date('2026-11-01T00:00:00Z'), type: 'domain', feed: 'ns/feodo', proposerId: 'partner-a' }, { at: new Date('2026-11-17T00:00:00Z'), type: 'url', feed: 'ns/urlhaus', proposerId: 'partner-b' }];
  const t = assembleTrends(w, 'green', figures(), rejected);
  assert.deepEqual(t.byWeek, [{ week: '2026-W47', admitted: 1, rejected: 1, revoked: 0, sightings: 5 }, { week: '2026-W48', admitted: 3, rejected: 1, revoked: 1, sightings: 7 }]);
  assert.deepEqual(t.totals, { admitted: 4, rejected: 2, revoked: 1, sightings: 12, undated: 2 });
  assert.deepEqual(t.rates, { rejection: 0.3333, revocation: 0.25 });
  assert.deepEqual(t.timeToQuorum, { count: 4, p50Ms: 2000, p95Ms: 60_000, maxMs: 60_000 });
  assert.deepEqual(t.topMalware, [{ family: 'emotet', count: 3 }, { family: 'qakbot', count: 1 }]);
  assert.equal(t.topLabels[0]?.label, 'botnet-c2');
  assert.deepEqual(t.sightingsHeatmap.map((h) => h.partner), ['partner-a', 'partner-b']);
  assert.deepEqual(t.feedQuality, [
    { feed: 'ns/feodo', proposed: 4, rejected: 1, revoked: 1, neverSighted: 2, rejectedShare: 0.25, revokedShare: 0.25, neverSightedShare: 0.5 },
    { feed: 'ns/urlhaus', proposed: 1, rejected: 1, revoked: 0, neverSighted: 0, rejectedShare: 1, revokedShare: 0, neverSightedShare: 0 },
  ]);
  assert.deepEqual(t.proposerQuality, [
    { proposer: 'partner-a', proposed: 5, admitted: 4, rejected: 1, rejectedShare: 0.2 },
    { proposer: 'partner-b', proposed: 1, admitted: 0, rejected: 1, rejectedShare: 1 },
  ]);
  assert.equal(t.rejections.coverage, 'network');
  assert.match(t.rejections.note, /REJECT entries of the replicated log/);
});

test('assembleTrends without rejections says so instead of counting zero', () => {
  const t = assembleTrends(w, 'clear', figures({ weeks: [], timeToQuorumMs: [] }), undefined);
  assert.deepEqual(t.byWeek.map((x) => x.rejected), [null, null]);
  assert.equal(t.totals.rejected, null);
  assert.equal(t.rates.rejection, null);
  assert.equal(t.rates.revocation, null);
  assert.deepEqual(t.timeToQuorum, { count: 0, p50Ms: null, p95Ms: null, maxMs: null });
  assert.equal(t.rejections.coverage, 'unavailable');
  assert.match(t.rejections.note, /unknown rather than zero/);
  assert.equal(t.feedQuality[0]?.rejectedShare, null);
  assert.deepEqual(t.proposerQuality, [{ proposer: 'partner-a', proposed: 4, admitted: 4, rejected: null, rejectedShare: null }]);
});

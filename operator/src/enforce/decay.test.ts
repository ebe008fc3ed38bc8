import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadShippedLists } from '../feeds/warninglists.ts';
import { buildGuard } from './guard.ts';
import { parseRecord, type ParsedRecord } from './record.ts';
import { decide } from './select.ts';
import { Selection } from './selection.ts';
import { SightingClock } from './sightingclock.ts';
import { resolved, storedRecord } from './testing.ts';

const DAY = 86_400_000;
const ADMITTED = Date.parse('2026-01-04T00:00:00Z');
const guard = buildGuard(await loadShippedLists(), []);
const decaying = resolved({ selector: { minConfidence: 40, confidenceDecay: { halfLife: '30d' } } }).selector;

function record(confidence: number, extra: Record<string, unknown> = {}): ParsedRecord {
  const r = parseRecord({ ...storedRecord('ipv4', '11.1.2.3', { meta: { confidence } }), ...extra });
  assert.ok(r.ok);
  return r.record;
}

describe('decide with confidenceDecay (minConfidence 40, half-life 30d, admitted 2026-01-04)', () => {
  const cases: Array<[string, ParsedRecord, number, number | undefined, string]> = [
    // name, record, now, corroborated last sighting, expected
    ['80, never sighted, one half-life later: exactly 40, enforced', record(80), ADMITTED + 30 * DAY, undefined, 'enforce'],
    ['80, never sighted, just past one half-life: decayed', record(80), ADMITTED + 30 * DAY + 1, undefined, 'decayed'],
    ['80, sighted 10 days ago, 100 days after admission: enforced', record(80), ADMITTED + 100 * DAY, ADMITTED + 90 * DAY, 'enforce'],
    ['80, sighted 31 days ago: decayed', record(80), ADMITTED + 100 * DAY, ADMITTED + 69 * DAY, 'decayed'],
    ['a sighting before admission does not extend it', record(80), ADMITTED + 31 * DAY, ADMITTED - 10 * DAY, 'decayed'],
    ['below the minimum already: confidence, not decayed', record(30), ADMITTED, undefined, 'confidence'],
    ['no window and no validFrom: cannot be dated, no decay', record(80, { window: undefined }), ADMITTED + 900 * DAY, undefined, 'enforce'],
    ['no window: decays from validFrom', record(80, { window: undefined, meta: { confidence: 80, validFrom: '2026-01-04T00:00:00Z' } }), ADMITTED + 31 * DAY, undefined, 'decayed'],
  ];
  for (const [name, r, now, seen, want] of cases) {
    test(name, () => {
      const d = decide(r, decaying, guard, now, seen);
      assert.equal(d.enforce ? 'enforce' : d.reason, want);
    });
  }
  test('an enforced decaying indicator carries the time it decays (retryAt)', () => {
    const d = decide(record(80), decaying, guard, ADMITTED, undefined);
    assert.ok(d.enforce);
    assert.equal(d.retryAt, ADMITTED + 30 * DAY + 1);
  });
  test('without confidenceDecay nothing decays', () => {
    const d = decide(record(80), resolved({ selector: { minConfidence: 40 } }).selector, guard, ADMITTED + 900 * DAY, undefined);
    assert.ok(d.enforce);
    assert.equal(d.retryAt, undefined);
  });
});

describe('Selection: an unsighted indicator leaves at its decay time and comes back when sighted', () => {
  test('leave, stay out, come back, leave again', () => {
    const seen = new Map<string, number>();
    const sel = new Selection({ selector: decaying, guard, lastSeen: (d) => seen.get(d) });
    const doc = storedRecord('ipv4', '11.1.2.3', { meta: { confidence: 80 } });
    const digest = String(doc['digest']);
    sel.apply(doc, ADMITTED);
    sel.record();
    assert.equal(sel.selected, 1);
    assert.equal(sel.nextEvent, ADMITTED + 30 * DAY + 1);
    assert.equal(sel.sweep(ADMITTED + 30 * DAY), false, 'nothing due yet');
    assert.equal(sel.sweep(ADMITTED + 30 * DAY + 1), true);
    assert.deepEqual([sel.selected, sel.decayed, sel.skipped()['decayed']], [0, 1, 1]);
    assert.equal(sel.nextEvent, Number.POSITIVE_INFINITY, 'a decayed indicator waits for a sighting, not a time');
    seen.set(digest, ADMITTED + 40 * DAY);
    assert.equal(sel.resight([digest], ADMITTED + 41 * DAY), true);
    assert.deepEqual([sel.selected, sel.decayed], [1, 0]);
    assert.equal(sel.nextEvent, ADMITTED + 70 * DAY + 1);
    assert.equal(sel.sweep(ADMITTED + 70 * DAY + 1), true);
    assert.equal(sel.selected, 0);
    assert.deepEqual(sel.takeChanges().map((c) => [c.before?.key, c.after?.key]), [['11.1.2.3/32', undefined], [undefined, '11.1.2.3/32'], ['11.1.2.3/32', undefined]]);
  });
  test('validUntil before the decay time still expires it', () => {
    const sel = new Selection({ selector: decaying, guard });
    sel.apply(storedRecord('ipv4', '11.1.2.3', { meta: { confidence: 80, validUntil: '2026-01-10T00:00:00Z' } }), ADMITTED);
    assert.equal(sel.nextEvent, Date.parse('2026-01-10T00:00:00Z'));
    sel.sweep(Date.parse('2026-01-10T00:00:00Z'));
    assert.deepEqual(sel.skipped(), { expired: 1 });
  });
});

describe('SightingClock: the corroborated last sighting per policy', () => {
  const now = ADMITTED + 100 * DAY;
  const rule = (minSightingParties: number) => ({ halfLifeMs: 30 * DAY, floor: 0, minSightingParties });
  const parties = new Map<string, Map<string, number>>([
    ['lone-peer', new Map([['hostile', now - DAY]])],
    ['two-parties', new Map([['self', now - 3 * DAY], ['peer', now - DAY]])],
    ['future', new Map([['hostile', now + 365 * DAY]])],
  ]);
  const cases: Array<[string, number, string, number | undefined]> = [
    ['one party suffices with minSightingParties 1', 1, 'lone-peer', now - DAY],
    ['a lone (hostile) peer is not enough with minSightingParties 2', 2, 'lone-peer', undefined],
    ['two parties: the second latest', 2, 'two-parties', now - 3 * DAY],
    ['a future time counts as the load time', 1, 'future', now],
  ];
  for (const [name, minSightingParties, digest, want] of cases) {
    test(name, async () => {
      const clock = new SightingClock({ load: () => Promise.resolve(parties), rule: rule(minSightingParties), minConfidence: 40 });
      await clock.refresh(now, true);
      assert.equal(clock.lastSeen(digest), want);
    });
  }
  test('reads only sightings recent enough to matter, reports what changed, keeps times when a reload fails', async () => {
    let since: Date | undefined;
    let fail = false;
    let data = new Map([['a', new Map([['p', now - DAY]])]]);
    const clock = new SightingClock({ load: (s) => { since = s; return fail ? Promise.reject(new Error('down')) : Promise.resolve(data); }, rule: rule(1), minConfidence: 25, refreshMs: 1000 });
    assert.deepEqual(await clock.refresh(now, true), ['a']);
    assert.equal(since?.getTime(), now - (2 * 30 * DAY + 1), '100 decays below 25 in two half-lives');
    assert.equal(await clock.refresh(now + 999), undefined, 'not due');
    data = new Map([['b', new Map([['p', now]])]]);
    assert.deepEqual((await clock.refresh(now + 1000))?.sort(), ['a', 'b']);
    fail = true;
    await assert.rejects(clock.refresh(now + 2000), /down/);
    assert.equal(clock.lastSeen('b'), now);
  });
});

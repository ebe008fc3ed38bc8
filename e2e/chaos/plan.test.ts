/**
 * A trial's plan depends on (seed, trial) only: the feeds, the revokers and their moments and the
 * fault schedule are the same whatever earlier trials admitted (trial 21 of seed 20261207 drew
 * another schedule when resumed on a fresh network, before each purpose had its own generator).
 * Only which indicators are revoked comes from the pool. And `npm run chaos` reads --schedule.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { indicatorDigest } from '../../operator/src/domain/canonical.ts';
import type { Indicator } from '../../operator/src/domain/indicator.ts';
import type { Fault } from './faults.ts';
import { parseChaosFlags, type ChaosFlags } from './run.ts';
import { describeSchedule } from './schedule.ts';
import { planTrial, type ActiveSet } from './trial.ts';

const SPACE = { partners: ['partner-a', 'partner-b', 'partner-c'], canSkew: true, canFillDisk: true };
const OPTIONS = { indicators: 40, revocations: 10, faults: [3, 7] as const, windowMs: 60_000 };

function pool(n: number, tag: string): ActiveSet {
  const m: ActiveSet = new Map();
  for (let i = 0; i < n; i++) {
    const ind: Indicator = { type: 'sha256', value: hash('sha256', `${tag}:${i}`, 'hex') };
    m.set(indicatorDigest(ind), ind);
  }
  return m;
}

// What may not depend on the pool; the revokers of slots past the pool's size are not used.
function fixedPart(p: ReturnType<typeof planTrial>, slots: number) {
  return { feeds: p.feeds.map((f) => ({ partner: f.partner, first: f.values[0]?.value, n: f.values.length })), revokers: p.revokers.slice(0, slots), schedule: describeSchedule(p.schedule) };
}

describe('the plan of (seed, trial) is the same whatever the active pool', () => {
  const pools: Array<{ name: string; active: ActiveSet }> = [
    { name: 'a fresh network (nothing active)', active: new Map() },
    { name: '3 active, fewer than the revocations asked for', active: pool(3, 'a') },
    { name: '10 active', active: pool(10, 'b') },
    { name: '5,000 active from other trials', active: pool(5000, 'c') },
  ];
  const cases: Array<{ seed: number; trial: number }> = [
    { seed: 20261207, trial: 21 }, { seed: 20261207, trial: 1 }, { seed: 18, trial: 1 }, { seed: 1206, trial: 8 }, { seed: 0, trial: 100 }, { seed: 0xffffffff, trial: 3 },
  ];
  for (const c of cases) {
    it(`seed ${c.seed}, trial ${c.trial}`, () => {
      const plans = pools.map((p) => ({ name: p.name, plan: planTrial(SPACE, c.trial, { ...OPTIONS, seed: c.seed }, p.active), size: p.active.size }));
      const ref = plans.at(-1)!;
      assert.ok(ref.plan.schedule.length >= 3, 'a schedule was drawn');
      for (const p of plans) {
        const slots = Math.min(OPTIONS.revocations, p.size);
        assert.equal(p.plan.targets.length, slots, p.name);
        assert.equal(p.plan.revokers.length, slots, p.name);
        assert.deepEqual(fixedPart(p.plan, slots), fixedPart(ref.plan, slots), p.name);
      }
    });
  }
  it('other trials and seeds draw other schedules', () => {
    const s = (seed: number, trial: number): string => describeSchedule(planTrial(SPACE, trial, { ...OPTIONS, seed }, new Map()).schedule);
    assert.notEqual(s(20261207, 21), s(20261207, 22));
    assert.notEqual(s(20261207, 21), s(20261208, 21));
  });
  it('the targets are drawn from the pool, without repeats', () => {
    const active = pool(50, 'd');
    const p = planTrial(SPACE, 4, { ...OPTIONS, seed: 9 }, active);
    assert.equal(new Set(p.targets.map(indicatorDigest)).size, OPTIONS.revocations);
    for (const t of p.targets) assert.ok(active.has(indicatorDigest(t)));
  });
  it('a given schedule replaces the drawn one and changes nothing else', () => {
    const given: Fault[] = [{ atMs: 1600, kind: 'kill-ferretdb', target: 'partner-a ferretdb', forMs: 3900 }];
    const drawn = planTrial(SPACE, 21, { ...OPTIONS, seed: 20261207 }, pool(10, 'e'));
    const replayed = planTrial(SPACE, 21, { ...OPTIONS, seed: 20261207, schedule: given }, pool(10, 'e'));
    assert.deepEqual(replayed.schedule, given);
    assert.deepEqual({ ...replayed, schedule: [] }, { ...drawn, schedule: [] });
  });
});

describe('npm run chaos flags: --schedule, --start-timeout', () => {
  const leader = '+6.8s kill-sequencer-leader leader for 3.8s';
  const ok: Array<{ name: string; argv: string[]; want: Partial<ChaosFlags> & { schedule: Fault[] | undefined } }> = [
    { name: 'without it the schedule is drawn', argv: ['--seed', '1'], want: { trials: 100, schedule: undefined } },
    { name: 'one trial by default', argv: ['--seed', '18', '--from-trial', '21', '--schedule', leader], want: { trials: 1, fromTrial: 21, schedule: [{ atMs: 6800, kind: 'kill-sequencer-leader', target: 'leader', forMs: 3800 }] } },
    { name: '--trials 1 and a trial without faults', argv: ['--trials', '1', '--schedule', 'none'], want: { trials: 1, schedule: [] } },
    { name: 'a start cap of 900 s by default', argv: ['--seed', '1'], want: { startCapMs: 900_000, schedule: undefined } },
    { name: '--start-timeout raises the start cap', argv: ['--seed', '1', '--start-timeout', '1800'], want: { startCapMs: 1_800_000, schedule: undefined } },
  ];
  for (const c of ok) {
    it(c.name, () => {
      const f = parseChaosFlags(c.argv);
      assert.ok(f !== 'help');
      const { schedule, ...rest } = c.want;
      assert.deepEqual(f.trial.schedule, schedule);
      for (const [k, v] of Object.entries(rest)) assert.deepEqual(f[k as keyof ChaosFlags], v, k);
    });
  }
  const bad: Array<{ name: string; argv: string[]; says: RegExp }> = [
    { name: 'with more than one trial', argv: ['--trials', '5', '--schedule', leader], says: /--schedule replays one trial: use --trials 1 \(or leave --trials out\), got --trials 5/ },
    { name: 'a target the network does not have', argv: ['--schedule', '+1.0s kill-operator partner-d operator for 2.0s'], says: /--schedule: fault 1 .*its target is "P operator", P among partner-a, partner-b, partner-c/ },
    { name: 'a start cap of 0', argv: ['--start-timeout', '0'], says: /--start-timeout must be a whole number of at least 1, got "0"/ },
    { name: 'text that is not a schedule', argv: ['--schedule', '+1.0s kill leader'], says: /--schedule: fault 1 "\+1\.0s kill leader" is not/ },
  ];
  for (const c of bad) it(`refused: ${c.name}`, () => assert.throws(() => parseChaosFlags(c.argv), c.says));
});

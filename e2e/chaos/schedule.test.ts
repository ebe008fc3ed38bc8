/**
 * A printed fault schedule reads back to the same faults (both forms a run prints, inline or as a
 * file), and bad input is refused with a message that names the fault and shows the form.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../fuzz/rng.ts';
import { drawSchedule, type Fault } from './faults.ts';
import { describeSchedule, formatSchedule, parseSchedule, readScheduleArg, ScheduleError, scheduleProblems } from './schedule.ts';

const PARTNERS = ['partner-a', 'partner-b', 'partner-c'];
const ALL = { partners: PARTNERS, canSkew: true, canFillDisk: true };

describe('a printed schedule parses back to the same faults', () => {
  const cases: Array<{ name: string; faults: Fault[] }> = [
    { name: 'no faults', faults: [] },
    { name: 'a kill of a process with a space in its name', faults: [{ atMs: 1600, kind: 'kill-ferretdb', target: 'partner-a ferretdb', forMs: 3900 }] },
    { name: 'a clock skew, negative and positive', faults: [{ atMs: 0, kind: 'clock-skew', target: 'partner-b', forMs: 1000, skewSeconds: -30 }, { atMs: 59_900, kind: 'clock-skew', target: 'partner-c', forMs: 25_000, skewSeconds: 10 }] },
    { name: 'a partition of every link of a party', faults: [{ atMs: 5200, kind: 'partition-blackhole', target: 'partner-a→sequencer,partner-a→partner-b,partner-b→partner-a', forMs: 21_900 }] },
    { name: 'the leader, the standby, a full disk, in an order not sorted by time', faults: [{ atMs: 9700, kind: 'kill-sequencer-leader', target: 'leader', forMs: 6300 }, { atMs: 100, kind: 'kill-sequencer-standby', target: 'standby', forMs: 12_600 }, { atMs: 4200, kind: 'disk-full', target: 'partner-c', forMs: 20_900 }] },
  ];
  for (const c of cases) {
    it(`${c.name}: as JSON`, () => assert.deepEqual(parseSchedule(formatSchedule(c.faults)), c.faults));
    it(`${c.name}: as the log's text`, () => assert.deepEqual(parseSchedule(describeSchedule(c.faults)), c.faults));
  }
  it('every schedule drawn for seeds 1..200 reads back from its text and its JSON, and can run on the network', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rng = Rng.forCase(seed, 'chaos-faults', 1);
      const faults = drawSchedule(rng, ALL, rng.range(3, 7), 60_000);
      assert.deepEqual(parseSchedule(describeSchedule(faults)), faults, `seed ${seed}`);
      assert.deepEqual(parseSchedule(formatSchedule(faults)), faults, `seed ${seed}`);
      assert.deepEqual(scheduleProblems(faults, ALL), [], `seed ${seed}`);
    }
  });
});

describe('other ways a schedule is written', () => {
  const kill: Fault = { atMs: 1569, kind: 'kill-ferretdb', target: 'partner-a ferretdb', forMs: 3940 };
  const cases: Array<{ name: string; text: string; want: Fault[] }> = [
    { name: 'a line copied with its label', text: '  fault schedule: +1.6s kill-ferretdb partner-a ferretdb for 3.9s; +6.8s kill-sequencer-leader leader for 3.8s\n', want: [{ ...kill, atMs: 1600, forMs: 3900 }, { atMs: 6800, kind: 'kill-sequencer-leader', target: 'leader', forMs: 3800 }] },
    { name: 'an old run\'s JSON, times not on the 0.1 s grid', text: JSON.stringify([kill]), want: [kill] },
    { name: 'ASCII arrows for links', text: '+1.0s partition-reset partner-a->partner-b,partner-b->partner-a for 2.0s', want: [{ atMs: 1000, kind: 'partition-reset', target: 'partner-a→partner-b,partner-b→partner-a', forMs: 2000 }] },
    { name: 'none', text: 'fault schedule: none', want: [] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseSchedule(c.text), c.want));
});

describe('bad input is refused with the fault, the problem and the form', () => {
  const cases: Array<{ name: string; text: string; says: RegExp }> = [
    { name: 'empty', text: '  ', says: /empty \(write "none"/ },
    { name: 'not JSON', text: '[{"atMs":1', says: /not valid JSON/ },
    { name: 'JSON that is not an array of faults', text: '[3]', says: /fault 1 is not an object/ },
    { name: 'an unknown kind', text: '+1.0s kill-everything leader for 2.0s', says: /fault 1: unknown kind "kill-everything" \(kinds: kill-sequencer-leader,/ },
    { name: 'a fault without its duration', text: '+1.0s kill-operator partner-a operator; +2.0s kill-sequencer-leader leader for 1.0s', says: /fault 1 "\+1\.0s kill-operator partner-a operator" is not "\+SECONDSs KIND TARGET/ },
    { name: 'a negative start in JSON', text: '[{"atMs":-5,"kind":"kill-sequencer-leader","target":"leader","forMs":100}]', says: /fault 1 \(kill-sequencer-leader\): its start must be whole milliseconds from 0, got -5/ },
    { name: 'a zero duration', text: '+1.0s kill-sequencer-leader leader for 0.0s', says: /its duration must be whole milliseconds above 0/ },
    { name: 'a time given as text in JSON', text: '[{"atMs":"5","kind":"kill-sequencer-leader","target":"leader","forMs":100}]', says: /fault 1: atMs must be a number, got "5"/ },
    { name: 'an unknown field (a typo) in JSON', text: '[{"atMs":5,"kind":"kill-sequencer-leader","target":"leader","forMs":100,"skew":3}]', says: /fault 1 has unknown fields skew/ },
    { name: 'a clock skew without its skew', text: '[{"atMs":5,"kind":"clock-skew","target":"partner-a","forMs":100}]', says: /needs a skew of whole seconds, not 0, within ±30/ },
    { name: 'a skew beyond the allowance', text: '+1.0s clock-skew partner-a +90s for 2.0s', says: /within ±30 .*got 90/ },
    { name: 'a skew on a kill', text: '[{"atMs":5,"kind":"kill-sequencer-leader","target":"leader","forMs":100,"skewSeconds":10}]', says: /only clock-skew faults have a skew/ },
  ];
  for (const c of cases) {
    it(c.name, () => assert.throws(() => parseSchedule(c.text), (err: unknown) => {
      assert.ok(err instanceof ScheduleError);
      assert.match(err.message, c.says);
      assert.match(err.message, /^--schedule: .*; a schedule is the text a run prints/);
      return true;
    }));
  }
});

describe('scheduleProblems: targets the network does not have, faults the machine cannot make', () => {
  const f = (kind: Fault['kind'], target: string, extra: Partial<Fault> = {}): Fault => ({ atMs: 0, kind, target, forMs: 1000, ...extra });
  const cases: Array<{ name: string; fault: Fault; space?: typeof ALL; says: RegExp | undefined }> = [
    { name: 'a partner operator', fault: f('kill-operator', 'partner-b operator'), says: undefined },
    { name: 'an operator of a partner that is not there', fault: f('kill-operator', 'partner-z operator'), says: /its target is "P operator", P among partner-a, partner-b, partner-c/ },
    { name: 'the sequencer\'s FerretDB', fault: f('kill-ferretdb', 'sequencer ferretdb'), says: undefined },
    { name: 'the leader given as a replica name', fault: f('kill-sequencer-leader', 'sequencer-0'), says: /its target is "leader"/ },
    { name: 'a link that does not exist', fault: f('partition-reset', 'partner-a→sequencer,sequencer→partner-a'), says: /no link "sequencer→partner-a"/ },
    { name: 'a link from a partner to itself', fault: f('partition-blackhole', 'partner-a→partner-a'), says: /no link "partner-a→partner-a"/ },
    { name: 'a disk of the sequencer', fault: f('disk-full', 'sequencer'), says: /its target is a partner/ },
    { name: 'a skew without libfaketime', fault: f('clock-skew', 'partner-a', { skewSeconds: 10 }), space: { ...ALL, canSkew: false }, says: /clock faults are disabled here: libfaketime not found \(bash scripts\/install-faketime.sh\)/ },
    { name: 'a full disk without a tmpfs', fault: f('disk-full', 'partner-a'), space: { ...ALL, canFillDisk: false }, says: /disk faults are disabled here/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = scheduleProblems([c.fault], c.space ?? ALL);
      if (c.says === undefined) assert.deepEqual(got, []);
      else assert.match(got.join('\n'), c.says);
    });
  }
});

describe('readScheduleArg: inline, or a file holding a schedule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-schedule-'));
  const file = join(dir, 'trial-21.txt');
  writeFileSync(file, 'fault schedule: +13.8s kill-sequencer-standby standby for 16.5s\n');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const read = (path: string): string => readFileSync(path, 'utf8');
  const want: Fault[] = [{ atMs: 13_800, kind: 'kill-sequencer-standby', target: 'standby', forMs: 16_500 }];
  it('a file', () => assert.deepEqual(readScheduleArg(file, read), want));
  it('inline text', () => assert.deepEqual(readScheduleArg('+13.8s kill-sequencer-standby standby for 16.5s', read), want));
  it('inline JSON', () => assert.deepEqual(readScheduleArg(formatSchedule(want), read), want));
  it('a path that is not there says it is neither a schedule nor a readable file', () => {
    assert.throws(() => readScheduleArg(join(dir, 'missing.txt'), read), /--schedule: ".*missing.txt" is neither a schedule nor a file that can be read \(ENOENT/);
  });
  it('a file holding something else says what is wrong with it', () => {
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, 'hello');
    assert.throws(() => readScheduleArg(bad, read), /fault 1 "hello" is not/);
  });
});

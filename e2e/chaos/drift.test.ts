/**
 * The chaos verdict sees drift repairs (docs/adr/2026-12-07-chaos-drift-repairs.md): a trial in
 * which a partner's repair created ThreatIndicators again, or rewrote ones that differed from the
 * log, fails and names them, read from the operators' log files by byte offset. Before, a trial
 * whose objects a repair restored (chaos trial 39: partner-a, 2,025 objects) passed with lost 0,
 * and one whose repair corrected 200 passed too.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, appendFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byPartner, describeRepairs, driftRepairs, logMarks, repairsSince } from './drift.ts';
import { addTrial, failed, trialLine, type ChaosSummary } from './run.ts';
import type { TrialResult } from './trial.ts';
import type { ChaosNetwork } from './network.ts';

// Lines as the operators logged them (partner-a, chaos run of 2026-12-07, trial 39), and one with names as they log now.
const QUIET = '{"ts":"2026-12-07T16:58:55.131Z","level":"info","msg":"drift repair","component":"exchange","namespace":"threatmesh","restored":0,"corrected":0,"unchanged":9975,"skipped":0,"unlogged":0,"failed":0}';
const TRIAL_39 = '{"ts":"2026-12-07T17:01:23.299Z","level":"info","msg":"drift repair","component":"exchange","namespace":"threatmesh","restored":2025,"corrected":0,"unchanged":9975,"skipped":0,"unlogged":0,"failed":0}';
const NAMED = '{"ts":"2026-12-07T19:00:00.000Z","level":"info","msg":"drift repair","component":"exchange","namespace":"threatmesh","restored":2,"corrected":0,"unchanged":10,"skipped":0,"unlogged":0,"failed":0,"restoredNames":["sha256-aa","sha256-bb"]}';
const CORRECTED = '{"ts":"2026-12-07T17:54:26.818Z","level":"info","msg":"drift repair","component":"exchange","namespace":"threatmesh","restored":0,"corrected":5,"unchanged":9969,"skipped":0,"unlogged":0,"failed":0}';
// The overlap of chaos run ee2a's trial 1 (partner-b, 21:01:43), and one as operators log corrections now.
const CORRECTED_200 = '{"ts":"2026-12-07T21:01:43.291Z","level":"info","msg":"drift repair","component":"exchange","namespace":"threatmesh","restored":0,"corrected":200,"unchanged":3486,"skipped":0,"unlogged":0,"failed":0}';
const CORRECTED_NAMED = '{"ts":"2026-12-07T22:00:00.000Z","level":"info","msg":"drift repair","component":"exchange","namespace":"threatmesh","restored":0,"corrected":2,"unchanged":10,"skipped":0,"unlogged":0,"failed":0,"recreated":1,"correctedNames":["sha256-cc","sha256-dd"]}';
const STOPPED = '{"ts":"2026-12-07T22:58:30.682Z","level":"info","msg":"drift repair stopped with the exchange","component":"exchange","namespace":"threatmesh","restored":3,"corrected":96,"unchanged":5873,"skipped":0,"failed":0,"restoredNames":["sha256-cc","sha256-dd","sha256-ee"]}';
const OTHER = '{"ts":"2026-12-07T16:57:28.491Z","level":"info","msg":"working set: evicted ThreatIndicators below the budget","component":"exchange","namespace":"threatmesh","evicted":1986,"floor":2050}';

describe('drift repairs that restored or corrected objects, from an operator\'s log', () => {
  const rows: Array<{ name: string; text: string; want: Array<[number, string[], number, string[]]> }> = [
    { name: 'repairs that restored and corrected nothing are not findings', text: [QUIET, OTHER].join('\n'), want: [] },
    { name: 'trial 39\'s repair (no names: logged before the names were)', text: [OTHER, QUIET, TRIAL_39].join('\n'), want: [[2025, [], 0, []]] },
    { name: 'a repair with names', text: `${NAMED}\n`, want: [[2, ['sha256-aa', 'sha256-bb'], 0, []]] },
    { name: 'corrections are findings too (they were ignored before)', text: [QUIET, CORRECTED, CORRECTED_200].join('\n'), want: [[0, [], 5, []], [0, [], 200, []]] },
    { name: 'a repair the exchange\'s stop cut short still counts what it did', text: `${STOPPED}\n`, want: [[3, ['sha256-cc', 'sha256-dd', 'sha256-ee'], 96, []]] },
    { name: 'a correction with names', text: CORRECTED_NAMED, want: [[0, [], 2, ['sha256-cc', 'sha256-dd']]] },
    { name: 'a line cut by kill -9 is skipped', text: `${QUIET}\n${TRIAL_39.slice(0, 120)}`, want: [] },
    { name: 'a non-JSON line naming the message is skipped', text: 'panic: "msg":"drift repair" restored 7', want: [] },
  ];
  for (const r of rows) {
    it(r.name, () => {
      assert.deepEqual(driftRepairs('partner-a', r.text).map((x) => [x.restored, x.names, x.corrected, x.correctedNames]), r.want);
    });
  }

  it('counts per partner name every partner and sums each one\'s repairs', () => {
    const repairs = [...driftRepairs('partner-a', `${TRIAL_39}\n${NAMED}\n${CORRECTED}`), ...driftRepairs('partner-c', `${NAMED}\n${CORRECTED_NAMED}`)];
    const partners = ['partner-a', 'partner-b', 'partner-c'];
    assert.deepEqual(byPartner(partners, repairs), { 'partner-a': 2027, 'partner-b': 0, 'partner-c': 2 });
    assert.deepEqual(byPartner(partners, repairs, 'corrected'), { 'partner-a': 5, 'partner-b': 0, 'partner-c': 2 });
    assert.deepEqual(describeRepairs(driftRepairs('partner-c', NAMED)), ['restored: partner-c\'s drift repair at 2026-12-07T19:00:00.000Z created 2 missing ThreatIndicators again (sha256-aa, sha256-bb)']);
    assert.match(describeRepairs(driftRepairs('partner-a', TRIAL_39))[0]!, /partner-a's drift repair at 2026-12-07T17:01:23.299Z created 2025 missing/);
    assert.deepEqual(describeRepairs(driftRepairs('partner-c', CORRECTED_NAMED)), ['corrected: partner-c\'s drift repair at 2026-12-07T22:00:00.000Z rewrote 2 ThreatIndicators that differed from the log (1 with another spec) (sha256-cc, sha256-dd)']);
    assert.match(describeRepairs(driftRepairs('partner-b', CORRECTED_200))[0]!, /^corrected: partner-b's drift repair at 2026-12-07T21:01:43.291Z rewrote 200 ThreatIndicators that differed from the log$/);
  });
});

describe('a trial reads only its own lines of each partner\'s log', () => {
  it('lines before the marks are not the trial\'s; a line still being written waits for the next read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chaos-drift-'));
    try {
      const partners = ['partner-a', 'partner-b'].map((id) => ({ id, processes: [{ spec: { logPath: join(dir, `${id}.log`) } }] })) as unknown as ChaosNetwork['partners'];
      await writeFile(join(dir, 'partner-a.log'), `${TRIAL_39}\n`);
      await writeFile(join(dir, 'partner-b.log'), '');
      const net = { partners };
      const marks = await logMarks(net);
      assert.deepEqual(await repairsSince(net, marks), [], 'the earlier trial\'s restore');
      await appendFile(join(dir, 'partner-a.log'), `${QUIET}\n${NAMED.slice(0, 50)}`);
      assert.deepEqual(await repairsSince(net, marks), []);
      await appendFile(join(dir, 'partner-a.log'), `${NAMED.slice(50)}\n`);
      await appendFile(join(dir, 'partner-b.log'), `${TRIAL_39}\n`);
      assert.deepEqual((await repairsSince(net, marks)).map((r) => [r.partner, r.restored]), [['partner-a', 2], ['partner-b', 2025]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function result(over: Partial<TrialResult>): TrialResult {
  return {
    lost: 0, duplicated: 0, diverged: 0, problems: [], halts: [], trial: 39, schedule: [], faults: {}, convergenceSeconds: 1248.1, converged: true, crashes: [], revocations: [], seconds: 1321,
    restored: { 'partner-a': 0, 'partner-b': 0, 'partner-c': 0 }, corrected: { 'partner-a': 0, 'partner-b': 0, 'partner-c': 0 }, repairs: [], ...over,
  };
}

describe('the verdict of a trial whose drift repair restored or corrected objects', () => {
  const none = { 'partner-a': 0, 'partner-b': 0, 'partner-c': 0 };
  const rows: Array<{ name: string; r: TrialResult; failed: boolean; line: RegExp }> = [
    { name: 'nothing restored or corrected: ok', r: result({}), failed: false, line: /: ok in 1321 s .* crashes 0, restored by drift repair 0, corrected by drift repair 0$/ },
    { name: 'trial 39 (partner-a restored 2,025, lost 0): failed', r: result({ restored: { ...none, 'partner-a': 2025 } }), failed: true, line: /: FAILED .* lost 0, .* restored by drift repair 2025 \(partner-a 2025\), corrected by drift repair 0$/ },
    { name: 'two partners restored: failed, both named', r: result({ restored: { 'partner-a': 1, 'partner-b': 0, 'partner-c': 3 } }), failed: true, line: /restored by drift repair 4 \(partner-a 1, partner-c 3\), corrected/ },
    { name: 'run ee2a trial 1 (partner-b corrected 200, ok before): failed', r: result({ corrected: { ...none, 'partner-b': 200 } }), failed: true, line: /: FAILED .* restored by drift repair 0, corrected by drift repair 200 \(partner-b 200\)$/ },
  ];
  for (const row of rows) {
    it(row.name, () => {
      assert.equal(failed(row.r), row.failed);
      assert.match(trialLine(row.r), row.line);
    });
  }

  it('the run\'s summary counts restored and corrected objects after the issue\'s keys and lists the trials as failed', () => {
    const s: ChaosSummary = { trials: 0, faults: {}, lost: 0, duplicated: 0, diverged: 0, maxConvergenceSeconds: 0, restored: 0, corrected: 0, halts: 0, crashes: 0, notConverged: 0, failedTrials: [], seed: 1, seconds: 0 };
    addTrial(s, result({ trial: 38 }));
    addTrial(s, result({ restored: { ...none, 'partner-a': 2025 } }));
    addTrial(s, result({ trial: 40, corrected: { ...none, 'partner-c': 3 } }));
    assert.deepEqual([s.trials, s.lost, s.restored, s.corrected, s.failedTrials], [3, 0, 2025, 3, [39, 40]]);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(s)) as object).slice(0, 8), ['trials', 'faults', 'lost', 'duplicated', 'diverged', 'maxConvergenceSeconds', 'restored', 'corrected']);
  });
});

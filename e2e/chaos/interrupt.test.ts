/**
 * Ctrl-C on `npm run chaos` prints one line (what stopped, the command that resumes the run)
 * and exits 130, without the stack traces it used to print ("TrialCancelled: trial 11
 * cancelled at runTrial ...", once "socket hang up" from a request cut by the stop). The last
 * case is a real child process running the CLI wrapper run.ts uses, sent a real SIGINT.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { interruptLine, replayCommand, resumeArgs, shellQuote, type RunPosition } from './interrupt.ts';

describe('the interrupt line says what stopped and how to resume', () => {
  const cases: Array<{ name: string; signal: NodeJS.Signals; at: RunPosition; want: string }> = [
    { name: 'Ctrl-C in trial 11 of 1..100', signal: 'SIGINT', at: { seed: 20261207, trial: 11, lastTrial: 100 }, want: 'chaos: SIGINT: stopped during trial 11 of seed 20261207 (it is not counted; a resumed run draws the same feeds and faults for it); resume with: npm run chaos -- --seed 20261207 --from-trial 11 --trials 90' },
    { name: 'SIGTERM in the last trial of a resumed run, its other flags repeated', signal: 'SIGTERM', at: { seed: 7, trial: 100, lastTrial: 100, extraArgs: ['--indicators', '500', '--keep'] }, want: 'chaos: SIGTERM: stopped during trial 100 of seed 7 (it is not counted; a resumed run draws the same feeds and faults for it); resume with: npm run chaos -- --seed 7 --from-trial 100 --trials 1 --indicators 500 --keep' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(interruptLine(c.signal, c.at), c.want));
});

describe('the replay command of a failed trial carries its exact schedule, quoted for the shell', () => {
  const json = '[{"atMs":1600,"kind":"kill-ferretdb","target":"partner-a ferretdb","forMs":3900}]';
  const cases: Array<{ name: string; args: [number, number, string, string[]]; want: string }> = [
    { name: 'a schedule and the run\'s other flags', args: [20261207, 21, json, ['--indicators', '500', '--converge-timeout', '2400']], want: `npm run chaos -- --seed 20261207 --from-trial 21 --trials 1 --schedule '${json}' --indicators 500 --converge-timeout 2400` },
    { name: 'a replayed run\'s own --schedule is replaced, in either spelling', args: [7, 3, '[]', ['--schedule', 'old.txt', '--schedule=none', '--keep']], want: 'npm run chaos -- --seed 7 --from-trial 3 --trials 1 --schedule \'[]\' --keep' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(replayCommand(...c.args), c.want));
});

describe('shellQuote', () => {
  const cases: Array<[string, string]> = [
    ['500', '500'], ['--dir=/tmp/x', '--dir=/tmp/x'], ['+1.6s kill-ferretdb partner-a ferretdb for 3.9s', "'+1.6s kill-ferretdb partner-a ferretdb for 3.9s'"],
    ["it's", "'it'\\''s'"], ['', "''"], ['partner-a→sequencer', "'partner-a→sequencer'"],
  ];
  for (const [arg, want] of cases) it(JSON.stringify(arg), () => assert.equal(shellQuote(arg), want));
});

describe('resumeArgs keeps the flags the resume command does not set', () => {
  const cases: Array<{ name: string; argv: string[]; want: string[] }> = [
    { name: 'range flags with separate values', argv: ['--trials', '90', '--seed', '1', '--from-trial', '11', '--converge-timeout', '2400'], want: ['--converge-timeout', '2400'] },
    { name: 'range flags written with =', argv: ['--trials=90', '--indicators=500', '--seed=3', '--keep'], want: ['--indicators=500', '--keep'] },
    { name: 'nothing else', argv: ['--seed', '5'], want: [] },
    { name: 'a --schedule stays (its run was one trial)', argv: ['--seed', '5', '--schedule', 'none'], want: ['--schedule', 'none'] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(resumeArgs(c.argv), c.want));
});

// A run whose trial fails when cancelled (as runTrial throws TrialCancelled) and leaves a request
// that rejects as the network stops (socket hang up), behind the CLI wrapper of run.ts.
const CHILD = `
import { onInterrupt, runCli } from ${JSON.stringify(join(import.meta.dirname, 'interrupt.ts'))};
await runCli(async (started) => {
  const cancel = new AbortController();
  started(onInterrupt({ log: (l) => process.stderr.write(l + '\\n'), cancel, stop: () => new Promise((r) => setTimeout(r, 200)), position: () => ({ seed: 42, trial: 11, lastTrial: 100 }) }));
  const trial = new Promise((_, reject) => cancel.signal.addEventListener('abort', () => {
    void Promise.reject(new Error('socket hang up'));
    const e = new Error('trial 11 cancelled');
    e.name = 'TrialCancelled';
    reject(e);
  }));
  // The network's processes keep a real run alive.
  setInterval(() => undefined, 1000);
  process.stderr.write('ready\\n');
  await trial;
  return 0;
});
`;

describe('Ctrl-C on a run (a real child process, a real SIGINT)', () => {
  it('prints the one interrupt line, no stack trace, and exits 130 after the network stopped', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => child.stderr.on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('ready\n')) resolve();
    }));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await ready;
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    const lines = stderr.trimEnd().split('\n').filter((l) => l !== 'ready');
    assert.deepEqual(lines, ['chaos: SIGINT: stopped during trial 11 of seed 42 (it is not counted; a resumed run draws the same feeds and faults for it); resume with: npm run chaos -- --seed 42 --from-trial 11 --trials 90']);
  });
});

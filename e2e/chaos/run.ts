/**
 * `npm run chaos`: trials of faults on a real network (e2e/chaos/network.ts: a sequencer with
 * two replicas under leader election and three partners, each with its own kube-apiserver and
 * FerretDB). Each trial runs two feeds while earlier admissions are revoked and faults are
 * injected at random moments (kill -9 and restart, partitions, clock skew, a full disk), heals,
 * waits for convergence and checks that nothing was lost, duplicated or diverged. Progress and
 * failures (with the command that replays the trial's exact faults) go to stderr; the last stdout line is
 * {"trials","faults":{kind:count},"lost","duplicated","diverged","maxConvergenceSeconds","restored","corrected",...}.
 * Exit code 1 when anything was lost, duplicated, diverged, halted or crashed, or when a partner's
 * drift repair had to restore a ThreatIndicator (a loss the repair hid: drift.ts).
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { ensureBinaries } from '../../operator/src/dev/controlplane/build.ts';
import { withAttempts } from '../../operator/src/dev/controlplane/startall.ts';
import { DEFAULT_START_CAP_MS } from '../../operator/src/dev/controlplane/process.ts';
import { readFileSync } from 'node:fs';
import { describeRepairs } from './drift.ts';
import type { Fault, FaultSpace } from './faults.ts';
import { onInterrupt, replayCommand, resumeArgs, runCli, type Interrupt } from './interrupt.ts';
import { CHAOS_PARTNERS, startChaosNetwork, type ChaosNetwork } from './network.ts';
import { describeSchedule, formatSchedule, readScheduleArg, scheduleProblems } from './schedule.ts';
import { faultSpace, runTrial, type ActiveSet, type TrialOptions, type TrialResult } from './trial.ts';

const HELP = `usage: npm run chaos -- [--trials N] [--seed S] [--indicators M] [options]
  --trials N            trials to run (default 100)
  --seed S              run seed, an unsigned 32-bit integer (default: random, printed)
  --from-trial T        number of the first trial: trial T of seed S draws the same feeds and faults
                        whatever ran before it (a resumed run, a fresh network)
  --indicators M        indicators per trial (default 2000)
  --revocations R       revocations of earlier admissions per trial (default 10)
  --faults A-B          faults per trial (default 3-7)
  --window SECONDS      faults start within this many seconds of a trial's start (default 60)
  --converge-timeout S  seconds the network may take to converge after the last heal (default 600)
  --restart-every K     start a fresh network every K trials, bounding the clusters' size (default 10)
  --start-timeout S     cap in seconds on each process's start while it makes progress (default 900);
                        a process that exits fails the start at once, one idle for 90 s sooner
  --dir DIR             state directory (default: a new folder under the system temp dir)
  --keep                keep the state directory (logs, databases) afterwards
  --schedule S          run exactly these faults in trial --from-trial (one trial; --faults is not
                        drawn): S is a schedule as a run prints it, inline or a file holding it:
                        its "fault schedule:" text ('+12.3s kill-operator partner-a operator for 5.0s;
                        ...', or none) or the JSON of its "replay:" line. This replays schedules
                        of runs before seed-only replay (2026-12-07), which their seed no longer draws.
A failed trial prints its replay command (seed, trial and --schedule) and its fault schedule.`;

/** Flags after parsing. */
export interface ChaosFlags {
  readonly trials: number;
  readonly seed: number;
  readonly fromTrial: number;
  readonly restartEvery: number;
  readonly dir: string | undefined;
  readonly keep: boolean;
  /** Cap on each process's start (--start-timeout), in ms. */
  readonly startCapMs: number;
  readonly trial: Omit<TrialOptions, 'log' | 'seed' | 'signal'>;
}

/** What a --schedule may name before the network starts (its machine's limits are checked once it has). */
const SCHEDULE_SPACE: FaultSpace = { partners: CHAOS_PARTNERS, canSkew: true, canFillDisk: true };

// --schedule: read and checked against the network's parties now; what the machine can fault is checked once it started.
function scheduleFlag(text: string | undefined, trials: string | undefined): Fault[] | undefined {
  if (text === undefined) return undefined;
  if (trials !== undefined && trials !== '1') throw new Error(`--schedule replays one trial: use --trials 1 (or leave --trials out), got --trials ${trials}`);
  const schedule = readScheduleArg(text, (path) => readFileSync(path, 'utf8'));
  const problems = scheduleProblems(schedule, SCHEDULE_SPACE);
  if (problems.length > 0) throw new Error(`--schedule: ${problems.join('; ')}`);
  return schedule;
}

function whole(flag: string, text: string | undefined, dflt: number, min = 0): number {
  if (text === undefined) return dflt;
  if (!/^\d+$/.test(text) || Number(text) < min) throw new Error(`--${flag} must be a whole number of at least ${min}, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** Parses the flags; throws with the flag's name and the fix. */
export function parseChaosFlags(argv: readonly string[]): ChaosFlags | 'help' {
  const { values: v } = parseArgs({
    args: [...argv],
    options: {
      trials: { type: 'string' }, seed: { type: 'string' }, 'from-trial': { type: 'string' }, indicators: { type: 'string' }, revocations: { type: 'string' }, faults: { type: 'string' },
      window: { type: 'string' }, 'converge-timeout': { type: 'string' }, 'restart-every': { type: 'string' }, 'start-timeout': { type: 'string' }, dir: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      schedule: { type: 'string' },
    },
  });
  if (v.help === true) return 'help';
  const range = /^(\d+)-(\d+)$/.exec(v.faults ?? '3-7');
  if (range === null || Number(range[1]) > Number(range[2])) throw new Error(`--faults must be a range such as 3-7, got ${JSON.stringify(v.faults)}`);
  const schedule = scheduleFlag(v.schedule, v.trials);
  return {
    trials: whole('trials', v.trials, schedule === undefined ? 100 : 1, 1), seed: whole('seed', v.seed, Math.floor(Math.random() * 0xffffffff)) >>> 0, fromTrial: whole('from-trial', v['from-trial'], 1, 1),
    restartEvery: whole('restart-every', v['restart-every'], 10, 1), dir: v.dir, keep: v.keep === true,
    startCapMs: whole('start-timeout', v['start-timeout'], DEFAULT_START_CAP_MS / 1000, 1) * 1000,
    trial: {
      indicators: whole('indicators', v.indicators, 2000, 1), revocations: whole('revocations', v.revocations, 10), faults: [Number(range[1]), Number(range[2])],
      windowMs: whole('window', v.window, 60, 1) * 1000, convergeTimeoutMs: whole('converge-timeout', v['converge-timeout'], 600, 10) * 1000,
      ...(schedule !== undefined ? { schedule } : {}),
    },
  };
}

/** The run's summary: the issue's fields first, then what else was counted. */
export interface ChaosSummary {
  trials: number;
  faults: Record<string, number>;
  lost: number;
  duplicated: number;
  diverged: number;
  maxConvergenceSeconds: number;
  /** ThreatIndicators the partners' drift repairs created again (each one a loss the repair hid), over every trial. */
  restored: number;
  /** ThreatIndicators the partners' drift repairs rewrote because they differed from the log (each one a divergence the repair hid), over every trial. */
  corrected: number;
  halts: number;
  crashes: number;
  notConverged: number;
  failedTrials: number[];
  seed: number;
  seconds: number;
}

/** Adds one trial to the summary. */
export function addTrial(s: ChaosSummary, r: TrialResult): void {
  s.trials++;
  for (const [k, n] of Object.entries(r.faults)) s.faults[k] = (s.faults[k] ?? 0) + (n ?? 0);
  s.lost += r.lost;
  s.duplicated += r.duplicated;
  s.diverged += r.diverged;
  s.halts += r.halts.length;
  s.crashes += r.crashes.length;
  if (!r.converged) s.notConverged++;
  s.maxConvergenceSeconds = Math.max(s.maxConvergenceSeconds, Math.round(r.convergenceSeconds * 10) / 10);
  s.restored += restoredTotal(r);
  s.corrected += total(r.corrected);
  if (failed(r)) s.failedTrials.push(r.trial);
}

function total(perPartner: Readonly<Record<string, number>>): number {
  return Object.values(perPartner).reduce((a, b) => a + b, 0);
}

/** ThreatIndicators the partners' drift repairs restored in a trial. */
export function restoredTotal(r: Pick<TrialResult, 'restored'>): number {
  return total(r.restored);
}

/** True when a trial broke a property; a drift repair that restored or corrected objects hid a loss or a divergence (docs/adr/2026-12-07-chaos-drift-repairs.md). */
export function failed(r: TrialResult): boolean {
  return r.lost + r.duplicated + r.diverged + r.halts.length + r.crashes.length + restoredTotal(r) + total(r.corrected) > 0 || !r.converged;
}

// `n` and, when any, each partner's share: "3 (partner-a 1, partner-c 2)".
function shares(perPartner: Readonly<Record<string, number>>): string {
  const n = total(perPartner);
  const by = Object.entries(perPartner).filter(([, k]) => k > 0).map(([p, k]) => `${p} ${k}`).join(', ');
  return `${n}${n > 0 ? ` (${by})` : ''}`;
}

/** The trial's line: its verdict and counts, drift repairs' restores and corrections per partner when there were any. */
export function trialLine(r: TrialResult): string {
  return `trial ${r.trial}: ${failed(r) ? 'FAILED' : 'ok'} in ${r.seconds.toFixed(0)} s (converged ${r.converged ? `after ${r.convergenceSeconds.toFixed(1)} s` : 'NOT'}); lost ${r.lost}, duplicated ${r.duplicated}, diverged ${r.diverged}, halts ${r.halts.length}, crashes ${r.crashes.length}, restored by drift repair ${shares(r.restored)}, corrected by drift repair ${shares(r.corrected)}`;
}

function report(r: TrialResult, seed: number, extraArgs: readonly string[], log: (m: string) => void): void {
  log(trialLine(r));
  if (!failed(r) && r.problems.length === 0) return;
  log(`  replay: ${replayCommand(seed, r.trial, formatSchedule(r.schedule), extraArgs)}`);
  log(`  fault schedule: ${describeSchedule(r.schedule)}`);
  for (const p of [...r.halts.map((h) => `halt: ${h}`), ...r.crashes.map((c) => `crash: ${c}`), ...describeRepairs(r.repairs), ...r.problems].slice(0, 30)) log(`  ${p}`);
}

// The run and its interrupt may both stop a network: the second call waits for the first's work.
function stopper(): (net: ChaosNetwork | undefined) => Promise<void> {
  const stops = new WeakMap<ChaosNetwork, Promise<void>>();
  return (net) => {
    if (net === undefined) return Promise.resolve();
    const stopping = stops.get(net) ?? net.stop();
    stops.set(net, stopping);
    return stopping;
  };
}

// Says which faults this machine cannot make; a --schedule that needs one of them stops the run.
function checkMachine(net: ChaosNetwork, schedule: readonly Fault[] | undefined, log: (m: string) => void): void {
  if (!net.canSkew) log('  clock-skew faults disabled: libfaketime not found (bash scripts/install-faketime.sh)');
  if (net.partners.some((p) => p.cluster.disk === undefined)) log('  disk-full faults disabled: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)');
  const cannot = scheduleProblems(schedule ?? [], faultSpace(net));
  if (cannot.length > 0) throw new Error(`--schedule cannot run on this machine: ${cannot.join('; ')}`);
}

// The flags, or the exit code of --help (0) or of a usage error (2, its message without a stack trace).
function flagsOrExit(argv: readonly string[]): ChaosFlags | number {
  try {
    const flags = parseChaosFlags(argv);
    if (flags !== 'help') return flags;
    process.stdout.write(`${HELP}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`chaos: ${err instanceof Error ? err.message : String(err)} (npm run chaos -- --help)\n`);
    return 2;
  }
}

async function main(started: (i: Interrupt) => void): Promise<number> {
  const flags = flagsOrExit(process.argv.slice(2));
  if (typeof flags === 'number') return flags;
  const t0 = Date.now();
  const log = (m: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  const cacheDir = process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh');
  const binaries = await ensureBinaries({ cacheDir, progress: new PassThrough() });
  const root = flags.dir ?? await mkdtemp(join(tmpdir(), 'threatmesh-chaos-'));
  log(`chaos: seed ${flags.seed}, trials ${flags.fromTrial}..${flags.fromTrial + flags.trials - 1}, ${flags.trial.indicators} indicators per trial, state in ${root}`);
  const summary: ChaosSummary = { trials: 0, faults: {}, lost: 0, duplicated: 0, diverged: 0, maxConvergenceSeconds: 0, restored: 0, corrected: 0, halts: 0, crashes: 0, notConverged: 0, failedTrials: [], seed: flags.seed, seconds: 0 };
  let net: ChaosNetwork | undefined;
  const cancel = new AbortController();
  let current = flags.fromTrial;
  let starting: Promise<ChaosNetwork> | undefined;
  const stopOnce = stopper();
  // A network still starting is stopped once it is up: its parts would outlive the run.
  const stop = async (): Promise<void> => {
    await stopOnce(net ?? await starting?.catch(() => undefined));
  };
  started(onInterrupt({ log, cancel, stop, position: () => ({ seed: flags.seed, trial: current, lastTrial: flags.fromTrial + flags.trials - 1, extraArgs: resumeArgs(process.argv.slice(2)) }) }));
  try {
    let active: ActiveSet = new Map();
    for (let t = flags.fromTrial; t < flags.fromTrial + flags.trials; t++) {
      current = t;
      if (net === undefined || (t - flags.fromTrial) % flags.restartEvery === 0) {
        await stopOnce(net);
        net = undefined;
        active = new Map();
        log(`starting a fresh network (trial ${t})`);
        starting = withAttempts(() => startChaosNetwork({ dir: join(root, `net-${t}`), binaries, start: { capMs: flags.startCapMs, raise: '--start-timeout SECONDS' }, progress: (m) => log(`  ${m}`) }), {
          attempts: 3, signal: cancel.signal,
          retrying: (err, next) => log(`  the network did not start (${err instanceof Error ? err.message : String(err)}); starting it again (attempt ${next} of 3)`),
        });
        net = await starting;
        // Interrupted while it started: the interrupt stops it; no trial begins.
        if (cancel.signal.aborted) break;
        checkMachine(net, flags.trial.schedule, log);
      }
      const r = await runTrial(net, t, { ...flags.trial, seed: flags.seed, log, signal: cancel.signal }, active);
      addTrial(summary, r);
      report(r, flags.seed, resumeArgs(process.argv.slice(2)), log);
    }
  } finally {
    await stopOnce(net);
    if (!flags.keep && flags.dir === undefined) await rm(root, { recursive: true, force: true }).catch(() => undefined);
  }
  // Interrupted during a trial's convergence wait: no summary, the interrupt exits 130.
  return cancel.signal.aborted ? 130 : finish(summary, t0, log);
}

// The last lines of a run that was not interrupted; its exit code.
function finish(summary: ChaosSummary, t0: number, log: (m: string) => void): number {
  summary.seconds = Math.round((Date.now() - t0) / 1000);
  log(`chaos: ${summary.trials} trials in ${summary.seconds} s; ${summary.failedTrials.length} failed${summary.failedTrials.length > 0 ? ` (${summary.failedTrials.join(', ')}; seed ${summary.seed})` : ''}`);
  process.stdout.write(JSON.stringify(summary) + '\n');
  return summary.failedTrials.length === 0 ? 0 : 1;
}

if (import.meta.main) await runCli(main);

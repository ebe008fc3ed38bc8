/**
 * What `npm run chaos` does on Ctrl-C (SIGINT) or SIGTERM: it cancels pending faults and heals,
 * stops the network and exits 130, after one line that says what was stopped and how to resume.
 * Work cut short by the stop (the trial's TrialCancelled, a request whose socket hung up as its
 * server stopped) is expected then, so it prints no stack trace.
 */
import type { EventEmitter } from 'node:events';

/** Where the run is when the signal arrives. */
export interface RunPosition {
  readonly seed: number;
  /** The trial running (or whose network is starting); its result is not counted. */
  readonly trial: number;
  /** The last trial the run was asked for (`--from-trial` + `--trials` - 1). */
  readonly lastTrial: number;
  /** Trial flags other than the range and seed (`--indicators 500`...), repeated in the resume command. */
  readonly extraArgs?: readonly string[];
}

/** `arg` as a POSIX shell reads it back: bare when it is plain, else in single quotes. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

function tail(args: readonly string[] | undefined): string {
  return args !== undefined && args.length > 0 ? ` ${args.map(shellQuote).join(' ')}` : '';
}

/**
 * The one line printed on an interrupt: what stopped and the command that resumes the run. The
 * resumed trials draw the same feeds and faults (they depend on seed and trial only); a fresh
 * network has no earlier admissions, so their revocations pick other indicators.
 */
export function interruptLine(signal: NodeJS.Signals, p: RunPosition): string {
  const left = p.lastTrial - p.trial + 1;
  return `chaos: ${signal}: stopped during trial ${p.trial} of seed ${p.seed} (it is not counted; a resumed run draws the same feeds and faults for it); resume with: npm run chaos -- --seed ${p.seed} --from-trial ${p.trial} --trials ${left}${tail(p.extraArgs)}`;
}

/**
 * The command that replays one trial on a fresh network with exactly the faults it ran:
 * `schedule` is the JSON of schedule.ts (`formatSchedule`), `extraArgs` the run's other flags
 * (from {@link resumeArgs}; a `--schedule` among them is replaced).
 */
export function replayCommand(seed: number, trial: number, schedule: string, extraArgs: readonly string[] = []): string {
  return `npm run chaos -- --seed ${seed} --from-trial ${trial} --trials 1 --schedule ${shellQuote(schedule)}${tail(withoutFlags(extraArgs, new Set(['--schedule'])))}`;
}

/** What {@link onInterrupt} is given. */
export interface InterruptOptions {
  /** Emits the signals and 'unhandledRejection'. @default process */
  readonly process?: EventEmitter;
  readonly log: (line: string) => void;
  readonly position: () => RunPosition;
  /** Aborted first: pending faults and heals are cancelled (a heal would restart a process). */
  readonly cancel: AbortController;
  /** Stops the network; its failure is not reported (the run is over). */
  readonly stop: () => Promise<void>;
  /** @default process.exit */
  readonly exit?: (code: number) => void;
}

/** The run's view of an interrupt. */
export interface Interrupt {
  /** The signal once one arrived: errors are then the run being cut short, not failures to report. */
  signal(): NodeJS.Signals | undefined;
  /** Resolves when the network stopped after a signal (never without one). */
  readonly done: Promise<void>;
}

/** Installs the SIGINT/SIGTERM handling described in the file comment. */
export function onInterrupt(o: InterruptOptions): Interrupt {
  const proc = o.process ?? process;
  let got: NodeJS.Signals | undefined;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const handle = (signal: NodeJS.Signals): void => {
    if (got !== undefined) return;
    got = signal;
    o.log(interruptLine(signal, o.position()));
    // Requests of the cancelled trial fail as their servers stop: expected, not reported.
    proc.on('unhandledRejection', () => undefined);
    o.cancel.abort();
    void o.stop().catch(() => undefined).then(() => {
      finish();
      (o.exit ?? ((code: number) => process.exit(code)))(130);
    });
  };
  proc.once('SIGINT', () => handle('SIGINT'));
  proc.once('SIGTERM', () => handle('SIGTERM'));
  return { signal: () => got, done };
}

const RANGE_FLAGS = new Set(['--trials', '--seed', '--from-trial']);

function withoutFlags(argv: readonly string[], flags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (flags.has(a)) i++;
    else if (![...flags].some((f) => a.startsWith(`${f}=`))) out.push(a);
  }
  return out;
}

/** `argv` without the flags the resume command sets itself (`--trials`, `--seed`, `--from-trial`, with their values). */
export function resumeArgs(argv: readonly string[]): string[] {
  return withoutFlags(argv, RANGE_FLAGS);
}

/**
 * Runs `main` as the chaos CLI: its result is the exit code; an error is printed with its stack
 * (exit 2) unless the run was interrupted, when the interrupt's line said it all and the exit
 * code is 130 once the network stopped. `main` hands over its {@link Interrupt} when installed.
 */
export async function runCli(main: (started: (i: Interrupt) => void) => Promise<number>): Promise<void> {
  let interrupt: Interrupt | undefined;
  try {
    process.exitCode = await main((i) => {
      interrupt = i;
    });
  } catch (err) {
    if (interrupt?.signal() !== undefined) {
      await interrupt.done;
      return;
    }
    process.stderr.write(`chaos: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}

/**
 * Child processes of the local control plane: spawn with output to a log file, wait for
 * readiness while watching for an early exit, stop gracefully, and read the log tail for errors.
 *
 * A start is bounded as a mature harness bounds it (envtest's KUBEBUILDER_CONTROLPLANE_START_TIMEOUT),
 * not by one fixed number that a loaded machine overruns (a 90 s bound failed at load 55-65 before
 * any test ran): the wait fails at once when the child exits; while the child is alive and making
 * progress (it uses CPU time or writes its log) it keeps waiting, up to a generous cap that the
 * caller's composition root can raise; a child that shows no progress for a stall window fails
 * sooner. docs/adr/2026-12-07-test-time-bounds.md, addendum "Start bounds".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { once } from 'node:events';

/** What to run: `command args...`, with stdout and stderr appended to `logPath`. */
export interface ProcessSpec {
  /** Short name for messages, e.g. "apiserver". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logPath: string;
  /** Run as this user and group (a root parent starting a server that refuses root, such as PostgreSQL). @default the parent's */
  readonly user?: { readonly uid: number; readonly gid: number };
}

/** A running child process. Its stdin stays open so a child started with --exit-on-stdin-eof dies with us. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Undefined while running; afterwards "exit code N" or "signal S". */
  exitStatus(): string | undefined;
  /** Resolves when the process has exited (its status is then exitStatus()). */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `spec`; rejects when the command cannot be spawned (missing binary, permissions). */
export async function launch(spec: ProcessSpec): Promise<ManagedProcess> {
  const fd = openSync(spec.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(spec.command, [...spec.args], { stdio: ['pipe', fd, fd], ...(spec.user ?? {}) });
  } finally {
    closeSync(fd);
  }
  await Promise.race([
    once(child, 'spawn'),
    once(child, 'error').then(([err]) => {
      throw new Error(`${spec.name}: cannot start ${spec.command}: ${(err as Error).message}`);
    }),
  ]);
  let status: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = signal ? `signal ${signal}` : `exit code ${String(code)}`;
      resolve();
    });
  });
  const pid = child.pid ?? 0;
  return {
    name: spec.name,
    pid,
    logPath: spec.logPath,
    exitStatus: () => status,
    exited,
    stop: async (graceMs = 20_000) => {
      if (status !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      child.stdin?.destroy();
    },
  };
}

/** The last `lines` lines of the file at `path`, or a note saying it could not be read. */
export async function tailFile(path: string, lines = 40): Promise<string> {
  try {
    return lastLines(await readFile(path, 'utf8'), lines);
  } catch (err) {
    return `(cannot read ${path}: ${(err as Error).message})`;
  }
}

/** The last `n` lines of `text`, without a trailing empty line. */
export function lastLines(text: string, n: number): string {
  const all = text.split('\n');
  if (all.at(-1) === '') all.pop();
  return all.slice(-n).join('\n');
}

/** The cap of a start when the caller names none: generous, since a wait that sees progress costs only time. */
export const DEFAULT_START_CAP_MS = 15 * 60_000;

/** How long a start may go without any progress (no CPU time, no log output) before it fails: the bound that used to be the whole start's. */
export const START_STALL_MS = 90_000;

/** How long a child's start may take (see the file header). */
export interface StartBound {
  /** Give up after this long, however the child progresses. @default DEFAULT_START_CAP_MS */
  readonly capMs?: number;
  /** Give up sooner when the child made no progress for this long. @default START_STALL_MS */
  readonly stallMs?: number;
  /**
   * What raises the cap, said in the error when it is reached: the composition root's env var or
   * flag, e.g. `set THREATMESH_START_TIMEOUT=SECONDS`. @default 'pass a larger start cap'
   */
  readonly raise?: string;
}

/** How long and how often `waitUntil` polls. */
export interface WaitOptions extends StartBound {
  readonly intervalMs?: number;
  /** Clock, for tests; defaults to Date.now. */
  readonly now?: () => number;
  /** The child's progress, for tests: a different value than before means progress. @default childProgress(proc.pid, proc.logPath) */
  readonly progress?: () => Promise<string>;
}

/** Why a start gave up: the child exited, showed no progress for the stall window, or reached the cap while progressing. */
export type StartFailure = 'exited' | 'stalled' | 'cap';

/** A start that gave up; `reason` says which bound ended it, the message what to do. */
export class StartFailed extends Error {
  readonly reason: StartFailure;

  constructor(reason: StartFailure, message: string) {
    super(message);
    this.name = 'StartFailed';
    this.reason = reason;
  }
}

/**
 * The progress of process `pid`: the CPU time it used (Linux /proc; nothing elsewhere) and the
 * size of its log. Compare two values: a change means it did work or said something.
 */
export async function childProgress(pid: number | undefined, logPath: string): Promise<string> {
  const cpu = pid === undefined ? '' : await readFile(`/proc/${pid}/stat`, 'utf8').then((t) => {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
    return `${f[11] ?? ''}+${f[12] ?? ''}`;
  }, () => '');
  const size = await stat(logPath).then((st) => st.size, () => -1);
  return `${cpu}/${size}`;
}

/** What {@link waitForStart} watches: the child's name, log, exit and progress. */
export interface StartWatch {
  readonly name: string;
  readonly logPath: string;
  /** Undefined while the child runs. */
  exitStatus(): string | undefined;
  /** Resolves when the child exits, so the wait ends at once. */
  readonly exited: Promise<void>;
  /** A different value than before means progress ({@link childProgress}). */
  progress(): Promise<string>;
}

/**
 * Polls `check` until it returns true. Fails with the process's log tail (a {@link StartFailed})
 * when `proc` exits first (at once, even mid-check), when it shows no progress for `stallMs`, or
 * at the cap, naming what was awaited and what to do.
 */
export async function waitUntil(what: string, proc: ManagedProcess, check: () => Promise<boolean>, opts: WaitOptions): Promise<void> {
  const watch: StartWatch = { name: proc.name, logPath: proc.logPath, exitStatus: () => proc.exitStatus(), exited: proc.exited, progress: opts.progress ?? (() => childProgress(proc.pid, proc.logPath)) };
  await waitForStart(what, watch, check, opts);
}

/** {@link waitUntil} for any child that {@link StartWatch} describes (the chaos runner's restartable parts). */
export async function waitForStart(what: string, child: StartWatch, check: () => Promise<boolean>, opts: WaitOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const capMs = opts.capMs ?? DEFAULT_START_CAP_MS;
  const stallMs = opts.stallMs ?? START_STALL_MS;
  const began = now();
  const exited = child.exited.then(() => 'exited' as const);
  let seen = await child.progress();
  let progressedAt = began;
  let lastError = '';
  for (;;) {
    const exit = child.exitStatus();
    if (exit !== undefined) throw await startFailed('exited', `${child.name} exited (${exit}) before ${what}: its log below says why; fix that and start again`, child);
    try {
      if (await Promise.race([check(), exited]) === true) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (child.exitStatus() !== undefined) continue;
    const t = now();
    const p = await child.progress();
    if (p !== seen) [seen, progressedAt] = [p, t];
    const last = lastError ? ` (last error: ${lastError})` : '';
    if (t - progressedAt > stallMs) throw await startFailed('stalled', `${child.name}: ${what} did not happen, and the process used no CPU time and wrote no log for ${Math.round(stallMs / 1000)} s${last}: it is stuck; see its log below`, child);
    if (t - began > capMs) {
      throw await startFailed('cap', `${child.name}: ${what} did not happen within the start cap of ${Math.round(capMs / 1000)} s, though the process was still making progress${last}: the machine is likely overloaded; lower the load or raise the cap (${opts.raise ?? 'pass a larger start cap'})`, child);
    }
    await Promise.race([new Promise((r) => setTimeout(r, opts.intervalMs ?? 250)), exited]);
  }
}

async function startFailed(reason: StartFailure, message: string, child: { readonly logPath: string }): Promise<StartFailed> {
  const tail = await tailFile(child.logPath);
  return new StartFailed(reason, `${message}\n--- last lines of ${child.logPath} ---\n${tail}\n---`);
}

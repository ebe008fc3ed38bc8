/**
 * Child processes of the local control plane: spawn with output to a log file, wait for
 * readiness while watching for an early exit, stop gracefully, and read the log tail for errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

/** How long and how often `waitUntil` polls. */
export interface WaitOptions {
  readonly timeoutMs: number;
  readonly intervalMs?: number;
  /** Clock, for tests; defaults to Date.now. */
  readonly now?: () => number;
}

/**
 * Polls `check` until it returns true. Fails with the process's log tail when `proc` exits first
 * or the timeout passes, naming what was awaited.
 */
export async function waitUntil(what: string, proc: ManagedProcess, check: () => Promise<boolean>, opts: WaitOptions): Promise<void> {
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.timeoutMs;
  let lastError = '';
  for (;;) {
    const exit = proc.exitStatus();
    if (exit !== undefined) throw await failure(`${proc.name} exited (${exit}) before ${what}`, proc);
    try {
      if (await check()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (now() > deadline) {
      throw await failure(`${proc.name}: ${what} did not happen within ${opts.timeoutMs} ms${lastError ? ` (last error: ${lastError})` : ''}`, proc);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

async function failure(message: string, proc: ManagedProcess): Promise<Error> {
  const tail = await tailFile(proc.logPath);
  return new Error(`${message}\n--- last lines of ${proc.logPath} ---\n${tail}\n---`);
}

/**
 * The processes of the chaos network, each a `Part` that the fault injector can kill -9 and
 * start again on the same ports, with the same data, and that a supervisor restarts when it
 * exits by itself (as a kubelet restarts a container): a sequencer replica that lost its Lease
 * exits by design; anything else that exits unasked is recorded as a crash with its log tail.
 * A part that is closed (the network stopping) never starts again, whatever timer asks it to.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { childProgress, tailFile, waitForStart, type StartBound } from '../../operator/src/dev/controlplane/process.ts';

/** What a part is, for fault selection and reports. */
export type PartKind = 'apiserver' | 'ferretdb' | 'sequencer' | 'operator';

/** How to run one part. */
export interface PartSpec {
  /** e.g. `partner-a operator`, `sequencer-1`. */
  readonly name: string;
  readonly kind: PartKind;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly logPath: string;
  /** True once the part serves (its readiness probe). */
  readonly ready: () => Promise<boolean>;
}

/** An exit nobody asked for. */
export interface UnaskedExit {
  readonly part: string;
  readonly kind: PartKind;
  readonly at: string;
  readonly status: string;
  /** Last lines of the part's log. */
  readonly tail: string;
  /**
   * The reason the process gave when it stopped on its own (the `why` of its last `stopping`
   * log line since it was started), e.g. `lost the Lease: another replica serves now`. Read
   * from the whole run's log, not the tail: in-flight work that fails while stopping can log
   * hundreds of lines after it.
   */
  readonly why?: string;
}

/** The `why` of the last `"msg":"stopping"` JSON log line in `log`, or undefined. */
export function stopReason(log: string): string | undefined {
  let why: string | undefined;
  for (const line of log.split('\n')) {
    if (!line.includes('"msg":"stopping"')) continue;
    try {
      const rec = JSON.parse(line) as { why?: unknown };
      if (typeof rec.why === 'string') why = rec.why;
    } catch {
      // A line cut by kill -9, or not ours: not a reason.
    }
  }
  return why;
}

// The part's log from byte `from` on, at most the last 8 MiB (a reason is logged near the end).
async function logSince(path: string, from: number): Promise<string> {
  const f = await open(path, 'r').catch(() => undefined);
  if (f === undefined) return '';
  try {
    const size = (await f.stat()).size;
    const start = Math.max(from, size - 8 * 1024 * 1024);
    const buf = Buffer.alloc(Math.max(0, size - start));
    await f.read(buf, 0, buf.length, start);
    return buf.toString('utf8');
  } finally {
    await f.close();
  }
}

/** A restartable process. */
export class Part {
  readonly spec: PartSpec;
  readonly #onExit: (e: UnaskedExit) => void;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** How the running (or last) process exited; undefined while it runs. */
  #exitStatus: string | undefined;
  /** The part should be running: false while killed or stopped on purpose. */
  #wanted = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #restartDelayMs = 1000;
  /** Closed for good: start() does nothing, a start under way kills what it spawned. */
  #closed = false;
  /** Size of the log when the running process was spawned: where its own lines begin. */
  #logStart = 0;

  constructor(spec: PartSpec, onExit: (e: UnaskedExit) => void) {
    this.spec = spec;
    this.#onExit = onExit;
  }

  get name(): string {
    return this.spec.name;
  }

  get kind(): PartKind {
    return this.spec.kind;
  }

  running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Spawns the process (no-op when running or closed); does not wait for readiness. */
  async start(): Promise<void> {
    if (this.#closed) return;
    this.#wanted = true;
    clearTimeout(this.#restartTimer);
    if (this.running()) return;
    const fd = openSync(this.spec.logPath, 'a');
    let child: ChildProcess;
    try {
      this.#logStart = fstatSync(fd).size;
      child = spawn(this.spec.command, [...this.spec.args], { stdio: ['pipe', fd, fd], env: { ...process.env, ...this.spec.env } });
    } finally {
      closeSync(fd);
    }
    await Promise.race([once(child, 'spawn'), once(child, 'error').then(([err]) => { throw new Error(`${this.name}: cannot start ${this.spec.command}: ${(err as Error).message}`); })]);
    if (this.#closed) {
      // Closed while spawning (a heal racing the network's stop): nothing may outlive the run.
      child.kill('SIGKILL');
      return;
    }
    this.#child = child;
    this.#exitStatus = undefined;
    this.#exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      if (this.#child === child) this.#exitStatus = signal !== null ? `signal ${signal}` : `exit code ${String(code)}`;
      resolve();
      if (this.#child === child && this.#wanted) void this.#unasked(signal !== null ? `signal ${signal}` : `exit code ${String(code)}`);
    }));
  }

  async #unasked(status: string): Promise<void> {
    const why = stopReason(await logSince(this.spec.logPath, this.#logStart));
    this.#onExit({ part: this.name, kind: this.kind, at: new Date().toISOString(), status, tail: await tailFile(this.spec.logPath, 15), ...(why !== undefined ? { why } : {}) });
    // Restart with a growing delay, as a kubelet backs off a crash loop.
    this.#restartTimer = setTimeout(() => void this.start().catch(() => undefined), this.#restartDelayMs);
    this.#restartDelayMs = Math.min(this.#restartDelayMs * 2, 10_000);
  }

  /**
   * Waits until the readiness probe passes, bounded as the harness bounds a start
   * (controlplane/process.ts): throws a StartFailed at once when the process exits, when it
   * shows no progress for the stall window, or at the cap. Call after {@link start}.
   */
  async waitReady(bound: StartBound): Promise<void> {
    const child = this.#child;
    const pid = child?.pid;
    await waitForStart('its readiness probe passed', {
      name: this.name, logPath: this.spec.logPath,
      exitStatus: () => (child === undefined ? 'not started' : this.#child === child ? this.#exitStatus : 'replaced by a restart'),
      exited: this.#exited, progress: () => childProgress(pid, this.spec.logPath),
    }, async () => this.running() && await this.spec.ready().catch(() => false), bound);
    this.#restartDelayMs = 1000;
  }

  /** kill -9: no chance to clean up; stays down until {@link start}. */
  async kill(): Promise<void> {
    this.#wanted = false;
    clearTimeout(this.#restartTimer);
    if (!this.running()) return;
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  /** A graceful stop (SIGTERM, SIGKILL after `graceMs`). */
  async stop(graceMs = 15_000): Promise<void> {
    this.#wanted = false;
    clearTimeout(this.#restartTimer);
    if (!this.running()) return;
    const child = this.#child;
    child?.kill('SIGTERM');
    const timer = setTimeout(() => child?.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
    child?.stdin?.destroy();
  }

  /**
   * Closes the part for good and stops it: no heal, supervisor restart or start under way can
   * bring it back. Called when the network stops.
   */
  async close(graceMs?: number): Promise<void> {
    this.seal();
    await this.stop(graceMs);
  }

  /** Closes the part for good without stopping it yet (the network seals every part first, then stops them in order). */
  seal(): void {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
  }

  /** Process id while running. */
  pid(): number | undefined {
    return this.running() ? this.#child?.pid : undefined;
  }
}

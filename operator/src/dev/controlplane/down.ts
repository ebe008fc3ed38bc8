/** Stops the processes that a state file records, checking each pid still runs our binaries. */
import { readFile } from 'node:fs/promises';
import type { ControlPlaneState } from './state.ts';

/** The operating system's process table, as `stopRecorded` needs it. */
export interface ProcessTable {
  /** The command line of `pid` (arguments joined by spaces), undefined when no such process. */
  commandLine(pid: number): Promise<string | undefined>;
  kill(pid: number, signal: NodeJS.Signals): void;
}

/** The process table of this Linux machine, through /proc and process.kill. */
export const linuxProcesses: ProcessTable = {
  commandLine: async (pid) => {
    try {
      return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
    } catch {
      return undefined;
    }
  },
  kill: (pid, signal) => {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  },
};

/** Pids recorded in `state` that still run a ThreatMesh server or the `up` command. */
export async function liveRecordedPids(state: ControlPlaneState, table: ProcessTable): Promise<number[]> {
  const recorded = [state.ownerPid, ...state.instances.flatMap((i) => i.pids)];
  const live: number[] = [];
  for (const pid of recorded) {
    const cmd = await table.commandLine(pid);
    if (cmd !== undefined && ownsPid(cmd)) live.push(pid);
  }
  return live;
}

/**
 * True when a command line is one of ours (guards against killing a reused pid): our binaries,
 * `controlplane up`, and the PostgreSQL server postgres.ts starts (its shell guard's line names
 * postgres with the data directory, port, socket directory and loopback address in that order; a
 * system service's server does not).
 */
export function ownsPid(commandLine: string): boolean {
  return /threatmesh-(controlplane|ferretdb)|controlplane up|\/bin\/postgres -D \S+ -p \d+ -k \S+ -c listen_addresses=127\.0\.0\.1/.test(commandLine);
}

/**
 * Sends SIGTERM to every live recorded pid, waits up to `graceMs` for them to go, then SIGKILLs
 * what is left. Returns the pids it signalled.
 */
export async function stopRecorded(state: ControlPlaneState, table: ProcessTable, graceMs = 25_000): Promise<number[]> {
  const pids = await liveRecordedPids(state, table);
  for (const pid of pids) table.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await liveRecordedPids(state, table)).length > 0) {
    await new Promise((r) => setTimeout(r, 200));
  }
  for (const pid of await liveRecordedPids(state, table)) table.kill(pid, 'SIGKILL');
  return pids;
}

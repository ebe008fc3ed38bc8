/**
 * CPU time of the local database's processes, read from Linux /proc: the FerretDB child of this
 * process and, with FerretDB's PostgreSQL backend, every PostgreSQL process below this process
 * (the server, its live backends, and through the server's cutime/cstime the backends that have
 * exited), so the two backends are compared on everything they run.
 */
import { CLOCK_TICKS_PER_S, livePids, readStat, type ProcStat } from './procfs.ts';

/**
 * CPU ms so far of the processes below `root` (default: this process) whose command name starts
 * with one of `names` (default: FerretDB and PostgreSQL); undefined when there is none.
 */
export function databaseCpuMs(root = process.pid, names: readonly string[] = ['threatmesh-ferr', 'postgres']): number | undefined {
  const children = new Map<number, Array<ProcStat & { pid: number }>>();
  for (const pid of livePids()) {
    const s = readStat(pid);
    if (s !== undefined) children.set(s.ppid, [...(children.get(s.ppid) ?? []), { ...s, pid }]);
  }
  let ticks = 0;
  let found = false;
  const stack = [...(children.get(root) ?? [])];
  for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
    if (names.some((n) => p.comm.startsWith(n))) {
      ticks += p.utime + p.stime + p.cutime + p.cstime;
      found = true;
    }
    stack.push(...(children.get(p.pid) ?? []));
  }
  return found ? (ticks * 1000) / CLOCK_TICKS_PER_S : undefined;
}

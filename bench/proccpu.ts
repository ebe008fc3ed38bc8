/**
 * CPU time of the local database's processes, read from Linux /proc: the FerretDB child of this
 * process and, with FerretDB's PostgreSQL backend, every PostgreSQL process below this process
 * (the server, its live backends, and through the server's cutime/cstime the backends that have
 * exited), so the two backends are compared on everything they run.
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_S = 100;

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime + cutime + cstime, in clock ticks. */
  readonly ticks: number;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid: Number(pid), ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
  }
  return out;
}

/**
 * CPU ms so far of the processes below `root` (default: this process) whose command name starts
 * with one of `names` (default: FerretDB and PostgreSQL); undefined when there is none.
 */
export function databaseCpuMs(root = process.pid, names: readonly string[] = ['threatmesh-ferr', 'postgres']): number | undefined {
  const all = processes();
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  let ticks = 0;
  let found = false;
  const stack = [...(children.get(root) ?? [])];
  for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
    if (names.some((n) => p.comm.startsWith(n))) {
      ticks += p.ticks;
      found = true;
    }
    stack.push(...(children.get(p.pid) ?? []));
  }
  return found ? (ticks * 1000) / CLOCK_TICKS_PER_S : undefined;
}

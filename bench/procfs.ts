/**
 * Linux /proc for the benchmarks, in one place: the parsers of `/proc/<pid>/stat` and
 * `/proc/<pid>/status` (pure, tested in procfs.test.ts) and small readers built on them. The
 * soak's per-process samples, the database CPU of the exchange and scale benches and the
 * report bench's database CPU all read processes through this module.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU fields (USER_HZ; 100 on every Linux this runs on). */
export const CLOCK_TICKS_PER_S = 100;

/** The fields of one `/proc/<pid>/stat` line the benches use; CPU times in clock ticks. */
export interface ProcStat {
  readonly ppid: number;
  /** The command name, at most 15 characters (may hold spaces and parentheses). */
  readonly comm: string;
  readonly utime: number;
  readonly stime: number;
  /** CPU of waited-for children that have exited (user and system). */
  readonly cutime: number;
  readonly cstime: number;
}

/** The fields of a `/proc/<pid>/stat` text; undefined when it does not parse. */
export function parseStat(text: string): ProcStat | undefined {
  // comm (field 2) may hold spaces and parentheses: the fields after it start past the last ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = text.slice(close + 2).split(' ');
  const n = [f[1], f[11], f[12], f[13], f[14]].map(Number);
  if (f.length < 15 || !n.every(Number.isFinite)) return undefined;
  const [ppid, utime, stime, cutime, cstime] = n as [number, number, number, number, number];
  return { ppid, comm: text.slice(open + 1, close), utime, stime, cutime, cstime };
}

/** User + system CPU seconds of a `/proc/<pid>/stat` text (not its children's); undefined when it does not parse. */
export function parseCpuSeconds(stat: string, ticksPerSecond = CLOCK_TICKS_PER_S): number | undefined {
  const s = parseStat(stat);
  return s === undefined ? undefined : (s.utime + s.stime) / ticksPerSecond;
}

/** A `kB` line of a `/proc/<pid>/status` text (`VmRSS`, `RssAnon`...) in bytes; undefined when missing (a kernel thread, a zombie). */
export function parseStatusKb(status: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  return m === null ? undefined : Number(m[1]) * 1024;
}

/** VmRSS of a `/proc/<pid>/status` text in bytes; undefined when the line is missing. */
export function parseVmRss(status: string): number | undefined {
  return parseStatusKb(status, 'VmRSS');
}

/** The numeric entries of /proc: every live pid. */
export function livePids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** The stat of `pid`, read now; undefined once the process is gone. */
export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** User + system CPU of `pid` so far, in milliseconds (0 once the process is gone). */
export function processCpuMs(pid: number): number {
  const s = readStat(pid);
  return s === undefined ? 0 : ((s.utime + s.stime) * 1000) / CLOCK_TICKS_PER_S;
}

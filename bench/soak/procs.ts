/**
 * Reading processes from Linux's /proc for the soak benchmark: the descendants of a process
 * (so the harness's kube-apiserver, etcd and FerretDB are measured without the harness naming
 * their pids) and one sample of a process's VmRSS and open file descriptors, with what the
 * process says of its own memory when it carries the probe (memprobe.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HeapSample, Sample } from './growth.ts';
import { parseCpuSeconds, parseStat, parseStatusKb, parseVmRss } from '../procfs.ts';

/** Environment variable holding the directory memprobe.ts writes to (set by the bench for its own children). */
export const PROBE_DIR_ENV = 'THREATMESH_SOAK_PROBE_DIR';

/** A process to follow: its pid and a label for reports. */
export interface Tracked {
  readonly pid: number;
  readonly label: string;
}

async function stat(pid: string): Promise<{ ppid: number; comm: string } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseStat(text);
}

async function label(pid: number, comm: string): Promise<string> {
  // comm is cut at 15 characters: the command line tells the control plane's apiserver from its etcd.
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter((a) => a !== '');
  const name = argv[0]?.split('/').pop() ?? comm;
  const sub = argv.slice(1).find((a) => !a.startsWith('-') && !a.includes('/'));
  return `${name}${sub !== undefined ? ` ${sub}` : ''} (pid ${pid})`;
}

/** Every live descendant of `root` (children, grandchildren...), labelled by its command, subcommand and pid. */
export async function descendants(root: number): Promise<Tracked[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d));
  const parent = new Map<number, { ppid: number; comm: string }>();
  for (const pid of pids) {
    const s = await stat(pid);
    if (s !== undefined) parent.set(Number(pid), s);
  }
  const out: Tracked[] = [];
  for (const [pid, s] of parent) {
    for (let up = s.ppid, hops = 0; up > 1 && hops < 64; up = parent.get(up)?.ppid ?? 0, hops++) {
      if (up === root) {
        out.push({ pid, label: await label(pid, s.comm) });
        break;
      }
    }
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** The latest sample memprobe.ts wrote for `pid` under `probeDir`; undefined when it wrote none (not a probed Node process). */
export async function readProbe(probeDir: string, pid: number): Promise<HeapSample | undefined> {
  const text = await readFile(join(probeDir, `${pid}.json`), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const h = JSON.parse(text) as HeapSample;
    return typeof h.heapUsed === 'number' && typeof h.external === 'number' ? h : undefined;
  } catch {
    return undefined;
  }
}

/**
 * VmRSS, open fds and CPU time of `pid` at `t` seconds, and its probe's latest sample when it
 * wrote one under `probeDir`; undefined once the process is gone.
 */
export async function sampleProcess(pid: number, t: number, probeDir?: string): Promise<Sample | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const rssBytes = status === undefined ? undefined : parseVmRss(status);
  const fds = await readdir(`/proc/${pid}/fd`).then((e) => e.length, () => undefined);
  const cpuSeconds = parseCpuSeconds(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''));
  const anonBytes = status === undefined ? undefined : parseStatusKb(status, 'RssAnon');
  const heap = probeDir === undefined ? undefined : await readProbe(probeDir, pid);
  return rssBytes === undefined || fds === undefined ? undefined : { t, rssBytes, fds, ...(anonBytes !== undefined ? { anonBytes } : {}), ...(cpuSeconds !== undefined ? { cpuSeconds } : {}), ...(heap !== undefined ? { heap } : {}) };
}

/**
 * The record `npm run fuzz` keeps of each target's run, committed like bench results:
 * `fuzz/results/<target>.json` holds how many cases of which seed ran, in how many wall and CPU
 * seconds, with which findings, and the command that reproduces it. A run only replaces a record
 * of at most as many cases, so a short check (`--cases 2000`) never erases a million-case record.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

/** One finding as the record lists it (the full input is in fuzz/findings/). */
export interface RecordedFinding { readonly index: number; readonly property: string; readonly message: string }

/** What a results file holds. */
export interface FuzzRecord {
  readonly target: string;
  readonly seed: number;
  /** Cases run, from case 0. */
  readonly cases: number;
  /** Cases asked for; `cases < planned` when the run was stopped (the record says where it got to). */
  readonly planned: number;
  readonly complete: boolean;
  readonly seconds: number;
  /** CPU time of the fuzz worker threads (user + system), the figure that load on the machine does not change much. */
  readonly cpuSeconds: number;
  readonly casesPerSecond: number;
  readonly casesPerCpuSecond: number;
  readonly findings: readonly RecordedFinding[];
  readonly command: string;
  readonly date: string;
  readonly node: string;
  readonly cpu: string;
  /** 1-minute load average at the end, and this process's nice value: why wall time may be long. */
  readonly loadAverage: number;
  readonly nice: number;
}

/** The fields a run measures; the rest `makeRecord` fills in. */
export type Measured = Pick<FuzzRecord, 'target' | 'seed' | 'cases' | 'planned' | 'seconds' | 'cpuSeconds' | 'findings'>;

/** A complete record from what a run measured. */
export function makeRecord(m: Measured, nice: number): FuzzRecord {
  const list = cpus();
  const r2 = (x: number): number => Math.round(x * 10) / 10;
  return {
    ...m,
    complete: m.cases >= m.planned,
    seconds: r2(m.seconds),
    cpuSeconds: r2(m.cpuSeconds),
    casesPerSecond: m.seconds > 0 ? Math.round(m.cases / m.seconds) : 0,
    casesPerCpuSecond: m.cpuSeconds > 0 ? Math.round(m.cases / m.cpuSeconds) : 0,
    command: `nice -n ${nice} npm run fuzz -- --cases ${m.planned} --seed ${m.seed} --target ${m.target}`,
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${list[0]?.model ?? 'unknown'} x${list.length}`,
    loadAverage: r2(loadavg()[0] ?? 0),
    nice,
  };
}

/** The record of `target` kept in `dir`, if any. */
export async function readRecord(dir: string, target: string): Promise<FuzzRecord | undefined> {
  return existing(join(dir, `${target}.json`));
}

async function existing(file: string): Promise<FuzzRecord | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as FuzzRecord;
  } catch {
    return undefined;
  }
}

/**
 * Writes `rec` to `<dir>/<target>.json` unless the record there has more cases; returns whether
 * it wrote. The write goes through a temporary file so a stopped run never leaves half a record.
 */
export async function keepRecord(dir: string, rec: FuzzRecord): Promise<boolean> {
  const file = join(dir, `${rec.target}.json`);
  const old = await existing(file);
  if (old !== undefined && old.cases > rec.cases) return false;
  await mkdir(dir, { recursive: true });
  await writeFile(`${file}.tmp`, JSON.stringify(rec, null, 2) + '\n');
  await rename(`${file}.tmp`, file);
  return true;
}

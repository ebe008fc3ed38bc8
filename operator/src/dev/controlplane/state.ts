/**
 * The state file that `threatmesh controlplane up` leaves in its directory so that `down`, run
 * from another shell, can stop the processes it started.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** File name of the state file inside the control plane directory. */
export const stateFileName = 'controlplane.json';

/** One instance as recorded in the state file. */
export interface InstanceRecord {
  readonly name: string;
  readonly dir: string;
  readonly kubeconfig: string;
  readonly server: string;
  readonly mongoUri: string | undefined;
  readonly pids: readonly number[];
}

/** The whole state file. */
export interface ControlPlaneState {
  /** Pid of the `up` process that owns the instances. */
  readonly ownerPid: number;
  readonly instances: readonly InstanceRecord[];
}

/** Writes the state file for `dir`. */
export async function writeState(dir: string, state: ControlPlaneState): Promise<void> {
  await writeFile(join(dir, stateFileName), JSON.stringify(state, null, 2) + '\n');
}

/** Removes the state file for `dir` (no error when absent). */
export async function removeState(dir: string): Promise<void> {
  await rm(join(dir, stateFileName), { force: true });
}

/** Reads the state file for `dir`; undefined when there is none. Throws on a malformed file. */
export async function readState(dir: string): Promise<ControlPlaneState | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, stateFileName), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseState(text, join(dir, stateFileName));
}

/** Parses and checks state file text; errors name `source` and say how to recover. */
export function parseState(text: string, source: string): ControlPlaneState {
  const bad = (why: string): Error => new Error(`${source}: ${why}; stop leftover processes by hand and delete the file`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw bad('not an object');
  const d = doc as Record<string, unknown>;
  if (typeof d['ownerPid'] !== 'number' || !Array.isArray(d['instances'])) throw bad('missing ownerPid or instances');
  for (const inst of d['instances'] as unknown[]) {
    const pids = (inst as Record<string, unknown> | null)?.['pids'];
    if (!Array.isArray(pids) || !pids.every((p) => Number.isInteger(p) && (p as number) > 0)) throw bad('an instance has no valid pids');
  }
  return doc as ControlPlaneState;
}

/**
 * The scratch directory of one fuzz run: targets put their temporary files (zip spools) under it,
 * and it is removed however the run ends: normally, on an error, or stopped by SIGINT, SIGTERM or
 * SIGHUP (then the process exits 128 + the signal's number, as a shell reports it). A stopped run
 * leaves nothing in the temporary directory; workers that are cut mid-case cannot clean up
 * after themselves, so the main thread does it for them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SIGNALS = [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const;

/** Creates the run's scratch directory under the OS temporary directory and arranges its removal; returns its path. */
export function runScratch(prefix = 'threatmesh-fuzz-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', remove);
  for (const [signal, n] of SIGNALS) {
    process.once(signal, () => {
      remove();
      process.exit(128 + n);
    });
  }
  return dir;
}

/**
 * `node [flags] bench/maxrss.ts SCRIPT [ARGS...]`: runs SCRIPT in this process as `node [flags]
 * SCRIPT [ARGS...]` would, and at exit writes `THREATMESH_MAXRSS_MB <peak RSS in MB>` as the
 * last line of stderr: the peak RSS of a command (such as `bin/threatmesh.mjs ingest ...`) that
 * a benchmark cannot instrument from inside.
 */
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Marks the stderr line with the peak RSS. */
export const MAXRSS_MARKER = 'THREATMESH_MAXRSS_MB ';

if (import.meta.main) {
  const [script, ...args] = process.argv.slice(2);
  if (script === undefined) {
    process.stderr.write('usage: node bench/maxrss.ts SCRIPT [ARGS...]\n');
    process.exit(2);
  }
  process.argv = [process.argv[0] ?? process.execPath, resolve(script), ...args];
  process.on('exit', () => {
    writeSync(2, `${MAXRSS_MARKER}${process.resourceUsage().maxRSS / 1024}\n`);
  });
  await import(pathToFileURL(resolve(script)).href);
}

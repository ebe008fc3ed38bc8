/** Runs the threatmesh CLI (operator/src/main.ts) as a child process, as a user would. */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../operator/src/main.ts', import.meta.url));

/** How a run ended: the exit code (-1 when the process had none: killed, timed out) and its output. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `threatmesh ...args` from the repository root with `opts` (env, timeout, maxBuffer…); never rejects. */
export function runCli(args: readonly string[], opts: ExecFileOptions = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd: ROOT, encoding: 'utf8', ...opts }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

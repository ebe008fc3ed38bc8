/**
 * A fuzz run stopped by a signal leaves nothing in the temporary directory: the decompress
 * target's zip spool lives under the run's scratch directory, which the main thread removes on
 * SIGINT, SIGTERM or SIGHUP (the workers are cut mid-case and never reach their teardown).
 * The real `npm run fuzz` entry point, in a child process with its own TMPDIR.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUN = new URL('./run.ts', import.meta.url).pathname;

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function spoolDirs(tmp: string): Promise<string[]> {
  const runs = (await readdir(tmp)).filter((d) => d.startsWith('threatmesh-fuzz-'));
  const inside = await Promise.all(runs.map((r) => readdir(join(tmp, r)).catch(() => [] as string[])));
  return inside.flat();
}

describe('fuzz run stopped by a signal', () => {
  const cases: Array<[NodeJS.Signals, number]> = [['SIGTERM', 143], ['SIGINT', 130]];
  for (const [signal, code] of cases) {
    test(`${signal}: the zip spool directory is removed and the run exits ${code}`, async () => {
      const tmp = await mkdtemp(join(tmpdir(), 'threatmesh-fuzz-scratch-test-'));
      try {
        const child = spawn(process.execPath, [RUN, '--target', 'decompress', '--cases', '1000000', '--no-results', '--seed', '7'], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
        const exited = once(child, 'exit');
        // The worker's setup made its spool directory under the run's scratch directory.
        await until('the zip spool directory', async () => (await spoolDirs(tmp)).some((d) => d.startsWith('threatmesh-fuzz-zip-')));
        child.kill(signal);
        const [exitCode] = await exited as [number | null];
        assert.equal(exitCode, code, stderr);
        assert.deepEqual(await readdir(tmp), [], 'nothing is left in the temporary directory');
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    });
  }
});

/**
 * Creates a directory and its missing parents, one level at a time. Node's own
 * `mkdir(path, { recursive: true })` never returns for some paths (under /proc, for instance, a
 * missing directory answers ENOENT and its parent EEXIST, forever); a directory named by a flag
 * must fail with a message instead.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** Creates `path` (and its missing parents, with `mode`); resolves when it exists as a directory. */
export async function makeDirs(path: string, mode?: number): Promise<void> {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (st !== undefined) {
      if (!st.isDirectory()) throw Object.assign(new Error(`${dir} exists and is not a directory`), { code: 'ENOTDIR' });
      break;
    }
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing) {
    await mkdir(dir, mode === undefined ? {} : { mode }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

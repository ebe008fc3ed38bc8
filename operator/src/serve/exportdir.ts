/**
 * Writes the full exports of one TLP ceiling to a directory for in-cluster tools (Suricata,
 * Zeek, a MISP instance's local feed): every file, atomically (temporary file + rename), and
 * only the files whose bytes changed. Runs on an interval until stopped.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { makeDirs } from '../mkdirs.ts';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.ts';
import { collect, renderAll, type ExportDeps } from './exports.ts';
import type { Tlp } from './tlp.ts';

/** Options of {@link writeExportDir}. */
export interface ExportDirOptions {
  readonly dir: string;
  /** The levels written (clear … the ceiling given with --export-max-tlp). */
  readonly tlps: readonly Tlp[];
}

/** Writes every export file once; returns how many files changed. */
export async function writeExportDir(deps: ExportDeps, opts: ExportDirOptions): Promise<number> {
  const got = await collect(deps, opts.tlps, undefined);
  const files = renderAll(got.items, { partnerId: deps.partnerId, cursor: got.cursor, tlps: opts.tlps });
  let changed = 0;
  for (const [path, text] of files) {
    const target = join(opts.dir, path);
    const old = await readFile(target, 'utf8').catch(() => undefined);
    if (old === text) continue;
    await makeDirs(dirname(target));
    await writeFile(`${target}.tmp`, text);
    await rename(`${target}.tmp`, target);
    changed += 1;
  }
  return changed;
}

/** Rewrites the directory every `intervalMs` until `signal` aborts; errors are logged and retried next time. */
export async function runExportDir(deps: ExportDeps, opts: ExportDirOptions & { readonly intervalMs: number; readonly signal: AbortSignal; readonly log: Logger }): Promise<void> {
  while (!opts.signal.aborted) {
    try {
      const changed = await writeExportDir(deps, opts);
      if (changed > 0) opts.log.info('export files written', { dir: opts.dir, changed });
    } catch (err) {
      opts.log.error('writing export files failed; retrying', { dir: opts.dir, err });
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, opts.intervalMs);
      opts.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }
}

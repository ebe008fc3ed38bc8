/** Builds (or finds in the cache) the control plane binaries by running e2e/controlplane/build.sh. */
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import type { Binaries } from './instance.ts';

/** build.sh in this checkout. */
export const defaultBuildScript: string = fileURLToPath(new URL('../../../../e2e/controlplane/build.sh', import.meta.url));

/** Where and how to build. */
export interface BuildOptions {
  /** Cache root (CliEnv.cacheDir); binaries go under <cacheDir>/controlplane and <cacheDir>/ferretdb. */
  readonly cacheDir: string;
  /** @default defaultBuildScript */
  readonly script?: string;
  /** Receives the script's progress lines (its stderr). */
  readonly progress: Writable;
}

/**
 * Returns the binaries for the current pinned sources, building them first when the cache lacks
 * them (cold: many minutes; cached: about a second). Throws with the failing step's message.
 */
export async function ensureBinaries(opts: BuildOptions): Promise<Binaries> {
  const out = await runScript(opts, 'build');
  const [controlplane, ferretdb] = out.trim().split('\n').slice(-2);
  if (controlplane === undefined || ferretdb === undefined) {
    throw new Error(`${opts.script ?? defaultBuildScript} printed no binary paths (stdout: ${JSON.stringify(out)})`);
  }
  await Promise.all([access(controlplane), access(ferretdb)]);
  return { controlplane, ferretdb };
}

async function runScript(opts: BuildOptions, command: string): Promise<string> {
  const script = opts.script ?? defaultBuildScript;
  const child = spawn('bash', [script, '--cache', opts.cacheDir, command], { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  const errTail: string[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => {
    opts.progress.write(c);
    errTail.push(c.toString('utf8'));
    if (errTail.length > 50) errTail.shift();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) {
    const reason = errTail.join('').split('\n').filter((l) => l.includes('FAILED')).at(-1) ?? `exit code ${String(code)}`;
    throw new Error(`building the control plane failed: ${reason} (script: ${script})`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

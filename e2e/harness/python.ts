/**
 * Runs Python checks with the pinned tools of scripts/python-tools.sh (OASIS stix2-validator,
 * taxii2-client, suricataparser, idstools), installed once into a cached virtualenv outside the
 * repository. A test that needs them calls {@link pythonTools}; a missing python3 fails the
 * test with the install hint (never a skip).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/python-tools.sh', import.meta.url));

/** The virtualenv's bin directory (installs the tools on first use; minutes, then cached). */
export async function pythonTools(): Promise<string> {
  const { stdout } = await run('bash', [SCRIPT], { timeout: 600_000, maxBuffer: 1 << 20 });
  return stdout.trim().split('\n').pop() ?? '';
}

/** Runs `code` with the virtualenv's python and `args`; resolves with stdout, rejects with stderr. */
export async function python(bin: string, code: string, args: readonly string[] = [], timeoutMs = 120_000): Promise<string> {
  try {
    // requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own CA file.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'REQUESTS_CA_BUNDLE' && k !== 'CURL_CA_BUNDLE'));
    const { stdout } = await run(`${bin}/python`, ['-c', code, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20, env });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`python failed: ${e.message}\n${e.stderr ?? ''}\n${e.stdout ?? ''}`, { cause: err });
  }
}

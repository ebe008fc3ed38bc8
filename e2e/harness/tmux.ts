/**
 * Runs a command in a real pseudo-terminal — a tmux pane of a private tmux server — and returns
 * what a user would have seen: every row of the pane's scrollback and screen (as
 * `tmux capture-pane` renders them), the raw bytes the command wrote, and its exit code.
 * tmux is installed by scripts/install-tmux.sh (.ci/run and `npm test` call it).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Options of {@link runInTmux}. */
export interface TmuxOptions {
  readonly cwd?: string;
  /** The environment of the command (and of the tmux server). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Pane size. @default 160 columns × 50 rows */
  readonly columns?: number;
  readonly rows?: number;
  /** @default 600000 */
  readonly timeoutMs?: number;
}

/** What the pane showed when the command ended. */
export interface TmuxResult {
  /** Exit code of the command; undefined when it timed out (it was killed). */
  readonly code: number | undefined;
  /** Every row ever shown: scrollback first, then the screen; trailing blanks and empty rows at the end dropped. */
  readonly rows: readonly string[];
  /** The raw output, control sequences included. */
  readonly raw: string;
}

function quote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Runs `argv` in a fresh tmux server's only pane until it exits (or `timeoutMs`), then stops the server. */
export async function runInTmux(argv: readonly string[], opts: TmuxOptions = {}): Promise<TmuxResult> {
  const socket = `threatmesh-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'threatmesh-tmux-'));
  const rawFile = join(dir, 'raw');
  const env = { ...(opts.env ?? process.env), TMUX: '' };
  const tmux = (...args: string[]): Promise<{ stdout: string }> => run('tmux', ['-L', socket, '-f', '/dev/null', ...args], { env, maxBuffer: 64 << 20 });
  const marker = `[threatmesh-test exit ${randomBytes(3).toString('hex')}]`;
  const shell = `${argv.map(quote).join(' ')}; echo "${marker} $?"; sleep 86400`;
  try {
    // One tmux invocation: the history limit applies to panes created after it, and the pipe starts with the command.
    await tmux('start-server', ';', 'set-option', '-g', 'history-limit', '100000', ';',
      'new-session', '-d', '-s', 'main', '-x', String(opts.columns ?? 160), '-y', String(opts.rows ?? 50), ...(opts.cwd ? ['-c', opts.cwd] : []), `bash -c ${quote(shell)}`, ';',
      'pipe-pane', '-o', '-t', 'main', `cat >> ${quote(rawFile)}`);
    const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
    let rows: string[] = [];
    let code: number | undefined;
    for (;;) {
      // Erased cells may come back as trailing blanks: they are not text the user sees.
      rows = (await tmux('capture-pane', '-p', '-J', '-t', 'main', '-S', '-')).stdout.split('\n').map((r) => r.trimEnd());
      const end = rows.find((r) => r.startsWith(marker));
      if (end !== undefined) {
        code = Number(end.slice(marker.length + 1));
        break;
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    while (rows.length > 0 && (rows.at(-1) ?? '').trim() === '') rows.pop();
    const raw = await readFile(rawFile, 'utf8').catch(() => '');
    return { code, rows: rows.filter((r) => !r.startsWith(marker)), raw };
  } finally {
    await tmux('kill-server').catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** True when tmux is on PATH (scripts/install-tmux.sh puts it there). */
export function haveTmux(): Promise<boolean> {
  return new Promise((res) => {
    const c = spawn('tmux', ['-V'], { stdio: 'ignore' });
    c.once('error', () => res(false));
    c.once('exit', (code) => res(code === 0));
  });
}

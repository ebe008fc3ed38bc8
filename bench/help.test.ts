/**
 * Every registered benchmark (bench/*.bench.ts, what `npm run bench` runs) answers `--help` with
 * its usage, at once, without running: exit 0, the usage on stdout (what it measures, where its
 * results go), nothing on stderr (a benchmark logs its progress there) and no results line.
 * Fifteen of them used to run instead, some taking `--help` as their record count.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_MARKER, usageText } from './lib.ts';

const DIR = import.meta.dirname;
const NAMES = readdirSync(DIR).filter((f) => f.endsWith('.bench.ts')).map((f) => f.slice(0, -'.bench.ts'.length)).sort();
// Only loading the modules: about 2 s here, 5 s at a load average of 35 on 2 cores.
const LIMIT_MS = 30_000;

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function run(args: readonly string[]): Promise<Ran> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], { cwd: join(DIR, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    // A benchmark that runs instead would take minutes: stop it at the limit and fail.
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

function assertUsage(name: string, r: Ran): void {
  const what = `${name}: exit ${String(r.code)} after ${r.ms} ms\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;
  assert.equal(r.code, 0, what);
  assert.ok(r.ms < LIMIT_MS, what);
  assert.ok(r.stdout.startsWith(`usage: npm run bench -- ${name}`), what);
  assert.ok(r.stdout.includes(`bench/results/${name}.json`), `${what}\n(the usage says where the results go)`);
  // Then what it measures (a sentence, not a flag).
  assert.match(r.stdout.split('\n').find((l) => !/^(usage:| {7}node )/.test(l)) ?? '', /^[A-Z][^-]/, what);
  assert.ok(!r.stdout.split('\n').some((l) => l.startsWith(RESULTS_MARKER)), `${what}\n(it ran and printed results)`);
  assert.equal(r.stderr, '', `${what}\n(it logged progress: it started running)`);
}

describe('every benchmark answers --help without running', { concurrency: 3 }, () => {
  it('finds the benchmarks bench/run.ts runs', () => assert.ok(NAMES.length >= 19 && NAMES.includes('replicaname') && NAMES.includes('soak'), NAMES.join(', ')));
  for (const name of NAMES) it(name, async () => assertUsage(name, await run([join(DIR, `${name}.bench.ts`), '--help'])));
});

describe('--help through the runner', () => {
  it('npm run bench -- NAME --help shows the benchmark\'s usage and writes no results', async () => assertUsage('domain', await run([join(DIR, 'run.ts'), 'domain', '--help'])));
  it('npm run bench -- --help shows the runner\'s usage and every benchmark', async () => {
    const r = await run([join(DIR, 'run.ts'), '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^usage: npm run bench \[-- NAME\.\.\. \[FLAGS\.\.\.\]\]/);
    assert.ok(r.stdout.includes(`benchmarks: ${NAMES.join(', ')}`), r.stdout);
  });
});

describe('usageText', () => {
  const cases: Array<{ name: string; u: Parameters<typeof usageText>[0]; want: string }> = [
    { name: 'no arguments', u: { name: 'normalize', measures: 'Values per second.' }, want: 'usage: npm run bench -- normalize\nValues per second.\n\nResults: a table on stdout and bench/results/normalize.json (written by npm run bench).\n' },
    { name: 'arguments and knobs, aligned', u: { name: 'idle', args: '[N]', measures: 'Requests.', knobs: [['N', 'count'], ['KUBECONFIG', 'server']] }, want: 'usage: npm run bench -- idle\n       node bench/idle.bench.ts [N]\nRequests.\n\n  N           count\n  KUBECONFIG  server\n\nResults: a table on stdout and bench/results/idle.json (written by npm run bench).\n' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(usageText(c.u), c.want));
  it('long text is wrapped at 100 characters', () => {
    const text = usageText({ name: 'x', measures: 'word '.repeat(60) });
    for (const l of text.split('\n')) assert.ok(l.length <= 100, l);
  });
});

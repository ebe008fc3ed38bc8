/**
 * `npm run bench [name...] [--flag value...]`: runs every `bench/*.bench.ts` (or the named ones)
 * sequentially, each in its own Node process so that one benchmark's heap and JIT state cannot
 * skew another, prints a table and writes `bench/results/<name>.json`
 * ({ name, date, node, cpu, results: [{ metric, value, unit }] }). Arguments from the first
 * `--flag` on are passed to each named benchmark (`npm run bench -- soak --minutes 10`);
 * `--help` among them shows the benchmark's own help; `npm run bench -- --help` the runner's. A benchmark that prints its results and
 * then exits non-zero (a verdict, such as soak's leak check) has its results written and fails the run.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_MARKER, SUMMARY_MARKER, type BenchResult } from './lib.ts';

const benchDir = fileURLToPath(new URL('.', import.meta.url));

const USAGE = `usage: npm run bench [-- NAME... [FLAGS...]]
Runs every benchmark (bench/NAME.bench.ts), or the named ones, one after the other, each in its
own Node process; prints a table per benchmark and writes bench/results/NAME.json.
Flags from the first one on go to each named benchmark; \`npm run bench -- NAME --help\` says what
NAME measures, its flags and environment variables.`;
const SUFFIX = '.bench.ts';

/** Splits `[name..., --flag, value...]` into benchmark names and the arguments passed to them. */
export function splitArgs(argv: readonly string[]): { names: string[]; passed: string[] } {
  const at = argv.findIndex((a) => a.startsWith('-'));
  return at < 0 ? { names: [...argv], passed: [] } : { names: argv.slice(0, at), passed: argv.slice(at) };
}

async function main(args: readonly string[]): Promise<number> {
  const { names: argv, passed } = splitArgs(args);
  const available = (await readdir(benchDir)).filter((f) => f.endsWith(SUFFIX)).map((f) => basename(f, SUFFIX)).sort();
  const unknown = argv.filter((n) => !available.includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`bench: no benchmark named ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
    return 2;
  }
  const names = argv.length > 0 ? argv : available;
  const helpAsked = passed.includes('--help') || passed.includes('-h');
  if (argv.length === 0 && helpAsked) {
    process.stdout.write(`${USAGE}\nbenchmarks: ${available.join(', ')}\n`);
    return 0;
  }
  if (passed.length > 0 && argv.length === 0) {
    process.stderr.write(`bench: arguments ${passed.join(' ')} need the benchmark they are for, e.g. npm run bench -- soak ${passed.join(' ')}\n`);
    return 2;
  }
  if (helpAsked) return help(names, passed);
  let failed = 0;
  const summaries: string[] = [];
  for (const name of names) {
    process.stderr.write(`==> ${name}\n`);
    const run = await runOne(name, passed);
    if (run === undefined) {
      failed += 1;
      continue;
    }
    if (run.code !== 0) failed += 1;
    printTable(name, run.results);
    await writeResults(name, run.results, run.summary);
    if (run.summary !== undefined) summaries.push(JSON.stringify(run.summary));
  }
  // A benchmark's summary object is the last stdout line (issue 14's contract for `scale`).
  for (const s of summaries) process.stdout.write(`${s}\n`);
  return failed === 0 ? 0 : 1;
}

interface Run {
  readonly code: number;
  readonly results: BenchResult[];
  readonly summary?: Record<string, unknown>;
}

async function help(names: readonly string[], passed: readonly string[]): Promise<number> {
  let code = 0;
  for (const name of names) {
    const child = spawn(process.execPath, [join(benchDir, name + SUFFIX), ...passed], { stdio: ['ignore', 'inherit', 'inherit'] });
    const [c] = await once(child, 'close') as [number | null];
    code ||= c ?? 1;
  }
  return code;
}

function runOne(name: string, passed: readonly string[]): Promise<Run | undefined> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', join(benchDir, name + SUFFIX), ...passed], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => { out += chunk; });
    child.on('error', (err) => {
      process.stderr.write(`bench: cannot start ${name}: ${err.message}\n`);
      resolve(undefined);
    });
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULTS_MARKER));
      if (code !== 0) process.stderr.write(`bench: ${name} failed (exit ${String(code)}${line === undefined ? ', no results' : ', results kept'})\n`);
      if (line === undefined) {
        resolve(undefined);
        return;
      }
      const summary = out.split('\n').find((l) => l.startsWith(SUMMARY_MARKER));
      resolve({ code: code ?? 1, results: JSON.parse(line.slice(RESULTS_MARKER.length)) as BenchResult[], ...(summary !== undefined ? { summary: JSON.parse(summary.slice(SUMMARY_MARKER.length)) as Record<string, unknown> } : {}) });
    });
  });
}

function printTable(name: string, results: readonly BenchResult[]): void {
  const width = Math.max(...results.map((r) => r.metric.length), 6);
  const lines = results.map((r) => `${r.metric.padEnd(width)}  ${String(r.value).padStart(12)}  ${r.unit}`);
  process.stdout.write(`\n${name}\n${'metric'.padEnd(width)}  ${'value'.padStart(12)}  unit\n${lines.join('\n')}\n\n`);
}

async function writeResults(name: string, results: readonly BenchResult[], summary?: Record<string, unknown>): Promise<void> {
  const cpuList = cpus();
  const doc = {
    name,
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpuList[0]?.model ?? 'unknown'} x${cpuList.length}`,
    results,
    ...(summary !== undefined ? { summary } : {}),
  };
  const dir = join(benchDir, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}.json`), JSON.stringify(doc, null, 2) + '\n');
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));

/**
 * `npm run bench [name...]`: runs every `bench/*.bench.ts` (or the named ones) sequentially,
 * each in its own Node process so that one benchmark's heap and JIT state cannot skew another,
 * prints a table and writes `bench/results/<name>.json`
 * ({ name, date, node, cpu, results: [{ metric, value, unit }] }).
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_MARKER, type BenchResult } from './lib.ts';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const SUFFIX = '.bench.ts';

async function main(argv: readonly string[]): Promise<number> {
  const available = (await readdir(benchDir)).filter((f) => f.endsWith(SUFFIX)).map((f) => basename(f, SUFFIX)).sort();
  const unknown = argv.filter((n) => !available.includes(n));
  if (unknown.length > 0) {
    process.stderr.write(`bench: no benchmark named ${unknown.join(', ')}; available: ${available.join(', ')}\n`);
    return 2;
  }
  const names = argv.length > 0 ? argv : available;
  let failed = 0;
  for (const name of names) {
    process.stderr.write(`==> ${name}\n`);
    const results = await runOne(name);
    if (results === undefined) {
      failed += 1;
      continue;
    }
    printTable(name, results);
    await writeResults(name, results);
  }
  return failed === 0 ? 0 : 1;
}

function runOne(name: string): Promise<BenchResult[] | undefined> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', join(benchDir, name + SUFFIX)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => { out += chunk; });
    child.on('error', (err) => {
      process.stderr.write(`bench: cannot start ${name}: ${err.message}\n`);
      resolve(undefined);
    });
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULTS_MARKER));
      if (code !== 0 || line === undefined) {
        process.stderr.write(`bench: ${name} failed (exit ${String(code)}${line === undefined ? ', no results' : ''})\n`);
        resolve(undefined);
        return;
      }
      resolve(JSON.parse(line.slice(RESULTS_MARKER.length)) as BenchResult[]);
    });
  });
}

function printTable(name: string, results: readonly BenchResult[]): void {
  const width = Math.max(...results.map((r) => r.metric.length), 6);
  const lines = results.map((r) => `${r.metric.padEnd(width)}  ${String(r.value).padStart(12)}  ${r.unit}`);
  process.stdout.write(`\n${name}\n${'metric'.padEnd(width)}  ${'value'.padStart(12)}  unit\n${lines.join('\n')}\n\n`);
}

async function writeResults(name: string, results: readonly BenchResult[]): Promise<void> {
  const cpuList = cpus();
  const doc = {
    name,
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpuList[0]?.model ?? 'unknown'} x${cpuList.length}`,
    results,
  };
  const dir = join(benchDir, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}.json`), JSON.stringify(doc, null, 2) + '\n');
}

process.exitCode = await main(process.argv.slice(2));

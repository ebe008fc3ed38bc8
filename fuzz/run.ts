/**
 * `npm run fuzz`: runs every fuzz target (fuzz/targets/) for --cases generated cases each
 * (default 1,000,000), each target in a worker thread watched for hangs. Cases come from a
 * seeded generator per case, so a finding is replayed with `--target T --seed S --case N`.
 * Findings are printed, written to fuzz/findings/ and make the exit code 1. The last stdout line
 * is one JSON object: {"seed","cases","targets":{name:{cases,findings,seconds}},"findings"}.
 *
 *   npm run fuzz                                   # all targets, 1,000,000 cases each
 *   npm run fuzz -- --cases 20000 --target csv,stix
 *   npm run fuzz -- --target csv --seed 7 --case 1234   # replay one case, print its input
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Rng } from './rng.ts';
import { Finding } from './target.ts';
import { TARGETS, targetNamed } from './targets/index.ts';
import type { WorkerMessage } from './worker.ts';

const HELP = `usage: npm run fuzz -- [--cases N] [--seed S] [--target NAME[,NAME...]] [--jobs J] [--hang-ms MS]
       npm run fuzz -- --target NAME --seed S --case N      (replay one case)
targets: ${TARGETS.map((t) => t.name).join(', ')}
  --cases N     cases per target (default 1000000)
  --seed S      run seed, an unsigned 32-bit integer (default: random, printed)
  --jobs J      targets run at the same time (default 1)
  --hang-ms MS  a case running longer than this is a hang finding (default 20000)
  --list        print the targets with what each checks`;

/** One finding as reported and stored. */
interface Reported { readonly target: string; readonly seed: number; readonly index: number; readonly property: string; readonly message: string; readonly input: string }

const findingsDir = new URL('./findings/', import.meta.url).pathname;
const MAX_SHOWN = 5;

async function replay(name: string, seed: number, index: number): Promise<number> {
  const t = targetNamed(name);
  if (t === undefined) throw new Error(`no target ${name}; targets: ${TARGETS.map((x) => x.name).join(', ')}`);
  await t.setup?.();
  try {
    await t.run(Rng.forCase(seed, name, index));
    process.stdout.write(`${name} seed ${seed} case ${index}: passed\n`);
    return 0;
  } catch (err) {
    const f = err instanceof Finding ? err : undefined;
    process.stdout.write(`${name} seed ${seed} case ${index}: ${f ? f.message : String(err)}\ninput: ${f ? f.input : '(crash)'}\n${err instanceof Error ? err.stack ?? '' : ''}\n`);
    return 1;
  } finally {
    await t.teardown?.();
  }
}

/** Runs cases [from, to) of `name` in workers, restarting after a hang; resolves with the findings. */
async function runTarget(name: string, seed: number, cases: number, hangMs: number): Promise<Reported[]> {
  const found: Reported[] = [];
  const seen = new Set<string>();
  const report = (r: Reported): void => {
    const key = `${r.property}\n${r.message.split('\n')[0]!.slice(0, 120)}`;
    if (seen.has(key)) return;
    seen.add(key);
    found.push(r);
    if (found.length <= MAX_SHOWN) process.stderr.write(`  FINDING ${name} case ${r.index} (replay: npm run fuzz -- --target ${name} --seed ${seed} --case ${r.index}): ${r.message.split('\n')[0]}\n    input: ${JSON.stringify(r.input).slice(0, 400)}\n`);
  };
  let from = 0;
  const started = performance.now();
  while (from < cases) {
    from = await runWorker({ name, seed, from, to: cases, hangMs, started, total: cases }, report);
  }
  return found;
}

interface Span { readonly name: string; readonly seed: number; readonly from: number; readonly to: number; readonly hangMs: number; readonly started: number; readonly total: number }

/** Runs one worker over [from, to); resolves with the index to continue from (to when done, after the hung case otherwise). */
function runWorker(s: Span, report: (r: Reported) => void): Promise<number> {
  const shared = new SharedArrayBuffer(8);
  const state = new Int32Array(shared);
  Atomics.store(state, 0, s.from);
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: { target: s.name, seed: s.seed, from: s.from, to: s.to, shared } });
  return new Promise((resolve) => {
    let current = s.from;
    let since = performance.now();
    let settled = false;
    const finish = (next: number): void => {
      if (settled) return;
      settled = true;
      clearInterval(watch);
      resolve(next);
    };
    const watch = setInterval(() => {
      const now = Atomics.load(state, 0);
      if (now !== current) {
        current = now;
        since = performance.now();
        return;
      }
      if (performance.now() - since < s.hangMs) return;
      report({ target: s.name, seed: s.seed, index: now, property: 'hang', message: `case ran longer than ${s.hangMs} ms`, input: '(replay the case)' });
      void worker.terminate();
      finish(now + 1);
    }, 500);
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'finding') report({ target: s.name, seed: s.seed, index: m.index, property: m.property, message: m.message, input: m.input });
      else if (m.kind === 'progress') {
        const done = s.from + m.done;
        const secs = (performance.now() - s.started) / 1000;
        process.stderr.write(`  ${s.name}: ${done}/${s.total} cases, ${Math.round(done / secs)}/s\n`);
      } else finish(s.to);
    });
    worker.on('error', (err: Error) => {
      report({ target: s.name, seed: s.seed, index: Atomics.load(state, 0), property: 'crash', message: `worker died: ${err.message}`, input: '(replay the case)' });
      finish(Atomics.load(state, 0) + 1);
    });
    worker.on('exit', () => finish(Atomics.load(state, 1) === 1 ? s.to : Atomics.load(state, 0) + 1));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { cases: { type: 'string' }, seed: { type: 'string' }, target: { type: 'string' }, case: { type: 'string' }, jobs: { type: 'string' }, 'hang-ms': { type: 'string' }, list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help === true) { process.stdout.write(`${HELP}\n`); return 0; }
  if (values.list === true) { for (const t of TARGETS) process.stdout.write(`${t.name.padEnd(10)} ${t.description}\n`); return 0; }
  const int = (flag: string, text: string | undefined, dflt: number): number => {
    if (text === undefined) return dflt;
    if (!/^\d+$/.test(text)) throw new Error(`--${flag} must be a whole number, got ${JSON.stringify(text)}`);
    return Number(text);
  };
  const seed = int('seed', values.seed, Math.floor(Math.random() * 0xffffffff)) >>> 0;
  const names = values.target === undefined ? TARGETS.map((t) => t.name) : values.target.split(',');
  const unknown = names.filter((n) => targetNamed(n) === undefined);
  if (unknown.length > 0) throw new Error(`no fuzz target ${unknown.join(', ')}; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
  if (values.case !== undefined) {
    if (names.length !== 1) throw new Error('--case replays one case of one --target');
    return replay(names[0]!, seed, int('case', values.case, 0));
  }
  const cases = int('cases', values.cases, 1_000_000);
  const jobs = Math.max(1, int('jobs', values.jobs, 1));
  const hangMs = int('hang-ms', values['hang-ms'], 20_000);
  process.stderr.write(`fuzz: seed ${seed}, ${cases} cases per target, targets ${names.join(', ')}\n`);
  const summary: Record<string, { cases: number; findings: number; seconds: number }> = {};
  const all: Reported[] = [];
  const queue = [...names];
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const t0 = performance.now();
      process.stderr.write(`==> ${name}\n`);
      const found = await runTarget(name, seed, cases, hangMs);
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      summary[name] = { cases, findings: found.length, seconds };
      process.stderr.write(`  ${name}: ${cases} cases in ${seconds} s, ${found.length} distinct findings\n`);
      all.push(...found);
    }
  }));
  if (all.length > 0) {
    await mkdir(findingsDir, { recursive: true });
    for (const f of all) await writeFile(join(findingsDir, `${f.target}-${f.seed}-${f.index}.json`), JSON.stringify(f, null, 2) + '\n');
    process.stderr.write(`fuzz: ${all.length} findings written to ${findingsDir}\n`);
  }
  process.stdout.write(JSON.stringify({ seed, cases, targets: summary, findings: all.length }) + '\n');
  return all.length === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`fuzz: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}

/**
 * `npm run fuzz`: runs every fuzz target (fuzz/targets/) for --cases generated cases each
 * (default 1,000,000), each target in a worker thread watched for hangs. Cases come from a
 * seeded generator per case, so a finding is replayed with `--target T --seed S --case N`.
 * Findings are printed, written to fuzz/findings/ and make the exit code 1. The last stdout line
 * is one JSON object: {"seed","cases","targets":{name:{cases,findings,seconds,cpuSeconds}},"findings"}.
 * Each target's run is recorded in fuzz/results/<target>.json (results.ts), committed like bench results.
 *
 *   npm run fuzz                                   # all targets, 1,000,000 cases each
 *   npm run fuzz -- --cases 20000 --target csv,stix
 *   npm run fuzz -- --target csv --seed 7 --case 1234   # replay one case, print its input
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { getPriority } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Rng } from './rng.ts';
import { keepRecord, makeRecord, readRecord, type FuzzRecord } from './results.ts';
import { runScratch } from './scratch.ts';
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
  --results DIR where each target's record <target>.json goes (default fuzz/results); a record is
                kept every minute and at the end, and never replaces one of more cases
  --no-results  keep no record
  --continue    start each target after the cases its record of this seed covers (a stopped run
                goes on where it got to; times and findings add up)
  --list        print the targets with what each checks`;

/** One finding as reported and stored. */
interface Reported { readonly target: string; readonly seed: number; readonly index: number; readonly property: string; readonly message: string; readonly input: string }

const findingsDir = new URL('./findings/', import.meta.url).pathname;
const defaultResultsDir = new URL('./results/', import.meta.url).pathname;
const RECORD_EVERY_MS = 60_000;
const MAX_SHOWN = 5;

async function replay(name: string, seed: number, index: number): Promise<number> {
  const t = targetNamed(name);
  if (t === undefined) throw new Error(`no target ${name}; targets: ${TARGETS.map((x) => x.name).join(', ')}`);
  await t.setup?.({ scratchDir: runScratch() });
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

/** How far a target's run got: cases done from 0, and CPU time of the workers that ran them. */
interface Progress { done: number; cpuMicros: number; readonly found: Reported[]; readonly started: number }

/** Runs cases [from, cases) of `name` in workers, restarting after a hang; resolves with the findings. */
/** What every worker of the run shares: the hang limit and the run's scratch directory. */
interface RunSettings { readonly hangMs: number; readonly scratchDir: string }

async function runTarget(name: string, seed: number, range: { readonly from: number; readonly cases: number }, settings: RunSettings, onProgress: (p: Progress) => void): Promise<Progress> {
  const { cases } = range;
  const seen = new Set<string>();
  const p: Progress = { done: range.from, cpuMicros: 0, found: [], started: performance.now() };
  const report = (r: Reported): void => {
    const key = `${r.property}\n${r.message.split('\n')[0]!.slice(0, 120)}`;
    if (seen.has(key)) return;
    seen.add(key);
    p.found.push(r);
    if (p.found.length <= MAX_SHOWN) process.stderr.write(`  FINDING ${name} case ${r.index} (replay: npm run fuzz -- --target ${name} --seed ${seed} --case ${r.index}): ${r.message.split('\n')[0]}\n    input: ${JSON.stringify(r.input).slice(0, 400)}\n`);
  };
  while (p.done < cases) {
    const cpuBefore = p.cpuMicros;
    p.done = await runWorker({ name, seed, from: p.done, to: cases, ...settings }, report, (done, cpu) => {
      p.done = done;
      p.cpuMicros = cpuBefore + cpu;
      onProgress(p);
    });
  }
  return p;
}

interface Span extends RunSettings { readonly name: string; readonly seed: number; readonly from: number; readonly to: number }

/**
 * Runs one worker over [from, to); resolves with the index to continue from (to when done, after
 * the hung case otherwise). `progress` gets the cases done from 0 and this worker's CPU time.
 */
function runWorker(s: Span, report: (r: Reported) => void, progress: (done: number, cpuMicros: number) => void): Promise<number> {
  const shared = new SharedArrayBuffer(8);
  const state = new Int32Array(shared);
  Atomics.store(state, 0, s.from);
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: { target: s.name, seed: s.seed, from: s.from, to: s.to, shared, scratchDir: s.scratchDir } });
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
      else if (m.kind === 'progress') progress(s.from + m.done, m.cpuMicros);
      else {
        progress(s.to, m.cpuMicros);
        finish(s.to);
      }
    });
    worker.on('error', (err: Error) => {
      report({ target: s.name, seed: s.seed, index: Atomics.load(state, 0), property: 'crash', message: `worker died: ${err.message}`, input: '(replay the case)' });
      finish(Atomics.load(state, 0) + 1);
    });
    worker.on('exit', () => finish(Atomics.load(state, 1) === 1 ? s.to : Atomics.load(state, 0) + 1));
  });
}

/** What an earlier run of the same seed already covered (cases 0 to `cases`), which `--continue` adds to. */
type Earlier = Pick<FuzzRecord, 'cases' | 'seconds' | 'cpuSeconds' | 'findings'>;
const NOTHING: Earlier = { cases: 0, seconds: 0, cpuSeconds: 0, findings: [] };

/** The record of a target's run so far, added to what an earlier run covered. */
function recordOf(name: string, seed: number, planned: number, p: Progress, earlier: Earlier): FuzzRecord {
  return makeRecord({
    target: name, seed, cases: p.done, planned,
    seconds: earlier.seconds + (performance.now() - p.started) / 1000, cpuSeconds: earlier.cpuSeconds + p.cpuMicros / 1e6,
    findings: [...earlier.findings, ...p.found.map((f) => ({ index: f.index, property: f.property, message: f.message.split('\n')[0]!.slice(0, 300) }))],
  }, getPriority());
}

/** Where `--continue` starts: after the cases the kept record of this seed covers. */
async function earlierRun(resultsDir: string | undefined, name: string, seed: number, cont: boolean): Promise<Earlier> {
  if (!cont || resultsDir === undefined) return NOTHING;
  const old = await readRecord(resultsDir, name);
  if (old === undefined || old.seed !== seed) return NOTHING;
  process.stderr.write(`  ${name}: continuing the record of seed ${seed} from case ${old.cases}\n`);
  return old;
}

/** Runs one target, printing progress and keeping its record (every RECORD_EVERY_MS and at the end). */
async function runAndRecord(name: string, seed: number, cases: number, settings: RunSettings, results: { readonly dir: string | undefined; readonly cont: boolean }): Promise<FuzzRecord & { readonly found: Reported[] }> {
  const resultsDir = results.dir;
  const earlier = await earlierRun(resultsDir, name, seed, results.cont);
  let lastRecord = performance.now();
  let writing: Promise<unknown> = Promise.resolve();
  const p = await runTarget(name, seed, { from: Math.min(earlier.cases, cases), cases }, settings, (q) => {
    const rec = recordOf(name, seed, cases, q, earlier);
    process.stderr.write(`  ${name}: ${q.done}/${cases} cases, ${rec.casesPerSecond}/s, ${rec.casesPerCpuSecond}/cpu-s\n`);
    if (resultsDir === undefined || performance.now() - lastRecord < RECORD_EVERY_MS) return;
    lastRecord = performance.now();
    writing = writing.then(() => keepRecord(resultsDir, rec));
  });
  await writing;
  const rec = recordOf(name, seed, cases, p, earlier);
  if (resultsDir !== undefined && await keepRecord(resultsDir, rec)) process.stderr.write(`  ${name}: record written to ${join(resultsDir, `${name}.json`)}\n`);
  return { ...rec, found: p.found };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { cases: { type: 'string' }, seed: { type: 'string' }, target: { type: 'string' }, case: { type: 'string' }, jobs: { type: 'string' }, 'hang-ms': { type: 'string' }, results: { type: 'string' }, 'no-results': { type: 'boolean' }, continue: { type: 'boolean' }, list: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
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
  const resultsDir = values['no-results'] === true ? undefined : values.results ?? defaultResultsDir;
  const summary: Record<string, { cases: number; findings: number; seconds: number; cpuSeconds: number }> = {};
  const all: Reported[] = [];
  const queue = [...names];
  const settings: RunSettings = { hangMs, scratchDir: runScratch() };
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      process.stderr.write(`==> ${name}\n`);
      const r = await runAndRecord(name, seed, cases, settings, { dir: resultsDir, cont: values.continue === true });
      summary[name] = { cases: r.cases, findings: r.found.length, seconds: r.seconds, cpuSeconds: r.cpuSeconds };
      process.stderr.write(`  ${name}: ${r.cases} cases in ${r.seconds} s (${r.cpuSeconds} CPU s), ${r.found.length} distinct findings\n`);
      all.push(...r.found);
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

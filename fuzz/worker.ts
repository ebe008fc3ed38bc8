/**
 * One fuzz worker: runs cases [from, to) of one target and tells the main thread about progress
 * and findings. The index of the case in progress is kept in shared memory so the main thread
 * can name the case that hangs (and terminate this worker) even when the event loop is stuck.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Rng } from './rng.ts';
import { Finding } from './target.ts';
import { targetNamed } from './targets/index.ts';

/** What the main thread passes in. */
export interface WorkerInput {
  readonly target: string;
  readonly seed: number;
  readonly from: number;
  readonly to: number;
  /** [0]: index of the case running now; [1]: 1 when finished. */
  readonly shared: SharedArrayBuffer;
  /** The run's scratch directory (fuzz/scratch.ts), handed to the target's setup. */
  readonly scratchDir: string;
}

/** A message to the main thread. */
export type WorkerMessage =
  | { readonly kind: 'progress'; readonly done: number; readonly cpuMicros: number }
  | { readonly kind: 'finding'; readonly index: number; readonly property: string; readonly message: string; readonly input: string }
  | { readonly kind: 'done'; readonly done: number; readonly cpuMicros: number };

const input = workerData as WorkerInput;
const state = new Int32Array(input.shared);
const target = targetNamed(input.target);
if (target === undefined) throw new Error(`no fuzz target ${input.target}`);
const post = (m: WorkerMessage): void => parentPort?.postMessage(m);
// This thread's CPU time only: the main thread (and other jobs' workers) are not the target's cost.
const cpu0 = process.threadCpuUsage();
const cpuMicros = (): number => { const c = process.threadCpuUsage(cpu0); return c.user + c.system; };

await target.setup?.({ scratchDir: input.scratchDir });
let last = performance.now();
for (let i = input.from; i < input.to; i++) {
  Atomics.store(state, 0, i);
  try {
    await target.run(Rng.forCase(input.seed, target.name, i));
  } catch (err) {
    const f = err instanceof Finding ? err : new Finding('crash', err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err), '(input not captured: replay the case)');
    post({ kind: 'finding', index: i, property: f.property, message: f.message, input: f.input });
  }
  if ((i & 255) === 0 && performance.now() - last > 2000) {
    last = performance.now();
    post({ kind: 'progress', done: i - input.from, cpuMicros: cpuMicros() });
  }
}
await target.teardown?.();
Atomics.store(state, 1, 1);
post({ kind: 'done', done: input.to - input.from, cpuMicros: cpuMicros() });

/**
 * Runs Feed ingestion inside the operator process, one node:worker_threads Worker per run, for
 * the local sandbox where there is no kubelet to run Jobs. The worker imports `module` and calls
 * its `exportName` (an IngestionFunction) with the Feed and run id; functions cannot cross thread
 * boundaries, so the ingestion code is injected by module URL.
 */
import { Worker } from 'node:worker_threads';
import type { Feed } from '../api/types.ts';
import type { FeedRunExecutor, IngestionContext, IngestionReport, RunHandle, RunState } from './executor.ts';

/** Where the worker finds the ingestion function. */
export interface InProcessExecutorConfig {
  /** URL of a module exporting an IngestionFunction. */
  readonly module: URL;
  /** @default 'runIngestion' */
  readonly exportName?: string;
  /** Wall-clock limit of one run. @default 3600000 */
  readonly timeoutMs?: number;
  /** Finished runs remembered for status and history. @default 50 */
  readonly remember?: number;
  /** Passed to the ingestion function in the worker. @default {} */
  readonly context?: IngestionContext;
  /** Runs at once across all Feeds; a start beyond it throws (the Feed is retried with backoff). @default 2 */
  readonly maxConcurrent?: number;
}

/** Thrown by start() when maxConcurrent runs are already going; transient. */
export class ExecutorBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExecutorBusyError';
  }
}

interface Run {
  readonly feedKey: string;
  readonly runId: string;
  readonly worker: Worker;
  state: RunState;
  readonly startedAt: number;
}

/** What the worker posts back. */
export type WorkerMessage = { readonly ok: true; readonly report: IngestionReport } | { readonly ok: false; readonly message: string };

const WORKER = new URL('./ingest-worker.ts', import.meta.url);

function keyOf(feed: Feed): string {
  return `${feed.metadata.namespace ?? ''}/${feed.metadata.name}`;
}

/** The in-process executor. Its run table is instance state: a restarted operator finds its runs Lost. */
export class InProcessExecutor implements FeedRunExecutor {
  private readonly config: InProcessExecutorConfig;
  private readonly runs = new Map<string, Run>();
  private readonly now: () => Date;

  constructor(config: InProcessExecutorConfig, now: () => Date) {
    this.config = config;
    this.now = now;
  }

  start(feed: Feed, runId: string): Promise<RunHandle> {
    const existing = this.runs.get(runId);
    if (existing) return Promise.resolve({ runId });
    const running = [...this.runs.values()].find((r) => r.feedKey === keyOf(feed) && r.state.phase === 'Running');
    if (running) return Promise.resolve({ runId: running.runId });
    const busy = [...this.runs.values()].filter((r) => r.state.phase === 'Running').length;
    const max = this.config.maxConcurrent ?? 2;
    if (busy >= max) return Promise.reject(new ExecutorBusyError(`${busy} in-process runs are already going (maxConcurrent ${max}); run ${runId} starts when one finishes`));
    const worker = new Worker(WORKER, { workerData: { module: this.config.module.href, exportName: this.config.exportName ?? 'runIngestion', feed, runId, context: this.config.context ?? {} } });
    const run: Run = { feedKey: keyOf(feed), runId, worker, state: { phase: 'Running' }, startedAt: this.now().getTime() };
    this.runs.set(runId, run);
    const timer = setTimeout(() => this.finish(run, { phase: 'Failed', message: `run exceeded ${this.config.timeoutMs ?? 3600000} ms and was stopped`, completedAt: this.now() }), this.config.timeoutMs ?? 3_600_000);
    timer.unref();
    worker.on('message', (m: WorkerMessage) => {
      clearTimeout(timer);
      this.finish(run, m.ok
        ? (m.report.outcome === 'failed' ? { phase: 'Failed', message: m.report.error?.message ?? 'ingestion failed', report: m.report, completedAt: this.now() } : { phase: 'Succeeded', report: m.report, completedAt: this.now() })
        : { phase: 'Failed', message: m.message, completedAt: this.now() });
    });
    worker.on('error', (err: Error) => {
      clearTimeout(timer);
      this.finish(run, { phase: 'Failed', message: `ingestion worker crashed: ${err.message}`, completedAt: this.now() });
    });
    worker.on('exit', (code) => {
      clearTimeout(timer);
      this.finish(run, { phase: 'Failed', message: `ingestion worker exited with code ${code} before reporting`, completedAt: this.now() });
    });
    return Promise.resolve({ runId });
  }

  private finish(run: Run, state: RunState): void {
    if (run.state.phase !== 'Running') return;
    run.state = state;
    void run.worker.terminate();
    this.forgetOld();
  }

  private forgetOld(): void {
    const done = [...this.runs.values()].filter((r) => r.state.phase !== 'Running').sort((a, b) => b.startedAt - a.startedAt);
    for (const r of done.slice(this.config.remember ?? 50)) this.runs.delete(r.runId);
  }

  status(_feed: Feed, handle: RunHandle): Promise<RunState> {
    const run = this.runs.get(handle.runId);
    return Promise.resolve(run ? run.state : { phase: 'Lost', message: `run ${handle.runId} is unknown to this operator process (it restarted); the next scheduled run replaces it` });
  }

  active(feed: Feed): Promise<RunHandle | undefined> {
    const run = [...this.runs.values()].find((r) => r.feedKey === keyOf(feed) && r.state.phase === 'Running');
    return Promise.resolve(run ? { runId: run.runId } : undefined);
  }

  cancel(_feed: Feed, handle: RunHandle): Promise<void> {
    const run = this.runs.get(handle.runId);
    if (run) this.finish(run, { phase: 'Failed', message: 'run cancelled', completedAt: this.now() });
    return Promise.resolve();
  }

  prune(_feed: Feed, _keep: { readonly successful: number; readonly failed: number }): Promise<number> {
    return Promise.resolve(0);
  }

  /** Stops every running worker (operator shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.runs.values()].filter((r) => r.state.phase === 'Running').map(async (r) => {
      this.finish(r, { phase: 'Failed', message: 'operator shut down during the run', completedAt: this.now() });
      await r.worker.terminate();
    }));
  }
}

/**
 * Runs LogScan shards inside the operator process, one node:worker_threads Worker per shard, for
 * the local sandbox and tests where no kubelet runs Jobs. Each worker loads its own snapshot of
 * the replicated indicators and writes its shard's checkpoint to the partner database; a worker
 * that dies (or is killed) leaves its shard to run again. The table of workers is instance
 * state: a restarted operator has none, and the shards they held run again.
 */
import { Worker } from 'node:worker_threads';
import type { LogScan } from '../api/types.ts';
import type { Level } from '../log.ts';
import type { ScanShardExecutor } from './logscanexec.ts';

/** What a shard thread gets. */
export interface ShardThreadData {
  readonly kubeconfig: string;
  readonly context?: string | undefined;
  readonly mongodbUri: string;
  readonly database: string;
  readonly ref: string;
  readonly index: number;
  readonly logLevel: Level;
}

/** What a shard thread posts back. */
export type ShardThreadMessage = { readonly ok: true; readonly status: string } | { readonly ok: false; readonly message: string };

/** Where the in-process workers find the cluster and the database. */
export interface InProcessScanConfig {
  /** Kubeconfig file of the cluster (the worker reads the LogScan and its Secret). */
  readonly kubeconfig: string;
  /** Context of `kubeconfig` to use instead of its current-context. */
  readonly context?: string | undefined;
  readonly mongodbUri: string;
  /** @default 'threatmesh_partner' */
  readonly database?: string;
  /** @default 'warn' */
  readonly logLevel?: Level;
  /** Called when a shard thread ends (the controller requeues the scan). */
  readonly onExit?: ((scanKey: string, index: number, message: ShardThreadMessage | undefined) => void) | undefined;
}

const THREAD = new URL('./logscan-worker.ts', import.meta.url);

function keyOf(scan: LogScan): string {
  return `${scan.metadata.namespace ?? ''}/${scan.metadata.name}`;
}

/** The in-process executor; see the module doc. */
export class InProcessScanExecutor implements ScanShardExecutor {
  readonly #config: InProcessScanConfig;
  /** Live workers by scan key, then shard index. */
  readonly #workers = new Map<string, Map<number, Worker>>();

  constructor(config: InProcessScanConfig) {
    this.#config = config;
  }

  ensure(scan: LogScan, ready: readonly number[], slots: number, _total: number): Promise<void> {
    const key = keyOf(scan);
    const live = this.#workers.get(key) ?? new Map<number, Worker>();
    this.#workers.set(key, live);
    for (const index of ready) {
      if (live.size >= slots) break;
      if (!live.has(index)) live.set(index, this.#start(key, index));
    }
    return Promise.resolve();
  }

  #start(key: string, index: number): Worker {
    const c = this.#config;
    const data: ShardThreadData = { kubeconfig: c.kubeconfig, context: c.context, mongodbUri: c.mongodbUri, database: c.database ?? 'threatmesh_partner', ref: key, index, logLevel: c.logLevel ?? 'warn' };
    const w = new Worker(THREAD, { workerData: data });
    let message: ShardThreadMessage | undefined;
    w.on('message', (m: ShardThreadMessage) => { message = m; });
    w.on('error', (err: Error) => { message = { ok: false, message: `shard worker crashed: ${err.message}` }; });
    w.on('exit', () => {
      const live = this.#workers.get(key);
      if (live?.get(index) === w) live.delete(index);
      c.onExit?.(key, index, message);
    });
    return w;
  }

  running(scan: LogScan): Promise<ReadonlySet<number> | undefined> {
    return Promise.resolve(new Set(this.#workers.get(keyOf(scan))?.keys() ?? []));
  }

  async cancel(scan: LogScan): Promise<void> {
    const live = this.#workers.get(keyOf(scan));
    this.#workers.delete(keyOf(scan));
    await Promise.all([...(live?.values() ?? [])].map((w) => w.terminate()));
  }

  /** Terminates the worker of one shard at once, as a crash would (tests, and operators who must stop a runaway shard). */
  async kill(scanKey: string, index: number): Promise<boolean> {
    const w = this.#workers.get(scanKey)?.get(index);
    if (w === undefined) return false;
    await w.terminate();
    return true;
  }

  /** Stops every worker (operator shutdown). */
  async close(): Promise<void> {
    const all = [...this.#workers.values()].flatMap((m) => [...m.values()]);
    this.#workers.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }
}

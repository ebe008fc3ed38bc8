/**
 * Worker-thread entry of the in-process executor: imports the configured ingestion module, runs
 * one ingestion and posts a WorkerMessage back. Not imported by anything; started by inprocess.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Feed } from '../api/types.ts';
import type { IngestionContext, IngestionFunction } from './executor.ts';
import type { WorkerMessage } from './inprocess.ts';

const data = workerData as { module: string; exportName: string; feed: Feed; runId: string; context: IngestionContext };

async function run(): Promise<WorkerMessage> {
  try {
    const mod = (await import(data.module)) as Record<string, unknown>;
    const fn = mod[data.exportName];
    if (typeof fn !== 'function') return { ok: false, message: `${data.module} does not export a function ${data.exportName}` };
    const report = await (fn as IngestionFunction)(data.feed, data.runId, data.context);
    return { ok: true, report };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.postMessage(await run());

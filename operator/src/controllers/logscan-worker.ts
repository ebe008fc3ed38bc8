/**
 * Worker-thread entry of the in-process LogScan executor: runs one shard (match/worker.ts) with
 * its own API client and database connection, and posts the outcome back. Not imported by
 * anything; started by logscaninprocess.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.ts';
import { runShardWorker } from '../match/worker.ts';
import { KubeHttpClient } from '../runtime/kube.ts';
import { loadKubeconfig } from '../runtime/kubeconfig.ts';
import type { ShardThreadData, ShardThreadMessage } from './logscaninprocess.ts';
import { mongoClient } from '../store/connect.ts';

const data = workerData as ShardThreadData;

async function run(): Promise<ShardThreadMessage> {
  const kube = new KubeHttpClient(await loadKubeconfig(data.kubeconfig, data.context), { userAgent: 'threatmesh-scan-inprocess' });
  // A database that stops answering fails the shard (it runs again) instead of hanging it.
  const mongo = mongoClient(data.mongodbUri, { socketTimeoutMS: 120_000, serverSelectionTimeoutMS: 30_000 });
  try {
    const log = createLogger(process.stderr, data.logLevel, { component: 'scan', logscan: data.ref, shard: data.index });
    const outcome = await runShardWorker({ kube, db: mongo.db(data.database), log }, data.ref, data.index);
    return { ok: true, status: outcome.status };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  } finally {
    kube.close();
    await mongo.close();
  }
}

parentPort?.postMessage(await run());

/** Placeholder replaced below. */
import type { Logger } from '../log.ts';
import type { CliEnv } from '../cli/env.ts';

/** Options of runShardWorker. */
export interface ShardWorkerOptions { readonly ref: string; readonly shard: number; readonly kubeconfig: string | undefined; readonly mongodbUri: string | undefined; readonly partnerId: string | undefined; readonly env: CliEnv; readonly log: Logger }

/** Runs one shard. */
export function runShardWorker(_o: ShardWorkerOptions): Promise<void> {
  return Promise.reject(new Error('not implemented'));
}

/**
 * The shard worker: what `threatmesh scan --logscan NAMESPACE/NAME --shard N` runs in a LogScan's
 * Indexed Job pod (and what the in-process executor runs in a worker thread): reads the LogScan
 * and the Secret its source names, loads the snapshot of the partner's replicated indicators,
 * and runs the shard (shardrun.ts).
 */
import type { Db } from 'mongodb';
import type { LogScan } from '../api/types.ts';
import { LOG_SCANS } from '../api/schemas/index.ts';
import { SECRETS } from '../feeds/feedrun.ts';
import type { Logger } from '../log.ts';
import type { KubeReader } from '../runtime/client.ts';
import type { Secret } from '../runtime/kinds.ts';
import { ReplicaReader } from '../store/replicaread.ts';
import { MongoScanStore } from '../store/sightings.ts';
import { ScanError } from './errors.ts';
import { SnapshotHolder } from './holder.ts';
import { LOGS_MOUNT, accessOf, type SecretReader } from './inputs.ts';
import { runShard, type ShardOutcome } from './shardrun.ts';

/** What a shard worker needs. */
export interface ShardWorkerDeps {
  readonly kube: Pick<KubeReader, 'get'>;
  readonly db: Db;
  readonly log: Logger;
  readonly now?: () => Date;
  /** Prefix of file sources; LOGS_MOUNT in a pod with a claimName volume. @default per the LogScan */
  readonly fileRoot?: string;
}

/** Splits NAMESPACE/NAME. */
export function parseScanRef(ref: string): { namespace: string; name: string } {
  const m = /^([a-z0-9][a-z0-9-]{0,62})\/([a-z0-9][a-z0-9.-]{0,252})$/.exec(ref);
  if (m === null) throw new ScanError('bad-config', `--logscan must be NAMESPACE/NAME, got ${JSON.stringify(ref)}`);
  return { namespace: m[1] ?? '', name: m[2] ?? '' };
}

/** Reads Secrets of `namespace` through the API server (data decoded). */
export function secretReader(kube: Pick<KubeReader, 'get'>, namespace: string): SecretReader {
  return async (ref) => {
    const s = await kube.get<Secret>(SECRETS, ref.name, namespace);
    if (s === undefined) return undefined;
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };
}

/** Runs shard `index` of the LogScan `ref`. */
export async function runShardWorker(deps: ShardWorkerDeps, ref: string, index: number): Promise<ShardOutcome> {
  const { namespace, name } = parseScanRef(ref);
  const scan = await deps.kube.get<LogScan>(LOG_SCANS, name, namespace);
  if (scan === undefined) throw new ScanError('bad-config', `LogScan ${ref} not found`);
  const planId = scan.metadata.uid ?? '';
  const access = await accessOf(scan.spec.source, secretReader(deps.kube, namespace));
  const holder = await SnapshotHolder.load(new ReplicaReader(deps.db), { now: deps.now });
  deps.log.info('shard starting', { logscan: ref, shard: index, indicators: holder.info.loaded });
  const store = await MongoScanStore.open(deps.db);
  const fileRoot = deps.fileRoot ?? (scan.spec.source.file?.claimName !== undefined ? `${LOGS_MOUNT}/` : '');
  const outcome = await runShard({ store, holder, access, fileRoot, now: deps.now }, scan.spec, planId, index);
  deps.log.info('shard finished', { logscan: ref, shard: index, ...(outcome.status === 'done' ? outcome.result : { status: outcome.status }) });
  return outcome;
}

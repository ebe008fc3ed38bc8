/**
 * Child process of the scale bench's partner stage: an operator's partner restart over a
 * database that already holds N replicated records, in a fresh process so its memory is its
 * own. `node bench/scale-restart.ts MONGO_URI DATABASE KUBECONFIG NAMESPACE TREE_SIZE` prints one
 * JSON line.
 *
 * Ready means what the partner needs before its first sync (exchange/partner/service.ts):
 * the replica sink open (indexes ensured, the digest-membership set loaded from
 * `replica_digests`) and the ThreatIndicator working set listed (the informer's initial list).
 * The first drift repair runs after the first catch-up; its query (the records at or above the
 * working set's floor) is timed separately.
 */
import { MongoClient } from 'mongodb';
import { THREAT_INDICATORS } from '../operator/src/api/schemas/index.ts';
import type { ThreatIndicator } from '../operator/src/api/types.ts';
import { PARTNER_DEFAULTS } from '../operator/src/exchange/partner/defaults.ts';
import { materializeFloor } from '../operator/src/exchange/partner/materializer.ts';
import { listFrom } from '../operator/src/runtime/client.ts';
import { KubeHttpClient } from '../operator/src/runtime/kube.ts';
import { loadKubeconfig } from '../operator/src/runtime/kubeconfig.ts';
import { MongoIndicatorSink } from '../operator/src/store/indicators.ts';

const [uri, dbName, kubeconfig, namespace, treeSize] = process.argv.slice(2) as [string, string, string, string, string];

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

const t0 = performance.now();
const mongo = await MongoClient.connect(uri);
const client = new KubeHttpClient(await loadKubeconfig(kubeconfig), { requestTimeoutMs: 120_000 });
try {
  const sink = await MongoIndicatorSink.open(mongo.db(dbName));
  const openMs = performance.now() - t0;
  const objects = await listFrom<ThreatIndicator>(undefined, client, THREAT_INDICATORS, { namespace });
  const readyMs = performance.now() - t0;
  const readyMem = process.memoryUsage();
  const floor = materializeFloor(Number(treeSize), PARTNER_DEFAULTS.materializeBudget);
  const t1 = performance.now();
  const records = await sink.recent(floor);
  const recentMs = performance.now() - t1;
  process.stdout.write(JSON.stringify({
    openMs, readyMs, knownDigests: sink.knownDigests, workingSet: objects.length,
    rssAtReadyMb: mb(readyMem.rss), heapAtReadyMb: mb(readyMem.heapUsed),
    firstRepairQueryMs: recentMs, firstRepairRecords: records.length,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  }) + '\n');
} finally {
  await mongo.close();
  client.close();
}

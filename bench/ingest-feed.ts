/**
 * Child process of `npm run bench -- ingest`, Feed path: `node bench/ingest-feed.ts URL FORMAT
 * REPLICA` runs one Feed run as `threatmesh ingest --feed` does (feeds/feedrun.ts
 * runFeedIngestion: the working-set check, the download from URL, the pipeline, the
 * ProposalSink's spool and, on commit, one create per new indicator), with every module of
 * `ingest --feed` loaded, and prints one JSON line {processed, created, cpuMs, wallMs}. The API
 * server is a stand-in in this process that only counts creates: a real one would keep a
 * million objects, and the run's memory is what is measured (by bench/maxrss.ts around this
 * script). REPLICA `none` answers the replica API's probe with 404, so the run checks the working
 * set only; `empty` serves an empty replica API, so candidates go through feeds/knownset.ts's
 * check first (its list path above 4,096 candidates).
 */
import '../operator/src/cli/ingestfeed.ts';
import type { Feed } from '../operator/src/api/types.ts';
import { ApiError, type KubeClient, type ObjectList } from '../operator/src/runtime/client.ts';
import type { KubeObject, ResourceRef } from '../operator/src/runtime/types.ts';
import { runFeedIngestion } from '../operator/src/feeds/feedrun.ts';
import { createLogger } from '../operator/src/log.ts';
import { cpuMillis } from './lib.ts';

const [url = '', format = 'lines', replica = 'none'] = process.argv.slice(2);

function emptyList<T extends KubeObject>(): ObjectList<T> {
  return { apiVersion: 'v1', kind: 'List', metadata: { continue: '' }, items: [] } as unknown as ObjectList<T>;
}

/** The stand-in API server: no Secrets, no ThreatIndicators, creates counted and dropped. */
function standIn(counts: { created: number }): KubeClient {
  const refuse = (what: string) => (): Promise<never> => Promise.reject(new Error(`the bench's stand-in API does not ${what}`));
  return {
    get: <T extends KubeObject>(): Promise<T | undefined> => Promise.resolve(undefined),
    list: <T extends KubeObject>(ref: ResourceRef): Promise<ObjectList<T>> => {
      if (ref.group.startsWith('replica.') && replica === 'none') return Promise.reject(new ApiError(404, 'NotFound', '404 page not found'));
      return Promise.resolve(emptyList<T>());
    },
    watch: () => { throw new Error('no watch'); },
    create: <T extends KubeObject>(_ref: ResourceRef, obj: T): Promise<T> => {
      counts.created++;
      return Promise.resolve(obj);
    },
    update: refuse('update'),
    patch: <T extends KubeObject>(): Promise<T> => Promise.resolve({} as T),
    apply: refuse('apply'),
    delete: refuse('delete'),
    patchStatus: <T extends KubeObject>(): Promise<T> => Promise.resolve({} as T),
  } as unknown as KubeClient;
}

const feed: Feed = {
  apiVersion: 'threatmesh.io/v1alpha1', kind: 'Feed', metadata: { name: 'bench', namespace: 'bench' },
  spec: { url, format: format === 'csv' ? 'csv' : 'lines', ...(format === 'csv' ? { preset: 'feodo' } : {}), schedule: { interval: '1h' }, defaults: { confidence: 80, tlp: 'green', validFor: '30d' } },
};
const counts = { created: 0 };
const wall = performance.now();
const cpu0 = cpuMillis();
const { report, proposals } = await runFeedIngestion(feed, { kube: standIn(counts), log: createLogger(process.stderr, 'error'), now: () => new Date(), allowInternal: ['127.0.0.1/32'] });
if (report.outcome !== 'succeeded') throw new Error(`the Feed run failed: ${JSON.stringify(report.error)}`);
if (proposals.created !== report.new || counts.created !== report.new) throw new Error(`created ${proposals.created} of ${report.new} new`);
process.stdout.write(JSON.stringify({ processed: report.fetched, created: proposals.created, cpuMs: cpuMillis() - cpu0, wallMs: performance.now() - wall }) + '\n');
